//! What Kyverno's policy validation refuses in a rule's `{{ }}` variables and context entries.
//!
//! Kyverno substitutes every variable of a rule against a mock context before it accepts the
//! policy. The mock knows the names Kyverno defines (`request`, `images`, `element`...), any
//! function call, and the rule's context entries (those of the rule and of its top-level
//! foreach loops, not of nested ones); any other variable, `{{ 'text' }}` or `{{ `80` }}`
//! included, refuses the policy. With background processing on, the names Kyverno defines are
//! fewer (no `serviceAccountName`), and variables about the requester refuse it outright.

use super::{Refusal, refusal};
use crate::expr::template;
use crate::json_path::JsonPath;
use crate::pattern::wildcard::Wildcard;
use crate::policy::spec::RuleSpec;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Kyverno's `ReservedKeys`: what a variable may read when background processing is off.
/// Unanchored, as Kyverno matches it: any variable containing one of these is allowed.
static ALLOWED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"request|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|image|([a-z_0-9]+\()[^{}]",
    )
    .expect("constant regex")
});

/// Kyverno's `allowedVariablesBackground`.
static ALLOWED_IN_BACKGROUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"request\.|element|elementIndex|@|images|images\.|image\.|([a-z_0-9]+\()[^{}]")
        .expect("constant regex")
});

/// Kyverno's `ForbiddenUserVariables`, matched against a variable with its braces.
static USER_VARIABLES: LazyLock<[Regex; 5]> = LazyLock::new(|| {
    [
        r"[^\.](serviceAccountName)\b",
        r"[^\.](serviceAccountNamespace)\b",
        r"[^\.](request.userInfo)\b",
        r"[^\.](request.roles)\b",
        r"[^\.](request.clusterRoles)\b",
    ]
    .map(|pattern| Regex::new(pattern).expect("constant regex"))
});

/// The variables Kyverno defines itself, which no context entry may be named after.
const PREDEFINED: [&str; 6] = [
    "images",
    "request",
    "serviceAccountName",
    "serviceAccountNamespace",
    "element",
    "elementIndex",
];

/// Every refusal Kyverno's validation makes of the rule's variables and context entries.
pub(super) fn check(rule: &RuleSpec, path: &JsonPath, background: bool, found: &mut Vec<Refusal>) {
    if let Some(Value::Array(entries)) = &rule.context {
        for (index, entry) in entries.iter().enumerate() {
            let entry_path = path.child_key("context").child_index(index);
            if let Some(message) = context_entry_refusal(entry) {
                found.push(refusal(entry_path, message));
            }
        }
    }
    let known = context_names(rule);
    let mut user_variable_reported = false;
    for (text, text_path) in strings(rule, path) {
        for expression in template::variables(text) {
            let braced = format!("{{{{{expression}}}}}");
            if background
                && !user_variable_reported
                && USER_VARIABLES.iter().any(|user| user.is_match(&braced))
            {
                found.push(refusal(
                    text_path.clone(),
                    format!(
                        "variable {braced} reads the requester, which is not known in \
                         background processing: set spec.background to false"
                    ),
                ));
                user_variable_reported = true;
            }
            if !is_allowed(&expression, background, &known) {
                found.push(refusal(
                    text_path.clone(),
                    format!(
                        "variable {braced} names nothing Kyverno knows here: a variable must \
                         read request, images, element, serviceAccountName (with background \
                         processing off), call a function, or name a context entry of the rule \
                         or of its top-level foreach"
                    ),
                ));
            }
        }
    }
}

/// Kyverno's `MockContext.Query` on an expression that compiles (ones that do not are refused
/// when the rule compiles).
fn is_allowed(expression: &str, background: bool, known: &[Wildcard]) -> bool {
    let query = expression.trim();
    if query == "@" {
        // Becomes the JMESPath of the field it is written at, under request.object.
        return true;
    }
    let query = query.replace('"', "");
    let allowed = if background {
        &*ALLOWED_IN_BACKGROUND
    } else {
        &*ALLOWED
    };
    allowed.is_match(&query) || known.iter().any(|name| name.matches(&query))
}

/// The wildcard patterns Kyverno's mock context learns from context entries: `name*` for
/// variables and API calls, `name.data` and `name.metadata` (and below) for ConfigMaps.
fn context_names(rule: &RuleSpec) -> Vec<Wildcard> {
    let foreach_contexts = rule
        .validate
        .as_ref()
        .and_then(|validate| validate.foreach.as_ref())
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|each| each.get("context"));
    let mut patterns = Vec::new();
    for entries in rule.context.iter().chain(foreach_contexts) {
        for entry in entries.as_array().into_iter().flatten() {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                continue;
            };
            if ["apiCall", "globalReference", "imageRegistry", "variable"]
                .iter()
                .any(|source| entry.get(source).is_some_and(|value| !value.is_null()))
            {
                patterns.push(format!("{name}*"));
            }
            if entry.get("configMap").is_some_and(|value| !value.is_null()) {
                for part in ["data", "metadata", "data.*", "metadata.*"] {
                    patterns.push(format!("{name}.{part}"));
                }
            }
        }
    }
    patterns
        .iter()
        .map(|pattern| Wildcard::new(pattern))
        .collect()
}

/// Kyverno's `validateRuleContext`, for the entries written directly under the rule.
fn context_entry_refusal(entry: &Value) -> Option<String> {
    let name = entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(predefined) = PREDEFINED
        .iter()
        .find(|predefined| name == **predefined || name.starts_with(&format!("{predefined}.")))
    {
        return Some(format!(
            "context entry {name:?} is named after Kyverno's own variable {predefined}"
        ));
    }
    let variable = entry.get("variable").filter(|value| !value.is_null())?;
    let present = |field: &str| variable.get(field).is_some_and(|value| !value.is_null());
    let has_path = variable
        .get("jmesPath")
        .and_then(Value::as_str)
        .is_some_and(|path| !path.is_empty());
    if !present("value") && !has_path {
        return Some(format!(
            "context entry {name:?}: a variable must define a value or a jmesPath expression"
        ));
    }
    if present("default") && !has_path {
        return Some(format!(
            "context entry {name:?}: a variable may define a default only with a jmesPath \
             expression"
        ));
    }
    None
}

/// Every string value and key of the rule's parts that Kyverno substitutes, with its path.
fn strings<'a>(rule: &'a RuleSpec, path: &JsonPath) -> Vec<(&'a str, JsonPath)> {
    let mut roots: Vec<(&Value, JsonPath)> = Vec::new();
    if let Some(context) = &rule.context {
        roots.push((context, path.child_key("context")));
    }
    if let Some(preconditions) = &rule.preconditions {
        roots.push((preconditions, path.child_key("preconditions")));
    }
    let mut found = Vec::new();
    if let Some(validate) = &rule.validate {
        let validate_path = path.child_key("validate");
        if let Some(message) = &validate.message {
            found.push((message.as_str(), validate_path.child_key("message")));
        }
        for (name, part) in [
            ("pattern", &validate.pattern),
            ("anyPattern", &validate.any_pattern),
            ("deny", &validate.deny),
            ("foreach", &validate.foreach),
        ] {
            if let Some(value) = part {
                roots.push((value, validate_path.child_key(name)));
            }
        }
    }
    while let Some((value, value_path)) = roots.pop() {
        match value {
            Value::String(text) => found.push((text.as_str(), value_path)),
            Value::Array(items) => roots.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (item, value_path.child_index(index))),
            ),
            Value::Object(map) => {
                for (key, item) in map {
                    let item_path = value_path.child_key(key);
                    found.push((key.as_str(), item_path.clone()));
                    roots.push((item, item_path));
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use crate::policy::{LoadErrorKind, load_str};
    use std::path::Path;

    /// The messages of the policy's load errors; empty when it loads.
    fn refused(background: bool, rule: &str) -> Vec<String> {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  \
             background: {background}\n  rules:\n  - name: r\n    match:\n      any:\n      - \
             resources:\n          kinds: [ConfigMap]\n{rule}"
        );
        match load_str(&text, Path::new("policy.yaml")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .inspect(|error| assert_eq!(error.kind, LoadErrorKind::Invalid, "{error}"))
                .map(|error| error.message)
                .collect(),
        }
    }

    fn deny_on(key: &str) -> String {
        format!(
            "    validate:\n      deny:\n        conditions:\n          any:\n          - key: \
             \"{key}\"\n            operator: Equals\n            value: x\n"
        )
    }

    #[test]
    fn variables_must_name_what_kyverno_knows() {
        for known in [
            "{{request.object.metadata.name}}",
            "{{ images.containers.*.tag }}",
            "{{ to_string('text') }}",
            "{{ length(`[1]`) }}",
            "{{@}}",
        ] {
            assert!(refused(true, &deny_on(known)).is_empty(), "{known}");
        }
        for unknown in ["{{ 'text' }}", "{{ `80` }}", "{{ c0 }}", "{{ name }}"] {
            let errors = refused(false, &deny_on(unknown));
            assert_eq!(errors.len(), 1, "{unknown}: {errors:?}");
            assert!(
                errors[0].contains("names nothing Kyverno knows here"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn context_entries_of_the_rule_and_its_top_level_foreach_are_known() {
        let context = "    context:\n    - name: c0.sub\n      variable:\n        value: 1\n";
        assert!(refused(false, &format!("{context}{}", deny_on("{{ c0.sub }}"))).is_empty());
        assert!(refused(false, &format!("{context}{}", deny_on("{{ c0.subway }}"))).is_empty());
        let foreach = |inner_context: &str| {
            format!(
                "    validate:\n      foreach:\n      - list: request.object.data\n{inner_context}        \
                 foreach:\n        - list: element\n          context:\n          - name: \
                 inner\n            variable:\n              value: 1\n          deny:\n            \
                 conditions:\n              any:\n              - key: '{{{{ outer }}}}'\n                \
                 operator: Equals\n                value: '{{{{ inner }}}}'\n"
            )
        };
        let outer =
            "        context:\n        - name: outer\n          variable:\n            value: 1\n";
        let errors = refused(false, &foreach(outer));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("{{inner}}"), "{errors:?}");
        assert_eq!(refused(false, &foreach("")).len(), 2);
    }

    #[test]
    fn background_processing_refuses_variables_about_the_requester() {
        for user in [
            "{{serviceAccountName}}",
            "{{ request.userInfo.username }}",
            "{{request.roles}}",
        ] {
            let errors = refused(true, &deny_on(user));
            assert!(
                errors
                    .iter()
                    .any(|error| error.contains("set spec.background to false")),
                "{user}: {errors:?}"
            );
            assert!(refused(false, &deny_on(user)).is_empty(), "{user}");
        }
        assert!(
            refused(
                true,
                &deny_on("{{ request.object.spec.serviceAccountName }}")
            )
            .is_empty()
        );
    }

    #[test]
    fn context_variables_need_a_value_or_a_path_and_a_path_for_a_default() {
        let entry = |name: &str, variable: &str| {
            format!(
                "    context:\n    - name: {name}\n      variable: {variable}\n{}",
                deny_on("{{request.object.metadata.name}}")
            )
        };
        assert!(refused(false, &entry("c", "{value: 1}")).is_empty());
        assert!(refused(false, &entry("c", "{jmesPath: request.name, default: 1}")).is_empty());
        assert_eq!(
            refused(false, &entry("c", "{value: 1, default: 2}")),
            [
                "context entry \"c\": a variable may define a default only with a jmesPath expression"
            ]
        );
        assert_eq!(
            refused(false, &entry("c", "{value: null}")),
            ["context entry \"c\": a variable must define a value or a jmesPath expression"]
        );
        assert_eq!(
            refused(false, &entry("images", "{value: 1}")),
            ["context entry \"images\" is named after Kyverno's own variable images"]
        );
        assert_eq!(refused(false, &entry("request.x", "{value: 1}")).len(), 1);
    }
}
