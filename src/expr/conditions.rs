//! Kyverno's conditions: `preconditions`, `deny.conditions` and the conditions of a
//! PolicyException, compiled once at load and evaluated per request.
//!
//! A block is `{any: [...], all: [...]}` or, where Kyverno still accepts it, a bare list of
//! conditions (read as `all`). Each condition is `{key, operator, value, message}`; key and value
//! may hold `{{ }}` variables, which the caller substitutes when the condition is reached (a
//! condition after the deciding one is never substituted, so its variables cannot fail it).
//!
//! Load follows Kyverno's policy validation, which both the CLI and the admission controller run:
//! operator names must be spelled exactly, and the conditions written directly under a rule must
//! have a key, a value and an operator. PolicyException conditions are not validated by Kyverno;
//! their operators are matched in any case, as its evaluator does.

mod operator;

pub use operator::{Comparison, OPERATOR_NAMES, Operator, OperatorError, Spelling};

use crate::coerce::gofmt::type_name;
use crate::json_path::JsonPath;
use serde_json::{Map, Value};
use std::fmt;

/// Where a block of conditions is written, which decides how Kyverno reads and combines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// `rules[].preconditions`
    RulePreconditions,
    /// `rules[].validate.deny.conditions`
    RuleDeny,
    /// `validate.foreach[].preconditions`: only `{any, all}`, values not checked at load.
    ForeachPreconditions,
    /// `validate.foreach[].deny.conditions`: values not checked at load.
    ForeachDeny,
    /// PolicyException `spec.conditions`: only `{any, all}`, nothing checked at load, `all` is
    /// evaluated before `any`, and there are no messages.
    Exception,
    /// `verifyImages[].attestations[].conditions`: a list of `{any, all}` blocks that must all
    /// hold.
    Attestation,
}

impl Site {
    fn accepts_list(self) -> bool {
        matches!(
            self,
            Site::RulePreconditions | Site::RuleDeny | Site::ForeachDeny
        )
    }

    fn checks_values(self) -> bool {
        matches!(self, Site::RulePreconditions | Site::RuleDeny)
    }

    fn exact_operators(self) -> bool {
        self != Site::Exception
    }

    fn expected(self) -> &'static str {
        match self {
            Site::RulePreconditions | Site::RuleDeny | Site::ForeachDeny => {
                "an object with `any` and `all`, or a list of conditions"
            }
            Site::Attestation => "a list of objects with `any` and `all`",
            Site::ForeachPreconditions | Site::Exception => "an object with `any` and `all`",
        }
    }
}

/// One condition, its key and value still holding their variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: Value,
    pub operator: Operator,
    pub value: Value,
    pub message: String,
}

/// A compiled block of conditions; immutable, shared by every evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    site: Site,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    AnyAll(AnyAll),
    List(Vec<Condition>),
    Blocks(Vec<AnyAll>),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct AnyAll {
    /// `None` when absent or null, which differs from an empty list: an empty `any` never
    /// holds.
    any: Option<Vec<Condition>>,
    all: Vec<Condition>,
}

/// A condition block Kyverno's policy validation (or decoding) refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionsError {
    /// Relative to the block's root.
    pub path: JsonPath,
    pub message: String,
}

impl fmt::Display for ConditionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path.dotted(), self.message)
        }
    }
}

impl std::error::Error for ConditionsError {}

/// The outcome of a block: whether it holds, and the messages Kyverno reports with it (the
/// conditions' `message` fields, unsubstituted, joined as Kyverno joins them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub holds: bool,
    pub message: String,
}

/// Why a block could not be evaluated, worded as Kyverno words it.
#[derive(Debug, Clone, PartialEq)]
pub enum EvaluationError<E> {
    Key(E),
    Value(E),
    Operator(OperatorError),
}

impl<E: fmt::Display> fmt::Display for EvaluationError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvaluationError::Key(error) => {
                write!(
                    f,
                    "failed to substitute variables in condition key: {error}"
                )
            }
            EvaluationError::Value(error) => {
                write!(
                    f,
                    "failed to substitute variables in condition value: {error}"
                )
            }
            EvaluationError::Operator(error) => error.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for EvaluationError<E> {}

impl Conditions {
    /// Decodes and validates a block as Kyverno does for `site`. JSON `null` (or an absent
    /// block) is an empty block, which holds.
    pub fn compile(value: &Value, site: Site) -> Result<Self, Vec<ConditionsError>> {
        let mut errors = Vec::new();
        let root = JsonPath::root();
        let shape = match value {
            Value::Null => Shape::AnyAll(AnyAll::default()),
            Value::Array(items) if site == Site::Attestation => Shape::Blocks(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        let path = root.child_index(index);
                        match item {
                            Value::Object(map) => compile_any_all(map, &path, site, &mut errors),
                            Value::Null => AnyAll::default(),
                            other => {
                                errors.push(ConditionsError {
                                    path,
                                    message: format!(
                                        "expected an object with `any` and `all`, found {}",
                                        describe(other)
                                    ),
                                });
                                AnyAll::default()
                            }
                        }
                    })
                    .collect(),
            ),
            Value::Array(items) if site.accepts_list() => {
                Shape::List(compile_list(items, &root, site, &mut errors))
            }
            Value::Object(map) if site != Site::Attestation => {
                Shape::AnyAll(compile_any_all(map, &root, site, &mut errors))
            }
            other => {
                errors.push(ConditionsError {
                    path: root,
                    message: format!("expected {}, found {}", site.expected(), describe(other)),
                });
                Shape::List(Vec::new())
            }
        };
        if errors.is_empty() {
            Ok(Self { site, shape })
        } else {
            Err(errors)
        }
    }

    /// Every condition, in the order written.
    pub fn conditions(&self) -> impl Iterator<Item = &Condition> {
        let (list, blocks): (&[Condition], &[AnyAll]) = match &self.shape {
            Shape::AnyAll(block) => (&[], std::slice::from_ref(block)),
            Shape::List(list) => (list, &[]),
            Shape::Blocks(blocks) => (&[], blocks),
        };
        list.iter().chain(blocks.iter().flat_map(|block| {
            block
                .any
                .as_deref()
                .unwrap_or_default()
                .iter()
                .chain(&block.all)
        }))
    }

    /// The same block with every string of its keys, values and messages passed through
    /// `rewrite` (autogen's retargeting of `request.object.spec` and the like).
    pub fn map_text(&self, rewrite: &dyn Fn(&str) -> String) -> Self {
        let condition = |condition: &Condition| Condition {
            key: super::template::map_strings(&condition.key, rewrite),
            operator: condition.operator,
            value: super::template::map_strings(&condition.value, rewrite),
            message: rewrite(&condition.message),
        };
        let block = |block: &AnyAll| AnyAll {
            any: block
                .any
                .as_ref()
                .map(|any| any.iter().map(condition).collect()),
            all: block.all.iter().map(condition).collect(),
        };
        let shape = match &self.shape {
            Shape::AnyAll(any_all) => Shape::AnyAll(block(any_all)),
            Shape::List(list) => Shape::List(list.iter().map(condition).collect()),
            Shape::Blocks(blocks) => Shape::Blocks(blocks.iter().map(block).collect()),
        };
        Self {
            site: self.site,
            shape,
        }
    }

    /// Evaluates the block. `substitute` turns a key or value with variables into the value
    /// Kyverno compares; it is called only for the conditions Kyverno reaches.
    pub fn evaluate<E>(
        &self,
        mut substitute: impl FnMut(&Value) -> Result<Value, E>,
    ) -> Result<Verdict, EvaluationError<E>> {
        let mut check = |condition: &Condition| check(condition, &mut substitute);
        match &self.shape {
            Shape::Blocks(blocks) => {
                // `EvaluateAnyAllConditions`: the first block that does not hold decides.
                let mut true_messages = Vec::new();
                for block in blocks {
                    let verdict = block.evaluate(&mut check)?;
                    if !verdict.holds {
                        return Ok(verdict);
                    }
                    true_messages.push(verdict.message);
                }
                let true_messages: Vec<&str> = true_messages.iter().map(String::as_str).collect();
                Ok(Verdict {
                    holds: true,
                    message: join_non_empty(&true_messages, ";"),
                })
            }
            Shape::List(list) => {
                // `evaluateOldConditions`: the first false condition decides.
                let mut true_messages = Vec::new();
                for condition in list {
                    if !check(condition)? {
                        return Ok(Verdict {
                            holds: false,
                            message: condition.message.clone(),
                        });
                    }
                    true_messages.push(condition.message.as_str());
                }
                Ok(Verdict {
                    holds: true,
                    message: join_non_empty(&true_messages, ";"),
                })
            }
            Shape::AnyAll(AnyAll { any, all }) if self.site == Site::Exception => {
                // `CheckAnyAllConditions`: `all` first, then `any`; an empty `any` holds.
                for condition in all {
                    if !check(condition)? {
                        return Ok(Verdict::without_message(false));
                    }
                }
                let any = any.as_deref().unwrap_or_default();
                for condition in any {
                    if check(condition)? {
                        return Ok(Verdict::without_message(true));
                    }
                }
                Ok(Verdict::without_message(any.is_empty()))
            }
            Shape::AnyAll(block) => block.evaluate(&mut check),
        }
    }
}

impl AnyAll {
    /// Kyverno's `evaluateAnyAllConditions`: `any` stops at the first condition that holds,
    /// `all` at the first that does not.
    fn evaluate<E>(
        &self,
        check: &mut impl FnMut(&Condition) -> Result<bool, EvaluationError<E>>,
    ) -> Result<Verdict, EvaluationError<E>> {
        let mut true_messages = Vec::new();
        let mut false_messages = Vec::new();
        let mut any_holds = true;
        if let Some(any) = &self.any {
            any_holds = false;
            for condition in any {
                if check(condition)? {
                    any_holds = true;
                    true_messages.push(condition.message.as_str());
                    break;
                }
                false_messages.push(condition.message.as_str());
            }
        }
        let mut all_holds = true;
        for condition in &self.all {
            if !check(condition)? {
                all_holds = false;
                false_messages.push(condition.message.as_str());
                break;
            }
            true_messages.push(condition.message.as_str());
        }
        let holds = any_holds && all_holds;
        let messages = if holds { true_messages } else { false_messages };
        Ok(Verdict {
            holds,
            message: join_non_empty(&messages, "; "),
        })
    }
}

impl Verdict {
    fn without_message(holds: bool) -> Self {
        Self {
            holds,
            message: String::new(),
        }
    }
}

/// Substitutes one condition's key and value and applies its operator.
fn check<E>(
    condition: &Condition,
    substitute: &mut impl FnMut(&Value) -> Result<Value, E>,
) -> Result<bool, EvaluationError<E>> {
    let key = typed(
        &condition.key,
        substitute(&condition.key).map_err(EvaluationError::Key)?,
    );
    let value = typed(
        &condition.value,
        substitute(&condition.value).map_err(EvaluationError::Value)?,
    );
    condition
        .operator
        .evaluate(&key, &value)
        .map_err(EvaluationError::Operator)
}

/// The number type Kyverno's operators see. A condition's key and value go through a JSON
/// round trip into `interface{}` before substituting, and variables resolve to JMESPath's
/// float64 numbers, so a number standing alone is a float64 whatever it was written as;
/// numbers inside lists and maps keep their types. Two variables resolve to Go integers
/// instead: a foreach's `elementIndex` (and `elementIndexN`) and `compare()`, against which
/// a string such as "1.0" does not parse as an equal.
fn typed(written: &Value, resolved: Value) -> Value {
    if resolves_to_integer(written) {
        match &resolved {
            Value::Number(number) => match number.as_f64() {
                Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => {
                    Value::from(float as i64)
                }
                _ => resolved,
            },
            _ => resolved,
        }
    } else {
        untyped(resolved)
    }
}

/// Whether `written` is one whole variable whose expression Kyverno evaluates to a Go
/// integer: `elementIndex`, `elementIndex<N>`, or a `compare(...)` call.
fn resolves_to_integer(written: &Value) -> bool {
    let Value::String(text) = written else {
        return false;
    };
    if !(text.starts_with("{{") && text.ends_with("}}")) {
        return false;
    }
    let [expression] = super::template::variables(text)
        .try_into()
        .unwrap_or_default();
    if let Some(nesting) = expression.strip_prefix("elementIndex") {
        return nesting.chars().all(|c| c.is_ascii_digit());
    }
    let Some(arguments) = expression.strip_prefix("compare(") else {
        return false;
    };
    // The call's closing parenthesis must end the expression.
    let mut depth = 1usize;
    for (index, c) in arguments.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return index + 1 == arguments.len();
                }
            }
            _ => {}
        }
    }
    false
}

fn untyped(value: Value) -> Value {
    match value {
        Value::Number(number) if !number.is_f64() => {
            number.as_f64().map_or(Value::Number(number), Value::from)
        }
        other => other,
    }
}

/// Kyverno's `stringutils.JoinNonEmpty`.
pub fn join_non_empty(parts: &[&str], separator: &str) -> String {
    parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(separator)
}

/// The skip message of a rule whose preconditions do not hold.
pub fn preconditions_not_met(message: &str) -> String {
    join_non_empty(&["preconditions not met", message], "; ")
}

/// The failure message of a deny rule whose conditions hold (Kyverno's `getDenyMessage`): the
/// rule's message and the conditions' messages joined, then substituted as a whole. If that
/// substitution fails, Kyverno reports the conditions' messages as written.
pub fn deny_message<E>(
    rule_name: &str,
    rule_message: &str,
    conditions_message: &str,
    substitute: impl FnOnce(&Value) -> Result<Value, E>,
) -> String {
    if rule_message.is_empty() && conditions_message.is_empty() {
        return format!("validation error: rule {rule_name} failed");
    }
    let joined = join_non_empty(&[rule_message, conditions_message], "; ");
    match substitute(&Value::String(joined)) {
        Ok(Value::String(message)) => message,
        Ok(_) => "the produced message didn't resolve to a string, check your policy definition."
            .to_owned(),
        Err(_) => conditions_message.to_owned(),
    }
}

// ---- decoding and policy validation ---------------------------------------------------------

/// A field of a Go struct decoded by `encoding/json`, which matches names case-insensitively
/// (with Unicode's `ſ` and the Kelvin sign folding to `s` and `k`).
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<(&'a String, &'a Value)> {
    map.get_key_value(name).or_else(|| {
        map.iter().find(|(key, _)| {
            let folded = key.replace('\u{17f}', "s").replace('\u{212a}', "k");
            folded.eq_ignore_ascii_case(name)
        })
    })
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn compile_any_all(
    map: &Map<String, Value>,
    path: &JsonPath,
    site: Site,
    errors: &mut Vec<ConditionsError>,
) -> AnyAll {
    let mut list = |name: &str| -> Option<Vec<Condition>> {
        let (key, value) = field(map, name)?;
        let path = path.child_key(key.as_str());
        match value {
            Value::Null => None,
            Value::Array(items) => Some(compile_list(items, &path, site, errors)),
            other => {
                errors.push(ConditionsError {
                    path,
                    message: format!("expected a list of conditions, found {}", describe(other)),
                });
                None
            }
        }
    };
    let any = list("any");
    let all = list("all").unwrap_or_default();
    AnyAll { any, all }
}

fn compile_list(
    items: &[Value],
    path: &JsonPath,
    site: Site,
    errors: &mut Vec<ConditionsError>,
) -> Vec<Condition> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| compile_condition(item, &path.child_index(index), site, errors))
        .collect()
}

fn compile_condition(
    item: &Value,
    path: &JsonPath,
    site: Site,
    errors: &mut Vec<ConditionsError>,
) -> Option<Condition> {
    let empty = Map::new();
    let map = match item {
        // Go decodes a null item as a condition with nothing set.
        Value::Null => &empty,
        Value::Object(map) => map,
        other => {
            errors.push(ConditionsError {
                path: path.clone(),
                message: format!(
                    "expected a condition with key, operator and value, found {}",
                    describe(other)
                ),
            });
            return None;
        }
    };
    let key = field(map, "key").map_or(Value::Null, |(_, value)| value.clone());
    let value = field(map, "value").map_or(Value::Null, |(_, value)| value.clone());
    let text = |name: &str| match field(map, name) {
        None | Some((_, Value::Null)) => Ok(String::new()),
        Some((_, Value::String(text))) => Ok(text.clone()),
        Some((written, other)) => Err(ConditionsError {
            path: path.child_key(written.as_str()),
            message: format!("expected a string, found {}", describe(other)),
        }),
    };
    let (operator_name, message) = match (text("operator"), text("message")) {
        (Ok(operator), Ok(message)) => (operator, message),
        (operator, message) => {
            errors.extend(operator.err().into_iter().chain(message.err()));
            return None;
        }
    };
    if site.checks_values() {
        if key.is_null() || value.is_null() || operator_name.is_empty() {
            errors.push(ConditionsError {
                path: path.clone(),
                message: "entered value of `key`, `value` or `operator` is missing or misspelled"
                    .to_owned(),
            });
            return None;
        }
        if let Err(error) = check_operation_values(&key, &value, path) {
            errors.push(error);
            return None;
        }
    }
    let operator = match (Operator::recognise(&operator_name), site.exact_operators()) {
        (Some(Spelling::Exact(operator)), _) => operator,
        (Some(Spelling::Miscased { operator, .. }), false) => operator,
        (spelling, _) => {
            errors.push(unknown_operator(&operator_name, spelling, path));
            return None;
        }
    };
    Some(Condition {
        key,
        operator,
        value,
        message,
    })
}

fn unknown_operator(name: &str, spelling: Option<Spelling>, path: &JsonPath) -> ConditionsError {
    let valid: Vec<String> = OPERATOR_NAMES
        .iter()
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    let hint = match spelling {
        Some(Spelling::Miscased { canonical, .. }) => {
            format!(" (operator names are case-sensitive: did you mean {canonical:?}?)")
        }
        _ => String::new(),
    };
    ConditionsError {
        path: path.child_key("operator"),
        message: format!(
            "operator {name:?} is not valid{hint}: entered value of `operator` is invalid. \
             valid values: [{}]",
            valid.join(" ")
        ),
    }
}

/// Kyverno's policy validation of conditions on `{{request.operation}}`: the values must be
/// admission operations (a whole-string variable is allowed in place of a single value).
fn check_operation_values(
    key: &Value,
    value: &Value,
    path: &JsonPath,
) -> Result<(), ConditionsError> {
    const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
    let Value::String(key) = key else {
        return Ok(());
    };
    if key.replace(' ', "") != "{{request.operation}}" {
        return Ok(());
    }
    let unknown = |value: &str, path: JsonPath| ConditionsError {
        path,
        message: format!(
            "unknown value '{value}' found under the 'value' field. Only the following values \
             are allowed: [CREATE, UPDATE, DELETE, CONNECT]"
        ),
    };
    let value_path = path.child_key("value");
    match value {
        Value::String(text) => {
            let templated = text.len() >= 4 && text.starts_with("{{") && text.ends_with("}}");
            if !templated && !OPERATIONS.contains(&text.as_str()) {
                return Err(unknown(text, value_path));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = value_path.child_index(index);
                match item {
                    Value::String(text) if OPERATIONS.contains(&text.as_str()) => {}
                    Value::String(text) => return Err(unknown(text, item_path)),
                    other => {
                        return Err(ConditionsError {
                            path: item_path,
                            message: format!(
                                "'value[{index}]' found to be of the type {}. The provided \
                                 values are expected to be strings",
                                type_name(other)
                            ),
                        });
                    }
                }
            }
        }
        other => {
            let kind = match other {
                Value::Object(_) => "map",
                other => type_name(other),
            };
            return Err(ConditionsError {
                path: value_path,
                message: format!(
                    "'value' field found to be of the type {kind}. The provided value/values \
                     are expected to be either in the form of a string or list"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
