//! `--output json`: the public JSON contract documented in the README. One entry per (policy,
//! rule, resource) that applied, and a summary; fields are only ever added, never changed.

use super::super::input::{InputError, Inputs};
use super::super::{CheckReport, Finding};
use super::{Format, PolicyOrigin, Totals, pretty_at};
use crate::policy::{LoadError, LoadErrorKind};
use serde_json::json;
use std::io::{self, Write};

/// Writes the document as it goes: `policies` first, then each result as its chunk comes, then
/// `errors` and `summary`, which need the whole run. Members are formatted as
/// `serde_json::to_string_pretty` would format the whole document.
pub struct Json<'a> {
    origin: PolicyOrigin<'a>,
    results: usize,
}

impl<'a> Json<'a> {
    pub fn new(origin: PolicyOrigin<'a>) -> Self {
        Self { origin, results: 0 }
    }

    fn policies(&self) -> serde_json::Value {
        let origin = &self.origin;
        json!({
            "source": if origin.paths.is_some() { "files" } else { "embedded" },
            "paths": origin.paths.unwrap_or_default().iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
            "loaded": origin.loaded,
            "refused": origin.refused.iter().map(refused).collect::<Vec<_>>(),
        })
    }
}

impl Format for Json<'_> {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for finding in &report.findings {
            if self.results == 0 {
                write!(
                    out,
                    "{{\n  \"policies\": {},\n  \"results\": [",
                    pretty_at(&self.policies(), 2)
                )?;
            } else {
                out.write_all(b",")?;
            }
            write!(out, "\n    {}", pretty_at(&result(finding, inputs), 4))?;
            self.results += 1;
        }
        Ok(())
    }

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
        if self.results == 0 {
            write!(
                out,
                "{{\n  \"policies\": {},\n  \"results\": []",
                pretty_at(&self.policies(), 2)
            )?;
        } else {
            out.write_all(b"\n  ]")?;
        }
        let errors: Vec<_> = totals.errors.iter().map(error).collect();
        let summary = &totals.summary;
        let summary = json!({
            "pass": summary.pass,
            "fail": summary.fail,
            "warn": summary.warn,
            "error": summary.error,
            "skip": summary.skip,
        });
        writeln!(
            out,
            ",\n  \"errors\": {},\n  \"summary\": {}\n}}",
            pretty_at(&serde_json::Value::Array(errors), 2),
            pretty_at(&summary, 2)
        )
    }
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
