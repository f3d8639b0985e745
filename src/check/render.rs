//! Report formats of `check`: human text and the machine-readable JSON contract.

use super::input::Inputs;
use super::{CheckReport, Finding};
use crate::eval::Status;
use serde_json::json;
use std::fmt::Write as _;

/// `file:line:col: result Kind namespace/name: policy/rule: message`, then a summary line.
pub fn text(report: &CheckReport<'_>, inputs: &Inputs, show_passes: bool) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        if !show_passes && matches!(finding.status, Status::Pass | Status::Skip) {
            continue;
        }
        let manifest = &inputs.manifests[finding.manifest];
        let file = &inputs.files[manifest.file].name;
        let action = if finding.status == Status::Fail {
            format!(" ({})", finding.action.as_str())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{file}:{}:{}: {}{action} {} {}: {}/{}: {}",
            finding.location.line,
            finding.location.column,
            finding.status,
            manifest.gvk.kind,
            resource_name(&manifest.namespace, &manifest.name),
            finding.policy.name,
            finding.rule.name,
            finding.outcome.message()
        );
    }
    let summary = report.summary();
    let _ = writeln!(
        out,
        "{} resources in {} files: pass {}, fail {}, warn {}, error {}, skip {}",
        inputs.manifests.len(),
        inputs.files.len(),
        summary.pass,
        summary.fail,
        summary.warn,
        summary.error,
        summary.skip
    );
    out
}

fn resource_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// The public JSON schema: one entry per (policy, rule, resource) that applied, and a summary.
pub fn json(report: &CheckReport<'_>, inputs: &Inputs) -> String {
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|finding| json_result(finding, inputs))
        .collect();
    let summary = report.summary();
    let document = json!({
        "results": results,
        "summary": {
            "pass": summary.pass,
            "fail": summary.fail,
            "warn": summary.warn,
            "error": summary.error,
            "skip": summary.skip,
        },
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

fn json_result(finding: &Finding<'_>, inputs: &Inputs) -> serde_json::Value {
    let manifest = &inputs.manifests[finding.manifest];
    json!({
        "policy": finding.policy.name,
        "rule": finding.rule.name,
        "kind": manifest.gvk.kind,
        "apiVersion": manifest.gvk.api_version(),
        "namespace": manifest.namespace,
        "name": manifest.name,
        "result": finding.status.as_str(),
        "message": finding.outcome.message(),
        "action": finding.action.as_str(),
        "file": inputs.files[manifest.file].name,
        "line": finding.location.line,
        "column": finding.location.column,
        "path": finding.outcome.path().map(|path| path.pointer()),
    })
}
