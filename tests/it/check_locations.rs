//! Where `check` says a problem is: the file, line and column of the offending field (or the
//! nearest node above a missing one) through multi-document files, empty and comment-only
//! documents and `List` items; documents parsed in parallel pieces agree with a whole-stream
//! parse; YAML 1.1 scalars arrive in the object as kubectl would send them.

use crate::fixtures::{load, repo_path};
use portcullis::check::progress::Progress;
use portcullis::check::{self, Finding, input};
use portcullis::yaml::{self, Location};
use serde_json::json;
use std::path::PathBuf;

fn read(relative: &str) -> input::Inputs {
    let inputs = input::read(&[repo_path(relative)], || Ok(String::new()));
    assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
    inputs
}

fn at(line: usize, column: usize) -> Location {
    Location { line, column }
}

fn find<'r, 'p>(report: &'r check::CheckReport<'p>, rule: &str) -> &'r Finding<'p> {
    report
        .findings
        .iter()
        .find(|finding| finding.rule.name == rule)
        .unwrap_or_else(|| panic!("no finding for {rule}"))
}

#[test]
fn a_violation_deep_in_a_multi_document_file_points_at_its_field() {
    let set = load(&["policies", "tests/fixtures/policies-gitops"]);
    let inputs = read("tests/fixtures/repo/apps/web/workloads.yaml");
    // A comment-only document and an empty one, then the Service and the Deployment.
    let documents = &inputs.files[0].documents;
    assert_eq!(documents.len(), 4);
    assert!(documents[0].value.is_null() && documents[1].value.is_null());
    assert_eq!(
        inputs
            .manifests
            .iter()
            .map(|manifest| (manifest.document, manifest.gvk.kind.as_str()))
            .collect::<Vec<_>>(),
        [(2, "Service"), (3, "Deployment")]
    );
    assert_eq!(documents[3].start, at(17, 1), "the `---` that opens it");

    let report = check::run(&set, &inputs);
    let digest = find(&report, "autogen-require-digest");
    assert_eq!(
        digest.outcome.path().map(|path| path.pointer()).as_deref(),
        Some("/spec/template/spec/containers/1/image")
    );
    assert_eq!(digest.location, at(42, 16));
}

#[test]
fn a_violation_inside_a_list_item_points_into_that_item() {
    let set = load(&["policies", "tests/fixtures/policies-gitops"]);
    let inputs = read("tests/fixtures/repo/apps/list.yaml");
    let bases: Vec<String> = inputs
        .manifests
        .iter()
        .map(|manifest| manifest.base.pointer())
        .collect();
    assert_eq!(bases, ["/items/0", "/items/1"]);

    let report = check::run(&set, &inputs);
    let latest = find(&report, "require-digest");
    assert_eq!(latest.manifest, 1);
    assert_eq!(latest.location, at(21, 14));
    // The missing `resources` of container 0: the nearest node is the container itself.
    let limits = find(&report, "memory-limit");
    assert_eq!(
        limits.outcome.path().map(|path| path.pointer()).as_deref(),
        Some("/spec/containers/0/resources")
    );
    assert_eq!(limits.location, at(18, 7));
}

#[test]
fn a_missing_field_points_at_the_nearest_node_above_it() {
    let set = load(&["policies", "tests/fixtures/policies-gitops"]);
    let inputs = input::read(
        &[
            repo_path("tests/fixtures/repo/namespaces.yaml"),
            repo_path("tests/fixtures/repo/apps/web/cronjob.yaml"),
        ],
        || Ok(String::new()),
    );
    let report = check::run(&set, &inputs);
    let team = find(&report, "team-label-in-production");
    assert_eq!(
        team.outcome.path().map(|path| path.pointer()).as_deref(),
        Some("/metadata/labels")
    );
    assert_eq!(
        team.location,
        at(4, 3),
        "the `metadata` mapping starts at its first key"
    );
    let untagged = find(&report, "autogen-cronjob-require-image-tag");
    assert_eq!(untagged.location, at(15, 20));
}

/// Streams whose document boundaries are easy to get wrong when splitting at `---`.
const TRICKY_STREAMS: [&str; 8] = [
    "a: 1\n---\nb: 2\n",
    "# only a comment\n---\n---\n\n---\n# comment\n...\n---\nc: 3",
    "--- |\n  text\n  --- indented, not a marker\n---\nd: [1,\n  2]\n",
    "e: |\n  ---x\n  more\n--- # a comment after the marker\nf: 1\r\n---\r\ng: 2\r\n",
    "...\n---\nh: 1\n...\ni: 2\n",
    "%YAML 1.1\n---\nj: 1\n---\nk: 2\n",
    "--- &anchor\nl: 1\n---\nm: {n: 1}\n---\n- 1\n- 2\n",
    "",
];

#[test]
fn documents_parsed_in_pieces_equal_a_whole_stream_parse() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut texts: Vec<(PathBuf, String)> = TRICKY_STREAMS
        .iter()
        .enumerate()
        .map(|(index, text)| (dir.path().join(format!("{index}.yaml")), text.to_string()))
        .collect();
    for fixture in [
        "apps/web/workloads.yaml",
        "apps/list.yaml",
        "namespaces.yaml",
    ] {
        let path = repo_path("tests/fixtures/repo").join(fixture);
        let text = std::fs::read_to_string(&path).expect("fixture");
        texts.push((path, text));
    }
    for (path, text) in &texts {
        std::fs::write(dir.path().join("copy.yaml"), text).expect("write");
        let whole = yaml::parse_documents(text).expect("valid stream");
        // Most of these streams hold no Kubernetes object; only their parse is compared.
        let options = input::ReadOptions {
            allow_empty: true,
            ..input::ReadOptions::default()
        };
        let inputs = input::read_with(
            &[dir.path().join("copy.yaml")],
            || Ok(String::new()),
            &options,
            &Progress::hidden(),
        );
        assert!(
            inputs.errors.is_empty(),
            "{}: {:?}",
            path.display(),
            inputs.errors
        );
        // `check` adds the default namespace to namespaced objects; compare before that.
        let pieces = &inputs.files[0].documents;
        assert_eq!(pieces.len(), whole.len(), "{}", path.display());
        for (piece, whole) in pieces.iter().zip(&whole) {
            assert_eq!(piece.index, whole.index, "{}", path.display());
            assert_eq!(piece.start, whole.start, "{}", path.display());
            assert_eq!(
                format!("{:?}", piece.source_map),
                format!("{:?}", whole.source_map),
                "{}",
                path.display()
            );
            if inputs.manifests.is_empty() {
                assert_eq!(piece.value, whole.value, "{}", path.display());
            }
        }
    }
}

#[test]
fn an_error_in_a_later_piece_has_its_line_in_the_whole_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "a: 1\n---\nb: 2\n---\nc: [unclosed\n").expect("write");
    let inputs = input::read(std::slice::from_ref(&path), || Ok(String::new()));
    let whole =
        yaml::parse_documents(&std::fs::read_to_string(&path).expect("read")).expect_err("invalid");
    assert_eq!(
        inputs.errors,
        [input::InputError::new(
            path.display().to_string(),
            Some(whole.location),
            format!("invalid YAML: {}", whole.message)
        )]
    );
    assert_eq!(whole.location.line, 6);
}

#[test]
fn yaml_1_1_scalars_resolve_as_kubectl_sends_them() {
    let inputs = read("tests/fixtures/scalars/pod-yaml11.yaml");
    let pod = inputs.object(&inputs.manifests[0]);
    assert_eq!(pod["spec"]["enableServiceLinks"], json!(true), "yes");
    assert_eq!(pod["spec"]["hostNetwork"], json!(true), "on");
    assert_eq!(
        pod["spec"]["terminationGracePeriodSeconds"],
        json!(1000),
        "1e3"
    );
    assert_eq!(pod["spec"]["priorityClassName"], json!(null), "~");
    assert_eq!(
        pod["spec"]["volumes"][0]["secret"]["defaultMode"],
        json!(493),
        "0755"
    );

    let inputs = read("tests/fixtures/scalars/pod-quoted.yaml");
    let pod = inputs.object(&inputs.manifests[0]);
    assert_eq!(pod["spec"]["enableServiceLinks"], json!("yes"));
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], json!("1e3"));
    assert_eq!(pod["spec"]["priorityClassName"], json!("~"));
    assert_eq!(
        pod["spec"]["volumes"][0]["secret"]["defaultMode"],
        json!("0755")
    );
}

#[test]
fn kustomizations_and_non_objects_are_skipped_with_a_note_but_objects_are_kept() {
    let inputs = read("tests/fixtures/repo");
    let kinds: Vec<&str> = inputs
        .manifests
        .iter()
        .map(|manifest| manifest.gvk.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Deployment",
            "ConfigMap",
            "Pod",
            "CronJob",
            "Service",
            "Deployment",
            "Application",
            "Namespace",
            "Namespace"
        ]
    );
    assert!(
        inputs
            .notes
            .iter()
            .any(|note| note.contains("kustomization.yaml:1: skipped document 1: Kustomization")),
        "{:?}",
        inputs.notes
    );
    // Without renderers, the kustomize tree is read as written and the chart is not read.
    assert_eq!(inputs.warnings.len(), 2, "{:?}", inputs.warnings);
    assert!(
        inputs.warnings[0].ends_with("apps/web: a kustomization, not rendered: neither kubectl nor kustomize is on PATH (--kustomize-bin names one); its files are checked as written"),
        "{:?}",
        inputs.warnings
    );
    assert!(
        inputs.warnings[1].ends_with("charts/web: a Helm chart, not checked: helm is not on PATH to render it (or check `helm template` output on standard input)"),
        "{:?}",
        inputs.warnings
    );
}
