//! What Kyverno's own policy validation refuses in a validate policy that Portcullis could
//! otherwise evaluate. Kyverno's webhook rejects such a policy object, so no cluster enforces it,
//! and `kyverno test` skips its expectations ("Invalid Policy"); Portcullis refuses to load it,
//! with the reason and the line.
//!
//! Kyverno reports only the first problem it meets; this reports every one. Kyverno's checks
//! of cluster-scoped kinds in a namespaced Policy need the cluster's discovery, and neither its
//! CLI nor Portcullis has one, so that check is not made here.

use super::FailureAction;
use super::spec::{
    ActionOverrideSpec, FilterSpec, LabelSelectorRequirementSpec, LabelSelectorSpec, MatchSpec,
    PolicyDocument, ResourceSpec, RuleSpec, SubjectSpec,
};
use crate::json_path::JsonPath;
use crate::pattern::wildcard::{Wildcard, has_wildcard};
use serde_json::Value;
use std::collections::BTreeMap;

/// One reason Kyverno would refuse the policy, at the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub path: JsonPath,
    pub message: String,
}

fn refusal(path: JsonPath, message: impl Into<String>) -> Refusal {
    Refusal {
        path,
        message: message.into(),
    }
}

/// Whether the block is a rule's `match` or its `exclude`: only `match` must name resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Match,
    Exclude,
}

/// Every reason Kyverno's policy validation would refuse the document.
pub(super) fn refusals(document: &PolicyDocument) -> Vec<Refusal> {
    let mut found = Vec::new();
    let root = JsonPath::root();
    let namespaced = document.kind == "Policy";
    if !namespaced
        && document
            .metadata
            .namespace
            .as_deref()
            .is_some_and(|namespace| !namespace.is_empty())
    {
        found.push(refusal(
            root.child_key("metadata").child_key("namespace"),
            "a ClusterPolicy cannot have a namespace",
        ));
    }
    let spec = &document.spec;
    let background = spec.background.unwrap_or(true);
    if spec.admission == Some(false) && !background {
        found.push(refusal(
            root.child_key("spec").child_key("admission"),
            "admission and background processing cannot both be disabled",
        ));
    }
    for (index, rule) in spec.rules.iter().enumerate() {
        let path = root.child_key("spec").child_key("rules").child_index(index);
        check_rule(rule, &path, namespaced, background, &mut found);
        if let Some(validate) = rule.validate.as_ref().filter(|_| !namespaced) {
            let overrides_path = path
                .child_key("validate")
                .child_key("failureActionOverrides");
            found.extend(conflicting_overrides(
                &validate.failure_action_overrides,
                &overrides_path,
            ));
        }
    }
    if !namespaced {
        let overrides_path = root
            .child_key("spec")
            .child_key("validationFailureActionOverrides");
        found.extend(conflicting_overrides(
            &spec.validation_failure_action_overrides,
            &overrides_path,
        ));
    }
    found
}

/// Kyverno refuses overrides of a ClusterPolicy that could give one namespace both actions: a
/// namespace listed for both, or a wildcard of one action that matches a namespace or a
/// wildcard of the other (`team-*` for both conflicts with itself).
fn conflicting_overrides(overrides: &[ActionOverrideSpec], path: &JsonPath) -> Option<Refusal> {
    let mut names: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    let mut wildcards: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    for entry in overrides {
        let side = match FailureAction::parse(&entry.action) {
            Some(FailureAction::Audit) => 0,
            Some(FailureAction::Enforce) => 1,
            None => continue,
        };
        for namespace in &entry.namespaces {
            if has_wildcard(namespace) {
                wildcards[side].push(namespace);
            } else {
                names[side].push(namespace);
            }
        }
    }
    let conflict = |message: String| {
        Some(refusal(
            path.clone(),
            format!("overrides give a namespace both actions: {message}"),
        ))
    };
    if let Some(name) = names[0].iter().find(|name| names[1].contains(name)) {
        return conflict(format!("{name} is listed for Audit and for Enforce"));
    }
    for side in [0, 1] {
        let other = 1 - side;
        for pattern in &wildcards[side] {
            let wildcard = Wildcard::new(pattern);
            if let Some(name) = names[other]
                .iter()
                .chain(&wildcards[other])
                .find(|name| wildcard.matches(name))
            {
                return conflict(format!("{pattern} matches {name}"));
            }
        }
    }
    None
}

fn check_rule(
    rule: &RuleSpec,
    path: &JsonPath,
    namespaced: bool,
    background: bool,
    found: &mut Vec<Refusal>,
) {
    for (user_path, users) in user_descriptions(rule, path) {
        check_users(users, &user_path, background, found);
    }
    let blocks = std::iter::once((Side::Match, &rule.match_resources))
        .chain(rule.exclude.iter().map(|exclude| (Side::Exclude, exclude)));
    for (side, block) in blocks {
        let block_path = path.child_key(match side {
            Side::Match => "match",
            Side::Exclude => "exclude",
        });
        check_block(block, &block_path, side, namespaced, found);
        for (filter_path, resources) in resource_descriptions(block, &block_path) {
            check_wildcard_kinds(rule, resources, &filter_path, background, found);
        }
    }
    if matches_empty_set(&rule.match_resources, rule.exclude.as_ref()) {
        found.push(refusal(
            path.clone(),
            "the rule matches an empty set: its exclude block excludes everything its match block selects",
        ));
    }
    if let Some(validate) = &rule.validate {
        let mut patterns = Vec::new();
        if let Some(pattern) = &validate.pattern {
            patterns.push((path.child_key("validate").child_key("pattern"), pattern));
        }
        if let Some(Value::Array(any)) = &validate.any_pattern {
            for (index, pattern) in any.iter().enumerate() {
                let pattern_path = path
                    .child_key("validate")
                    .child_key("anyPattern")
                    .child_index(index);
                patterns.push((pattern_path, pattern));
            }
        }
        for (pattern_path, pattern) in patterns {
            if let Some(metadata_path) = non_string_labels(pattern) {
                found.push(refusal(
                    pattern_path.join(&metadata_path),
                    "labels and annotations in a pattern take only string values: quote the value",
                ));
            }
        }
    }
}

/// Who a filter is about: `roles`, `clusterRoles` and `subjects`, inline or in a filter.
struct Users<'a> {
    roles: &'a Option<Vec<String>>,
    cluster_roles: &'a Option<Vec<String>>,
    subjects: &'a Option<Vec<SubjectSpec>>,
}

fn user_descriptions<'a>(rule: &'a RuleSpec, path: &JsonPath) -> Vec<(JsonPath, Users<'a>)> {
    let mut found = Vec::new();
    let blocks = std::iter::once(("match", &rule.match_resources))
        .chain(rule.exclude.iter().map(|exclude| ("exclude", exclude)));
    for (name, block) in blocks {
        let block_path = path.child_key(name);
        found.push((
            block_path.clone(),
            Users {
                roles: &block.roles,
                cluster_roles: &block.cluster_roles,
                subjects: &block.subjects,
            },
        ));
        for (list, list_name) in [(&block.any, "any"), (&block.all, "all")] {
            for (index, filter) in list.iter().flatten().enumerate() {
                found.push((
                    block_path.child_key(list_name).child_index(index),
                    Users {
                        roles: &filter.roles,
                        cluster_roles: &filter.cluster_roles,
                        subjects: &filter.subjects,
                    },
                ));
            }
        }
    }
    found
}

/// Background processing has no requesting user, so Kyverno refuses user filters with it; roles
/// are `namespace:name`, and a ServiceAccount subject needs its namespace.
fn check_users(users: Users<'_>, path: &JsonPath, background: bool, found: &mut Vec<Refusal>) {
    let fields = [
        (
            "roles",
            users.roles.as_ref().is_some_and(|list| !list.is_empty()),
        ),
        (
            "clusterRoles",
            users
                .cluster_roles
                .as_ref()
                .is_some_and(|list| !list.is_empty()),
        ),
        (
            "subjects",
            users.subjects.as_ref().is_some_and(|list| !list.is_empty()),
        ),
    ];
    if background {
        if let Some((field, _)) = fields.iter().find(|(_, present)| *present) {
            found.push(refusal(
                path.child_key(*field),
                format!(
                    "{field} is not allowed with background processing: set spec.background to false"
                ),
            ));
        }
    }
    for (index, role) in users.roles.iter().flatten().enumerate() {
        if role.split(':').count() != 2 {
            found.push(refusal(
                path.child_key("roles").child_index(index),
                format!("role {role:?} is not in namespace:name form"),
            ));
        }
    }
    for (index, subject) in users.subjects.iter().flatten().enumerate() {
        let subject_path = path.child_key("subjects").child_index(index);
        if subject.name.is_empty() {
            found.push(refusal(
                subject_path.child_key("name"),
                "a subject needs a name",
            ));
        }
        if subject.kind == "ServiceAccount"
            && subject.namespace.as_deref().is_none_or(str::is_empty)
        {
            found.push(refusal(
                subject_path.child_key("namespace"),
                "a ServiceAccount subject needs a namespace",
            ));
        }
    }
}

/// Each filter's resource description with its path: `any[i]`, `all[i]`, and the inline one.
fn resource_descriptions<'a>(
    block: &'a MatchSpec,
    path: &JsonPath,
) -> Vec<(JsonPath, &'a ResourceSpec)> {
    let mut found = Vec::new();
    for (list, name) in [(&block.any, "any"), (&block.all, "all")] {
        for (index, filter) in list.iter().flatten().enumerate() {
            if let Some(resources) = &filter.resources {
                let filter_path = path
                    .child_key(name)
                    .child_index(index)
                    .child_key("resources");
                found.push((filter_path, resources));
            }
        }
    }
    if let Some(resources) = &block.resources {
        found.push((path.child_key("resources"), resources));
    }
    found
}

fn check_block(
    block: &MatchSpec,
    path: &JsonPath,
    side: Side,
    namespaced: bool,
    found: &mut Vec<Refusal>,
) {
    let any = block.any.as_deref().unwrap_or_default();
    let all = block.all.as_deref().unwrap_or_default();
    if !any.is_empty() && !all.is_empty() {
        found.push(refusal(path.clone(), "any and all cannot be used together"));
    }
    let inline = block.resources.as_ref().filter(|inline| !is_empty(inline));
    if (!any.is_empty() || !all.is_empty()) && inline.is_some() {
        found.push(refusal(
            path.child_key("resources"),
            "any or all cannot be used together with resources beside them",
        ));
    }
    for (filter_path, resources) in resource_descriptions(block, path) {
        if resources.name.is_some() && resources.names.is_some() {
            found.push(refusal(
                filter_path.clone(),
                "name and names cannot be used together",
            ));
        }
        if let Some(selector) = &resources.selector {
            if !selector_has_wildcard(selector)
                && selector.match_labels.is_empty()
                && selector.match_expressions.is_empty()
            {
                found.push(refusal(
                    filter_path.child_key("selector"),
                    "the selector has no requirements",
                ));
            }
        }
        if namespaced
            && resources
                .namespaces
                .as_ref()
                .is_some_and(|list| !list.is_empty())
        {
            found.push(refusal(
                filter_path.child_key("namespaces"),
                "a namespaced Policy cannot filter namespaces",
            ));
        }
    }
    if side == Side::Match {
        // Kyverno reads `any` when it has filters, else `all`, else the inline description.
        let (filters, name): (Vec<Option<&ResourceSpec>>, Option<&str>) = if !any.is_empty() {
            (
                any.iter().map(|filter| filter.resources.as_ref()).collect(),
                Some("any"),
            )
        } else if !all.is_empty() {
            (
                all.iter().map(|filter| filter.resources.as_ref()).collect(),
                Some("all"),
            )
        } else {
            (vec![block.resources.as_ref()], None)
        };
        for (index, resources) in filters.into_iter().enumerate() {
            let filter_path = match name {
                Some(name) => path.child_key(name).child_index(index),
                None => path.clone(),
            };
            let kinds = resources.and_then(|resources| resources.kinds.as_ref());
            if resources.is_none_or(is_empty) {
                found.push(refusal(
                    filter_path.child_key("resources"),
                    "match names no resources",
                ));
            } else if kinds.is_none_or(Vec::is_empty) {
                found.push(refusal(
                    filter_path.child_key("resources").child_key("kinds"),
                    "every match filter must name kinds",
                ));
            }
        }
    }
}

fn is_empty(resources: &ResourceSpec) -> bool {
    *resources == ResourceSpec::default()
}

/// Kyverno skips its selector checks when a `matchLabels` key or value has a wildcard.
fn selector_has_wildcard(selector: &LabelSelectorSpec) -> bool {
    selector
        .match_labels
        .iter()
        .any(|(key, value)| has_wildcard(key) || has_wildcard(value))
}

/// `kinds: ["*"]` is allowed only without background processing, alone, and for rules whose
/// patterns look at nothing but `metadata`.
fn check_wildcard_kinds(
    rule: &RuleSpec,
    resources: &ResourceSpec,
    path: &JsonPath,
    background: bool,
    found: &mut Vec<Refusal>,
) {
    let kinds = resources.kinds.as_deref().unwrap_or_default();
    if !kinds.iter().any(|kind| kind == "*") {
        return;
    }
    let path = path.child_key("kinds");
    if background {
        found.push(refusal(
            path,
            "kinds \"*\" is not allowed with background processing: set spec.background to false",
        ));
    } else if kinds.len() > 1 {
        found.push(refusal(
            path,
            "kinds \"*\" cannot be combined with other kinds",
        ));
    } else if rule
        .validate
        .as_ref()
        .is_some_and(|validate| validate.foreach.is_some())
    {
        found.push(refusal(path, "a rule for kinds \"*\" cannot use foreach"));
    } else if !only_metadata(rule) {
        found.push(refusal(
            path,
            "a rule for kinds \"*\" may only check metadata: its patterns have other top-level keys",
        ));
    } else if let Some(key) = deny_key_beyond_metadata(rule) {
        found.push(refusal(
            path,
            format!(
                "a rule for kinds \"*\" may only check metadata: the deny condition key {key} reads \
                 something else"
            ),
        ));
    }
}

/// Kyverno's `wildCardAllowedVariables`.
static WILDCARD_KEY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\{\{\s*(request\.|serviceAccountName|serviceAccountNamespace)[^{}]*\}\}")
        .expect("constant regex")
});

/// In a rule for kinds "*", Kyverno checks the keys of deny conditions written as the legacy
/// list (not `any`/`all`): each must read `request.object.metadata.`, or read the request or
/// the service account but not `request.object.spec`. A key that is not a string stops
/// Kyverno with a panic; it is refused here.
fn deny_key_beyond_metadata(rule: &RuleSpec) -> Option<String> {
    let deny = rule.validate.as_ref()?.deny.as_ref()?;
    let Some(Value::Array(conditions)) = deny.get("conditions") else {
        return None;
    };
    conditions.iter().find_map(|condition| {
        let key = condition.get("key").unwrap_or(&Value::Null);
        match key {
            Value::String(text)
                if text.contains("request.object.metadata.")
                    || (WILDCARD_KEY.is_match(text) && !text.contains("request.object.spec")) =>
            {
                None
            }
            other => Some(other.to_string()),
        }
    })
}

fn only_metadata(rule: &RuleSpec) -> bool {
    let Some(validate) = &rule.validate else {
        return true;
    };
    let metadata_only = |pattern: &Value| match pattern {
        Value::Object(map) => map.keys().all(|key| key == "metadata"),
        _ => true,
    };
    validate.pattern.as_ref().is_none_or(metadata_only)
        && match &validate.any_pattern {
            Some(Value::Array(patterns)) => patterns.iter().all(metadata_only),
            _ => true,
        }
}

/// Where a pattern's `metadata.labels` or `metadata.annotations` (or those of
/// `spec.template.metadata`) holds a value that is not a string.
///
/// Kyverno looks at only one of `metadata` and `spec` when a pattern has both (whichever its map
/// iteration meets first, so its answer varies between runs); this looks at both, and refuses
/// whenever Kyverno may.
fn non_string_labels(pattern: &Value) -> Option<JsonPath> {
    let metadata_paths: [&[&str]; 2] = [&["metadata"], &["spec", "template", "metadata"]];
    for keys in metadata_paths {
        let metadata_path = keys
            .iter()
            .fold(JsonPath::root(), |path, key| path.child_key(*key));
        let Some(metadata) = pattern.pointer(&format!("/{}", keys.join("/"))) else {
            continue;
        };
        for field in ["labels", "annotations"] {
            if let Some(Value::Object(map)) = metadata.get(field) {
                if let Some((key, _)) = map.iter().find(|(_, value)| !value.is_string()) {
                    return Some(metadata_path.child_key(field).child_key(key.as_str()));
                }
            }
        }
    }
    None
}

/// Kyverno's "Rule is matching an empty set": an exclude block that, read field by field
/// against the match block, excludes everything the match selects. The comparison is Kyverno's
/// own, quirks included: with `any` on both sides it refuses when one filter is written
/// identically in both; otherwise it compares only the blocks' inline descriptions, so an
/// inline match beside an `exclude.any` always counts as empty.
fn matches_empty_set(matching: &MatchSpec, exclude: Option<&MatchSpec>) -> bool {
    let Some(exclude) = exclude else {
        return false;
    };
    let count = |list: &Option<Vec<_>>| list.as_ref().map_or(0, Vec::len);
    if count(&exclude.all) > 0 || count(&matching.all) > 0 {
        return false;
    }
    if count(&matching.any) > 0 && count(&exclude.any) > 0 {
        return matching.any.iter().flatten().any(|kept| {
            exclude
                .any
                .iter()
                .flatten()
                .any(|excluded| same_filter(kept, excluded))
        });
    }
    // Kyverno's inline resource description is a struct, never absent: `resources: {}` is no
    // description at all.
    if exclude.resources.as_ref().is_none_or(is_empty)
        && exclude.any.is_none()
        && exclude.all.is_none()
        && exclude.subjects.is_none()
        && exclude.roles.is_none()
        && exclude.cluster_roles.is_none()
    {
        return false;
    }
    let no_resources = ResourceSpec::default();
    let kept = matching.resources.as_ref().unwrap_or(&no_resources);
    let excluded = exclude.resources.as_ref().unwrap_or(&no_resources);
    let covers = |excluding: &Option<Vec<String>>, matched: &Option<Vec<String>>| {
        let excluding = excluding.as_deref().unwrap_or_default();
        let matched = matched.as_deref().unwrap_or_default();
        excluding.is_empty()
            || (!matched.is_empty() && matched.iter().all(|item| excluding.contains(item)))
    };
    if !covers(&exclude.roles, &matching.roles)
        || !covers(&exclude.cluster_roles, &matching.cluster_roles)
    {
        return false;
    }
    let excluded_subjects = exclude.subjects.as_deref().unwrap_or_default();
    if !excluded_subjects.is_empty() {
        let matched_subjects = matching.subjects.as_deref().unwrap_or_default();
        if matched_subjects.is_empty()
            || !matched_subjects.iter().all(|subject| {
                excluded_subjects
                    .iter()
                    .any(|other| same_subject(subject, other))
            })
        {
            return false;
        }
    }
    if let Some(name) = excluded.name.as_deref().filter(|name| !name.is_empty()) {
        if !Wildcard::new(name).matches(kept.name.as_deref().unwrap_or_default()) {
            return false;
        }
    }
    let excluded_names = excluded.names.as_deref().unwrap_or_default();
    if !excluded_names.is_empty() {
        // Any overlap of names counts as empty, and ends the comparison either way.
        return kept.names.iter().flatten().any(|matched| {
            excluded_names
                .iter()
                .any(|name| Wildcard::new(name).matches(matched))
        });
    }
    if !covers(&excluded.namespaces, &kept.namespaces) || !covers(&excluded.kinds, &kept.kinds) {
        return false;
    }
    for (kept_selector, excluded_selector) in [
        (&kept.selector, &excluded.selector),
        (&kept.namespace_selector, &excluded.namespace_selector),
    ] {
        match (kept_selector, excluded_selector) {
            (Some(kept_selector), Some(excluded_selector)) => {
                if !selector_covers(kept_selector, excluded_selector) {
                    return false;
                }
            }
            (None, None) => {}
            _ => return false,
        }
    }
    kept.annotations == excluded.annotations
}

fn selector_covers(kept: &LabelSelectorSpec, excluded: &LabelSelectorSpec) -> bool {
    let same_requirement = |a: &LabelSelectorRequirementSpec, b: &LabelSelectorRequirementSpec| {
        a.key == b.key && a.operator == b.operator && a.values == b.values
    };
    if !excluded.match_expressions.is_empty()
        && (kept.match_expressions.is_empty()
            || !kept.match_expressions.iter().all(|requirement| {
                excluded
                    .match_expressions
                    .iter()
                    .any(|other| same_requirement(requirement, other))
            }))
    {
        return false;
    }
    let label = |labels: &BTreeMap<String, String>, key: &str| {
        labels.get(key).map_or("", String::as_str).to_owned()
    };
    !(!excluded.match_labels.is_empty()
        && (kept.match_labels.is_empty()
            || kept
                .match_labels
                .iter()
                .any(|(key, value)| label(&excluded.match_labels, key) != *value)))
}

/// Kyverno's deep equality of two filters, whose resource description is never absent.
fn same_filter(a: &FilterSpec, b: &FilterSpec) -> bool {
    let no_resources = ResourceSpec::default();
    a.resources.as_ref().unwrap_or(&no_resources) == b.resources.as_ref().unwrap_or(&no_resources)
        && a.subjects == b.subjects
        && a.roles == b.roles
        && a.cluster_roles == b.cluster_roles
}

/// Kyverno compares subjects by their JSON, where an empty namespace or API group is left out.
fn same_subject(a: &SubjectSpec, b: &SubjectSpec) -> bool {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    a.kind == b.kind
        && a.name == b.name
        && text(&a.namespace) == text(&b.namespace)
        && text(&a.api_group) == text(&b.api_group)
}

#[cfg(test)]
mod tests {
    use crate::policy::{LoadErrorKind, load_str};
    use std::path::Path;

    /// The messages of the policy's load errors; empty when it loads.
    fn refused(rules_and_spec: &str) -> Vec<String> {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n{rules_and_spec}"
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

    const PATTERN: &str = "    validate:\n      pattern:\n        metadata:\n          labels:\n            app: '?*'\n";

    #[test]
    fn wildcard_kinds_need_background_off_and_to_be_alone() {
        let rule = |kinds: &str| {
            format!(
                "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: {kinds}\n{PATTERN}"
            )
        };
        assert_eq!(
            refused(&rule("['*']")),
            ["kinds \"*\" is not allowed with background processing: set spec.background to false"]
        );
        let off = |kinds: &str| format!("  background: false\n{}", rule(kinds));
        assert!(refused(&off("['*']")).is_empty());
        assert_eq!(
            refused(&off("['*', Pod]")),
            ["kinds \"*\" cannot be combined with other kinds"]
        );
        let spec_pattern = "  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: ['*']\n    validate:\n      pattern:\n        spec:\n          x: 1\n";
        assert_eq!(
            refused(spec_pattern),
            [
                "a rule for kinds \"*\" may only check metadata: its patterns have other top-level keys"
            ]
        );
        let foreach = "  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: ['*']\n    validate:\n      foreach:\n      - list: request.object.metadata.labels\n        deny: {}\n";
        assert_eq!(
            refused(foreach),
            ["a rule for kinds \"*\" cannot use foreach"]
        );
        let deny = |key: &str| {
            format!(
                "  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: ['*']\n    validate:\n      deny:\n        conditions:\n        - {{key: \"{key}\", operator: Equals, value: x}}\n"
            )
        };
        assert!(refused(&deny("{{request.object.metadata.name}}")).is_empty());
        assert!(refused(&deny("{{ request.name }}")).is_empty());
        assert_eq!(refused(&deny("{{request.object.spec.x}}")).len(), 1);
        assert_eq!(refused(&deny("{{ to_upper('x') }}")).len(), 1);
    }

    #[test]
    fn a_namespaced_policy_cannot_filter_namespaces() {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          namespaces: [prod]\n{PATTERN}"
        );
        let errors = load_str(&text, Path::new("policy.yaml")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message,
            "a namespaced Policy cannot filter namespaces"
        );
        assert_eq!(errors[0].location.map(|at| at.line), Some(13));
    }

    #[test]
    fn match_must_name_resources_and_kinds() {
        assert_eq!(
            refused(&format!(
                "  rules:\n  - name: r\n    match: {{}}\n{PATTERN}"
            )),
            ["match names no resources"]
        );
        assert_eq!(
            refused(&format!(
                "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          names: [a]\n{PATTERN}"
            )),
            ["every match filter must name kinds"]
        );
        assert_eq!(
            refused(&format!(
                "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n      all:\n      - resources:\n          kinds: [Pod]\n{PATTERN}"
            )),
            ["any and all cannot be used together"]
        );
        assert_eq!(
            refused(&format!(
                "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          selector: {{}}\n{PATTERN}"
            )),
            ["the selector has no requirements"]
        );
    }

    /// Kyverno's "Rule is matching an empty set", with its quirks: any/any compares whole
    /// filters, and an inline match beside `exclude.any` compares nothing at all.
    #[test]
    fn exclude_that_covers_the_match_is_refused() {
        let rule = |matching: &str, exclude: &str| {
            format!("  rules:\n  - name: r\n    match:\n{matching}    exclude:\n{exclude}{PATTERN}")
        };
        let empty = [
            "the rule matches an empty set: its exclude block excludes everything its match block selects",
        ];
        let any_pod = "      any:\n      - resources:\n          kinds: [Pod]\n";
        let any_prod_pod = "      any:\n      - resources:\n          kinds: [Pod]\n          namespaces: [prod]\n";
        let inline_pod = "      resources:\n        kinds: [Pod]\n";
        let inline_prod = "      resources:\n        kinds: [Pod]\n        namespaces: [prod]\n";
        assert_eq!(refused(&rule(any_pod, any_pod)), empty);
        assert!(refused(&rule(any_pod, any_prod_pod)).is_empty());
        assert_eq!(refused(&rule(inline_pod, any_prod_pod)), empty);
        assert_eq!(refused(&rule(inline_prod, inline_pod)), empty);
        assert!(refused(&rule(inline_pod, inline_prod)).is_empty());
        let names =
            |list: &str| format!("      resources:\n        kinds: [Pod]\n        names: {list}\n");
        assert_eq!(
            refused(&rule(&names("[web-1]"), &names("['web-*']"))),
            empty
        );
        assert!(refused(&rule(&names("[db]"), &names("['web-*']"))).is_empty());
        // Operations are not compared: an exclude of only operations covers everything.
        let operations = "      resources:\n        operations: [DELETE]\n";
        assert_eq!(refused(&rule(inline_pod, operations)), empty);
        // An exclude that names nothing excludes nothing.
        assert!(refused(&rule(inline_pod, "      resources: {}\n")).is_empty());
    }

    #[test]
    fn label_values_in_patterns_must_be_strings() {
        let rule = |pattern: &str| {
            format!(
                "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Deployment]\n    validate:\n      pattern:\n{pattern}"
            )
        };
        let message =
            ["labels and annotations in a pattern take only string values: quote the value"];
        assert_eq!(
            refused(&rule(
                "        metadata:\n          labels:\n            X(app): null\n"
            )),
            message
        );
        assert_eq!(
            refused(&rule(
                "        spec:\n          template:\n            metadata:\n              annotations:\n                replicas: 3\n"
            )),
            message
        );
        assert!(
            refused(&rule(
                "        metadata:\n          labels:\n            X(app): 'null'\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn user_filters_need_background_off() {
        let rule = |spec: &str, users: &str| {
            format!(
                "{spec}  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n{users}{PATTERN}"
            )
        };
        let subjects =
            "        subjects:\n        - {kind: ServiceAccount, name: builder, namespace: ci}\n";
        assert_eq!(
            refused(&rule("", subjects)),
            ["subjects is not allowed with background processing: set spec.background to false"]
        );
        assert!(refused(&rule("  background: false\n", subjects)).is_empty());
        assert_eq!(
            refused(&rule(
                "  background: false\n",
                "        roles: [deployer]\n"
            )),
            ["role \"deployer\" is not in namespace:name form"]
        );
        assert_eq!(
            refused(&rule(
                "  background: false\n",
                "        subjects:\n        - {kind: ServiceAccount, name: builder}\n"
            )),
            ["a ServiceAccount subject needs a namespace"]
        );
    }

    #[test]
    fn overrides_cannot_give_a_namespace_both_actions() {
        let overrides = |entries: &str| {
            format!(
                "  validationFailureActionOverrides:\n{entries}  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n{PATTERN}"
            )
        };
        let both = |audit: &str, enforce: &str| {
            overrides(&format!(
                "  - {{action: Audit, namespaces: {audit}}}\n  - {{action: Enforce, namespaces: {enforce}}}\n"
            ))
        };
        assert!(refused(&both("[dev]", "[prod]")).is_empty());
        assert_eq!(
            refused(&both("[dev, prod]", "[prod]")),
            ["overrides give a namespace both actions: prod is listed for Audit and for Enforce"]
        );
        assert_eq!(
            refused(&both("[dev]", "['d*']")),
            ["overrides give a namespace both actions: d* matches dev"]
        );
        assert_eq!(
            refused(&both("['team-*']", "['team-*']")),
            ["overrides give a namespace both actions: team-* matches team-*"]
        );
        assert!(refused(&both("['team-*']", "['prod-*']")).is_empty());
    }

    #[test]
    fn cluster_policy_namespace_and_no_processing_at_all() {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  admission: false\n  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n{PATTERN}"
        );
        let messages: Vec<String> = load_str(&text, Path::new("policy.yaml"))
            .unwrap_err()
            .into_iter()
            .map(|error| error.message)
            .collect();
        assert_eq!(
            messages,
            [
                "a ClusterPolicy cannot have a namespace",
                "admission and background processing cannot both be disabled"
            ]
        );
    }
}
