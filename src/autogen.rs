//! Autogen: Pod rules rewritten for the pod controllers, computed in memory at load.
//!
//! A policy written for `Pod` also judges the pod template of every controller that creates pods,
//! so a bad Deployment is refused at `kubectl apply` rather than when its ReplicaSet fails to
//! create pods. The generated rules follow Kyverno's names (`autogen-<rule>`,
//! `autogen-cronjob-<rule>`), kinds and pattern paths, so reports read the same.

use crate::matching::{Combine, Filter, KindSelector, MatchBlock};
use crate::pattern::{Pattern, PatternError};
use crate::policy::{ContextEntry, ContextSource, Foreach, Rule, SourcedPattern, Validation};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const CONTROLLERS_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// The controllers and the fully qualified kinds generated rules match (so, as in Kyverno,
/// `batch/v1beta1` CronJobs and `extensions/v1beta1` Deployments are not covered).
pub const CONTROLLERS: [(&str, &str); 7] = [
    ("DaemonSet", "apps/v1/DaemonSet"),
    ("Deployment", "apps/v1/Deployment"),
    ("Job", "batch/v1/Job"),
    ("StatefulSet", "apps/v1/StatefulSet"),
    ("ReplicaSet", "apps/v1/ReplicaSet"),
    ("ReplicationController", "v1/ReplicationController"),
    ("CronJob", "batch/v1/CronJob"),
];

const MAX_RULE_NAME: usize = 63;

pub fn is_controller_kind(kind: &str) -> bool {
    CONTROLLERS
        .iter()
        .any(|(controller, _)| *controller == kind)
}

/// The generated rules for a policy, or none when Kyverno would not generate any.
pub fn generate(
    annotations: &BTreeMap<String, String>,
    rules: &[Rule],
) -> Result<Vec<Rule>, PatternError> {
    if !autogen_allowed(rules) {
        return Ok(Vec::new());
    }
    let controllers: Vec<&str> = match annotations.get(CONTROLLERS_ANNOTATION).map(String::as_str) {
        Some("none") => return Ok(Vec::new()),
        // Kyverno splits without trimming, so `Deployment, StatefulSet` names only Deployment.
        Some(list) => list
            .split(',')
            .filter(|name| is_controller_kind(name))
            .collect(),
        None => CONTROLLERS.iter().map(|(kind, _)| *kind).collect(),
    };
    let pod_controllers: Vec<&str> = controllers
        .iter()
        .copied()
        .filter(|kind| *kind != "CronJob")
        .collect();
    let with_cronjob = controllers.contains(&"CronJob");
    let mut generated = Vec::new();
    for rule in rules
        .iter()
        .filter(|rule| !rule.name.starts_with("autogen-") && rule_applies_to_pods(rule))
    {
        if !pod_controllers.is_empty() {
            generated.push(rewrite(
                rule,
                &format!("autogen-{}", rule.name),
                &pod_controllers,
                Template::Pod,
            )?);
        }
        if with_cronjob {
            generated.push(rewrite(
                rule,
                &format!("autogen-cronjob-{}", rule.name),
                &["CronJob"],
                Template::CronJob,
            )?);
        }
    }
    Ok(generated)
}

/// Kyverno turns autogen off for the whole policy when a rule picks pods by identity or mixes
/// `Pod` (in any spelling: `v1/Pod`, `Pod/exec`) with other kinds in one block, and when no rule
/// names a pod kind by its plain name.
fn autogen_allowed(rules: &[Rule]) -> bool {
    let blocks = || {
        rules
            .iter()
            .flat_map(|rule| std::iter::once(&rule.match_block).chain(rule.exclude.as_ref()))
    };
    let filters = || blocks().flat_map(|block| block.filters.iter());
    let blocked = filters().any(|filter| {
        filter.selects_by_identity() || (filter.kind_texts.len() > 1 && names_pod(filter))
    });
    let names_pod_kind = blocks()
        .flat_map(MatchBlock::kind_texts)
        .any(|kind| kind == "Pod" || is_controller_kind(kind));
    !blocked && names_pod_kind
}

fn names_pod(filter: &Filter) -> bool {
    filter.kinds.iter().any(|kind| kind.kind() == "Pod")
}

fn rule_applies_to_pods(rule: &Rule) -> bool {
    let matches_pod = rule.match_block.filters.iter().any(names_pod);
    let exclude_allows = rule.exclude.as_ref().is_none_or(|exclude| {
        let lists_kinds = exclude
            .filters
            .iter()
            .any(|filter| !filter.kinds.is_empty());
        !lists_kinds || exclude.filters.iter().any(names_pod)
    });
    matches_pod && exclude_allows
}

#[derive(Clone, Copy)]
enum Template {
    Pod,
    CronJob,
}

impl Template {
    fn wrap(self, pattern: &Value) -> Value {
        match self {
            Self::Pod => json!({"spec": {"template": pattern}}),
            Self::CronJob => json!({"spec": {"jobTemplate": {"spec": {"template": pattern}}}}),
        }
    }

    /// Kyverno rewrites the generated rule's JSON text so that what read the Pod reads the
    /// controller's pod template: these replacements, in this order, everywhere in the rule.
    fn retarget(self, text: &str) -> String {
        let (spec, metadata) = match self {
            Self::Pod => ("spec.template.spec", "spec.template.metadata"),
            Self::CronJob => (
                "spec.jobTemplate.spec.template.spec",
                "spec.jobTemplate.spec.template.metadata",
            ),
        };
        if !text.contains("request.") {
            return text.to_owned();
        }
        text.replace("request.object.spec", &format!("request.object.{spec}"))
            .replace(
                "request.oldObject.spec",
                &format!("request.oldObject.{spec}"),
            )
            .replace(
                "request.object.metadata",
                &format!("request.object.{metadata}"),
            )
            .replace(
                "request.oldObject.metadata",
                &format!("request.oldObject.{metadata}"),
            )
    }
}

/// The rule's check for the controller: patterns wrapped in the pod template (only at the top:
/// a foreach's patterns judge elements, not the object), and every text retargeted.
fn retarget_validation(
    validation: &Validation,
    template: Template,
    retext: &dyn Fn(&str) -> String,
    top: bool,
) -> Result<Validation, PatternError> {
    let pattern = |sourced: &SourcedPattern, mode| -> Result<SourcedPattern, PatternError> {
        let wrapped = if top {
            template.wrap(&sourced.source)
        } else {
            sourced.source.clone()
        };
        let source = crate::expr::template::map_strings(&wrapped, retext);
        let compiled = match sourced.compiled {
            Some(_) => Some(Pattern::compile_with(&source, mode)?),
            None => None,
        };
        Ok(SourcedPattern { source, compiled })
    };
    Ok(match validation {
        Validation::Pattern(sourced) => {
            Validation::Pattern(pattern(sourced, crate::pattern::NumberMode::Exact)?)
        }
        Validation::AnyPattern(patterns) => Validation::AnyPattern(
            patterns
                .iter()
                .map(|sourced| pattern(sourced, crate::pattern::NumberMode::Float))
                .collect::<Result<_, _>>()?,
        ),
        Validation::Deny(conditions) => Validation::Deny(conditions.map_text(retext)),
        Validation::Foreach(loops) => Validation::Foreach(
            loops
                .iter()
                .map(|each| {
                    Ok(Foreach {
                        list: retext(&each.list),
                        element_scope: each.element_scope,
                        context: retarget_context(&each.context, retext),
                        preconditions: each
                            .preconditions
                            .as_ref()
                            .map(|conditions| conditions.map_text(retext)),
                        check: Box::new(retarget_validation(&each.check, template, retext, false)?),
                    })
                })
                .collect::<Result<_, PatternError>>()?,
        ),
    })
}

fn retarget_context(
    entries: &[ContextEntry],
    retext: &dyn Fn(&str) -> String,
) -> Vec<ContextEntry> {
    let value = |value: &Option<Value>| {
        value
            .as_ref()
            .map(|value| crate::expr::template::map_strings(value, retext))
    };
    entries
        .iter()
        .map(|entry| ContextEntry {
            name: entry.name.clone(),
            source: match &entry.source {
                ContextSource::Variable {
                    value: written,
                    jmes_path,
                    default,
                } => ContextSource::Variable {
                    value: value(written),
                    jmes_path: jmes_path.as_deref().map(retext),
                    default: value(default),
                },
                ContextSource::ConfigMap { name, namespace } => ContextSource::ConfigMap {
                    name: retext(name),
                    namespace: retext(namespace),
                },
                ContextSource::ServiceCall {
                    url,
                    method,
                    jmes_path,
                    default,
                } => ContextSource::ServiceCall {
                    url: retext(url),
                    method: method.clone(),
                    jmes_path: jmes_path.as_deref().map(retext),
                    default: value(default),
                },
                ContextSource::ApiCall {
                    url_path,
                    jmes_path,
                    default,
                } => ContextSource::ApiCall {
                    url_path: retext(url_path),
                    jmes_path: jmes_path.as_deref().map(retext),
                    default: value(default),
                },
                ContextSource::ImageRegistry {
                    reference,
                    jmes_path,
                } => ContextSource::ImageRegistry {
                    reference: retext(reference),
                    jmes_path: jmes_path.as_deref().map(retext),
                },
            },
        })
        .collect()
}

fn rewrite(
    rule: &Rule,
    name: &str,
    controllers: &[&str],
    template: Template,
) -> Result<Rule, PatternError> {
    let kinds: Vec<(KindSelector, String)> = controllers
        .iter()
        .filter_map(|controller| CONTROLLERS.iter().find(|(kind, _)| kind == controller))
        .filter_map(|(_, text)| {
            KindSelector::parse(text).map(|selector| (selector, (*text).to_owned()))
        })
        .collect();
    let retarget = |block: &MatchBlock, every_filter: bool| MatchBlock {
        combine: block.combine.clone(),
        filters: block
            .filters
            .iter()
            .map(|filter| {
                let replace = if every_filter && block.combine != Combine::Inline {
                    true
                } else {
                    names_pod(filter)
                        || (block.combine == Combine::Inline && !filter.kinds.is_empty())
                };
                let mut filter = filter.clone();
                if replace {
                    filter.kinds = kinds.iter().map(|(selector, _)| selector.clone()).collect();
                    filter.kind_texts = kinds.iter().map(|(_, text)| text.clone()).collect();
                }
                filter
            })
            .collect(),
    };
    let cronjob = matches!(template, Template::CronJob);
    let exclude = rule.exclude.as_ref().map(|exclude| {
        if exclude
            .filters
            .iter()
            .any(|filter| !filter.kinds.is_empty())
        {
            retarget(exclude, false)
        } else {
            exclude.clone()
        }
    });
    let retext = |text: &str| template.retarget(text);
    let validation = retarget_validation(&rule.validation, template, &retext, true)?;
    let expressions = rule
        .expressions
        .map_text(&retext)
        .map_err(|error| PatternError {
            path: crate::json_path::JsonPath::root(),
            message: error.to_string(),
        })?;
    let name = truncate(name);
    let mut generated = Rule {
        pass_message: Rule::pass_message_for(&name),
        name,
        match_block: retarget(&rule.match_block, cronjob),
        exclude,
        context: retarget_context(&rule.context, &retext),
        preconditions: rule
            .preconditions
            .as_ref()
            .map(|conditions| conditions.map_text(&retext)),
        validation,
        message: rule.message.as_deref().map(retext),
        expressions,
        reads_variables: false,
        failure_action: rule.failure_action,
        action_overrides: rule.action_overrides.clone(),
        allow_existing_violations: rule.allow_existing_violations,
    };
    generated.reads_variables = generated.judged_by_variables();
    Ok(generated)
}

fn truncate(name: &str) -> String {
    name.chars().take(MAX_RULE_NAME).collect()
}
