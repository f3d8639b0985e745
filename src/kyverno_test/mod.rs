//! `portcullis test`: runs Kyverno CLI test suites (`kyverno-test.yaml`) against our engine.
//!
//! Each expectation `{policy, rule, resources, result}` is compared the way `kyverno test`
//! compares it (rule names match their autogen forms; a rule that produced no response satisfies
//! any expectation), except that a policy we cannot evaluate is reported as *unsupported* by
//! feature name rather than passed.

use crate::check::input::{self, Inputs, Manifest};
use crate::cli::{TestArgs, TestOutput};
use crate::eval::{self, Request, Status};
use crate::file_environment::{self, ApiCallMock, Cluster, FileEnvironment};
use crate::matching::UserInfo;
use crate::policy::{self, LoadErrorKind, PolicySet};
use crate::printable::printable;
use crate::walk::{self, Hidden, Kind};
mod json;
pub mod values;

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use values::{Values, load_user_info, read_documents};

const TEST_FILE_NAMES: [&str; 2] = ["kyverno-test.yaml", "kyverno-test.yml"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestSpec {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Value>,
    /// The pre-1.11 format names the test at the top level.
    name: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    variables: Option<String>,
    userinfo: Option<String>,
    #[serde(default)]
    results: Vec<ExpectedResult>,
    values: Option<Value>,
    #[serde(default)]
    exceptions: Vec<String>,
    target_resources: Option<Value>,
    json_payload: Option<Value>,
    json_payloads: Option<Value>,
    http_payloads: Option<Value>,
    envoy_payloads: Option<Value>,
    param_resources: Option<Value>,
    cluster_resources: Option<Value>,
    context: Option<Value>,
    api_call_responses: Option<Value>,
    global_context_entries: Option<Value>,
    check: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpectedResult {
    policy: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resources: Vec<String>,
    result: Option<String>,
    operation: Option<String>,
    is_validating_admission_policy: Option<bool>,
    is_validating_policy: Option<bool>,
    is_mutating_admission_policy: Option<bool>,
    is_mutating_policy: Option<bool>,
    is_generating_policy: Option<bool>,
    is_deleting_policy: Option<bool>,
    is_image_validating_policy: Option<bool>,
    fail_on_missing_resources: Option<bool>,
    resource_specs: Option<Value>,
    patched_resources: Option<String>,
    generated_resources: Option<Value>,
    // The pre-1.11 spellings.
    resource: Option<String>,
    status: Option<String>,
    namespace: Option<String>,
    patched_resource: Option<String>,
    generated_resource: Option<String>,
    cloned_source_resource: Option<String>,
}

/// One expectation of one test for one resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub test_file: PathBuf,
    pub policy: String,
    pub rule: String,
    pub resource: String,
    pub expected: String,
    pub verdict: Verdict,
    /// Every rule response compared with the expectation: what the engine actually gave.
    pub observed: Vec<Observed>,
}

/// One rule response for one resource, as `kyverno test` compares it with an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The response's rule name: `autogen-` forms included.
    pub rule: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `pass`, `fail`, `warn`, `skip` or `error`.
    pub result: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Mismatch(String),
    /// The test could not run: unreadable files, invalid policies or resources.
    Error(String),
    /// The policy uses features Portcullis does not evaluate; named here.
    Unsupported(Vec<String>),
}

/// Finds test files under each path (hidden `.kyverno-test` folders included), sorted.
pub fn find_test_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        walk::files(path, Hidden::Enter, &mut found, |entry, kind| {
            kind == Kind::Dir
                || entry
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| TEST_FILE_NAMES.contains(&name))
        })
        .map_err(|error| error.source)?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// What a run of tests fixes for every test: the clock and seed of JMESPath functions.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    pub jmespath: crate::jmespath::Environment,
}

/// Runs every test of one test file on the system clock and fresh randomness.
pub fn run_file(test_file: &Path) -> Vec<CaseResult> {
    run_file_with(test_file, &TestOptions::default())
}

/// Runs every test of one test file.
pub fn run_file_with(test_file: &Path, options: &TestOptions) -> Vec<CaseResult> {
    let error = |message: String| {
        vec![CaseResult {
            test_file: test_file.to_owned(),
            policy: String::new(),
            rule: String::new(),
            resource: String::new(),
            expected: String::new(),
            verdict: Verdict::Error(message),
            observed: Vec::new(),
        }]
    };
    let documents = match read_documents(test_file) {
        Ok(documents) => documents,
        Err(message) => return error(message),
    };
    let mut results = Vec::new();
    for document in documents
        .iter()
        .filter(|document| !document.value.is_null())
    {
        match serde_path_to_error::deserialize::<_, TestSpec>(&document.value) {
            Ok(spec) => results.extend(run_test(test_file, &spec, options)),
            Err(cause) => results.extend(error(format!(
                "line {}: not a Kyverno test: {} at {}",
                document.start.line,
                cause.inner(),
                cause.path()
            ))),
        }
    }
    results
}

fn run_test(test_file: &Path, spec: &TestSpec, test_options: &TestOptions) -> Vec<CaseResult> {
    let _ = (&spec.api_version, &spec.kind, &spec.metadata, &spec.name);
    let base = test_file.parent().unwrap_or(Path::new("."));
    let expectations = expand_expectations(spec);
    let verdict_for_all = |verdict: Verdict| -> Vec<CaseResult> {
        expectations
            .iter()
            .map(|(expected, resource)| {
                case(test_file, expected, resource, (verdict.clone(), Vec::new()))
            })
            .collect()
    };
    // A test's `context` file feeds only CEL policies, which are reported by their kind.
    let _ = &spec.context;
    let mut unsupported: Vec<String> = [
        ("targetResources", spec.target_resources.is_some()),
        ("jsonPayload", spec.json_payload.is_some()),
        ("jsonPayloads", spec.json_payloads.is_some()),
        ("httpPayloads", spec.http_payloads.is_some()),
        ("envoyPayloads", spec.envoy_payloads.is_some()),
        ("paramResources", spec.param_resources.is_some()),
        (
            "globalContextEntries",
            spec.global_context_entries.is_some(),
        ),
        ("check", spec.check.is_some()),
        (
            "results by resourceSpecs",
            spec.results
                .iter()
                .any(|expected| expected.resource_specs.is_some()),
        ),
        (
            "patched or generated resources",
            spec.results.iter().any(|expected| {
                expected.patched_resource.is_some()
                    || expected.patched_resources.is_some()
                    || expected.generated_resource.is_some()
                    || expected.generated_resources.is_some()
                    || expected.cloned_source_resource.is_some()
            }),
        ),
    ]
    .into_iter()
    .filter(|(_, present)| *present)
    .map(|(feature, _)| feature.to_owned())
    .collect();
    // Inline values take the place of a values file, as in Kyverno.
    let values = match (&spec.values, &spec.variables) {
        (Some(inline), _) => {
            Values::from_inline(inline, &format!("{}: values", test_file.display()))
        }
        (None, Some(file)) => Values::load(&base.join(file)),
        (None, None) => Ok(Values::default()),
    };
    let values = match values {
        Ok(values) => values,
        Err(message) => return verdict_for_all(Verdict::Error(message)),
    };
    let mocks = match &spec.api_call_responses {
        Some(entries) => match ApiCallMock::parse_all(entries) {
            Ok(mocks) => mocks,
            Err(message) => {
                return verdict_for_all(Verdict::Error(format!(
                    "{}: {message}",
                    test_file.display()
                )));
            }
        },
        None => Vec::new(),
    };
    let cluster_files: Vec<String> = match &spec.cluster_resources {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => match serde_json::from_value(value.clone()) {
            Ok(files) => files,
            Err(error) => {
                return verdict_for_all(Verdict::Error(format!(
                    "{}: clusterResources: expected a list of file names: {error}",
                    test_file.display()
                )));
            }
        },
    };
    let user = match &spec.userinfo {
        Some(file) => match load_user_info(&base.join(file)) {
            Ok(user) => Some(user),
            Err(message) => return verdict_for_all(Verdict::Error(message)),
        },
        None => None,
    };
    let policy_paths: Vec<PathBuf> = spec.policies.iter().map(|path| base.join(path)).collect();
    let exception_paths: Vec<PathBuf> =
        spec.exceptions.iter().map(|path| base.join(path)).collect();
    let loaded = policy::load_paths(&policy_paths).and_then(|set| {
        let exceptions = policy::load::load_exception_paths(&exception_paths)?;
        policy::load::with_exceptions(set, exceptions)
    });
    let set = match loaded {
        Ok(set) => Some(set),
        Err(errors) => {
            let features: Vec<String> = errors
                .iter()
                .filter_map(|error| match &error.kind {
                    LoadErrorKind::Unsupported { feature, .. } => Some(feature.clone()),
                    _ => None,
                })
                .collect();
            if features.len() == errors.len() {
                unsupported.extend(features);
                None
            } else {
                let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return verdict_for_all(Verdict::Error(messages.join("; ")));
            }
        }
    };
    if !unsupported.is_empty() {
        unsupported.sort();
        unsupported.dedup();
        return verdict_for_all(Verdict::Unsupported(unsupported));
    }
    let Some(set) = set else {
        return verdict_for_all(Verdict::Error("no policies loaded".to_owned()));
    };
    let resource_paths: Vec<PathBuf> = spec.resources.iter().map(|path| base.join(path)).collect();
    // A test names its resources; one that finds none fails on its expectations instead.
    let options = input::ReadOptions {
        allow_empty: true,
        ..input::ReadOptions::default()
    };
    let mut inputs = input::read_with(
        &resource_paths,
        || Ok(String::new()),
        &options,
        &crate::check::progress::Progress::hidden(),
    );
    if !inputs.errors.is_empty() {
        let errors: Vec<String> = inputs.errors.iter().map(ToString::to_string).collect();
        return verdict_for_all(Verdict::Error(errors.join("; ")));
    }
    prepare_like_kyverno_cli(&mut inputs);
    // With cluster resources Kyverno's fake cluster also holds the test's own resources.
    let cluster = if cluster_files.is_empty() {
        None
    } else {
        let mut cluster = Cluster::default();
        for manifest in &inputs.manifests {
            cluster.add(inputs.object(manifest).clone());
        }
        for file in &cluster_files {
            if let Err(message) =
                file_environment::load_cluster_resources(&base.join(file), base, &mut cluster)
            {
                return verdict_for_all(Verdict::Error(message));
            }
        }
        Some(cluster)
    };
    let environment = FileEnvironment {
        jmespath: test_options.jmespath.clone(),
        values,
        cluster,
        mocks,
    };
    expectations
        .iter()
        .map(|(expected, resource)| {
            let verdict = judge(
                &set,
                &inputs,
                &environment,
                user.as_ref(),
                expected,
                resource,
            );
            case(test_file, expected, resource, verdict)
        })
        .collect()
}

fn case(
    test_file: &Path,
    expected: &ExpectedResult,
    resource: &str,
    (verdict, observed): (Verdict, Vec<Observed>),
) -> CaseResult {
    CaseResult {
        test_file: test_file.to_owned(),
        policy: expected.policy.clone(),
        rule: expected.rule.clone(),
        resource: resource.to_owned(),
        expected: expected_status(expected).to_owned(),
        verdict,
        observed,
    }
}

fn expected_status(expected: &ExpectedResult) -> &str {
    expected
        .result
        .as_deref()
        .or(expected.status.as_deref())
        .unwrap_or("")
}

/// Every (expectation, resource name) pair; old-format `resource` + `namespace` become `ns/name`.
fn expand_expectations(spec: &TestSpec) -> Vec<(&ExpectedResult, String)> {
    let mut pairs = Vec::new();
    for expected in &spec.results {
        // Which engine a result is for follows from the policy documents, which are loaded (or
        // refused as unsupported) by their own kind.
        let _ = (
            &expected.kind,
            &expected.is_validating_admission_policy,
            &expected.is_validating_policy,
            &expected.is_mutating_admission_policy,
            &expected.is_mutating_policy,
            &expected.is_generating_policy,
            &expected.is_deleting_policy,
            &expected.is_image_validating_policy,
            &expected.fail_on_missing_resources,
        );
        for name in &expected.resources {
            pairs.push((expected, name.clone()));
        }
        // Kyverno compares a result that names no resource with every resource (or payload) of
        // the test; the empty name stands for all of them.
        if expected.resources.is_empty() && expected.resource.is_none() {
            pairs.push((expected, String::new()));
        }
        if let Some(name) = &expected.resource {
            let name = match &expected.namespace {
                Some(namespace) if !namespace.is_empty() => format!("{namespace}/{name}"),
                _ => name.clone(),
            };
            pairs.push((expected, name));
        }
    }
    pairs
}

/// What `kyverno test` does to manifests before evaluating them: every number becomes a float
/// (which changes how wildcard patterns read numbers), null labels, annotations and the like
/// become empty maps, and a resource is evaluated once per group, kind, namespace and name.
fn prepare_like_kyverno_cli(inputs: &mut Inputs) {
    let mut seen = HashSet::new();
    let manifests = std::mem::take(&mut inputs.manifests);
    for manifest in manifests {
        let key = (
            manifest.gvk.group.clone(),
            manifest.gvk.kind.clone(),
            manifest.namespace.clone(),
            manifest.name.clone(),
        );
        if seen.insert(key) {
            inputs.manifests.push(manifest);
        }
    }
    for file in &mut inputs.files {
        for document in &mut file.documents {
            normalise_like_kyverno_cli(&mut document.value);
        }
    }
}

/// Map fields Kyverno's CLI turns from null into `{}` when it reads a manifest (Helm charts
/// write `labels:` with nothing after it).
const NULL_MEANS_EMPTY_MAP: [&str; 6] = [
    "annotations",
    "labels",
    "matchLabels",
    "nodeSelector",
    "data",
    "stringData",
];

/// Every number a float, as Kyverno's CLI reads JSON.
pub(crate) fn normalise_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().and_then(serde_json::Number::from_f64) {
                *number = float;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_numbers),
        Value::Object(map) => map.values_mut().for_each(normalise_numbers),
        _ => {}
    }
}

fn normalise_like_kyverno_cli(value: &mut Value) {
    match value {
        Value::Number(_) => normalise_numbers(value),
        Value::Array(items) => items.iter_mut().for_each(normalise_like_kyverno_cli),
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if field.is_null() && NULL_MEANS_EMPTY_MAP.contains(&key.as_str()) {
                    *field = Value::Object(serde_json::Map::new());
                } else {
                    normalise_like_kyverno_cli(field);
                }
            }
        }
        _ => {}
    }
}

fn judge(
    set: &PolicySet,
    inputs: &Inputs,
    environment: &FileEnvironment,
    user: Option<&UserInfo>,
    expected: &ExpectedResult,
    resource: &str,
) -> (Verdict, Vec<Observed>) {
    let policy_name = expected
        .policy
        .rsplit('/')
        .next()
        .unwrap_or(&expected.policy);
    // The policy alone: what it sees of a resource depends on the values fixed for it.
    let policy = PolicySet {
        policies: set
            .policies
            .iter()
            .filter(|policy| policy.name == policy_name)
            .cloned()
            .collect(),
        exceptions: set.exceptions.clone(),
    };
    if policy.policies.is_empty() {
        return (
            Verdict::Mismatch(format!("policy {policy_name:?} not found")),
            Vec::new(),
        );
    }
    let named = |name: &str, manifest: &Manifest| match name.split_once('/') {
        Some((namespace, name)) => manifest.namespace == namespace && manifest.name == name,
        None => name.is_empty() || manifest.name == name,
    };
    let candidates: Vec<&Manifest> = inputs
        .manifests
        .iter()
        .filter(|manifest| named(resource, manifest))
        .collect();
    // Kyverno falls back to other resources when a name matches none, and its own CI requires
    // such a test to fail; an expectation about a resource that was never evaluated is an error.
    if candidates.is_empty() {
        let message = if resource.is_empty() {
            "the test loads no resources".to_owned()
        } else {
            format!("resource {resource:?} is not among the test's resources")
        };
        return (Verdict::Error(message), Vec::new());
    }
    let explicit_operation = match expected.operation.as_deref() {
        None | Some("") => None,
        Some(text @ ("CREATE" | "UPDATE" | "DELETE")) => Some(Value::String(text.to_owned())),
        Some(text) => {
            return (
                Verdict::Error(format!(
                    "invalid operation {text:?}, must be one of CREATE, UPDATE, DELETE"
                )),
                Vec::new(),
            );
        }
    };
    let environment = environment.with_operation(explicit_operation.as_ref());
    let want = expected_status(expected);
    let mut problems = Vec::new();
    let mut observed = Vec::new();
    for manifest in candidates {
        let shaped = environment.shape(
            policy_name,
            &manifest.name,
            &manifest.gvk,
            inputs.object(manifest),
        );
        let labels = match namespace_labels(environment.files(), manifest) {
            Ok(labels) => labels,
            Err(message) => return (Verdict::Error(message), observed),
        };
        let request = Request {
            operation: shaped.operation,
            gvk: &shaped.gvk,
            subresource: &shaped.subresource,
            object: &shaped.object,
            old_object: &shaped.old_object,
            namespace: &manifest.namespace,
            namespace_labels: Some(&labels),
            unknown_namespace_hint: "",
            user,
            admission: false,
            admission_request: None,
            environment: &environment,
        };
        let report = eval::evaluate(&policy, &request);
        for result in &report.results {
            let rule = result.rule.name.as_str();
            let wanted_rule = expected.rule.is_empty()
                || rule == expected.rule
                || rule == format!("autogen-{}", expected.rule)
                || rule == format!("autogen-cronjob-{}", expected.rule);
            if !wanted_rule {
                continue;
            }
            let got = match result.outcome.status() {
                Status::Fail if !result.policy.scored => Status::Warn,
                status => status,
            };
            if got.as_str() != want {
                problems.push(format!(
                    "{} {}/{}: rule {rule} gave {got}: {}",
                    manifest.gvk.kind,
                    manifest.namespace,
                    manifest.name,
                    result.outcome.message()
                ));
            }
            observed.push(Observed {
                rule: rule.to_owned(),
                kind: manifest.gvk.kind.clone(),
                namespace: manifest.namespace.clone(),
                name: manifest.name.clone(),
                result: got.as_str().to_owned(),
                message: result.outcome.message().to_owned(),
            });
        }
    }
    let verdict = if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Mismatch(problems.join("; "))
    };
    (verdict, observed)
}

/// The labels of the resource's namespace, as the Kyverno CLI finds them for a test: from the
/// values, else, with cluster resources, from the Namespace object there, which must then exist.
fn namespace_labels(
    files: &FileEnvironment,
    manifest: &Manifest,
) -> Result<BTreeMap<String, String>, String> {
    let labels = files
        .values
        .namespace_labels
        .get(&manifest.namespace)
        .cloned()
        .unwrap_or_default();
    let Some(cluster) = &files.cluster else {
        return Ok(labels);
    };
    if !labels.is_empty() || manifest.gvk.kind == "Namespace" || manifest.namespace.is_empty() {
        return Ok(labels);
    }
    let namespace = cluster.namespace(&manifest.namespace).ok_or_else(|| {
        format!(
            "failed to get the resource's namespace (namespaces {:?} not found): with \
             clusterResources, the Kyverno CLI reads namespace labels from a Namespace object \
             there unless the values give them",
            manifest.namespace
        )
    })?;
    Ok(crate::matching::labels_of(
        namespace.pointer("/metadata/labels"),
    ))
}

/// The `portcullis test` command: a line per case, a summary, and the exit code.
pub fn run_cli(args: &TestArgs) -> ExitCode {
    let files = match find_test_files(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: cannot search for test files: {error}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("error: no kyverno-test.yaml found under the given paths");
        return ExitCode::from(2);
    }
    let options = TestOptions {
        jmespath: args.functions.environment(),
    };
    if args.output == TestOutput::Json {
        let cases: Vec<CaseResult> = files
            .iter()
            .flat_map(|file| run_file_with(file, &options))
            .collect();
        println!("{}", json::render(&cases));
        let count = |wanted: fn(&Verdict) -> bool| {
            cases.iter().filter(|case| wanted(&case.verdict)).count()
        };
        return exit_code(
            count(|verdict| matches!(verdict, Verdict::Mismatch(_) | Verdict::Error(_))),
            count(|verdict| matches!(verdict, Verdict::Unsupported(_))),
            args.allow_unsupported,
        );
    }
    let (mut passed, mut failed, mut errors) = (0usize, 0usize, 0usize);
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut unsupported_cases = 0usize;
    for file in &files {
        for case in run_file_with(file, &options) {
            let label = format!(
                "{} {}/{} {}",
                file.display(),
                case.policy,
                case.rule,
                case.resource
            );
            let label = printable(&label);
            match &case.verdict {
                Verdict::Pass => {
                    passed += 1;
                    if args.verbose {
                        println!("PASS        {label} (expected {})", case.expected);
                    }
                }
                Verdict::Mismatch(why) => {
                    failed += 1;
                    println!(
                        "FAIL        {label}: expected {}; {}",
                        case.expected,
                        printable(why)
                    );
                }
                Verdict::Error(why) => {
                    errors += 1;
                    println!("ERROR       {label}: {}", printable(why));
                }
                Verdict::Unsupported(features) => {
                    unsupported_cases += 1;
                    for feature in features {
                        *unsupported.entry(feature.clone()).or_default() += 1;
                    }
                    println!("UNSUPPORTED {label}: uses {}", features.join(", "));
                }
            }
        }
    }
    for (feature, count) in &unsupported {
        println!("unsupported feature {feature}: {count} case(s)");
    }
    println!(
        "{} test files: {passed} cases agree, {failed} disagree, {errors} errors, {unsupported_cases} unsupported",
        files.len()
    );
    println!("{passed} passed, {} failed", failed + errors);
    exit_code(failed + errors, unsupported_cases, args.allow_unsupported)
}

fn exit_code(failed: usize, unsupported: usize, allow_unsupported: bool) -> ExitCode {
    if failed > 0 || (unsupported > 0 && !allow_unsupported) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
