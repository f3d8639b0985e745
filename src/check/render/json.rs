//! `--output json`: the public JSON contract documented in the README. One entry per (policy,
//! rule, resource) that applied, and a summary; fields are only ever added, never changed.

use super::super::input::{InputError, Inputs};
use super::super::{CheckReport, Finding};
use super::PolicyOrigin;
use crate::policy::{LoadError, LoadErrorKind};
use serde_json::json;

pub fn render(report: &CheckReport<'_>, inputs: &Inputs, policies: &PolicyOrigin<'_>) -> String {
    let results: Vec<_> = report
        .findings
        .iter()
        .map(|finding| result(finding, inputs))
        .collect();
    let errors: Vec<_> = inputs.errors.iter().map(error).collect();
    let summary = report.summary(inputs);
    let document = json!({
        "policies": {
            "source": if policies.paths.is_some() { "files" } else { "embedded" },
            "paths": policies.paths.unwrap_or_default().iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
            "loaded": policies.loaded,
            "refused": policies.refused.iter().map(refused).collect::<Vec<_>>(),
        },
        "results": results,
        "errors": errors,
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

fn result(finding: &Finding<'_>, inputs: &Inputs) -> serde_json::Value {
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
        "file": super::file_of(manifest, inputs),
        "line": finding.location.line,
        "column": finding.location.column,
        "path": finding.outcome.path().map(|path| path.pointer()),
    })
}

fn error(error: &InputError) -> serde_json::Value {
    json!({
        "file": error.file,
        "line": error.location.map(|location| location.line),
        "column": error.location.map(|location| location.column),
        "message": error.message,
    })
}

fn refused(error: &LoadError) -> serde_json::Value {
    let (feature, policy, rule) = match &error.kind {
        LoadErrorKind::Unsupported {
            feature,
            policy,
            rule,
        } => (feature.as_str(), policy.as_str(), rule.as_str()),
        _ => ("", "", ""),
    };
    json!({
        "policy": policy,
        "rule": rule,
        "feature": feature,
        "file": error.file.display().to_string(),
        "line": error.location.map(|location| location.line),
        "message": error.to_string(),
    })
}
