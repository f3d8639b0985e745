//! Loading policies: every problem names its file, line and field; the default set is in step.

use crate::fixtures::repo_path;
use portcullis::defaults::{self, DEFAULT_POLICY_FILES};
use portcullis::policy::{self, LoadErrorKind};
use std::path::Path;

fn load_errors(text: &str) -> Vec<String> {
    match policy::load_str(text, Path::new("policy.yaml")) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn typo_in_a_field_names_file_line_and_field() {
    let errors = policy::load_paths(&[repo_path("tests/fixtures/policies-bad/typo")])
        .expect_err("typo refused");
    assert_eq!(errors.len(), 1);
    let message = errors[0].to_string();
    assert!(
        message.contains("typo.yaml:15:7: unknown field \"patern\" in spec.rules[0].validate"),
        "{message}"
    );
}

#[test]
fn unsupported_rule_type_is_refused_by_name() {
    let errors = policy::load_paths(&[repo_path("tests/fixtures/policies-bad/unsupported")])
        .expect_err("mutate refused");
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(&errors[0].kind, LoadErrorKind::Unsupported { feature, .. } if feature == "mutate")
    );
    let message = errors[0].to_string();
    assert!(
        message.starts_with("unsupported: mutate in add-labels/add-team-label ("),
        "{message}"
    );
    assert!(message.ends_with("mutate.yaml:12)"), "{message}");
}

/// Kyverno's and Kubernetes' other policy kinds are named as unsupported, never passed and never
/// mistaken for a document that is not a policy at all.
#[test]
fn policy_kinds_not_evaluated_are_unsupported_by_kind() {
    let cases = [
        (
            "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata:\n  name: vpol\nspec: {}\n",
            "ValidatingPolicy",
            "unsupported: ValidatingPolicy in vpol (policy.yaml:2)",
        ),
        (
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: vap\nspec: {}\n",
            "ValidatingAdmissionPolicy",
            "unsupported: ValidatingAdmissionPolicy in vap (policy.yaml:2)",
        ),
        (
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: vapb\nspec: {}\n",
            "ValidatingAdmissionPolicyBinding",
            "unsupported: ValidatingAdmissionPolicyBinding in vapb (policy.yaml:2)",
        ),
        (
            "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata:\n  name: exc\nspec: {}\n",
            "PolicyException",
            "unsupported: PolicyException in exc (policy.yaml:2)",
        ),
    ];
    for (text, kind, expected) in cases {
        let errors = policy::load_str(text, Path::new("policy.yaml")).expect_err(kind);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            matches!(&errors[0].kind, LoadErrorKind::Unsupported { feature, .. } if feature == kind),
            "{errors:?}"
        );
        assert_eq!(errors[0].to_string(), expected);
    }
    // The same kind name in a group we do not know is not taken for a policy.
    let errors = policy::load_str(
        "apiVersion: example.com/v1\nkind: ValidatingPolicy\nmetadata:\n  name: x\n",
        Path::new("policy.yaml"),
    )
    .expect_err("foreign kind");
    assert_eq!(errors[0].kind, LoadErrorKind::Invalid, "{errors:?}");
}

const HEADER: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\n";

#[test]
fn invalid_policies_are_refused_with_locations() {
    let rule = "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern: {spec: {}}\n";
    let deny_on = |key: &str| {
        format!(
            "  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny:\n        conditions:\n          any:\n          - {{key: \"{{{{ {key} }}}}\", operator: Equals, value: x}}\n"
        )
    };
    let cases = [
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n{}",
                deny_on("serviceAccountName")
            ),
            "policy.yaml:16:14: only select variables are allowed in background mode. Set spec.background=false to disable background mode for this policy rule: variable {{serviceAccountName}} is not allowed",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n{}",
                deny_on("request.roles")
            ),
            "variable {{request.roles}} is not allowed",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n{}",
                deny_on("reqest.object.metadata.name")
            ),
            "policy.yaml:16:14: policy contains invalid variables: variable substitution failed for rule r: variable reqest.object.metadata.name must match regex",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n{}",
                deny_on("request")
            ),
            "policy.yaml:16:14: policy contains invalid variables: variable substitution failed for rule r: variable request must match",
        ),
        (
            format!("{HEADER}metadata: {{}}\nspec:\n{rule}"),
            "policy.yaml:3:1: ClusterPolicy has no metadata.name",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  validationFailureAction: Block\n{rule}"
            ),
            "policy.yaml:6:3: invalid validationFailureAction \"Block\"",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      cel: {{}}\n"
            ),
            "unsupported: cel in p/r (policy.yaml:13)",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny: {{}}\n      foreach: []\n"
            ),
            "policy.yaml:12:5: validate may set only one of pattern, anyPattern, deny and foreach",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern:\n        metadata:\n          name: \"{{{{ no_such_function(request.object.metadata.name) }}}}\"\n"
            ),
            "policy.yaml:15:11: rule \"r\": invalid JMESPath in {{no_such_function(request.object.metadata.name)}}: SyntaxError: unknown function: no_such_function",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          operations: [CREATE, PATCH]\n    validate:\n      pattern: {{spec: {{}}}}\n"
            ),
            "policy.yaml:12:32: unknown operation \"PATCH\"",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      anyPattern: {{spec: {{}}}}\n"
            ),
            "policy.yaml:13:7: anyPattern must be a list of patterns",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: images\n      variable: {{value: 1}}\n    validate:\n      deny: {{}}\n"
            ),
            "policy.yaml:14:7: entry name images is invalid as it conflicts with a pre-defined variable images",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: c\n      variable: {{value: 1, default: 2}}\n    validate:\n      deny: {{}}\n"
            ),
            "policy.yaml:14:7: context entry \"c\": a variable must define a default value only when a jmesPath expression is defined",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: c\n      variable: {{value: null}}\n    validate:\n      deny: {{}}\n"
            ),
            "policy.yaml:14:7: context entry \"c\": a variable must define a value or a jmesPath expression",
        ),
        (
            // Kyverno's policy validation knows the context names of the rule and of its
            // top-level foreach loops, not of nested ones.
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        foreach:\n        - list: element.ports\n          context:\n          - name: inner\n            variable: {{value: 1}}\n          deny:\n            conditions:\n              any:\n              - {{key: '{{{{ inner }}}}', operator: Equals, value: 1}}\n"
            ),
            "variable inner must match regex",
        ),
        (
            // The preconditions of a top-level foreach are typed in Kyverno's CRD, whose enum
            // lacks the old spellings; nested loops are untyped and take them.
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        preconditions:\n          any:\n          - {{key: a, operator: NotEqual, value: b}}\n        deny: {{}}\n"
            ),
            "policy.yaml:17:22: rule \"r\": operator \"NotEqual\" is not allowed in the preconditions of a foreach",
        ),
        (
            format!(
                "apiVersion: kyverno.io/v3\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n{rule}"
            ),
            "policy.yaml:1:1: unsupported apiVersion \"kyverno.io/v3\"",
        ),
        (
            format!("{HEADER}metadata:\n  name: p\nspec:\n  webhookTimeoutSeconds: 45\n{rule}"),
            "policy.yaml:6:3: invalid webhook timeout 45: the apiserver accepts 1 to 30 seconds",
        ),
        (
            format!(
                "{HEADER}metadata:\n  name: p\nspec:\n{rule}---\n{HEADER}metadata:\n  name: p\nspec:\n{rule}"
            ),
            "duplicate policy name \"p\"",
        ),
    ];
    for (text, expected) in cases {
        let errors = load_errors(&text);
        assert!(
            errors.iter().any(|error| error.contains(expected)),
            "expected {expected:?} in {errors:#?}\n{text}"
        );
    }
}

#[test]
fn embedded_defaults_match_the_policies_directory() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo_path(defaults::DEFAULT_POLICY_DIR))
        .expect("policies dir")
        .map(|entry| {
            format!(
                "policies/{}",
                entry.expect("entry").file_name().to_string_lossy()
            )
        })
        .filter(|name| name != "policies/kustomization.yaml")
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = DEFAULT_POLICY_FILES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(on_disk, embedded);
    for (name, text) in DEFAULT_POLICY_FILES {
        let file = std::fs::read_to_string(repo_path(name)).expect("policy file");
        assert_eq!(file, text, "{name} embedded text is stale");
    }
    let set = defaults::embedded_policy_set().expect("defaults load");
    assert_eq!(set.policies.len(), 2);
}

/// kustomize's configMapGenerator lists files by name; every policy file in `policies/` must be
/// in that list, or `deploy/` would ship without it.
#[test]
fn the_deployed_config_map_lists_every_policy_file() {
    let kustomization = std::fs::read_to_string(repo_path("policies/kustomization.yaml"))
        .expect("policies/kustomization.yaml");
    let documents = portcullis::yaml::parse_documents(&kustomization).expect("YAML");
    let listed: Vec<&str> = documents[0].value["configMapGenerator"][0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file.as_str())
        .collect();
    for (name, _) in DEFAULT_POLICY_FILES {
        let file = name.trim_start_matches("policies/");
        assert!(
            listed.contains(&file),
            "{file} is missing from policies/kustomization.yaml"
        );
    }
}
