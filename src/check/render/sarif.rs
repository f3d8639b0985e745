//! `--output sarif`: SARIF 2.1.0 as GitHub code scanning reads it. Rule ids are `policy/rule`;
//! each failure, warning and evaluation error is a result with the file, line and column of the
//! offending field (columns count Unicode code points, as the YAML front end does); inputs that
//! could not be read are tool execution notifications, and make the invocation unsuccessful.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{RenderOptions, Severity, file, resource, rule_id};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(report: &CheckReport<'_>, inputs: &Inputs, options: &RenderOptions) -> String {
    // Every rule that applied to something, sorted, so rule indices do not depend on the input.
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    for finding in &report.findings {
        rules.entry(rule_id(finding)).or_insert_with(|| {
            let description = finding.rule.message.clone().unwrap_or_else(|| {
                format!(
                    "rule {} of policy {}",
                    finding.rule.name, finding.policy.name
                )
            });
            json!({
                "id": rule_id(finding),
                "name": rule_id(finding),
                "shortDescription": {"text": description},
                "defaultConfiguration": {"level": "error"},
                "properties": {"policy": finding.policy.name, "rule": finding.rule.name},
            })
        });
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(position, id)| (id.as_str(), position))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .filter_map(|finding| {
            let level = match Severity::of(finding, options.gate) {
                Severity::Failure | Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Passed | Severity::Skipped => return None,
            };
            let id = rule_id(finding);
            let manifest = &inputs.manifests[finding.manifest];
            let mut result = json!({
                "ruleId": id,
                "ruleIndex": index.get(id.as_str()).copied().unwrap_or_default(),
                "level": level,
                "message": {"text": format!("{}: {}", resource(finding, inputs), finding.outcome.message())},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(file(finding, inputs))},
                        "region": {
                            "startLine": finding.location.line,
                            "startColumn": finding.location.column,
                        },
                    },
                    "logicalLocations": [{
                        "name": manifest.name,
                        "fullyQualifiedName": format!("{}/{}", manifest.gvk.kind, super::resource_name(&manifest.namespace, &manifest.name)),
                        "kind": "resource",
                    }],
                }],
                "properties": {
                    "result": finding.status.as_str(),
                    "action": finding.action.as_str(),
                },
            });
            if let Some(path) = finding.outcome.path() {
                result["properties"]["path"] = Value::String(path.pointer());
            }
            Some(result)
        })
        .collect();
    let notifications: Vec<Value> = inputs
        .errors
        .iter()
        .map(|error| {
            let mut physical = json!({"artifactLocation": {"uri": uri(&error.file)}});
            if let Some(location) = error.location {
                physical["region"] =
                    json!({"startLine": location.line, "startColumn": location.column});
            }
            json!({
                "level": "error",
                "message": {"text": error.to_string()},
                "locations": [{"physicalLocation": physical}],
            })
        })
        .collect();
    let document = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "portcullis",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "invocations": [{
                "executionSuccessful": inputs.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// A file name as a URI reference: relative paths stay relative (code scanning resolves them
/// against the repository root), absolute ones become `file://` URIs; anything outside the
/// unreserved set and `/` is percent-encoded.
fn uri(name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(byte).to_string()
            }
            byte => format!("%{byte:02X}"),
        })
        .collect();
    let relative = encoded.strip_prefix("./").unwrap_or(&encoded);
    if relative.starts_with('/') {
        format!("file://{relative}")
    } else {
        relative.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn file_names_become_uri_references() {
        assert_eq!(uri("apps/web/deploy.yaml"), "apps/web/deploy.yaml");
        assert_eq!(uri("./apps/web.yaml"), "apps/web.yaml");
        assert_eq!(uri("/repo/apps/a b.yaml"), "file:///repo/apps/a%20b.yaml");
        assert_eq!(uri("apps/ü#1.yaml"), "apps/%C3%BC%231.yaml");
        assert_eq!(uri("-"), "-");
    }
}
