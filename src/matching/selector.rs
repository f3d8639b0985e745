//! Label selectors: Kubernetes `matchLabels` / `matchExpressions`, with Kyverno's wildcard
//! extension for `matchLabels`.

use super::MatchSpecError;
use crate::pattern::wildcard;
use crate::policy::spec::LabelSelectorSpec;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A label set as a selector reads it: a namespace's labels, or an object's `metadata.labels`
/// read in place, where a value that is not a string counts as absent (as Kubernetes reads
/// `labels`). Reading in place matters: an object may carry any number of labels, and every
/// rule with a selector reads them.
pub trait Labels {
    fn get(&self, key: &str) -> Option<&str>;
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)>;
}

impl Labels for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

impl Labels for Map<String, Value> {
    fn get(&self, key: &str) -> Option<&str> {
        Map::get(self, key)?.as_str()
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
            .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
    }
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    pub match_labels: Vec<(String, String)>,
    pub expressions: Vec<LabelExpression>,
}

#[derive(Debug, Clone)]
pub enum LabelExpression {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl LabelSelector {
    pub fn compile(spec: &LabelSelectorSpec) -> Result<Self, MatchSpecError> {
        let mut expressions = Vec::with_capacity(spec.match_expressions.len());
        for (index, requirement) in spec.match_expressions.iter().enumerate() {
            let field = || format!("matchExpressions[{index}]");
            let key = requirement.key.clone();
            let values = requirement.values.clone();
            let needs_values = |values: &Vec<String>| {
                if values.is_empty() {
                    Err(MatchSpecError {
                        field: format!("{}.values", field()),
                        message: format!(
                            "operator {} needs at least one value",
                            requirement.operator
                        ),
                    })
                } else {
                    Ok(())
                }
            };
            let no_values = |values: &Vec<String>| {
                if values.is_empty() {
                    Ok(())
                } else {
                    Err(MatchSpecError {
                        field: format!("{}.values", field()),
                        message: format!("operator {} takes no values", requirement.operator),
                    })
                }
            };
            expressions.push(match requirement.operator.as_str() {
                "In" => needs_values(&values).map(|()| LabelExpression::In(key, values))?,
                "NotIn" => needs_values(&values).map(|()| LabelExpression::NotIn(key, values))?,
                "Exists" => no_values(&values).map(|()| LabelExpression::Exists(key))?,
                "DoesNotExist" => {
                    no_values(&values).map(|()| LabelExpression::DoesNotExist(key))?
                }
                other => {
                    return Err(MatchSpecError {
                        field: format!("{}.operator", field()),
                        message: format!(
                            "unknown operator {other:?}: expected In, NotIn, Exists or DoesNotExist"
                        ),
                    });
                }
            });
        }
        Ok(Self {
            match_labels: spec
                .match_labels
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            expressions,
        })
    }

    /// Against an object's `labels` (a missing or non-object value has none).
    pub(super) fn matches_object_labels(&self, labels: Option<&Value>) -> bool {
        match labels.and_then(Value::as_object) {
            Some(labels) => self.matches_labels(labels),
            None => self.matches_labels(&NO_LABELS),
        }
    }

    /// Kubernetes label-selector semantics, plus Kyverno's wildcard extension for matchLabels.
    /// The label keys the selector reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.match_labels
            .iter()
            .map(|(key, _)| key.as_str())
            .chain(self.expressions.iter().map(|expression| match expression {
                LabelExpression::In(key, _)
                | LabelExpression::NotIn(key, _)
                | LabelExpression::Exists(key)
                | LabelExpression::DoesNotExist(key) => key.as_str(),
            }))
    }

    pub fn matches_labels(&self, labels: &impl Labels) -> bool {
        let labels_match = self.match_labels.iter().all(|(key, value)| {
            if wildcard::has_wildcard(key) || wildcard::has_wildcard(value) {
                labels.pairs().any(|(actual_key, actual_value)| {
                    wildcard::matches(key, actual_key) && wildcard::matches(value, actual_value)
                })
            } else {
                labels.get(key) == Some(value.as_str())
            }
        });
        let one_of = |values: &[String], value: &str| values.iter().any(|v| v == value);
        labels_match
            && self.expressions.iter().all(|expression| match expression {
                LabelExpression::In(key, values) => {
                    labels.get(key).is_some_and(|value| one_of(values, value))
                }
                LabelExpression::NotIn(key, values) => {
                    labels.get(key).is_none_or(|value| !one_of(values, value))
                }
                LabelExpression::Exists(key) => labels.get(key).is_some(),
                LabelExpression::DoesNotExist(key) => labels.get(key).is_none(),
            })
    }
}

/// The string entries of a JSON object as a label map, as Kubernetes reads `labels`; other
/// values (and a missing or non-object value) contribute nothing.
pub fn labels_of(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| value.as_str().map(|value| (key.clone(), value.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let spec = |yaml: serde_json::Value| -> LabelSelector {
            let spec: LabelSelectorSpec = serde_json::from_value(yaml).expect("selector spec");
            LabelSelector::compile(&spec).expect("valid selector")
        };
        use serde_json::json;
        let table = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (json!({"matchLabels": {"app": "w*"}}), true),
            (json!({"matchLabels": {"ti*": "fr?nt"}}), true),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
                false,
            ),
            (json!({}), true),
        ];
        for (yaml, expected) in table {
            assert_eq!(
                spec(yaml.clone()).matches_labels(&labels),
                expected,
                "{yaml}"
            );
        }
        let bad: LabelSelectorSpec =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "Has"}]}))
                .expect("spec");
        assert!(LabelSelector::compile(&bad).is_err());
    }
}
