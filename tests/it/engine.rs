//! The engine on its own: which rules apply (match / exclude, namespaced policies, autogen) and
//! how failure actions decide admission. Each case is a policy text and a resource.

use portcullis::eval::admission::{self, ResourceName};
use portcullis::eval::{self, Request, Status};
use portcullis::matching::{Gvk, Operation, UserInfo};
use portcullis::policy::{self, PolicySet};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn policies(text: &str) -> PolicySet {
    let policies = policy::load_str(text, Path::new("inline.yaml"))
        .unwrap_or_else(|errors| panic!("{errors:#?}"));
    PolicySet::from(policies)
}

fn cluster_policy(annotations: &str, spec: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n  annotations: {annotations}\nspec:\n{spec}"
    )
}

struct Subject<'a> {
    object: Value,
    operation: Operation,
    old_object: Value,
    namespace_labels: Option<BTreeMap<String, String>>,
    user: Option<UserInfo>,
    subresource: &'a str,
}

impl Subject<'_> {
    fn new(object: Value) -> Self {
        Subject {
            object,
            operation: Operation::Create,
            old_object: Value::Null,
            namespace_labels: None,
            user: None,
            subresource: "",
        }
    }

    /// `(rule name, status)` for every rule that produced a result.
    fn results(&self, set: &PolicySet) -> Vec<(String, Status)> {
        let gvk = self.gvk();
        let namespace = self.namespace();
        let report = eval::evaluate(set, &self.request(&gvk, &namespace));
        report
            .results
            .iter()
            .map(|result| (result.rule.name.clone(), result.outcome.status()))
            .collect()
    }

    fn gvk(&self) -> Gvk {
        let object = if self.object.is_null() {
            &self.old_object
        } else {
            &self.object
        };
        Gvk::from_api_version(
            object["apiVersion"].as_str().unwrap_or(""),
            object["kind"].as_str().unwrap_or(""),
        )
    }

    fn namespace(&self) -> String {
        let object = if self.object.is_null() {
            &self.old_object
        } else {
            &self.object
        };
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn request<'r>(&'r self, gvk: &'r Gvk, namespace: &'r str) -> Request<'r> {
        Request {
            operation: self.operation,
            gvk,
            subresource: self.subresource,
            object: &self.object,
            old_object: &self.old_object,
            namespace,
            namespace_labels: self.namespace_labels.as_ref(),
            unknown_namespace_hint: "no labels in this test",
            user: self.user.as_ref(),
            admission: true,
            admission_request: None,
            environment: portcullis::eval::Offline::system(),
        }
    }
}

fn pod(name: &str, namespace: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web", "tier": "front"},
                     "annotations": {"team.example.com/owner": "payments"}},
        "spec": {"containers": [{"name": "c", "image": image}]},
    })
}

const NO_LATEST: &str = "    validate:\n      pattern:\n        spec:\n          containers:\n          - image: \"!*:latest\"\n";

fn rule(name: &str, match_block: &str) -> String {
    format!("  - name: {name}\n    match:\n{match_block}{NO_LATEST}")
}

fn names(results: &[(String, Status)]) -> Vec<&str> {
    results.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn match_filters_select_the_rules_that_apply() {
    let spec = [
        rule("by-kind", "      any:\n      - resources:\n          kinds: [Pod]\n"),
        rule("by-versioned-kind", "      any:\n      - resources:\n          kinds: [v1/Pod]\n"),
        rule("wrong-group", "      any:\n      - resources:\n          kinds: [apps/v1/Pod]\n"),
        rule("by-name", "      any:\n      - resources:\n          kinds: [Pod]\n          names: [\"we?\"]\n"),
        rule("other-name", "      any:\n      - resources:\n          kinds: [Pod]\n          names: [\"api-*\"]\n"),
        rule("by-namespace", "      any:\n      - resources:\n          kinds: [Pod]\n          namespaces: [\"sh*\"]\n"),
        rule("by-selector", "      any:\n      - resources:\n          kinds: [Pod]\n          selector:\n            matchExpressions:\n            - {key: tier, operator: In, values: [front, edge]}\n"),
        rule("by-annotation", "      any:\n      - resources:\n          kinds: [Pod]\n          annotations:\n            team.example.com/*: pay*\n"),
        rule("by-operation", "      any:\n      - resources:\n          kinds: [Pod]\n          operations: [UPDATE]\n"),
        // Kyverno requires kinds in every match filter.
        rule("all-must-hold", "      all:\n      - resources:\n          kinds: [Pod]\n      - resources:\n          kinds: [Pod]\n          namespaces: [kube-system]\n"),
        rule("legacy-inline", "      resources:\n        kinds: [Pod]\n        namespaces: [shop]\n"),
        rule("wildcard-kind", "      any:\n      - resources:\n          kinds: [\"P*\"]\n"),
    ]
    .concat();
    let set = policies(&cluster_policy("{}", &format!("  rules:\n{spec}")));
    let results = Subject::new(pod("web", "shop", "nginx:latest")).results(&set);
    assert_eq!(
        names(&results),
        [
            "by-kind",
            "by-versioned-kind",
            "by-name",
            "by-namespace",
            "by-selector",
            "by-annotation",
            "legacy-inline",
            "wildcard-kind"
        ]
    );
    assert!(results.iter().all(|(_, status)| *status == Status::Fail));
}

#[test]
fn exclude_blocks_remove_matches() {
    let match_pods = "    match:\n      any:\n      - resources:\n          kinds: [Pod]\n";
    let spec = [
        // Kyverno refuses user filters with background processing.
        format!("  background: false\n  rules:\n  - name: exclude-any\n{match_pods}    exclude:\n      any:\n      - resources:\n          namespaces: [shop]\n      - resources:\n          names: [nothing]\n{NO_LATEST}"),
        format!("  - name: exclude-all-partial\n{match_pods}    exclude:\n      all:\n      - resources:\n          namespaces: [shop]\n      - resources:\n          names: [nothing]\n{NO_LATEST}"),
        format!("  - name: exclude-by-user\n{match_pods}    exclude:\n      any:\n      - subjects:\n        - {{kind: User, name: \"ci-*\"}}\n{NO_LATEST}"),
    ]
    .concat();
    let set = policies(&cluster_policy("{}", &spec));
    let mut subject = Subject::new(pod("web", "shop", "nginx:latest"));
    assert_eq!(
        names(&subject.results(&set)),
        ["exclude-all-partial", "exclude-by-user"],
        "no user: user excludes nothing"
    );
    subject.user = Some(UserInfo {
        username: "ci-bot".into(),
        ..UserInfo::default()
    });
    assert_eq!(names(&subject.results(&set)), ["exclude-all-partial"]);
}

#[test]
fn user_info_filters_in_match() {
    let spec = "  background: false\n  rules:\n  - name: admins-only\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n        clusterRoles: [cluster-admin]\n      - resources:\n          kinds: [Pod]\n        subjects:\n        - {kind: ServiceAccount, name: deployer, namespace: ci}\n        - {kind: Group, name: \"ops-*\"}\n";
    let set = policies(&cluster_policy("{}", &format!("{spec}{NO_LATEST}")));
    let mut subject = Subject::new(pod("web", "shop", "nginx:latest"));
    let user = |username: &str, groups: &[&str], cluster_roles: &[&str]| UserInfo {
        username: username.into(),
        groups: groups.iter().map(|group| (*group).into()).collect(),
        roles: Vec::new(),
        cluster_roles: cluster_roles.iter().map(|role| (*role).into()).collect(),
    };
    subject.user = Some(user("alice", &["dev"], &[]));
    assert!(subject.results(&set).is_empty());
    subject.user = Some(user("alice", &["dev"], &["cluster-admin"]));
    assert_eq!(subject.results(&set).len(), 1);
    subject.user = Some(user("system:serviceaccount:ci:deployer", &[], &[]));
    assert_eq!(subject.results(&set).len(), 1);
    subject.user = Some(user("bob", &["ops-oncall"], &[]));
    assert_eq!(subject.results(&set).len(), 1);
    subject.user = None;
    assert_eq!(
        subject.results(&set).len(),
        1,
        "offline, user filters in match are ignored"
    );
}

#[test]
fn namespace_selectors_need_known_labels() {
    let spec = "  rules:\n  - name: prod\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          namespaceSelector:\n            matchLabels: {env: prod}\n";
    let set = policies(&cluster_policy("{}", &format!("{spec}{NO_LATEST}")));
    let mut subject = Subject::new(pod("web", "shop", "nginx:latest"));
    let results = subject.results(&set);
    assert_eq!(
        results,
        [("prod".to_owned(), Status::Error)],
        "unknown labels are an error, not a skip"
    );
    subject.namespace_labels = Some([("env".to_owned(), "prod".to_owned())].into());
    assert_eq!(subject.results(&set), [("prod".to_owned(), Status::Fail)]);
    subject.namespace_labels = Some([("env".to_owned(), "dev".to_owned())].into());
    assert!(subject.results(&set).is_empty());
}

#[test]
fn namespaced_policy_applies_only_in_its_namespace() {
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n  rules:\n{}",
        rule(
            "r",
            "      any:\n      - resources:\n          kinds: [Pod]\n"
        )
    );
    let set = policies(&text);
    assert_eq!(
        Subject::new(pod("web", "shop", "nginx:latest"))
            .results(&set)
            .len(),
        1
    );
    assert!(
        Subject::new(pod("web", "other", "nginx:latest"))
            .results(&set)
            .is_empty()
    );
}

fn controller(kind: &str, api_version: &str, image: &str) -> Value {
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": image}]}});
    let spec = if kind == "CronJob" {
        json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}})
    } else {
        json!({"template": template})
    };
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "shop"}, "spec": spec})
}

#[test]
fn autogen_follows_kyverno() {
    let pod_rule = rule(
        "no-latest",
        "      any:\n      - resources:\n          kinds: [Pod]\n",
    );
    let all = policies(&cluster_policy("{}", &format!("  rules:\n{pod_rule}")));
    let cases = [
        ("Deployment", "apps/v1", vec!["autogen-no-latest"]),
        ("DaemonSet", "apps/v1", vec!["autogen-no-latest"]),
        ("StatefulSet", "apps/v1", vec!["autogen-no-latest"]),
        ("ReplicaSet", "apps/v1", vec!["autogen-no-latest"]),
        ("Job", "batch/v1", vec!["autogen-no-latest"]),
        ("ReplicationController", "v1", vec!["autogen-no-latest"]),
        ("CronJob", "batch/v1", vec!["autogen-cronjob-no-latest"]),
        ("CronJob", "batch/v1beta1", vec![]),
        ("Deployment", "extensions/v1beta1", vec![]),
    ];
    for (kind, api_version, expected) in cases {
        let results = Subject::new(controller(kind, api_version, "nginx:latest")).results(&all);
        assert_eq!(names(&results), expected, "{api_version} {kind}");
        assert!(results.iter().all(|(_, status)| *status == Status::Fail));
    }
    // Kyverno splits the annotation without trimming, so only Deployment is generated here.
    let annotated = policies(&cluster_policy(
        "{pod-policies.kyverno.io/autogen-controllers: \"Deployment, StatefulSet\"}",
        &format!("  rules:\n{pod_rule}"),
    ));
    assert_eq!(
        Subject::new(controller("Deployment", "apps/v1", "nginx:latest"))
            .results(&annotated)
            .len(),
        1
    );
    assert!(
        Subject::new(controller("StatefulSet", "apps/v1", "nginx:latest"))
            .results(&annotated)
            .is_empty()
    );
    let disabled = policies(&cluster_policy(
        "{pod-policies.kyverno.io/autogen-controllers: none}",
        &format!("  rules:\n{pod_rule}"),
    ));
    assert!(
        Subject::new(controller("Deployment", "apps/v1", "nginx:latest"))
            .results(&disabled)
            .is_empty()
    );
    // Picking pods by label, or listing a pod kind in any spelling beside another kind, in any
    // rule turns autogen off for the whole policy.
    for (name, filter) in [
        (
            "labelled",
            "      any:\n      - resources:\n          kinds: [Pod]\n          selector:\n            matchLabels: {app: x}\n",
        ),
        (
            "mixed",
            "      any:\n      - resources:\n          kinds: [v1/Pod, Secret]\n",
        ),
    ] {
        let blocker = rule(name, filter);
        let set = policies(&cluster_policy(
            "{}",
            &format!("  rules:\n{pod_rule}{blocker}"),
        ));
        assert!(
            Subject::new(controller("Deployment", "apps/v1", "nginx:latest"))
                .results(&set)
                .is_empty(),
            "{name}"
        );
    }
}

fn decide(set: &PolicySet, subject: &Subject<'_>) -> admission::Decision {
    let gvk = subject.gvk();
    let namespace = subject.namespace();
    let report = eval::evaluate(set, &subject.request(&gvk, &namespace));
    admission::decide(
        &report,
        ResourceName {
            kind: &gvk.kind,
            namespace: &namespace,
            name: "web",
        },
    )
}

#[test]
fn failure_actions_and_overrides_decide_admission() {
    let body = rule(
        "no-latest",
        "      any:\n      - resources:\n          kinds: [Pod]\n",
    );
    let audit_with_override = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: Audit\n  validationFailureActionOverrides:\n  - action: Enforce\n    namespaces: [\"prod-*\"]\n  rules:\n{body}"
        ),
    ));
    assert!(
        decide(
            &audit_with_override,
            &Subject::new(pod("web", "shop", "nginx:latest"))
        )
        .allowed
    );
    let denied = decide(
        &audit_with_override,
        &Subject::new(pod("web", "prod-eu", "nginx:latest")),
    );
    assert!(!denied.allowed);

    let rule_enforces = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: audit\n  rules:\n{}",
            body.replace(
                "    validate:\n",
                "    validate:\n      failureAction: Enforce\n"
            )
        ),
    ));
    assert!(
        !decide(
            &rule_enforces,
            &Subject::new(pod("web", "shop", "nginx:latest"))
        )
        .allowed
    );

    let rule_audits = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: Enforce\n  rules:\n{}",
            body.replace(
                "    validate:\n",
                "    validate:\n      failureAction: Audit\n"
            )
        ),
    ));
    let decision = decide(
        &rule_audits,
        &Subject::new(pod("web", "shop", "nginx:latest")),
    );
    assert!(decision.allowed);
    assert_eq!(decision.warnings.len(), 1);
}

#[test]
fn updates_keep_pre_existing_violations_unless_asked_not_to() {
    let body = rule(
        "no-latest",
        "      any:\n      - resources:\n          kinds: [Pod]\n",
    );
    let set = policies(&cluster_policy(
        "{}",
        &format!("  validationFailureAction: Enforce\n  rules:\n{body}"),
    ));
    let mut subject = Subject::new(pod("web", "shop", "nginx:latest"));
    subject.operation = Operation::Update;
    subject.old_object = pod("web", "shop", "nginx:latest");
    assert_eq!(
        subject.results(&set),
        [("no-latest".to_owned(), Status::Skip)]
    );
    assert!(decide(&set, &subject).allowed);
    subject.old_object = pod("web", "shop", "nginx:1.25.3");
    assert_eq!(
        subject.results(&set),
        [("no-latest".to_owned(), Status::Fail)],
        "a new violation is not pre-existing"
    );

    let strict = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: Enforce\n  rules:\n{}",
            body.replace(
                "    validate:\n",
                "    validate:\n      allowExistingViolations: false\n"
            )
        ),
    ));
    subject.old_object = pod("web", "shop", "nginx:latest");
    assert_eq!(
        subject.results(&strict),
        [("no-latest".to_owned(), Status::Fail)]
    );

    // Kyverno's old-object check cannot read a rule's preconditions, so a rule with any (even
    // `{}`) never counts a violation as pre-existing.
    let with_preconditions = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: Enforce\n  rules:\n{}",
            body.replace("    validate:\n", "    preconditions: {}\n    validate:\n")
        ),
    ));
    assert_eq!(
        subject.results(&with_preconditions),
        [("no-latest".to_owned(), Status::Fail)]
    );

    // Kyverno matches the old object as a user no filter names: a rule that picks requests by
    // user does not count the old object's violation as pre-existing.
    let by_user = policies(&cluster_policy(
        "{}",
        &format!(
            "  validationFailureAction: Enforce\n  background: false\n  rules:\n{}",
            rule(
                "no-latest",
                "      any:\n      - resources:\n          kinds: [Pod]\n        clusterRoles: [view]\n",
            )
        ),
    ));
    subject.user = Some(UserInfo {
        username: "alice".to_owned(),
        groups: Vec::new(),
        roles: Vec::new(),
        cluster_roles: vec!["view".to_owned()],
    });
    assert_eq!(
        subject.results(&by_user),
        [("no-latest".to_owned(), Status::Fail)]
    );
    assert_eq!(
        subject.results(&set),
        [("no-latest".to_owned(), Status::Skip)],
        "a rule for every user still keeps the violation"
    );
}

#[test]
fn deletes_and_subresources() {
    let body = rule(
        "no-latest",
        "      any:\n      - resources:\n          kinds: [Pod]\n",
    );
    let set = policies(&cluster_policy(
        "{}",
        &format!("  validationFailureAction: Enforce\n  rules:\n{body}"),
    ));
    let mut deleting = Subject::new(Value::Null);
    deleting.operation = Operation::Delete;
    deleting.old_object = pod("web", "shop", "nginx:latest");
    assert!(
        deleting.results(&set).is_empty(),
        "a deleted object is not validated against a pattern"
    );

    let mut ephemeral = Subject::new(pod("web", "shop", "nginx:latest"));
    ephemeral.operation = Operation::Update;
    ephemeral.subresource = "ephemeralcontainers";
    assert_eq!(
        names(&ephemeral.results(&set)),
        ["no-latest"],
        "plain Pod rules see ephemeral-container updates"
    );
    ephemeral.subresource = "status";
    assert!(ephemeral.results(&set).is_empty());
}

/// On a DELETE there is no new object, and Kyverno matches the old one only: a selector that an
/// object without labels would pass does not make the rule apply to the deleted Pod.
#[test]
fn a_delete_matches_the_old_object_only() {
    let set = policies(&cluster_policy(
        "{}",
        "  background: false\n  rules:\n  - name: untiered\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          selector:\n            matchExpressions:\n            - {key: tier, operator: DoesNotExist}\n    validate:\n      deny: {}\n",
    ));
    let mut deleted = Subject::new(Value::Null);
    deleted.operation = Operation::Delete;
    deleted.old_object = pod("web", "shop", "nginx:1.27");
    assert!(deleted.results(&set).is_empty());
    deleted.old_object["metadata"]["labels"] = json!({});
    assert_eq!(
        deleted.results(&set),
        [("untiered".to_owned(), Status::Fail)]
    );
}

/// Offline without a requester, as Kyverno's CLI without a UserInfo file, `request.userInfo`
/// does not exist at all.
#[test]
fn no_requester_no_user_info() {
    let set = policies(&cluster_policy(
        "{}",
        "  background: false\n  rules:\n  - name: by-user\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny:\n        conditions:\n          any:\n          - key: '{{ request.userInfo.username }}'\n            operator: Equals\n            value: alice\n",
    ));
    let subject = Subject::new(pod("web", "shop", "nginx:1.27"));
    let gvk = subject.gvk();
    let namespace = subject.namespace();
    let report = eval::evaluate(&set, &subject.request(&gvk, &namespace));
    assert_eq!(
        report.results[0].outcome.message(),
        "failed to check deny conditions: failed to substitute variables in condition key: failed to resolve request.userInfo.username at path : JMESPath query failed: Unknown key \"userInfo\" in path"
    );
}

/// A context variable whose jmesPath fails on its value names the value `<nil>`, as Kyverno's
/// message does (it formats its own failed result).
#[test]
fn a_failed_context_jmespath_names_nil() {
    let set = policies(&cluster_policy(
        "{}",
        "  background: false\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: c\n      variable:\n        value: {name: x}\n        jmesPath: missing\n    validate:\n      deny:\n        conditions:\n          any:\n          - key: '{{ c }}'\n            operator: Equals\n            value: x\n",
    ));
    let subject = Subject::new(pod("web", "shop", "nginx:1.27"));
    let gvk = subject.gvk();
    let namespace = subject.namespace();
    let report = eval::evaluate(&set, &subject.request(&gvk, &namespace));
    assert_eq!(
        report.results[0].outcome.message(),
        "failed to check deny conditions: failed to substitute variables in condition key: failed to resolve c at path : failed to apply jmespath missing to variable <nil>: Unknown key \"missing\" in path"
    );
}

/// At admission nothing answers an imageRegistry entry: a rule that reads one answers `error`
/// where it reads it (Kyverno loads an entry when a query first names it), never a pass. (Offline, `check` and `test` leave the entry unloaded, as the Kyverno CLI does.)
#[test]
fn an_image_registry_entry_at_admission_is_an_error() {
    let set = policies(&cluster_policy(
        "{}",
        "  validationFailureAction: Enforce\n  rules:\n  - name: image-user\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: imageData\n      imageRegistry:\n        reference: \"{{ request.object.spec.containers[0].image }}\"\n        jmesPath: configData.config.User\n    validate:\n      message: root\n      deny:\n        conditions:\n          any:\n          - key: \"{{ imageData }}\"\n            operator: Equals\n            value: root\n",
    ));
    let subject = Subject::new(pod("web", "shop", "nginx:1.27"));
    let gvk = subject.gvk();
    let namespace = subject.namespace();
    let report = eval::evaluate(&set, &subject.request(&gvk, &namespace));
    assert_eq!(report.results.len(), 1);
    let outcome = &report.results[0].outcome;
    assert_eq!(outcome.status(), Status::Error);
    assert_eq!(
        outcome.message(),
        "failed to check deny conditions: failed to substitute variables in condition key: failed to resolve imageData at path : failed to load image data for context entry imageData: Portcullis does not reach image registries: an imageRegistry context entry cannot be loaded"
    );
}
