//! Rules that use Kyverno's expression layer: `deny.conditions` (any/all and the legacy list,
//! every operator family), `preconditions`, `context` variable entries, `{{ }}` variables in
//! pattern values and keys and in messages, and `foreach` (lists of maps, of strings, with null
//! elements, missing lists, `elementScope`, per-element preconditions and context, every kind of
//! check inside, one level of nesting).
//!
//! Go walks maps in random order, so whatever lists a map's keys or values (`keys()`,
//! `values()`, `images.containers.*`) is sorted before it is shown or compared.
//!
//! The pools lean on the places where types meet: keys that are durations, quantities, numbers
//! in strings, versions and wildcards; missing fields with and without `||`; variables that
//! read the user (which Kyverno refuses with background processing).

use super::{Rng, Target, boolean_pattern, container_pattern, integer_pattern};
use serde_json::{Map, Value, json};

/// Whether any part of a rule names the requester, which Kyverno's policy validation refuses
/// while background processing is on.
pub fn reads_user(rule: &Value) -> bool {
    let text = rule.to_string();
    [
        "serviceAccountName}}",
        "serviceAccountName ",
        "serviceAccountNamespace",
        "request.userInfo",
        "request.roles",
        "request.clusterRoles",
    ]
    .iter()
    .any(|name| text.contains(name))
}

/// What the `element` of a foreach holds, which decides the variables and patterns about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Container,
    ContainerPort,
    Volume,
    ServicePort,
    /// `items(...)`: `{key, value}` maps.
    KeyValue,
    /// Plain strings (images, names, keys).
    Text,
}

/// The variables in reach of an expression: the rule's target, its context entries, and the
/// foreach elements around it (innermost last).
#[derive(Debug, Clone)]
struct Reach {
    target: Target,
    context: Vec<String>,
    elements: Vec<Element>,
}

impl Reach {
    /// The object `request.object` paths start from for pod specs.
    fn pod_spec(&self) -> &'static str {
        match self.target {
            Target::Controller("CronJob") => "request.object.spec.jobTemplate.spec.template.spec",
            Target::Controller(_) => "request.object.spec.template.spec",
            _ => "request.object.spec",
        }
    }

    fn has_pod_spec(&self) -> bool {
        matches!(self.target, Target::Pod | Target::Controller(_))
    }
}

/// Fills `validate` (and the rule's `context` and `preconditions`) with an expression check.
pub fn expression_rule(
    rng: &mut Rng,
    target: Target,
    rule: &mut Map<String, Value>,
    validate: &mut Map<String, Value>,
) {
    let mut reach = Reach {
        target,
        context: Vec::new(),
        elements: Vec::new(),
    };
    if rng.chance(30) {
        let entries = context_entries(rng, &mut reach, "c");
        rule.insert("context".to_owned(), Value::Array(entries));
    }
    if rng.chance(35) {
        rule.insert(
            "preconditions".to_owned(),
            conditions(rng, &reach, Site::Preconditions),
        );
    }
    if rng.chance(55) {
        validate.insert("message".to_owned(), json!(message(rng, &reach)));
    }
    let mut check = rng.below(10);
    if target == Target::Any && check >= 7 && rng.chance(80) {
        // Kyverno refuses foreach under kinds "*".
        check = 0;
    }
    match check {
        0..=3 => {
            validate.insert(
                "deny".to_owned(),
                json!({"conditions": conditions(rng, &reach, Site::Deny)}),
            );
        }
        4..=6 => {
            let pattern = templated_pattern(rng, &reach);
            if rng.chance(25) {
                let second = templated_pattern(rng, &reach);
                validate.insert("anyPattern".to_owned(), json!([pattern, second]));
            } else {
                validate.insert("pattern".to_owned(), pattern);
            }
        }
        _ => {
            let loops = (0..rng.between(1, 2))
                .map(|_| foreach(rng, &reach, 0))
                .collect();
            validate.insert("foreach".to_owned(), Value::Array(loops));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Variables

/// A JMESPath expression about the request, the context or the element in reach.
fn expression(rng: &mut Rng, reach: &Reach) -> String {
    if let Some(element) = reach.elements.last() {
        if rng.chance(60) {
            return element_expression(rng, *element, reach.elements.len());
        }
    }
    if !reach.context.is_empty() && rng.chance(30) {
        return rng.pick(&reach.context).clone();
    }
    match rng.below(10) {
        0..=3 => common_expression(rng),
        _ => target_expression(rng, reach),
    }
}

fn common_expression(rng: &mut Rng) -> String {
    rng.pick(&[
        "request.object.metadata.name",
        "request.object.metadata.namespace",
        "request.object.metadata.namespace || 'cluster'",
        "request.object.metadata.labels.app",
        "request.object.metadata.labels.app || ''",
        "request.object.metadata.labels.env || 'none'",
        "request.object.metadata.labels.\"app.kubernetes.io/version\" || '0.0.0'",
        "request.object.metadata.annotations.timeout || '0s'",
        "request.object.metadata.annotations.replicas || '0'",
        "request.object.metadata.annotations.owner",
        "request.object.kind",
        "request.operation",
        "request.operation",
        "request.namespace",
        "request.oldObject.metadata.labels.app || 'none'",
        "request.oldObject.metadata.name",
        "length(request.object.metadata.labels || `{}`)",
        "sort(keys(request.object.metadata.labels || `{}`))",
        "sort(values(request.object.metadata.annotations || `{}`))",
        "to_upper(request.object.metadata.name)",
        "split(request.object.metadata.name, '-')",
        "truncate(request.object.metadata.name, `3`)",
        "starts_with(request.object.metadata.name, 'res-')",
        "regex_match('^res-[0-2]$', request.object.metadata.name)",
        "contains(keys(request.object.metadata.labels || `{}`), 'app')",
        "label_match(`{\"app\": \"web\"}`, request.object.metadata.labels || `{}`)",
        "base64_encode(request.object.metadata.name)",
        "join(',', sort(keys(request.object.metadata.annotations || `{}`)))",
        "to_string(length(request.object.metadata.name))",
        "compare(request.object.metadata.name, 'res-1')",
        "equal_fold(request.object.metadata.labels.app || '', 'WEB')",
        "replace_all(request.object.metadata.name, '-', '_')",
        "pattern_match('res-*', request.object.metadata.name)",
        "lookup(request.object.metadata.labels || `{}`, 'tier')",
        "items(request.object.metadata.labels || `{}`, 'key', 'value')[0].key",
        "sha256(request.object.metadata.name)",
        "path_canonicalize('/a//b/../c')",
        "semver_compare(request.object.metadata.labels.\"app.kubernetes.io/version\" || '0.0.0', '>=1.0.0')",
        "to_number(request.object.metadata.annotations.replicas || '0')",
        "add(to_number(request.object.metadata.annotations.replicas || '0'), `1`)",
        "request.object.metadata.annotations.timeout || '1h'",
        "time_add('2024-01-01T00:00:00Z', request.object.metadata.annotations.timeout || '0s')",
        "regex_replace_all('-[0-9]$', request.object.metadata.name, '')",
        "trim(request.object.metadata.name, 'res-')",
        "modulo(length(request.object.metadata.name), `2`)",
        "round(divide(`10`, `3`), `2`)",
        "object_from_lists(['name'], [request.object.metadata.name])",
        "parse_json('{\"a\": [1, \"x\"]}').a",
        "base64_decode(base64_encode(request.object.metadata.name))",
        "time_diff('2024-01-01T00:00:00Z', '2024-01-02T00:30:00Z')",
        "time_before('2024-01-01T00:00:00Z', request.object.metadata.annotations.created || '2025-01-01T00:00:00Z')",
        "to_lower(request.object.kind)",
        "md5(request.object.metadata.name)",
        "multiply(request.object.metadata.annotations.replicas || '1', '500m')",
        "subtract('1Gi', '512Mi')",
        "sum(['1h', request.object.metadata.annotations.timeout || '0s'])",
        "serviceAccountName",
        "serviceAccountNamespace",
        "request.userInfo.username",
        "request.roles",
        "request.clusterRoles",
        "request.userInfo.groups || `[]`",
    ])
    .to_string()
}

fn target_expression(rng: &mut Rng, reach: &Reach) -> String {
    if reach.has_pod_spec() {
        let spec = reach.pod_spec();
        if rng.chance(15) {
            return rng
                .pick(&[
                    "sort(images.containers.*.tag)",
                    "sort(images.containers.*.registry)",
                    "images.containers.app.tag || ''",
                    "sort(images.containers.*.name)",
                    "sort(images.initContainers.*.path || `[]`)",
                    "length(images.containers.*.digest)",
                ])
                .to_string();
        }
        // `S` stands for the pod spec, wherever the target keeps it.
        let path = *rng.pick(&[
            "S.containers[].name",
            "S.containers[].image",
            "S.containers[0].image",
            "S.containers[0].name",
            "S.containers[?ends_with(image, ':latest')].name",
            "S.hostNetwork || `false`",
            "S.hostNetwork",
            "S.terminationGracePeriodSeconds || `30`",
            "S.terminationGracePeriodSeconds",
            "S.containers[0].resources.limits.memory || '0'",
            "S.containers[0].resources.limits.cpu",
            "S.containers[].resources.requests.memory",
            "S.containers[].securityContext.privileged",
            "S.initContainers[].image || `[]`",
            "S.containers[].ports[].containerPort",
            "max(S.containers[].ports[].containerPort)",
            "S.serviceAccountName || 'default'",
            "S.securityContext.runAsUser || `0`",
            "S.volumes[].hostPath.path || `[]`",
            "length(S.containers[?name == 'app'])",
        ]);
        return path.replace("S.", &format!("{spec}."));
    }
    match reach.target {
        Target::Service => rng.pick(&[
            "request.object.spec.type",
            "request.object.spec.type || 'ClusterIP'",
            "request.object.spec.ports[].port",
            "request.object.spec.ports[0].port",
            "request.object.spec.ports[0].nodePort || `0`",
            "request.object.spec.ports[].targetPort",
            "request.object.spec.externalIPs || `[]`",
            "length(request.object.spec.ports)",
            "sum(request.object.spec.ports[].port)",
        ]),
        Target::ConfigMap => rng.pick(&[
            "request.object.data.timeout",
            "request.object.data.timeout || '0s'",
            "request.object.data.memory || '0'",
            "request.object.data.replicas || '0'",
            "to_number(request.object.data.replicas || '0')",
            "request.object.data.enabled || 'false'",
            "to_boolean(request.object.data.enabled || 'false')",
            "request.object.data.mode",
            "request.object.data.port || '0'",
            "sort(keys(request.object.data || `{}`))",
            "length(request.object.data || `{}`)",
            "multiply(request.object.data.memory || '0', `2`)",
            "divide(request.object.data.memory || '1Mi', '1Mi')",
            "sum([request.object.data.timeout || '0s', '30s'])",
            "request.object.data",
        ]),
        _ => rng.pick(&[
            "request.object.metadata.labels || `{}`",
            "request.object.metadata.annotations.team || ''",
            "sort(keys(request.object.metadata.annotations || `{}`))",
            "request.object.metadata.name",
        ]),
    }
    .to_string()
}

fn element_expression(rng: &mut Rng, element: Element, depth: usize) -> String {
    if depth > 1 && rng.chance(30) {
        // The outer loop's element, by its nesting number.
        return rng
            .pick(&["element0.name || ''", "elementIndex0", "elementIndex1"])
            .to_string();
    }
    match element {
        Element::Container => rng.pick(&[
            "element.name",
            "element.image",
            "element.image || ''",
            "element.imagePullPolicy || 'IfNotPresent'",
            "element.securityContext.privileged || `false`",
            "element.securityContext.runAsUser",
            "element.resources.limits.memory || '0'",
            "element.resources.requests.cpu || '0'",
            "length(element.ports || `[]`)",
            "elementIndex",
            "element.ports[].containerPort || `[]`",
            "split(element.image || ':', ':')[1]",
        ]),
        Element::ContainerPort => rng.pick(&[
            "element.containerPort",
            "element.hostPort || `0`",
            "element.protocol || 'TCP'",
            "elementIndex",
        ]),
        Element::Volume => rng.pick(&[
            "element.name",
            "element.hostPath.path || ''",
            "element.hostPath.path",
            "sort(keys(element))",
        ]),
        Element::ServicePort => rng.pick(&[
            "element.port",
            "element.nodePort || `0`",
            "element.targetPort || element.port",
            "elementIndex",
        ]),
        Element::KeyValue => rng.pick(&["element.key", "element.value", "elementIndex"]),
        Element::Text => rng.pick(&[
            "element",
            "to_upper(element)",
            "length(element)",
            "elementIndex",
        ]),
    }
    .to_string()
}

/// `{{ expression }}`, sometimes with spaces or the shallow marker.
fn variable(rng: &mut Rng, expression: &str) -> String {
    // Kyverno panics on a shallow variable inside a longer string that resolves to anything
    // but a string, which ends its whole run: rare.
    match rng.below(40) {
        0..=23 => format!("{{{{{expression}}}}}"),
        24..=37 => format!("{{{{ {expression} }}}}"),
        _ => format!("{{{{- {expression} }}}}"),
    }
}

/// A message with variables in it.
fn message(rng: &mut Rng, reach: &Reach) -> String {
    let expression_text = expression(rng, reach);
    let first = variable(rng, &expression_text);
    // A message that is one variable resolving to anything but a string makes Kyverno panic
    // when the rule fails: rare.
    match rng.below(16) {
        0..=3 => format!("{first} is not allowed"),
        4..=6 => format!("resource {{{{request.object.metadata.name}}}} fails: {first}."),
        7 => first,
        8..=10 => {
            let expression_text = expression(rng, reach);
            let second = variable(rng, &expression_text);
            format!("{first} / {second}")
        }
        11..=13 => "operation {{request.operation}} on {{request.object.kind}}".to_owned(),
        _ => "no variables here".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

#[derive(Debug, Clone, Copy)]
enum Family {
    Equality,
    Membership,
    Ordering,
    Duration,
}

fn operator(rng: &mut Rng) -> (&'static str, Family) {
    let (name, family) = *rng.pick(&[
        ("Equals", Family::Equality),
        ("NotEquals", Family::Equality),
        ("Equal", Family::Equality),
        ("NotEqual", Family::Equality),
        ("In", Family::Membership),
        ("NotIn", Family::Membership),
        ("AnyIn", Family::Membership),
        ("AllIn", Family::Membership),
        ("AnyNotIn", Family::Membership),
        ("AllNotIn", Family::Membership),
        ("AnyIn", Family::Membership),
        ("AnyNotIn", Family::Membership),
        ("GreaterThan", Family::Ordering),
        ("GreaterThanOrEquals", Family::Ordering),
        ("LessThan", Family::Ordering),
        ("LessThanOrEquals", Family::Ordering),
        ("DurationGreaterThan", Family::Duration),
        ("DurationGreaterThanOrEquals", Family::Duration),
        ("DurationLessThan", Family::Duration),
        ("DurationLessThanOrEquals", Family::Duration),
    ]);
    // Kyverno's evaluator reads operator names without regard to case, but its policy
    // validation refuses them.
    if rng.chance(1) {
        let miscased = *rng.pick(&["equals", "anyin", "GREATERTHAN", "notEquals"]);
        return (miscased, family);
    }
    (name, family)
}

/// A literal operand for an operator of `family`.
fn literal(rng: &mut Rng, family: Family) -> Value {
    match family {
        Family::Equality => rng
            .pick(&[
                json!("web"),
                json!("res-*"),
                json!("res-?"),
                json!("?*"),
                json!("*"),
                json!(""),
                json!("30s"),
                json!("1m"),
                json!("60"),
                json!("1Gi"),
                json!("1024Mi"),
                json!("80"),
                json!("1.0"),
                json!("true"),
                json!("CREATE"),
                json!(80),
                json!(3),
                json!(0),
                json!(1.5),
                json!(60.0),
                json!(true),
                json!(false),
                json!(["web"]),
                json!({"app": "web"}),
                json!("default"),
                json!("nginx:latest"),
            ])
            .clone(),
        Family::Membership => rng
            .pick(&[
                json!(["web", "db"]),
                json!(["res-?", "other"]),
                json!(["res-*"]),
                json!(["CREATE", "UPDATE"]),
                json!(["DELETE"]),
                json!(["latest", "1.25.3", "v1.2.3"]),
                json!(["80", "443"]),
                json!([80, 443, 8080]),
                json!(["*"]),
                json!([]),
                json!("1-100"),
                json!("0-5"),
                json!("5!-10"),
                json!("[\"web\", \"db\"]"),
                json!("web"),
                json!("res-*"),
                json!(80),
                json!(true),
                json!(["app", "env", "team"]),
                json!(["cluster-admin"]),
                json!(["docker.io", "ghcr.io"]),
            ])
            .clone(),
        Family::Ordering => rng
            .pick(&[
                json!("1Gi"),
                json!("512Mi"),
                json!("500m"),
                json!("1"),
                json!(1),
                json!(0),
                json!(-1),
                json!(2.5),
                json!(1024),
                json!("30s"),
                json!("1m30s"),
                json!("1h"),
                json!("1.2.3"),
                json!("v1.2.3"),
                json!("1.10.0"),
                json!("abc"),
                json!("3"),
                json!("10"),
                json!(""),
            ])
            .clone(),
        Family::Duration => rng
            .pick(&[
                json!("30s"),
                json!("1m"),
                json!("1h"),
                json!("90s"),
                json!(60),
                json!("0"),
                json!("5m"),
                json!("abc"),
                json!(0),
            ])
            .clone(),
    }
}

/// One side of a condition: a variable, a string around a variable, or a literal.
fn operand(rng: &mut Rng, reach: &Reach, family: Family, literal_chance: u64) -> Value {
    if rng.chance(literal_chance) {
        return literal(rng, family);
    }
    let expression = expression(rng, reach);
    if rng.chance(12) {
        return json!(format!("x-{}", variable(rng, &expression)));
    }
    json!(variable(rng, &expression))
}

fn condition(rng: &mut Rng, reach: &Reach) -> Value {
    let (operator, family) = operator(rng);
    // Keys are mostly variables; values mostly literals. Literal keys compare types alone.
    let key = operand(rng, reach, family, 12);
    let mut value = operand(rng, reach, family, 80);
    if key == json!("{{request.operation}}") && rng.chance(70) {
        value = rng
            .pick(&[
                json!("CREATE"),
                json!("DELETE"),
                json!(["CREATE", "UPDATE"]),
                json!("UPDATE"),
            ])
            .clone();
    }
    let mut condition = json!({"key": key, "operator": operator, "value": value});
    if rng.chance(20) {
        condition["message"] = json!(message(rng, reach));
    }
    condition
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    Preconditions,
    Deny,
    /// Kyverno's type for these has no legacy list: a list there makes the policy undecodable.
    ForeachPreconditions,
}

/// `{any, all}`, `{any}`, `{all}` or the legacy list. Preconditions may have an empty `any`.
fn conditions(rng: &mut Rng, reach: &Reach, site: Site) -> Value {
    let list = |rng: &mut Rng| -> Value {
        Value::Array(
            (0..rng.between(1, 2))
                .map(|_| condition(rng, reach))
                .collect(),
        )
    };
    let legacy = if site == Site::ForeachPreconditions {
        3
    } else {
        20
    };
    if rng.chance(legacy) {
        return list(rng);
    }
    match rng.below(10) {
        0..=4 => json!({"any": list(rng)}),
        5..=7 => json!({"all": list(rng)}),
        _ if site != Site::Deny && rng.chance(30) => json!({"any": []}),
        _ => json!({"any": list(rng), "all": list(rng)}),
    }
}

// ---------------------------------------------------------------------------------------------
// Context

fn context_entries(rng: &mut Rng, reach: &mut Reach, prefix: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    for index in 0..rng.between(1, 2) {
        let name = if rng.chance(10) {
            format!("{prefix}{index}.sub")
        } else if rng.chance(1) {
            // Kyverno refuses names that shadow its own variables.
            (*rng.pick(&["request", "images", "element"])).to_owned()
        } else {
            format!("{prefix}{index}")
        };
        let mut variable_entry = Map::new();
        match rng.below(10) {
            0..=2 => {
                let value = rng
                    .pick(&[
                        json!("web"),
                        json!(3),
                        json!("1Gi"),
                        json!(["a", "b"]),
                        json!({"app": "web", "limit": "30s"}),
                        json!(true),
                    ])
                    .clone();
                // Kyverno refuses a variable whose value is null and has no jmesPath.
                let value = if rng.chance(5) { Value::Null } else { value };
                variable_entry.insert("value".to_owned(), value);
            }
            3..=4 => {
                let inner = expression(rng, reach);
                let value = if rng.chance(70) {
                    json!(variable(rng, &inner))
                } else {
                    json!({"name": variable(rng, &inner), "fixed": "x"})
                };
                variable_entry.insert("value".to_owned(), value);
                if rng.chance(40) {
                    variable_entry.insert(
                        "jmesPath".to_owned(),
                        json!(rng.pick(&["name", "length(@)", "to_string(@)", "missing", "@"])),
                    );
                }
            }
            _ => {
                variable_entry.insert("jmesPath".to_owned(), json!(expression(rng, reach)));
            }
        }
        // Kyverno refuses a default without a jmesPath.
        let default_chance = if variable_entry.contains_key("jmesPath") {
            40
        } else {
            3
        };
        if rng.chance(default_chance) {
            variable_entry.insert(
                "default".to_owned(),
                rng.pick(&[json!("fallback"), json!(0), json!([]), json!("30s")])
                    .clone(),
            );
        }
        entries.push(json!({"name": name, "variable": variable_entry}));
        reach.context.push(name);
    }
    entries
}

// ---------------------------------------------------------------------------------------------
// Patterns with variables

/// A pattern whose values or keys hold variables. Each is written so that, substituted, it is
/// a pattern the static generator could have written (or a plain equality).
fn templated_pattern(rng: &mut Rng, reach: &Reach) -> Value {
    let mut pattern = Map::new();
    let mut metadata = Map::new();
    for _ in 0..rng.between(1, 2) {
        match rng.below(7) {
            0 => {
                metadata.insert(
                    "name".to_owned(),
                    json!(variable(rng, "request.object.metadata.name")),
                );
            }
            1 => {
                let value = rng.pick(&[
                    "{{request.object.metadata.labels.app}}",
                    "{{request.object.metadata.labels.app || '?*'}}",
                    "!{{request.object.metadata.name}}",
                    "{{ to_string('web') }}",
                    "{{request.object.metadata.labels.tier || 'web'}} | db",
                ]);
                metadata.insert("labels".to_owned(), json!({"app": value}));
            }
            2 => {
                // A variable in a key, under each anchor.
                let key = *rng.pick(&[
                    "{{ to_string('team') }}",
                    "=({{ to_string('team') }})",
                    "X({{ to_string('owner') }})",
                    "({{ to_string('team') }})",
                    "{{request.object.metadata.labels.app || 'app'}}",
                ]);
                // Not null under X(): Kyverno refuses non-string annotation values in a pattern,
                // but looks for them in only one of metadata and spec, in random order.
                let value = if key.starts_with("X(") {
                    json!("?*")
                } else {
                    json!(rng.pick(&["?*", "platform", "plat*"]))
                };
                metadata.insert("annotations".to_owned(), json!({key: value}));
            }
            3 => {
                let expression = expression(rng, reach);
                metadata.insert(
                    "=(annotations)".to_owned(),
                    json!({"=(owner)": variable(rng, &expression)}),
                );
            }
            4 => {
                metadata.insert(
                    "=(namespace)".to_owned(),
                    json!(rng.pick(&[
                        "{{request.namespace}}",
                        "{{request.object.metadata.namespace}}",
                        "!{{serviceAccountNamespace}}",
                    ])),
                );
            }
            5 => {
                metadata.insert(
                    "name".to_owned(),
                    json!(rng.pick(&["{{@}}", "{{ @ }}", "res-{{ to_string(`1`) }}"])),
                );
            }
            _ => {
                metadata.insert(
                    "(name)".to_owned(),
                    json!(rng.pick(&["res-?", "{{request.object.metadata.name}}"])),
                );
                metadata.insert(
                    "labels".to_owned(),
                    json!({"=(env)": "{{request.object.metadata.labels.env || '*'}}"}),
                );
            }
        }
    }
    if !metadata.is_empty() && (!reach.has_pod_spec() || rng.chance(40)) {
        pattern.insert("metadata".to_owned(), Value::Object(metadata));
    }
    if reach.has_pod_spec() {
        let spec = templated_pod_spec(rng);
        let spec = match reach.target {
            Target::Controller("CronJob") => {
                json!({"jobTemplate": {"spec": {"template": {"spec": spec}}}})
            }
            Target::Controller(_) => json!({"template": {"spec": spec}}),
            _ => spec,
        };
        pattern.insert("spec".to_owned(), spec);
    } else if reach.target == Target::ConfigMap && rng.chance(70) {
        let value = rng
            .pick(&[
                json!({"=(timeout)": "<{{request.object.metadata.annotations.timeout || '1h'}}"}),
                json!({"=(replicas)": "{{ to_string(`3`) }}"}),
                json!({"=(memory)": "<={{ to_string('2Gi') }}"}),
                json!({"=(mode)": "{{request.object.metadata.labels.app || 'strict'}}"}),
                json!({"(enabled)": "true", "replicas": "?*"}),
                json!({"=(port)": "{{ to_string(`8080`) }} | 0"}),
            ])
            .clone();
        pattern.insert("=(data)".to_owned(), value);
    } else if reach.target == Target::Service {
        pattern.insert(
            "spec".to_owned(),
            rng.pick(&[
                json!({"=(type)": "{{ to_string('ClusterIP') }} | NodePort"}),
                json!({"ports": [{"port": ">={{ length(request.object.spec.ports) }}"}]}),
                json!({"ports": [{"=(nodePort)": "<{{ to_string(`32000`) }}"}]}),
            ])
            .clone(),
        );
    }
    if pattern.is_empty() {
        pattern.insert("metadata".to_owned(), json!({"name": "?*"}));
    }
    Value::Object(pattern)
}

fn templated_pod_spec(rng: &mut Rng) -> Value {
    let mut spec = Map::new();
    match rng.below(6) {
        0 => {
            spec.insert(
                "containers".to_owned(),
                json!([{"name": rng.pick(&["{{ to_string('?*') }}", "{{request.object.metadata.labels.app || '*'}}", "!{{ to_string('istio-proxy') }}"])}]),
            );
        }
        1 => {
            spec.insert(
                "containers".to_owned(),
                json!([{"=(image)": rng.pick(&["!*:{{ to_string('latest') }}", "*:*", "{{ images.containers.app.registry || '*' }}/*"])}]),
            );
        }
        2 => {
            spec.insert(
                "=(terminationGracePeriodSeconds)".to_owned(),
                json!(rng.pick(&[
                    "<={{ to_number('60') }}",
                    "{{ to_number('30') }}",
                    ">{{ length(request.object.metadata.name) }}",
                ])),
            );
        }
        3 => {
            spec.insert(
                "=(hostNetwork)".to_owned(),
                json!(rng.pick(&[
                    "{{ not_null(`false`) }}",
                    "{{ to_string(`false`) }}",
                    "{{ `false` }}"
                ])),
            );
        }
        4 => {
            spec.insert(
                "=(serviceAccountName)".to_owned(),
                json!(rng.pick(&[
                    "{{ serviceAccountName || '*' }}",
                    "!{{request.object.metadata.name}}"
                ])),
            );
        }
        _ => {
            spec.insert(
                "containers".to_owned(),
                json!([{"=(resources)": {"=(limits)": {"=(memory)": rng.pick(&["<={{ to_string('1Gi') }}", "<{{ request.object.metadata.annotations.replicas || '2' }}Gi"])}}}]),
            );
        }
    }
    Value::Object(spec)
}

// ---------------------------------------------------------------------------------------------
// foreach

/// The lists a foreach may walk for `reach`, with what their elements are.
fn foreach_list(rng: &mut Rng, reach: &Reach) -> (String, Element) {
    if let Some(Element::Container) = reach.elements.last() {
        if rng.chance(70) {
            return (
                (*rng.pick(&["element.ports", "element.ports || `[]`", "element.ports[]"]))
                    .to_owned(),
                Element::ContainerPort,
            );
        }
    }
    if reach.has_pod_spec() {
        let spec = reach.pod_spec();
        let (path, element) = *rng.pick(&[
            ("containers", Element::Container),
            ("containers", Element::Container),
            ("initContainers", Element::Container),
            ("containers[?name != 'sidecar']", Element::Container),
            ("containers[].ports[]", Element::ContainerPort),
            ("containers[].image", Element::Text),
            ("volumes", Element::Volume),
            ("ephemeralContainers", Element::Container),
        ]);
        return (format!("{spec}.{path}"), element);
    }
    let (list, element) = *rng.pick(&[
        (
            "items(request.object.metadata.labels || `{}`, 'key', 'value')",
            Element::KeyValue,
        ),
        (
            "sort(keys(request.object.metadata.annotations || `{}`))",
            Element::Text,
        ),
        (
            "`[null, {\"key\": \"app\", \"value\": \"web\"}, null]`",
            Element::KeyValue,
        ),
        ("request.object.metadata.labels", Element::KeyValue),
        ("request.object.metadata.missing", Element::Text),
    ]);
    match reach.target {
        Target::Service if rng.chance(70) => {
            let (list, element) = *rng.pick(&[
                ("request.object.spec.ports", Element::ServicePort),
                ("request.object.spec.externalIPs", Element::Text),
            ]);
            (list.to_owned(), element)
        }
        Target::ConfigMap if rng.chance(70) => (
            (*rng.pick(&[
                "items(request.object.data, 'key', 'value')",
                "items(request.object.data || `{}`, 'key', 'value')",
                "sort(values(request.object.data || `{}`))",
            ]))
            .to_owned(),
            Element::KeyValue,
        ),
        _ => (list.to_owned(), element),
    }
}

fn foreach(rng: &mut Rng, outer: &Reach, nesting: usize) -> Value {
    let (list, element) = foreach_list(rng, outer);
    let mut reach = outer.clone();
    reach.elements.push(element);
    let mut each = Map::new();
    each.insert("list".to_owned(), json!(list));
    if rng.chance(35) {
        each.insert(
            "elementScope".to_owned(),
            json!(rng.pick(&[true, false, true])),
        );
    }
    if rng.chance(15) {
        let entries = context_entries(rng, &mut reach, &format!("e{nesting}_"));
        each.insert("context".to_owned(), Value::Array(entries));
    }
    if rng.chance(30) {
        each.insert(
            "preconditions".to_owned(),
            conditions(rng, &reach, Site::ForeachPreconditions),
        );
    }
    let scoped =
        each.get("elementScope") != Some(&json!(false)) && !matches!(element, Element::Text);
    let check = match rng.below(10) {
        0..=3 => "deny",
        4..=5 => "pattern",
        6 => "anyPattern",
        _ if nesting == 0 => "foreach",
        _ => "deny",
    };
    match check {
        "deny" => {
            each.insert(
                "deny".to_owned(),
                json!({"conditions": conditions(rng, &reach, Site::Deny)}),
            );
        }
        "pattern" => {
            let pattern = element_pattern(rng, element, scoped, &reach);
            each.insert("pattern".to_owned(), pattern);
        }
        "anyPattern" => {
            let patterns = (0..2)
                .map(|_| element_pattern(rng, element, scoped, &reach))
                .collect();
            each.insert("anyPattern".to_owned(), Value::Array(patterns));
        }
        _ => {
            each.insert(
                "foreach".to_owned(),
                json!([foreach(rng, &reach, nesting + 1)]),
            );
        }
    }
    Value::Object(each)
}

/// A pattern for one element (when the element is in scope), else for the whole resource.
fn element_pattern(rng: &mut Rng, element: Element, scoped: bool, reach: &Reach) -> Value {
    if !scoped {
        return templated_pattern(rng, reach);
    }
    match element {
        Element::Container => {
            if rng.chance(30) {
                json!({"name": "{{element.name}}", "=(image)": rng.pick(&["!*:latest", "?*", "{{ element.image }}"])})
            } else {
                container_pattern(rng)
            }
        }
        Element::ContainerPort => {
            let field = *rng.pick(&["containerPort", "=(hostPort)", "=(protocol)"]);
            let number = integer_pattern(rng);
            let value = rng
                .pick(&[number, json!("TCP"), json!("<{{ to_number('1024') }}")])
                .clone();
            json!({ field: value })
        }
        Element::Volume => {
            json!({"=(hostPath)": {"path": rng.pick(&["!/var/run/docker.sock", "/data", "{{element.hostPath.path}}"])}})
        }
        Element::ServicePort => {
            let port = integer_pattern(rng);
            let node_port = boolean_pattern(rng);
            let node_port = rng.pick(&[json!(">30000"), node_port]).clone();
            json!({"port": port, "=(nodePort)": node_port})
        }
        Element::KeyValue => {
            json!({"key": rng.pick(&["?*", "app", "!tier", "{{ element.key }}"]), "=(value)": rng.pick(&["?*", "web | db", "", "30s"])})
        }
        Element::Text => json!("?*"),
    }
}
