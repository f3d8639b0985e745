//! `--output sarif`: SARIF 2.1.0 as GitHub code scanning reads it. Rule ids are `policy/rule`;
//! each failure, warning and evaluation error is a result with the file, line and column of the
//! offending field (columns count Unicode code points, as the YAML front end does); inputs that
//! could not be read are tool execution notifications, and make the invocation unsuccessful.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{Format, RenderOptions, Severity, Totals, file, pretty_at, resource, rule_id};
use crate::policy::PolicySet;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, Write};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Writes the log as it goes: the tool and every rule of the policy set first (sorted, so rule
/// indices depend on the policies only), each result as its chunk comes, then the invocation,
/// whose notifications need the whole run.
pub struct Sarif {
    options: RenderOptions,
    rules: Vec<Value>,
    index: BTreeMap<String, usize>,
    started: bool,
    results: usize,
}

impl Sarif {
    pub fn new(options: RenderOptions, set: &PolicySet) -> Self {
        let mut rules: BTreeMap<String, Value> = BTreeMap::new();
        for policy in &set.policies {
            for rule in policy.rules.iter().chain(&policy.autogen_rules) {
                let id = format!("{}/{}", policy.name, rule.name);
                let description = rule
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("rule {} of policy {}", rule.name, policy.name));
                rules.entry(id.clone()).or_insert_with(|| {
                    json!({
                        "id": id,
                        "name": id,
                        "shortDescription": {"text": description},
                        "defaultConfiguration": {"level": "error"},
                        "properties": {"policy": policy.name, "rule": rule.name},
                    })
                });
            }
        }
        let index = rules
            .keys()
            .enumerate()
            .map(|(position, id)| (id.clone(), position))
            .collect();
        Self {
            options,
            rules: rules.into_values().collect(),
            index,
            started: false,
            results: 0,
        }
    }

    fn start(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let tool = json!({"driver": {
            "name": "portcullis",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": env!("CARGO_PKG_HOMEPAGE"),
            "rules": std::mem::take(&mut self.rules),
        }});
        write!(
            out,
            "{{\n  \"$schema\": \"{SCHEMA}\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {},\n      \"columnKind\": \"unicodeCodePoints\",\n      \"results\": [",
            pretty_at(&tool, 6)
        )
    }
}

impl Format for Sarif {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.start(out)?;
        for finding in &report.findings {
            let level = match Severity::of(finding, self.options.gate) {
                Severity::Failure | Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Passed | Severity::Skipped => continue,
            };
            let id = rule_id(finding);
            let manifest = &inputs.manifests[finding.manifest];
            let mut result = json!({
                "ruleId": id,
                "ruleIndex": self.index.get(id.as_str()).copied().unwrap_or_default(),
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
            if self.results > 0 {
                out.write_all(b",")?;
            }
            write!(out, "\n        {}", pretty_at(&result, 8))?;
            self.results += 1;
        }
        Ok(())
    }

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
        self.start(out)?;
        let notifications: Vec<Value> = totals
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
        let invocations = json!([{
            "executionSuccessful": totals.errors.is_empty(),
            "toolExecutionNotifications": notifications,
        }]);
        if self.results > 0 {
            out.write_all(b"\n      ")?;
        }
        writeln!(
            out,
            "],\n      \"invocations\": {}\n    }}\n  ]\n}}",
            pretty_at(&invocations, 6)
        )
    }
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
