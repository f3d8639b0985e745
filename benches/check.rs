//! `check` throughput: 10,000 generated Deployments in one multi-document stream against 20
//! policies, compared in the same run with merely parsing the same YAML.
//!
//! `cargo bench --bench check` prints resources per second and the ratio of each `check` run
//! (read + parse + evaluate + locate + free, on a rayon pool of 1 and of 2 threads) to a
//! sequential `yaml::parse_documents` of the same text, freed again. Best of several rounds, to
//! shed noise from other processes on the machine.

use portcullis::check::{self, input, progress::Progress};
use portcullis::policy::{self, PolicySet};
use portcullis::yaml;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The allocator the `portcullis` binary uses, so the figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RESOURCES: usize = 10_000;
const ROUNDS: usize = 10;

fn deployment(index: usize) -> String {
    let tag = if index % 10 == 0 { "latest" } else { "1.4.2" };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{index}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: app-{index}
    team: team-{team}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{index}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{index}
    spec:
      serviceAccountName: app-{index}
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: app
        image: registry.example.com/team-{team}/app-{index}:{tag}
        ports:
        - containerPort: 8080
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        readinessProbe:
          httpGet:
            path: /ready
            port: 8080
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
      - name: proxy
        image: registry.example.com/mesh/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        resources:
          limits:
            memory: 64Mi
",
        team = index % 17
    )
}

/// 20 policies in the shapes of the Kyverno library's best-practice and Pod Security policies.
fn policies() -> Vec<String> {
    let patterns = [
        ("containers:\n          - image: \"!*:latest\"", "no-latest"),
        (
            "containers:\n          - resources:\n              limits:\n                memory: \"?*\"",
            "memory-limits",
        ),
        (
            "containers:\n          - resources:\n              requests:\n                cpu: \"?*\"",
            "cpu-requests",
        ),
        (
            "containers:\n          - readinessProbe:\n              =(periodSeconds): \">0\"",
            "readiness",
        ),
        ("=(hostNetwork): false", "host-network"),
        ("=(hostPID): false", "host-pid"),
        ("=(hostIPC): false", "host-ipc"),
        (
            "containers:\n          - =(securityContext):\n              =(privileged): false",
            "privileged",
        ),
        (
            "containers:\n          - =(securityContext):\n              =(allowPrivilegeEscalation): false",
            "escalation",
        ),
        (
            "=(securityContext):\n            =(runAsNonRoot): true",
            "non-root",
        ),
        (
            "containers:\n          - image: \"registry.example.com/*\"",
            "registry",
        ),
        (
            "=(volumes):\n          - X(hostPath): \"null\"",
            "host-path",
        ),
        (
            "containers:\n          - =(ports):\n              - =(hostPort): 0",
            "host-ports",
        ),
        (
            "=(securityContext):\n            =(seccompProfile):\n              =(type): \"RuntimeDefault | Localhost\"",
            "seccomp",
        ),
        (
            "containers:\n          - =(securityContext):\n              =(readOnlyRootFilesystem): true",
            "read-only-root",
        ),
        ("containers:\n          - name: \"?*\"", "named-containers"),
        ("=(serviceAccountName): \"!default\"", "service-account"),
        (
            "containers:\n          - =(securityContext):\n              =(capabilities):\n                =(add): \"null\"",
            "capabilities",
        ),
    ];
    let mut policies: Vec<String> = patterns
        .iter()
        .map(|(pattern, name)| {
            format!(
                "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  validationFailureAction: Enforce
  rules:
  - name: {name}
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: \"{name} failed\"
      pattern:
        spec:
          {pattern}
"
            )
        })
        .collect();
    for name in ["disallow-latest-tag.yaml", "require-image-digest.yaml"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(name);
        policies.push(std::fs::read_to_string(path).expect("default policy"));
    }
    policies
}

/// Times one run, returning the elapsed time and the run's result.
fn timed<T>(run: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = run();
    (start.elapsed(), value)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut stream = String::new();
    for index in 0..RESOURCES {
        let _ = write!(stream, "---\n{}", deployment(index));
    }
    let manifests = dir.path().join("manifests.yaml");
    std::fs::write(&manifests, &stream).expect("write manifests");
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir(&policy_dir).expect("policy dir");
    for (index, policy) in policies().iter().enumerate() {
        std::fs::write(policy_dir.join(format!("{index}.yaml")), policy).expect("write policy");
    }
    let set: PolicySet = policy::load_paths(&[policy_dir]).expect("policies load");
    assert_eq!(set.policies.len(), 20);
    println!(
        "{RESOURCES} Deployments ({} lines, {:.1} MiB) x {} policies ({} rules); best of {ROUNDS}",
        stream.lines().count(),
        stream.len() as f64 / (1024.0 * 1024.0),
        set.policies.len(),
        set.rule_count()
    );

    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            (threads, pool)
        })
        .collect();
    let check_once = |pool: &rayon::ThreadPool| {
        pool.install(|| {
            let inputs = input::read_with(
                std::slice::from_ref(&manifests),
                || Ok(String::new()),
                &input::ReadOptions::default(),
                &Progress::hidden(),
            );
            assert_eq!(inputs.manifests.len(), RESOURCES);
            check::run(&set, &inputs).findings.len()
        })
    };
    // Each round times all three runs back to back, so that the best of each faced the same
    // load from other processes and their ratios compare. Both parsing alone and `check` free
    // what they built inside the timed region, as the command does before it exits.
    let mut parse = Duration::MAX;
    let mut checks = vec![(Duration::MAX, 0); pools.len()];
    for _ in 0..ROUNDS {
        let (elapsed, documents) =
            timed(|| yaml::parse_documents(&stream).expect("valid YAML").len());
        assert_eq!(documents, RESOURCES);
        parse = parse.min(elapsed);
        for ((_, pool), best) in pools.iter().zip(&mut checks) {
            let (elapsed, findings) = timed(|| check_once(pool));
            *best = (best.0.min(elapsed), findings);
        }
    }
    println!("parse only (yaml::parse_documents + free, 1 thread): {parse:>10.1?}");
    for ((threads, _), (elapsed, findings)) in pools.iter().zip(checks) {
        println!(
            "check -j {threads} (read + parse + evaluate + free): {elapsed:>10.1?}  {:>8.0} resources/s  {:.2}x parse  ({findings} results)",
            RESOURCES as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() / parse.as_secs_f64()
        );
    }
}
