//! Wire types → [`Policy`]: every validation a policy needs happens here, once, at load.
//!
//! Features Kyverno has but Portcullis does not evaluate are refused by name
//! (`unsupported: deny in policy/rule (file:line)`) instead of being skipped, because a skipped
//! rule in an admission gate is a silent hole.

use super::compile_expressions::RuleCompiler;
use super::load::LoadError;
use super::spec::{ActionOverrideSpec, PolicyDocument, RuleSpec, ValidationSpec};
use super::{
    ActionOverride, FailureAction, FailurePolicy, Origin, Policy, Rule, SourcedPattern, Validation,
};
use crate::autogen;
use crate::eval::context::Expressions;
use crate::expr::conditions::Site;
use crate::json_path::JsonPath;
use crate::matching::{LabelSelector, MatchBlock, MatchSpecError};
use crate::pattern::NumberMode;
use crate::pattern::wildcard::Wildcard;
use crate::yaml::Document;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

const MAX_RULE_NAME: usize = 63;

/// One document of one file: what errors need in order to point at a line.
pub(crate) struct Located<'a> {
    pub file: &'a Path,
    pub document: &'a Document,
}

fn root(key: &str) -> JsonPath {
    JsonPath::root().child_key(key)
}

pub(super) fn compile_policy(
    document: &PolicyDocument,
    located: &Located<'_>,
) -> Result<Policy, Vec<LoadError>> {
    let mut errors = Vec::new();
    let name = document.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        let path = if document.metadata.name.is_some() {
            root("metadata").child_key("name")
        } else {
            root("metadata")
        };
        errors.push(located.invalid(&path, format!("{} has no metadata.name", document.kind)));
    }
    let namespaced = document.kind == "Policy";
    let namespace = namespaced.then(|| {
        document
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned())
    });
    let spec = &document.spec;
    let spec_path = root("spec");

    let action = match &spec.validation_failure_action {
        None => FailureAction::Audit,
        Some(text) => FailureAction::parse(text).unwrap_or_else(|| {
            errors.push(located.invalid(
                &spec_path.child_key("validationFailureAction"),
                format!("invalid validationFailureAction {text:?}: expected Audit or Enforce"),
            ));
            FailureAction::Audit
        }),
    };
    if namespaced && !spec.validation_failure_action_overrides.is_empty() {
        errors.push(located.invalid(
            &spec_path.child_key("validationFailureActionOverrides"),
            "validationFailureActionOverrides is only allowed in a ClusterPolicy".to_owned(),
        ));
    }
    let action_overrides = compile_overrides(
        &spec.validation_failure_action_overrides,
        &spec_path.child_key("validationFailureActionOverrides"),
        located,
        &mut errors,
    );
    let apply_one = match spec.apply_rules.as_deref() {
        None | Some("All") => false,
        Some("One") => true,
        Some(other) => {
            errors.push(located.invalid(
                &spec_path.child_key("applyRules"),
                format!("invalid applyRules {other:?}: expected All or One"),
            ));
            false
        }
    };
    let failure_policy_text = spec
        .webhook_configuration
        .as_ref()
        .and_then(|webhook| webhook.failure_policy.as_deref())
        .or(spec.failure_policy.as_deref());
    let failure_policy = match failure_policy_text {
        None | Some("Fail") => FailurePolicy::Fail,
        Some("Ignore") => FailurePolicy::Ignore,
        Some(other) => {
            errors.push(located.invalid(
                &spec_path.child_key("failurePolicy"),
                format!("invalid failurePolicy {other:?}: expected Fail or Ignore"),
            ));
            FailurePolicy::Fail
        }
    };
    let timeout_text = spec
        .webhook_configuration
        .as_ref()
        .and_then(|webhook| {
            webhook
                .timeout_seconds
                .map(|seconds| (seconds, "webhookConfiguration"))
        })
        .or(spec
            .webhook_timeout_seconds
            .map(|seconds| (seconds, "webhookTimeoutSeconds")));
    let webhook_timeout_seconds = match timeout_text {
        None => None,
        Some((seconds, field)) => match u8::try_from(seconds) {
            Ok(seconds) if (1..=30).contains(&seconds) => Some(seconds),
            _ => {
                let path = if field == "webhookConfiguration" {
                    spec_path.child_key(field).child_key("timeoutSeconds")
                } else {
                    spec_path.child_key(field)
                };
                errors.push(located.invalid(
                    &path,
                    format!(
                        "invalid webhook timeout {seconds}: the apiserver accepts 1 to 30 seconds"
                    ),
                ));
                None
            }
        },
    };
    let inert_settings: Vec<&'static str> = [
        ("background", spec.background.is_some()),
        (
            "skipBackgroundRequests",
            spec.rules
                .iter()
                .any(|rule| rule.skip_background_requests.is_some()),
        ),
        (
            "reportProperties",
            spec.rules
                .iter()
                .any(|rule| rule.report_properties.is_some()),
        ),
    ]
    .into_iter()
    .filter_map(|(setting, written)| written.then_some(setting))
    .collect();
    if spec.rules.is_empty() {
        errors.push(located.invalid(
            &spec_path.child_key("rules"),
            format!("policy {name:?} has no rules"),
        ));
    }

    let mut rules = Vec::new();
    let mut seen = HashSet::new();
    for (index, rule_spec) in spec.rules.iter().enumerate() {
        let rule_path = spec_path.child_key("rules").child_index(index);
        if !seen.insert(rule_spec.name.as_str()) {
            errors.push(located.invalid(
                &rule_path.child_key("name"),
                format!(
                    "duplicate rule name {:?} in policy {name:?}",
                    rule_spec.name
                ),
            ));
        }
        match compile_rule(
            rule_spec,
            &rule_path,
            &name,
            spec.background.unwrap_or(true),
            located,
        ) {
            Ok(rule) => rules.push(rule),
            Err(mut rule_errors) => errors.append(&mut rule_errors),
        }
    }
    for refusal in super::refusals::refusals(document) {
        errors.push(located.invalid(&refusal.path, refusal.message));
    }
    let autogen_rules = if errors.is_empty() {
        autogen::generate(&document.metadata.annotations, &rules).unwrap_or_else(|error| {
            errors.push(located.invalid(
                &spec_path,
                format!("autogen rule for {name:?} does not compile: {error}"),
            ));
            Vec::new()
        })
    } else {
        Vec::new()
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Policy {
        origin: Origin {
            file: located.file.to_owned(),
            line: located.document.start.line,
        },
        scored: document
            .metadata
            .annotations
            .get("policies.kyverno.io/scored")
            .map(String::as_str)
            != Some("false"),
        key: match document.metadata.namespace.as_deref() {
            Some(written) if namespaced && !written.is_empty() => format!("{written}/{name}"),
            _ => name.clone(),
        },
        name,
        namespace,
        action,
        action_overrides,
        admission: spec.admission.unwrap_or(true),
        emit_warning: spec.emit_warning.unwrap_or(false),
        apply_one,
        failure_policy,
        webhook_timeout_seconds,
        inert_settings,
        rules,
        autogen_rules,
    })
}

fn compile_rule(
    spec: &RuleSpec,
    path: &JsonPath,
    policy: &str,
    background: bool,
    located: &Located<'_>,
) -> Result<Rule, Vec<LoadError>> {
    let mut errors = Vec::new();
    let rule = spec.name.as_str();
    if rule.is_empty() {
        errors.push(located.invalid(&path.child_key("name"), "rule has an empty name".to_owned()));
    } else if rule.chars().count() > MAX_RULE_NAME {
        errors.push(located.invalid(
            &path.child_key("name"),
            format!("rule name {rule:?} is longer than {MAX_RULE_NAME} characters"),
        ));
    }
    let unsupported_rule_fields = [
        ("mutate", spec.mutate.is_some()),
        ("generate", spec.generate.is_some()),
        ("verifyImages", spec.verify_images.is_some()),
        ("imageExtractors", spec.image_extractors.is_some()),
        ("celPreconditions", spec.cel_preconditions.is_some()),
    ];
    for (field, present) in unsupported_rule_fields {
        if present {
            errors.push(located.unsupported(&path.child_key(field), field, policy, rule));
        }
    }
    let match_block = compile_match(
        &spec.match_resources,
        &path.child_key("match"),
        located,
        &mut errors,
    );
    if match_block
        .as_ref()
        .is_some_and(|block| block.filters.is_empty())
    {
        errors.push(located.invalid(
            &path.child_key("match"),
            format!("rule {rule:?} has an empty match block"),
        ));
    }
    let exclude = spec.exclude.as_ref().and_then(|exclude| {
        compile_match(exclude, &path.child_key("exclude"), located, &mut errors)
    });
    // Kyverno's policy validation: match and exclude are decided before any variable exists.
    for section in ["match", "exclude"] {
        let written = located
            .document
            .value
            .pointer(&path.child_key(section).pointer())
            .is_some_and(crate::expr::template::has_variables);
        if written {
            errors.push(located.invalid(
                &path.child_key(section),
                format!(
                    "policy contains invalid variables: rule \"{rule}\" should not have variables in {section} section"
                ),
            ));
        }
    }
    let mut parts = RuleCompiler {
        located,
        policy,
        rule,
        errors: &mut errors,
        expressions: Expressions::default(),
        written: Vec::new(),
        context_names: Vec::new(),
    };
    let context = spec
        .context
        .as_ref()
        .map(|value| parts.context(value, &path.child_key("context"), 0))
        .unwrap_or_default();
    let preconditions = spec.preconditions.as_ref().and_then(|value| {
        parts.conditions(
            value,
            &path.child_key("preconditions"),
            Site::RulePreconditions,
            0,
        )
    });
    let validate_path = path.child_key("validate");
    let validation = match &spec.validate {
        Some(validate) => compile_validation(validate, &validate_path, &mut parts),
        None => {
            if parts.errors.is_empty() {
                parts
                    .errors
                    .push(located.invalid(path, format!("rule {rule:?} has no validate block")));
            }
            None
        }
    };
    parts.check_variables(background);
    let expressions = parts.expressions;
    let Some(validate) = &spec.validate else {
        return Err(errors);
    };
    let failure_action = validate.failure_action.as_deref().and_then(|text| {
        let action = FailureAction::parse(text);
        if action.is_none() {
            errors.push(located.invalid(
                &validate_path.child_key("failureAction"),
                format!("invalid failureAction {text:?}: expected Audit or Enforce"),
            ));
        }
        action
    });
    let action_overrides = compile_overrides(
        &validate.failure_action_overrides,
        &validate_path.child_key("failureActionOverrides"),
        located,
        &mut errors,
    );
    match (match_block, validation) {
        (Some(match_block), Some(validation)) if errors.is_empty() => {
            let mut compiled = Rule {
                name: rule.to_owned(),
                pass_message: Rule::pass_message_for(rule),
                match_block,
                exclude,
                context,
                preconditions,
                validation,
                message: validate.message.clone(),
                expressions,
                reads_variables: false,
                failure_action,
                action_overrides,
                allow_existing_violations: validate.allow_existing_violations.unwrap_or(true),
            };
            compiled.reads_variables = compiled.judged_by_variables();
            Ok(compiled)
        }
        _ => Err(errors),
    }
}

fn compile_validation(
    spec: &ValidationSpec,
    path: &JsonPath,
    parts: &mut RuleCompiler<'_>,
) -> Option<Validation> {
    let unsupported = [
        ("cel", spec.cel.is_some()),
        ("podSecurity", spec.pod_security.is_some()),
        ("manifests", spec.manifests.is_some()),
        ("assert", spec.assert.is_some()),
    ];
    let mut refused = false;
    for (field, present) in unsupported {
        if present {
            parts.errors.push(parts.located.unsupported(
                &path.child_key(field),
                field,
                parts.policy,
                parts.rule,
            ));
            refused = true;
        }
    }
    if let Some(message) = &spec.message {
        parts.variables(
            &Value::String(message.clone()),
            &path.child_key("message"),
            0,
        );
    }
    let written = [
        spec.pattern.is_some(),
        spec.any_pattern.is_some(),
        spec.deny.is_some(),
        spec.foreach.is_some(),
    ]
    .into_iter()
    .filter(|written| *written)
    .count();
    if written > 1 {
        parts.errors.push(parts.located.invalid(
            path,
            "validate may set only one of pattern, anyPattern, deny and foreach".to_owned(),
        ));
        return None;
    }
    if let Some(deny) = &spec.deny {
        return parts
            .conditions(
                deny.get("conditions").unwrap_or(&Value::Null),
                &path.child_key("deny").child_key("conditions"),
                Site::RuleDeny,
                0,
            )
            .map(Validation::Deny);
    }
    if let Some(foreach) = &spec.foreach {
        return parts.foreach(foreach, &path.child_key("foreach"), 0);
    }
    match (&spec.pattern, &spec.any_pattern) {
        (Some(pattern), _) => parts
            .pattern(pattern, &path.child_key("pattern"), NumberMode::Exact, 0)
            .map(Validation::Pattern),
        (None, Some(Value::Array(patterns))) => {
            let any_path = path.child_key("anyPattern");
            let compiled: Vec<Option<SourcedPattern>> = patterns
                .iter()
                .enumerate()
                .map(|(index, pattern)| {
                    parts.pattern(pattern, &any_path.child_index(index), NumberMode::Float, 0)
                })
                .collect();
            compiled
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Validation::AnyPattern)
        }
        (None, Some(_)) => {
            parts.errors.push(parts.located.invalid(
                &path.child_key("anyPattern"),
                "anyPattern must be a list of patterns".to_owned(),
            ));
            None
        }
        (None, None) => {
            if !refused {
                parts.errors.push(parts.located.invalid(
                    path,
                    format!(
                        "rule {:?}: validate needs a pattern, anyPattern, deny or foreach",
                        parts.rule
                    ),
                ));
            }
            None
        }
    }
}

pub(super) fn compile_match(
    spec: &super::spec::MatchSpec,
    path: &JsonPath,
    located: &Located<'_>,
    errors: &mut Vec<LoadError>,
) -> Option<MatchBlock> {
    MatchBlock::compile(spec)
        .map_err(|MatchSpecError { field, message }| {
            errors.push(located.invalid(&path.join(&JsonPath::parse_dotted(&field)), message));
        })
        .ok()
}

fn compile_overrides(
    specs: &[ActionOverrideSpec],
    path: &JsonPath,
    located: &Located<'_>,
    errors: &mut Vec<LoadError>,
) -> Vec<ActionOverride> {
    let mut overrides = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let entry = path.child_index(index);
        let Some(action) = FailureAction::parse(&spec.action) else {
            errors.push(located.invalid(
                &entry.child_key("action"),
                format!(
                    "invalid action {:?}: expected Audit or Enforce",
                    spec.action
                ),
            ));
            continue;
        };
        let namespace_selector = match spec
            .namespace_selector
            .as_ref()
            .map(LabelSelector::compile)
            .transpose()
        {
            Ok(selector) => selector,
            Err(MatchSpecError { field, message }) => {
                errors.push(
                    located.invalid(
                        &entry
                            .child_key("namespaceSelector")
                            .join(&JsonPath::parse_dotted(&field)),
                        message,
                    ),
                );
                continue;
            }
        };
        overrides.push(ActionOverride {
            action,
            namespaces: spec
                .namespaces
                .iter()
                .map(|namespace| Wildcard::new(namespace))
                .collect(),
            namespace_selector,
        });
    }
    overrides
}
