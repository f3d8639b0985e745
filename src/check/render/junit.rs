//! `--output junit`: JUnit XML for CI test reports. One `<testsuite>` per input file and one
//! `<testcase>` per resource × rule that applied, named `policy/rule` in class `Kind ns/name`.
//! A testcase fails exactly when its result fails the run under the gate in force, so the
//! report and the exit code agree; an Audit failure is a passing testcase whose output says so.
//! Inputs that could not be read are error testcases of a suite named `inputs`.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{RenderOptions, Severity, file, resource, rule_id};
use std::fmt::Write as _;

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, severity: Severity) {
        self.tests += 1;
        match severity {
            Severity::Failure => self.failures += 1,
            Severity::Error => self.errors += 1,
            Severity::Skipped => self.skipped += 1,
            Severity::Warning | Severity::Passed => {}
        }
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

pub fn render(report: &CheckReport<'_>, inputs: &Inputs, options: &RenderOptions) -> String {
    let mut total = Counts::default();
    let mut suites = String::new();
    let mut findings = report.findings.iter().peekable();
    while let Some(first) = findings.peek() {
        let suite_file = inputs.report_file(&inputs.manifests[first.manifest]);
        let mut counts = Counts::default();
        let mut cases = String::new();
        while let Some(finding) = findings.next_if(|finding| {
            inputs.report_file(&inputs.manifests[finding.manifest]) == suite_file
        }) {
            let severity = Severity::of(finding, options.gate);
            counts.add(severity);
            let name = file(finding, inputs);
            let where_ = format!("{name}:{}", finding.location);
            let message = finding.outcome.message();
            let detail = format!("{where_}: {}: {message}", resource(finding, inputs));
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                escape(&rule_id(finding)),
                escape(&resource(finding, inputs)),
                escape(name),
                finding.location.line
            );
            let kind = format!("{} ({})", finding.status, finding.action.as_str());
            let body = match severity {
                Severity::Passed => None,
                Severity::Failure => Some(element("failure", &kind, message, &detail)),
                Severity::Error => Some(element("error", "error", message, &detail)),
                Severity::Skipped => Some(format!(
                    "      <skipped message=\"{}\"/>\n",
                    escape(message)
                )),
                Severity::Warning => Some(format!(
                    "      <system-out>warning: {} {}</system-out>\n",
                    escape(&kind),
                    escape(&detail)
                )),
            };
            match body {
                None => cases.push_str("/>\n"),
                Some(body) => {
                    let _ = write!(cases, ">\n{body}    </testcase>\n");
                }
            }
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" {}>\n{cases}  </testsuite>\n",
            escape(&inputs.files[suite_file].name),
            counts.attributes()
        );
        total.tests += counts.tests;
        total.failures += counts.failures;
        total.errors += counts.errors;
        total.skipped += counts.skipped;
    }
    if !inputs.errors.is_empty() {
        let mut cases = String::new();
        for error in &inputs.errors {
            let line = error
                .location
                .map(|location| format!(" line=\"{}\"", location.line))
                .unwrap_or_default();
            let _ = write!(
                cases,
                "    <testcase name=\"{}\" classname=\"inputs\" file=\"{}\"{line}>\n{}    </testcase>\n",
                escape(&error.file),
                escape(&error.file),
                element("error", "input", &error.message, &error.to_string())
            );
        }
        let errors = inputs.errors.len();
        let _ = write!(
            suites,
            "  <testsuite name=\"inputs\" tests=\"{errors}\" failures=\"0\" errors=\"{errors}\" skipped=\"0\">\n{cases}  </testsuite>\n"
        );
        total.tests += errors;
        total.errors += errors;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"portcullis check\" {}>\n{suites}</testsuites>\n",
        total.attributes()
    )
}

fn element(tag: &str, kind: &str, message: &str, detail: &str) -> String {
    format!(
        "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n",
        escape(message),
        escape(kind),
        escape(detail)
    )
}

/// Escapes text for an attribute or element, dropping what XML 1.0 cannot carry at all
/// (control characters other than tab and line breaks).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_quotes_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(escape("line\nnext\ttab"), "line&#10;next&#9;tab");
        assert_eq!(escape("bell\u{7}"), "bell\u{FFFD}");
    }
}
