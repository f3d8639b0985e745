//! Seeded generation of Kyverno test cases: one policy, a few resources, and an expectation per
//! (rule, resource). Everything the engine evaluates is drawn here: pattern anchors and scalar
//! operators, anyPattern, match/exclude, autogen and failure actions, and (in `expressions`)
//! deny, preconditions, context variables, foreach and `{{ }}` variables.
//!
//! The value pools deliberately mix types (numbers as strings, booleans as strings, quantities in
//! several spellings, missing and null fields) because that is where the two implementations are
//! most likely to part ways.

use serde_json::{Map, Value, json};

mod expressions;

/// SplitMix64: small, fast, and every seed gives a different, reproducible stream.
pub struct Rng(u64);

impl Rng {
    /// The stream of one case, independent of how many cases come before it, so that a case can
    /// be regenerated alone from (seed, index).
    pub fn for_case(seed: u64, index: usize) -> Self {
        let mut mixer = Rng(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        Rng(mixer.next())
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }
}

/// One generated case: a policy document and the resources it is tested against.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    pub policy: Value,
    pub resources: Vec<Value>,
    /// A `Values` file: namespace labels for `namespaceSelector`, the request operation.
    pub values: Option<Value>,
    /// A `UserInfo` file: who sends the requests, for `subjects`, `roles` and `clusterRoles`.
    pub user_info: Option<Value>,
}

impl Case {
    /// The name an expectation uses for the policy: `<namespace>/<name>` for a namespaced Policy
    /// half of the time, as test files may write it either way.
    pub fn policy_reference(&self) -> String {
        let name = self.policy["metadata"]["name"].as_str().unwrap_or_default();
        match self.policy["metadata"]["namespace"].as_str() {
            Some(namespace) if self.policy["metadata"]["labels"]["oracle/qualified"] == "true" => {
                format!("{namespace}/{name}")
            }
            _ => name.to_owned(),
        }
    }

    pub fn rule_names(&self) -> Vec<String> {
        self.policy["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rule| rule["name"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn resource_names(&self) -> Vec<(String, String)> {
        self.resources
            .iter()
            .map(|resource| {
                (
                    resource["kind"].as_str().unwrap_or_default().to_owned(),
                    resource["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// The `kyverno-test.yaml`: an expectation of `pass` for every rule and resource. The guess
    /// does not matter; both tools report what they actually got (see the comparison).
    pub fn test_file(&self) -> Value {
        let policy = self.policy_reference();
        let mut results = Vec::new();
        for rule in self.rule_names() {
            for (kind, name) in self.resource_names() {
                results.push(json!({
                    "policy": policy,
                    "rule": rule,
                    "kind": kind,
                    "resources": [name],
                    "result": "pass",
                }));
            }
        }
        let mut test = json!({
            "apiVersion": "cli.kyverno.io/v1alpha1",
            "kind": "Test",
            "metadata": {"name": self.name},
            "policies": ["policy.yaml"],
            "resources": ["resources.yaml"],
            "results": results,
        });
        if self.values.is_some() {
            test["variables"] = json!(VALUES_FILE);
        }
        if self.user_info.is_some() {
            test["userinfo"] = json!(USER_INFO_FILE);
        }
        test
    }
}

pub const VALUES_FILE: &str = "values.yaml";
pub const USER_INFO_FILE: &str = "user-info.yaml";

/// What a rule is aimed at; decides which fields its patterns and its resources have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Pod,
    Controller(&'static str),
    Service,
    ConfigMap,
    Namespace,
    /// `kinds: ["*"]`: only metadata is common to everything.
    Any,
}

const CONTROLLERS: [(&str, &str); 7] = [
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("CronJob", "batch/v1"),
    ("ReplicationController", "v1"),
];

const NAMESPACES: [&str; 5] = ["default", "prod", "dev", "kube-system", "team-a"];
const LABEL_KEYS: [&str; 6] = [
    "app",
    "tier",
    "env",
    "app.kubernetes.io/name",
    "app.kubernetes.io/version",
    "team",
];
const LABEL_VALUES: [&str; 9] = [
    "web", "db", "nginx", "prod", "dev", "", "v1", "1.0", "frontend",
];
const ANNOTATION_KEYS: [&str; 6] = [
    "team",
    "owner",
    "nginx.ingress.kubernetes.io/server-snippet",
    "container.apparmor.security.beta.kubernetes.io/app",
    "timeout",
    "replicas",
];
const ANNOTATION_VALUES: [&str; 11] = [
    "platform",
    "alice",
    "runtime/default",
    "unconfined",
    "30s",
    "5m",
    "1h30m",
    "3",
    "",
    "true",
    "plat-ops",
];
const IMAGES: [&str; 11] = [
    "nginx",
    "nginx:latest",
    "nginx:1.25.3",
    "ghcr.io/acme/app:v1.2.3",
    "registry.local:5000/tools/busybox",
    "busybox:1.28",
    "docker.io/library/redis:7",
    "alpine@sha256:0123abcd",
    "",
    "nginx:LATEST",
    "ghcr.io/acme/app:latest",
];

/// Generates case `index` of the run seeded with `seed`.
pub fn case(seed: u64, index: usize) -> Case {
    let mut rng = Rng::for_case(seed, index);
    let name = format!("case-{index:05}");
    let target = pick_target(&mut rng);
    let namespaced_policy = rng.chance(15);
    let policy_namespace = *rng.pick(&["default", "prod"]);
    let rule_count = rng.between(1, 3);
    let mut rules = Vec::new();
    for rule_index in 0..rule_count {
        // Most rules of a policy share its target; some aim elsewhere, so that a resource meets
        // rules that do not match it.
        let rule_target = if rule_index == 0 || rng.chance(70) {
            target
        } else {
            pick_target(&mut rng)
        };
        rules.push(rule(&mut rng, rule_index, rule_target));
    }
    let mut metadata = json!({"name": name});
    let mut annotations = Map::new();
    if rng.chance(25) {
        let controllers = rng.pick(&[
            "none",
            "Deployment",
            "Deployment,CronJob",
            "DaemonSet,Deployment,StatefulSet",
            "Deployment, StatefulSet",
            "Job",
        ]);
        annotations.insert(
            "pod-policies.kyverno.io/autogen-controllers".to_owned(),
            json!(controllers),
        );
    }
    if rng.chance(15) {
        annotations.insert("policies.kyverno.io/scored".to_owned(), json!("false"));
    }
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    if namespaced_policy {
        metadata["namespace"] = json!(policy_namespace);
        if rng.chance(50) {
            metadata["labels"] = json!({"oracle/qualified": "true"});
        }
    }
    let mut spec = json!({"background": rng.chance(80), "rules": rules});
    if rng.chance(60) {
        spec["validationFailureAction"] =
            json!(rng.pick(&["Audit", "Enforce", "audit", "enforce"]));
    }
    if rng.chance(10) {
        spec["applyRules"] = json!("One");
    }
    if rng.chance(10) {
        spec["validationFailureActionOverrides"] = overrides(&mut rng);
    }
    let mut policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": if namespaced_policy { "Policy" } else { "ClusterPolicy" },
        "metadata": metadata,
        "spec": spec,
    });
    mostly_admissible(&mut rng, &mut policy);
    let resource_count = rng.between(2, 4);
    let mut resources = Vec::new();
    for resource_index in 0..resource_count {
        let resource_target = if rng.chance(75) {
            target
        } else {
            pick_target(&mut rng)
        };
        resources.push(resource(
            &mut rng,
            &format!("res-{resource_index}"),
            resource_target,
        ));
    }
    let values = rng.chance(35).then(|| values_file(&mut rng));
    let user_info = rng.chance(20).then(|| user_info_file(&mut rng));
    Case {
        name,
        policy,
        resources,
        values,
        user_info,
    }
}

const NAMESPACE_LABELS: [(&str, &[&str]); 2] = [("env", &["prod", "dev"]), ("team", &["a", "b"])];

fn values_file(rng: &mut Rng) -> Value {
    let mut values = json!({
        "apiVersion": "cli.kyverno.io/v1alpha1",
        "kind": "Values",
        "metadata": {"name": "values"},
    });
    if rng.chance(70) {
        let mut selectors = Vec::new();
        for namespace in NAMESPACES {
            if !rng.chance(60) {
                continue;
            }
            let mut labels = Map::new();
            for (key, choices) in NAMESPACE_LABELS {
                if rng.chance(60) {
                    labels.insert(key.to_owned(), json!(rng.pick(choices)));
                }
            }
            selectors.push(json!({"name": namespace, "labels": labels}));
        }
        values["namespaceSelector"] = Value::Array(selectors);
    }
    if rng.chance(60) {
        values["globalValues"] =
            json!({"request.operation": rng.pick(&["CREATE", "UPDATE", "UPDATE", "DELETE"])});
    }
    values
}

const USERS: [&str; 3] = ["alice", "system:serviceaccount:ci:builder", "bob"];
const GROUPS: [&str; 3] = ["system:authenticated", "devs", "admins"];
const ROLES: [&str; 2] = ["prod:deployer", "dev:viewer"];
const CLUSTER_ROLES: [&str; 2] = ["cluster-admin", "view"];

fn user_info_file(rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "cli.kyverno.io/v1alpha1",
        "kind": "UserInfo",
        "metadata": {"name": "user"},
        "roles": pick_some(rng, &ROLES),
        "clusterRoles": pick_some(rng, &CLUSTER_ROLES),
        "userInfo": {"username": rng.pick(&USERS), "groups": pick_some(rng, &GROUPS)},
    })
}

/// `subjects`, `roles` or `clusterRoles` of a filter.
fn user_filter(rng: &mut Rng, filter: &mut Map<String, Value>) {
    match rng.below(3) {
        0 => {
            let subject = match rng.below(3) {
                0 => json!({"kind": "User", "name": rng.pick(&["alice", "a*", "bob"])}),
                1 => json!({"kind": "Group", "name": rng.pick(&["devs", "admins", "system:*"])}),
                _ => {
                    json!({"kind": "ServiceAccount", "name": "builder", "namespace": rng.pick(&["ci", "c?"])})
                }
            };
            filter.insert("subjects".to_owned(), json!([subject]));
        }
        1 => {
            filter.insert("roles".to_owned(), json!(pick_some(rng, &ROLES)));
        }
        _ => {
            filter.insert(
                "clusterRoles".to_owned(),
                json!(pick_some(rng, &CLUSTER_ROLES)),
            );
        }
    }
}

fn overrides(rng: &mut Rng) -> Value {
    let entries: Vec<Value> = (0..rng.between(1, 2))
        .map(|_| {
            let action = *rng.pick(&["Audit", "Enforce"]);
            let mut entry = json!({"action": action});
            if rng.chance(80) {
                // Kyverno refuses overrides that could give a namespace both actions; most keep
                // each action to its own namespaces.
                let namespaces: &[&str] = match (rng.chance(80), action) {
                    (true, "Audit") => &["dev", "d*"],
                    (true, _) => &["prod", "team-*"],
                    (false, _) => &["prod", "dev", "team-*", "d*"],
                };
                entry["namespaces"] = json!(pick_some(rng, namespaces));
            }
            if rng.chance(20) {
                entry["namespaceSelector"] = namespace_selector(rng);
            }
            entry
        })
        .collect();
    Value::Array(entries)
}

/// Kyverno refuses user filters with background processing too.
fn uses_user_filters(policy: &Value) -> bool {
    let text = policy.to_string();
    ["\"subjects\"", "\"roles\"", "\"clusterRoles\""]
        .iter()
        .any(|field| text.contains(field))
}

/// Kyverno refuses wildcard kinds with background processing and namespace filters in a
/// namespaced Policy; most generated policies avoid both so that most cases are evaluated, and
/// the rest check that Portcullis refuses them too.
fn mostly_admissible(rng: &mut Rng, policy: &mut Value) {
    let text = policy.to_string();
    let reads_user = policy["spec"]["rules"]
        .as_array()
        .is_some_and(|rules| rules.iter().any(expressions::reads_user));
    let admissible_chance = if reads_user { 95 } else { 85 };
    if (text.contains(r#""kinds":["*""#) || uses_user_filters(policy) || reads_user)
        && rng.chance(admissible_chance)
    {
        policy["spec"]["background"] = json!(false);
    }
    if policy["kind"] == "Policy" && rng.chance(85) {
        for rule in policy["spec"]["rules"].as_array_mut().into_iter().flatten() {
            for block in ["match", "exclude"] {
                for list in ["any", "all"] {
                    for filter in rule[block][list].as_array_mut().into_iter().flatten() {
                        if let Some(resources) = filter["resources"].as_object_mut() {
                            resources.remove("namespaces");
                        }
                    }
                }
                if let Some(resources) = rule[block]["resources"].as_object_mut() {
                    resources.remove("namespaces");
                }
            }
        }
    }
}

fn pick_target(rng: &mut Rng) -> Target {
    match rng.below(100) {
        0..=44 => Target::Pod,
        45..=59 => Target::Controller(rng.pick(&CONTROLLERS).0),
        60..=71 => Target::ConfigMap,
        72..=83 => Target::Service,
        84..=91 => Target::Namespace,
        _ => Target::Any,
    }
}

// ---------------------------------------------------------------------------------------------
// Resources

fn resource(rng: &mut Rng, name: &str, target: Target) -> Value {
    let (api_version, kind) = match target {
        Target::Pod => ("v1", "Pod"),
        Target::Controller(kind) => (
            CONTROLLERS
                .iter()
                .find(|(controller, _)| *controller == kind)
                .map_or("apps/v1", |(_, version)| version),
            kind,
        ),
        Target::Service => ("v1", "Service"),
        Target::ConfigMap => ("v1", "ConfigMap"),
        Target::Namespace => ("v1", "Namespace"),
        Target::Any => *rng.pick(&[("v1", "Pod"), ("v1", "ConfigMap"), ("v1", "Secret")]),
    };
    let mut metadata = object_metadata(rng, name);
    if kind != "Namespace" && rng.chance(85) {
        metadata.insert("namespace".to_owned(), json!(rng.pick(&NAMESPACES)));
    }
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), json!(api_version));
    object.insert("kind".to_owned(), json!(kind));
    object.insert("metadata".to_owned(), Value::Object(metadata));
    match kind {
        "Pod" => {
            object.insert("spec".to_owned(), Value::Object(pod_spec(rng)));
        }
        "Service" => {
            object.insert("spec".to_owned(), service_spec(rng));
        }
        "ConfigMap" | "Secret" => {
            object.insert("data".to_owned(), config_data(rng));
        }
        "Namespace" => {}
        controller => {
            object.insert("spec".to_owned(), controller_spec(rng, controller));
        }
    }
    Value::Object(object)
}

fn object_metadata(rng: &mut Rng, name: &str) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("name".to_owned(), json!(name));
    if rng.chance(70) {
        metadata.insert(
            "labels".to_owned(),
            string_map(rng, &LABEL_KEYS, &LABEL_VALUES),
        );
    } else if rng.chance(10) {
        metadata.insert("labels".to_owned(), Value::Null);
    }
    if rng.chance(50) {
        metadata.insert(
            "annotations".to_owned(),
            string_map(rng, &ANNOTATION_KEYS, &ANNOTATION_VALUES),
        );
    }
    metadata
}

fn string_map(rng: &mut Rng, keys: &[&str], values: &[&str]) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.between(0, 3) {
        map.insert((*rng.pick(keys)).to_owned(), json!(rng.pick(values)));
    }
    Value::Object(map)
}

fn pod_template(rng: &mut Rng) -> Value {
    let mut template = Map::new();
    if rng.chance(80) {
        let mut metadata = Map::new();
        metadata.insert(
            "labels".to_owned(),
            string_map(rng, &LABEL_KEYS, &LABEL_VALUES),
        );
        if rng.chance(30) {
            metadata.insert(
                "annotations".to_owned(),
                string_map(rng, &ANNOTATION_KEYS, &ANNOTATION_VALUES),
            );
        }
        template.insert("metadata".to_owned(), Value::Object(metadata));
    }
    template.insert("spec".to_owned(), Value::Object(pod_spec(rng)));
    Value::Object(template)
}

fn controller_spec(rng: &mut Rng, kind: &str) -> Value {
    match kind {
        "CronJob" => json!({
            "schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": pod_template(rng)}},
        }),
        "Job" => json!({"template": pod_template(rng)}),
        _ => {
            let mut spec = json!({
                "selector": {"matchLabels": {"app": "web"}},
                "template": pod_template(rng),
            });
            if rng.chance(60) {
                spec["replicas"] = json!(rng.pick(&[0, 1, 3, 5]));
            }
            spec
        }
    }
}

fn pod_spec(rng: &mut Rng) -> Map<String, Value> {
    let mut spec = Map::new();
    let containers = (0..rng.between(1, 3)).map(|_| container(rng)).collect();
    spec.insert("containers".to_owned(), Value::Array(containers));
    if rng.chance(15) {
        spec.insert("initContainers".to_owned(), json!([container(rng)]));
    }
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if rng.chance(20) {
            spec.insert(field.to_owned(), boolean_value(rng));
        }
    }
    if rng.chance(30) {
        spec.insert(
            "terminationGracePeriodSeconds".to_owned(),
            json!(rng.pick(&[0, 30, 60, 3600])),
        );
    }
    if rng.chance(35) {
        let volumes = (0..rng.between(1, 2)).map(|_| volume(rng)).collect();
        spec.insert("volumes".to_owned(), Value::Array(volumes));
    }
    if rng.chance(30) {
        let mut context = Map::new();
        if rng.chance(60) {
            context.insert("runAsNonRoot".to_owned(), boolean_value(rng));
        }
        if rng.chance(60) {
            context.insert("runAsUser".to_owned(), json!(rng.pick(&[0, 1000, 65534])));
        }
        if rng.chance(30) {
            context.insert("fsGroup".to_owned(), json!(rng.pick(&[0, 2000])));
        }
        spec.insert("securityContext".to_owned(), Value::Object(context));
    }
    if rng.chance(25) {
        spec.insert(
            "serviceAccountName".to_owned(),
            json!(rng.pick(&["default", "builder", "ci-runner"])),
        );
    }
    if rng.chance(15) {
        spec.insert(
            "automountServiceAccountToken".to_owned(),
            boolean_value(rng),
        );
    }
    spec
}

/// Mostly real booleans; sometimes their text, which bool patterns must not accept.
fn boolean_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!("true"),
        1 => json!("false"),
        n => json!(n % 2 == 0),
    }
}

fn container(rng: &mut Rng) -> Value {
    let mut container = Map::new();
    container.insert(
        "name".to_owned(),
        json!(rng.pick(&["app", "nginx", "sidecar", "istio-proxy"])),
    );
    if rng.chance(95) {
        container.insert("image".to_owned(), json!(rng.pick(&IMAGES)));
    }
    if rng.chance(50) {
        container.insert(
            "imagePullPolicy".to_owned(),
            json!(rng.pick(&["Always", "IfNotPresent", "Never"])),
        );
    }
    if rng.chance(40) {
        let ports = (0..rng.between(1, 2))
            .map(|_| {
                let mut port = json!({"containerPort": rng.pick(&[80, 443, 8080, 9090, 53])});
                if rng.chance(30) {
                    port["hostPort"] = json!(rng.pick(&[0, 80, 8080, 30000]));
                }
                if rng.chance(40) {
                    port["protocol"] = json!(rng.pick(&["TCP", "UDP"]));
                }
                port
            })
            .collect();
        container.insert("ports".to_owned(), Value::Array(ports));
    }
    if rng.chance(50) {
        let mut resources = Map::new();
        for part in ["limits", "requests"] {
            if rng.chance(65) {
                let mut amounts = Map::new();
                if rng.chance(75) {
                    amounts.insert("memory".to_owned(), memory_value(rng));
                }
                if rng.chance(60) {
                    amounts.insert("cpu".to_owned(), cpu_value(rng));
                }
                resources.insert(part.to_owned(), Value::Object(amounts));
            }
        }
        container.insert("resources".to_owned(), Value::Object(resources));
    }
    if rng.chance(45) {
        let mut context = Map::new();
        for field in [
            "privileged",
            "allowPrivilegeEscalation",
            "readOnlyRootFilesystem",
            "runAsNonRoot",
        ] {
            if rng.chance(40) {
                context.insert(field.to_owned(), boolean_value(rng));
            }
        }
        if rng.chance(35) {
            context.insert("runAsUser".to_owned(), json!(rng.pick(&[0, 1000, 65534])));
        }
        if rng.chance(35) {
            let mut capabilities = Map::new();
            if rng.chance(70) {
                capabilities.insert(
                    "drop".to_owned(),
                    json!(pick_some(rng, &["ALL", "NET_RAW", "SYS_ADMIN"])),
                );
            }
            if rng.chance(40) {
                capabilities.insert(
                    "add".to_owned(),
                    json!(pick_some(rng, &["NET_ADMIN", "SYS_TIME", "CHOWN"])),
                );
            }
            context.insert("capabilities".to_owned(), Value::Object(capabilities));
        }
        container.insert("securityContext".to_owned(), Value::Object(context));
    }
    if rng.chance(20) {
        container.insert(
            "livenessProbe".to_owned(),
            json!({"periodSeconds": rng.pick(&[1, 10, 30]), "initialDelaySeconds": rng.pick(&[0, 5, 120])}),
        );
    }
    if rng.chance(20) {
        container.insert(
            "env".to_owned(),
            json!([{"name": rng.pick(&["TIMEOUT", "MODE"]), "value": rng.pick(&["30s", "5m", "strict", ""])}]),
        );
    }
    Value::Object(container)
}

fn pick_some(rng: &mut Rng, items: &[&str]) -> Vec<String> {
    let mut chosen: Vec<String> = items
        .iter()
        .filter(|_| rng.chance(50))
        .map(|item| (*item).to_owned())
        .collect();
    if chosen.is_empty() && rng.chance(70) {
        chosen.push((*rng.pick(items)).to_owned());
    }
    chosen
}

fn memory_value(rng: &mut Rng) -> Value {
    let texts = [
        "64Mi", "512Mi", "1Gi", "1024Mi", "1.5Gi", "2Gi", "2048Mi", "1G", "1000M", "500m", "",
    ];
    if rng.chance(10) {
        json!(rng.pick(&[1_073_741_824_i64, 536_870_912]))
    } else {
        json!(rng.pick(&texts))
    }
}

fn cpu_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(1),
        1 => json!(2),
        2 => json!(0.5),
        _ => json!(rng.pick(&["100m", "250m", "500m", "1", "2", "1.5", "2000m"])),
    }
}

fn volume(rng: &mut Rng) -> Value {
    let name = rng.pick(&["data", "docker-sock", "cache", "config"]);
    match rng.below(4) {
        0 | 1 => json!({
            "name": name,
            "hostPath": {"path": rng.pick(&["/var/run/docker.sock", "/data", "/etc", "/var/log"])},
        }),
        2 => json!({"name": name, "emptyDir": {}}),
        _ => json!({"name": name, "configMap": {"name": "settings"}}),
    }
}

fn service_spec(rng: &mut Rng) -> Value {
    let mut spec = Map::new();
    if rng.chance(85) {
        spec.insert(
            "type".to_owned(),
            json!(rng.pick(&["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
        );
    }
    let ports = (0..rng.between(1, 2))
        .map(|_| {
            let mut port = json!({"port": rng.pick(&[80, 443, 8080])});
            if rng.chance(50) {
                port["targetPort"] = if rng.chance(50) {
                    json!(rng.pick(&[80, 8080]))
                } else {
                    json!(rng.pick(&["http", "8080"]))
                };
            }
            if rng.chance(30) {
                port["nodePort"] = json!(rng.pick(&[30080, 31000, 32767]));
            }
            port
        })
        .collect();
    spec.insert("ports".to_owned(), Value::Array(ports));
    if rng.chance(25) {
        spec.insert(
            "externalIPs".to_owned(),
            json!(pick_some(rng, &["10.0.0.1", "192.168.1.10"])),
        );
    }
    if rng.chance(25) {
        spec.insert(
            "loadBalancerSourceRanges".to_owned(),
            json!(pick_some(rng, &["10.0.0.0/8", "0.0.0.0/0"])),
        );
    }
    Value::Object(spec)
}

const DATA_KEYS: [&str; 6] = ["timeout", "memory", "replicas", "enabled", "mode", "port"];
const DATA_VALUES: [&str; 14] = [
    "30s", "5m", "90s", "1h", "512Mi", "2Gi", "3", "10", "true", "false", "strict", "", "8080", "0",
];

fn config_data(rng: &mut Rng) -> Value {
    let mut data = Map::new();
    for _ in 0..rng.between(0, 4) {
        data.insert(
            (*rng.pick(&DATA_KEYS)).to_owned(),
            json!(rng.pick(&DATA_VALUES)),
        );
    }
    if data.is_empty() && rng.chance(50) {
        return Value::Null;
    }
    Value::Object(data)
}

// ---------------------------------------------------------------------------------------------
// Rules

/// The share of rules, in percent, that use the expression layer (deny, preconditions,
/// context, foreach, variables) rather than static patterns.
const EXPRESSION_RULES: u64 = 50;

fn rule(rng: &mut Rng, index: usize, target: Target) -> Value {
    let mut rule = Map::new();
    rule.insert("name".to_owned(), json!(format!("r{index}")));
    let shape = match rng.below(10) {
        0 => Shape::Inline,
        1..=2 => Shape::All,
        _ => Shape::Any,
    };
    rule.insert("match".to_owned(), match_block(rng, target, true, shape));
    if rng.chance(25) {
        // Kyverno refuses an inline match beside an `any` exclude; mostly keep the shapes alike.
        let exclude_shape = if rng.chance(85) { shape } else { Shape::Any };
        rule.insert(
            "exclude".to_owned(),
            match_block(rng, target, false, exclude_shape),
        );
    }
    let mut validate = Map::new();
    if rng.chance(50) {
        validate.insert(
            "message".to_owned(),
            json!(rng.pick(&["not allowed", "must be set.", "check the spec"])),
        );
    }
    if rng.chance(EXPRESSION_RULES) {
        validate.remove("message");
        expressions::expression_rule(rng, target, &mut rule, &mut validate);
    } else if rng.chance(25) {
        let patterns = (0..rng.between(1, 3))
            .map(|_| pattern_for(rng, target))
            .collect();
        validate.insert("anyPattern".to_owned(), Value::Array(patterns));
    } else {
        validate.insert("pattern".to_owned(), pattern_for(rng, target));
    }
    if rng.chance(40) {
        validate.insert(
            "failureAction".to_owned(),
            json!(rng.pick(&["Audit", "Enforce"])),
        );
    }
    if rng.chance(10) {
        validate.insert("failureActionOverrides".to_owned(), overrides(rng));
    }
    rule.insert("validate".to_owned(), Value::Object(validate));
    Value::Object(rule)
}

/// The kinds entry a rule aimed at `target` may use, in the spellings Kyverno accepts.
fn kinds_for(rng: &mut Rng, target: Target) -> Vec<String> {
    let mut kinds: Vec<String> = match target {
        Target::Pod => vec![rng.pick(&["Pod", "Pod", "Pod", "v1/Pod"]).to_string()],
        Target::Controller(kind) => {
            let group_version = CONTROLLERS
                .iter()
                .find(|(controller, _)| *controller == kind)
                .map_or("apps/v1", |(_, version)| version);
            vec![if rng.chance(30) {
                format!("{group_version}/{kind}")
            } else {
                kind.to_owned()
            }]
        }
        Target::Service => vec![rng.pick(&["Service", "v1/Service"]).to_string()],
        Target::ConfigMap => vec![
            rng.pick(&["ConfigMap", "v1/ConfigMap", "Config*"])
                .to_string(),
        ],
        Target::Namespace => vec!["Namespace".to_owned()],
        Target::Any => vec!["*".to_owned()],
    };
    // Kyverno refuses "*" beside another kind; that is tried only now and then.
    let extra_chance = if target == Target::Any { 3 } else { 15 };
    if rng.chance(extra_chance) {
        let extra = rng.pick(&[
            "Deployment",
            "ConfigMap",
            "Service",
            "Pod",
            "CronJob",
            "Secret",
        ]);
        if !kinds.iter().any(|kind| kind == extra) {
            kinds.push((*extra).to_owned());
        }
    }
    kinds
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Inline,
    Any,
    All,
}

fn match_block(rng: &mut Rng, target: Target, is_match: bool, shape: Shape) -> Value {
    let filters: Vec<Value> = (0..rng.between(1, 2))
        .map(|_| {
            let mut filter = Map::new();
            filter.insert(
                "resources".to_owned(),
                resource_filter(rng, target, is_match),
            );
            if rng.chance(10) {
                user_filter(rng, &mut filter);
            }
            Value::Object(filter)
        })
        .collect();
    match shape {
        Shape::Inline => filters[0].clone(),
        Shape::All => json!({"all": filters}),
        Shape::Any => json!({"any": filters}),
    }
}

fn resource_filter(rng: &mut Rng, target: Target, is_match: bool) -> Value {
    let mut filter = Map::new();
    // A match filter always names kinds (Kyverno requires it); an exclude filter only sometimes.
    if is_match || rng.chance(40) {
        filter.insert("kinds".to_owned(), json!(kinds_for(rng, target)));
    }
    if rng.chance(if is_match { 12 } else { 35 }) {
        filter.insert(
            "names".to_owned(),
            json!(pick_some(
                rng,
                &["res-0", "res-?", "res-[12]", "*-1", "web*"]
            )),
        );
    }
    if rng.chance(if is_match { 20 } else { 40 }) {
        filter.insert(
            "namespaces".to_owned(),
            json!(pick_some(rng, &["default", "prod", "d*", "kube-*", "?ev"])),
        );
    }
    if rng.chance(15) {
        filter.insert("selector".to_owned(), selector(rng));
    }
    if rng.chance(10) {
        filter.insert("namespaceSelector".to_owned(), namespace_selector(rng));
    }
    if rng.chance(10) {
        filter.insert(
            "annotations".to_owned(),
            json!({(*rng.pick(&ANNOTATION_KEYS)): rng.pick(&["plat*", "?*", "*", "alice", "3"])}),
        );
    }
    if rng.chance(8) {
        filter.insert(
            "operations".to_owned(),
            json!(pick_some(rng, &["CREATE", "UPDATE", "DELETE"])),
        );
    }
    if filter.is_empty() {
        filter.insert("kinds".to_owned(), json!(kinds_for(rng, target)));
    }
    Value::Object(filter)
}

fn namespace_selector(rng: &mut Rng) -> Value {
    let (key, choices) = *rng.pick(&NAMESPACE_LABELS);
    if rng.chance(60) {
        json!({"matchLabels": {key: rng.pick(choices)}})
    } else {
        let operator = *rng.pick(&["In", "NotIn", "Exists", "DoesNotExist"]);
        let mut expression = json!({"key": key, "operator": operator});
        if matches!(operator, "In" | "NotIn") {
            expression["values"] = json!([rng.pick(choices)]);
        }
        json!({"matchExpressions": [expression]})
    }
}

fn selector(rng: &mut Rng) -> Value {
    let mut selector = Map::new();
    if rng.chance(70) {
        let value = if rng.chance(20) {
            (*rng.pick(&["w*", "*", "?b"])).to_owned()
        } else {
            (*rng.pick(&LABEL_VALUES)).to_owned()
        };
        selector.insert(
            "matchLabels".to_owned(),
            json!({(*rng.pick(&LABEL_KEYS)): value}),
        );
    }
    if selector.is_empty() || rng.chance(40) {
        let operator = *rng.pick(&["In", "NotIn", "Exists", "DoesNotExist"]);
        let mut expression = json!({"key": rng.pick(&LABEL_KEYS), "operator": operator});
        if matches!(operator, "In" | "NotIn") {
            expression["values"] = json!(pick_some(rng, &["web", "db", "prod", ""]));
            if expression["values"].as_array().is_some_and(Vec::is_empty) {
                expression["values"] = json!(["web"]);
            }
        }
        selector.insert("matchExpressions".to_owned(), json!([expression]));
    }
    Value::Object(selector)
}

// ---------------------------------------------------------------------------------------------
// Patterns

/// Wraps a key in a random anchor: plain most of the time.
fn anchored(rng: &mut Rng, key: &str, allowed: &[&str]) -> String {
    let anchor = if rng.chance(45) {
        ""
    } else {
        *rng.pick(allowed)
    };
    match anchor {
        "" => key.to_owned(),
        "()" => format!("({key})"),
        other => format!("{}({key})", other.trim_end_matches("()")),
    }
}

const VALUE_ANCHORS: [&str; 3] = ["=()", "()", "<()"];

fn pattern_for(rng: &mut Rng, target: Target) -> Value {
    let mut pattern = Map::new();
    let metadata_only = matches!(target, Target::Namespace | Target::Any);
    if metadata_only || rng.chance(25) {
        // Kyverno checks label values for strings in only one of `metadata` and `spec` when a
        // pattern has both, whichever its map order gives first: no other values beside `spec`.
        pattern.insert("metadata".to_owned(), metadata_pattern(rng, metadata_only));
    }
    match target {
        Target::Pod => {
            pattern.insert("spec".to_owned(), pod_spec_pattern(rng));
        }
        Target::Controller(kind) => {
            let template = json!({"spec": pod_spec_pattern(rng)});
            let spec = if kind == "CronJob" {
                json!({"jobTemplate": {"spec": {"template": template}}})
            } else {
                json!({"template": template})
            };
            pattern.insert("spec".to_owned(), spec);
        }
        Target::Service => {
            pattern.insert("spec".to_owned(), service_pattern(rng));
        }
        Target::ConfigMap => {
            let key = anchored(rng, "data", &VALUE_ANCHORS);
            pattern.insert(key, data_pattern(rng));
        }
        Target::Namespace | Target::Any => {}
    }
    Value::Object(pattern)
}

fn metadata_pattern(rng: &mut Rng, any_values: bool) -> Value {
    let mut metadata = Map::new();
    if rng.chance(70) {
        let key = anchored(rng, "labels", &VALUE_ANCHORS);
        metadata.insert(
            key,
            label_pattern(rng, &LABEL_KEYS, &LABEL_VALUES, any_values),
        );
    }
    if metadata.is_empty() || rng.chance(40) {
        let key = anchored(rng, "annotations", &VALUE_ANCHORS);
        metadata.insert(
            key,
            label_pattern(rng, &ANNOTATION_KEYS, &ANNOTATION_VALUES, any_values),
        );
    }
    if rng.chance(15) {
        metadata.insert(
            "name".to_owned(),
            json!(rng.pick(&["res-*", "!res-0", "?*", "res-1 | res-2"])),
        );
    }
    Value::Object(metadata)
}

/// A labels or annotations pattern: wildcard keys, anchors and string operators.
/// `any_values`: also null and numbers, which Kyverno's policy validation refuses.
fn label_pattern(rng: &mut Rng, keys: &[&str], values: &[&str], any_values: bool) -> Value {
    // Kyverno rewrites a wildcard key to the first resource key it matches in Go's random map
    // order, and a rewritten key that meets another of the pattern's keys replaces one of them,
    // again in random order. So a wildcard here matches exactly one key of the pools, and no two
    // keys of one map stand for the same label.
    const WILDCARD_KEYS: [(&str, &str); 5] = [
        ("te?m", "team"),
        ("t?er", "tier"),
        ("app.kubernetes.io/n*", "app.kubernetes.io/name"),
        ("*snippet", "nginx.ingress.kubernetes.io/server-snippet"),
        (
            "*apparmor*",
            "container.apparmor.security.beta.kubernetes.io/app",
        ),
    ];
    let mut map = Map::new();
    let mut labels_named = Vec::new();
    for _ in 0..rng.between(1, 2) {
        let mut key = (*rng.pick(keys)).to_owned();
        let mut label = key.clone();
        if rng.chance(20) {
            let (wildcard, target) = rng.pick(&WILDCARD_KEYS);
            if keys.contains(target) {
                key = (*wildcard).to_owned();
                label = (*target).to_owned();
            }
        }
        if labels_named.contains(&label) {
            continue;
        }
        labels_named.push(label);
        let key = anchored(rng, &key, &["=()", "()", "X()", "<()"]);
        let value = if key.starts_with("X(") && any_values {
            rng.pick(&[json!(null), json!("?*"), json!("null")]).clone()
        } else if key.starts_with("X(") {
            rng.pick(&[json!("?*"), json!("null")]).clone()
        } else if any_values && rng.chance(5) {
            rng.pick(&[json!(3), json!(null), json!(true)]).clone()
        } else {
            match rng.below(10) {
                0..=3 => json!(rng.pick(values)),
                4 => json!("?*"),
                5 => json!("*"),
                6 => json!(format!("!{}", rng.pick(values))),
                7 => json!(format!("{} | {}", rng.pick(values), rng.pick(values))),
                8 => json!(rng.pick(&["<10m", ">1", "1-5", "30s-2h", "!30s"])),
                _ => json!(format!(
                    "{}*",
                    &rng.pick(values).chars().take(2).collect::<String>()
                )),
            }
        };
        map.insert(key, value);
    }
    Value::Object(map)
}

fn pod_spec_pattern(rng: &mut Rng) -> Value {
    let mut spec = Map::new();
    let fields = rng.between(1, 3);
    for _ in 0..fields {
        match rng.below(9) {
            0..=3 => {
                let key = anchored(rng, "containers", &["=()", "()", "^()", "X()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else if key.starts_with("^(") {
                    json!([{"name": rng.pick(&["app", "nginx", "istio-proxy", "?*"])}])
                } else {
                    json!([container_pattern(rng)])
                };
                spec.insert(key, value);
            }
            4 => {
                let field = *rng.pick(&["hostNetwork", "hostPID", "hostIPC"]);
                let key = anchored(rng, field, &["=()", "()", "X()", "<()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    boolean_pattern(rng)
                };
                spec.insert(key, value);
            }
            5 => {
                let key = anchored(rng, "volumes", &["=()", "X()", "^()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    json!([volume_pattern(rng)])
                };
                spec.insert(key, value);
            }
            6 => {
                let key = anchored(rng, "terminationGracePeriodSeconds", &VALUE_ANCHORS);
                spec.insert(key, integer_pattern(rng));
            }
            7 => {
                let key = anchored(rng, "securityContext", &["=()", "()", "X()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    let mut context = Map::new();
                    let field = anchored(rng, "runAsNonRoot", &VALUE_ANCHORS);
                    context.insert(field, boolean_pattern(rng));
                    if rng.chance(50) {
                        let field = anchored(rng, "runAsUser", &VALUE_ANCHORS);
                        context.insert(field, integer_pattern(rng));
                    }
                    Value::Object(context)
                };
                spec.insert(key, value);
            }
            _ => {
                let key = anchored(rng, "serviceAccountName", &VALUE_ANCHORS);
                spec.insert(
                    key,
                    json!(rng.pick(&["!default", "?*", "builder | ci-*", "*", ""])),
                );
            }
        }
    }
    Value::Object(spec)
}

fn container_pattern(rng: &mut Rng) -> Value {
    let mut container = Map::new();
    for _ in 0..rng.between(1, 3) {
        match rng.below(7) {
            0 | 1 => {
                let key = anchored(rng, "image", &VALUE_ANCHORS);
                container.insert(key, image_pattern(rng));
            }
            2 => {
                let key = anchored(rng, "imagePullPolicy", &["=()", "()", "<()", "X()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    json!(rng.pick(&["Always", "!Always", "IfNotPresent | Never", "?*", "*"]))
                };
                container.insert(key, value);
            }
            3 => {
                let key = anchored(rng, "name", &VALUE_ANCHORS);
                container.insert(
                    key,
                    json!(rng.pick(&["app", "!istio-proxy", "nginx | app", "*-proxy", "?*"])),
                );
            }
            4 => {
                let key = anchored(rng, "resources", &["=()", "()"]);
                let mut resources = Map::new();
                for part in ["limits", "requests"] {
                    if resources.is_empty() || rng.chance(40) {
                        let part_key = anchored(rng, part, &VALUE_ANCHORS);
                        let mut amounts = Map::new();
                        if rng.chance(70) {
                            let field = anchored(rng, "memory", &VALUE_ANCHORS);
                            amounts.insert(field, quantity_pattern(rng, "memory"));
                        }
                        if amounts.is_empty() || rng.chance(40) {
                            let field = anchored(rng, "cpu", &VALUE_ANCHORS);
                            amounts.insert(field, quantity_pattern(rng, "cpu"));
                        }
                        resources.insert(part_key, Value::Object(amounts));
                    }
                }
                container.insert(key, Value::Object(resources));
            }
            5 => {
                let key = anchored(rng, "securityContext", &["=()", "()", "X()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    let mut context = Map::new();
                    for _ in 0..rng.between(1, 2) {
                        match rng.below(4) {
                            0 => {
                                let field = anchored(rng, "privileged", &["=()", "()", "X()"]);
                                let value = if field.starts_with("X(") {
                                    Value::Null
                                } else {
                                    boolean_pattern(rng)
                                };
                                context.insert(field, value);
                            }
                            1 => {
                                let field =
                                    anchored(rng, "allowPrivilegeEscalation", &VALUE_ANCHORS);
                                context.insert(field, boolean_pattern(rng));
                            }
                            2 => {
                                let field = anchored(rng, "runAsUser", &VALUE_ANCHORS);
                                context.insert(field, integer_pattern(rng));
                            }
                            _ => {
                                let field = anchored(rng, "capabilities", &["=()", "()"]);
                                let list = anchored(rng, "drop", &["=()", "()", "^()"]);
                                let value = if list.starts_with("^(") {
                                    json!(["ALL"])
                                } else {
                                    rng.pick(&[
                                        json!(["ALL"]),
                                        json!("ALL"),
                                        json!(["!SYS_ADMIN"]),
                                        json!("ALL | NET_RAW"),
                                    ])
                                    .clone()
                                };
                                context.insert(field, json!({list: value}));
                            }
                        }
                    }
                    Value::Object(context)
                };
                container.insert(key, value);
            }
            _ => {
                let key = anchored(rng, "ports", &["=()", "()", "X()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    let mut port = Map::new();
                    let field = *rng.pick(&["containerPort", "hostPort", "protocol"]);
                    let field_key = anchored(rng, field, &VALUE_ANCHORS);
                    let value = if field == "protocol" {
                        json!(rng.pick(&["TCP", "!UDP", "TCP | UDP", "T*"]))
                    } else {
                        integer_pattern(rng)
                    };
                    port.insert(field_key, value);
                    json!([port])
                };
                container.insert(key, value);
            }
        }
    }
    Value::Object(container)
}

fn volume_pattern(rng: &mut Rng) -> Value {
    let mut volume = Map::new();
    if rng.chance(60) {
        let key = anchored(rng, "name", &VALUE_ANCHORS);
        volume.insert(
            key,
            json!(rng.pick(&["docker-sock", "data", "!cache", "d*"])),
        );
    }
    let key = anchored(rng, "hostPath", &["=()", "()", "X()"]);
    let value = if key.starts_with("X(") {
        Value::Null
    } else {
        let path = anchored(rng, "path", &VALUE_ANCHORS);
        json!({path: rng.pick(&["!/var/run/docker.sock", "/data", "/var/*", "!/etc | /data"])})
    };
    volume.insert(key, value);
    Value::Object(volume)
}

fn service_pattern(rng: &mut Rng) -> Value {
    let mut spec = Map::new();
    for _ in 0..rng.between(1, 2) {
        match rng.below(4) {
            0 => {
                let key = anchored(rng, "type", &VALUE_ANCHORS);
                spec.insert(
                    key,
                    json!(rng.pick(&[
                        "ClusterIP",
                        "!LoadBalancer",
                        "ClusterIP | NodePort",
                        "!NodePort & !LoadBalancer",
                        "*Port"
                    ])),
                );
            }
            1 => {
                let key = anchored(rng, "ports", &["=()", "()"]);
                let field = *rng.pick(&["port", "targetPort", "nodePort"]);
                let field_key = anchored(rng, field, &VALUE_ANCHORS);
                spec.insert(key, json!([{field_key: integer_pattern(rng)}]));
            }
            2 => {
                let key = anchored(rng, "externalIPs", &["X()", "=()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    json!(["10.*"])
                };
                spec.insert(key, value);
            }
            _ => {
                let key = anchored(rng, "loadBalancerSourceRanges", &["=()", "X()", "()"]);
                let value = if key.starts_with("X(") {
                    Value::Null
                } else {
                    json!(rng.pick(&["!0.0.0.0/0", "10.*", "*"]))
                };
                spec.insert(key, value);
            }
        }
    }
    Value::Object(spec)
}

fn data_pattern(rng: &mut Rng) -> Value {
    let mut data = Map::new();
    for _ in 0..rng.between(1, 2) {
        let field = *rng.pick(&DATA_KEYS);
        let key = anchored(rng, field, &["=()", "()", "X()", "<()"]);
        let value = if key.starts_with("X(") {
            Value::Null
        } else {
            match field {
                "timeout" => duration_pattern(rng),
                "memory" => quantity_pattern(rng, "memory"),
                "replicas" | "port" => integer_pattern(rng),
                "enabled" => boolean_pattern(rng),
                _ => json!(rng.pick(&["strict", "!strict", "s*", "?*", "", "strict | lax"])),
            }
        };
        data.insert(key, value);
    }
    Value::Object(data)
}

fn image_pattern(rng: &mut Rng) -> Value {
    json!(rng.pick(&[
        "*",
        "?*",
        "*:*",
        "!*:latest",
        "*:latest",
        "nginx*",
        "nginx:?.*",
        "!nginx",
        "ghcr.io/* | docker.io/*",
        "*:latest | !*:*",
        "",
        "!*",
        "*:* & !*:latest",
        "*@sha256:*",
        "registry.local:5000/*",
    ]))
}

fn boolean_pattern(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(true),
        json!(false),
        json!("true"),
        json!("false"),
        json!("!true"),
        json!("*"),
        Value::Null,
        json!("?*"),
    ])
    .clone()
}

fn integer_pattern(rng: &mut Rng) -> Value {
    rng.pick(&[
        json!(80),
        json!("80"),
        json!(">1024"),
        json!("<=1024"),
        json!(">=0"),
        json!(0),
        json!("0 | >=1024"),
        json!("1-1024"),
        json!("!0"),
        json!("1!-1024"),
        json!("8*"),
        json!("?*"),
        json!("<10"),
        json!(8080),
        json!(30.0),
        json!(30.5),
        json!("3*"),
        json!(">=30 & <=3600"),
        json!("*"),
        Value::Null,
    ])
    .clone()
}

fn quantity_pattern(rng: &mut Rng, resource: &str) -> Value {
    if resource == "cpu" {
        json!(rng.pick(&[
            "<=1", "<500m", ">=100m", "100m-2", "1 | 2", "!0", "?*", "*", "<=2000m", "1!-2", "2",
        ]))
    } else {
        json!(rng.pick(&[
            "<=1Gi",
            "<1Gi",
            ">512Mi",
            ">=1Gi",
            "256Mi-1Gi",
            "1Gi!-2Gi",
            "!1Gi",
            "1Gi",
            "?*",
            "*",
            "<=2",
            "1024Mi",
            "1073741824",
            "<=1.5Gi",
            ">1G",
        ]))
    }
}

fn duration_pattern(rng: &mut Rng) -> Value {
    json!(rng.pick(&[
        "<10m", ">30s", "<=1h", ">=90s", "30s-5m", "!30s", "1m30s", "*s", "<=60", "0s-1h", ">0",
    ]))
}
