//! Fixtures both test binaries use (`tests/it` and the end-to-end `tests/e2e`, each including
//! this file as a module): repository paths, a Pod, and `deploy/` as kustomize renders it.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn pod(name: &str, namespace: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(index, image)| json!({"name": format!("c{index}"), "image": image}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": "5d6c7a3e-0000-4000-8000-000000000001"},
        "spec": {"containers": containers, "restartPolicy": "Always"},
    })
}

/// The objects of a YAML stream, without empty documents; `origin` names it in errors.
pub fn yaml_objects(text: &str, origin: &str) -> Vec<Value> {
    portcullis::yaml::parse_documents(text)
        .unwrap_or_else(|error| panic!("{origin} is not valid YAML: {error}"))
        .into_iter()
        .map(|document| document.value)
        .filter(|value| !value.is_null())
        .collect()
}

/// `kubectl kustomize dir`: the text it prints.
pub fn kustomize(dir: &Path) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 render")
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The dev overlay in a copy of `deploy/` and `policies/` under `scratch`, with the generated
/// inputs the real `portcullis certs --kustomize` writes; `scratch` must outlive its use.
pub fn dev_overlay(scratch: &Path) -> PathBuf {
    for folder in ["deploy", "policies"] {
        copy_tree(&repo_path(folder), &scratch.join(folder));
    }
    let overlay = scratch.join("deploy/overlays/dev");
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("certs")
        .arg("--dir")
        .arg(scratch.join("certs-dev"))
        .arg("--kustomize")
        .arg(&overlay)
        .output()
        .expect("run portcullis certs");
    assert!(
        output.status.success(),
        "portcullis certs --kustomize: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    overlay
}
