//! `--output junit`: JUnit XML for CI test reports. One `<testsuite>` per input file and one
//! `<testcase>` per resource × rule that applied, named `policy/rule` in class `Kind ns/name`.
//! A testcase fails exactly when its result fails the run under the gate in force, so the
//! report and the exit code agree; an Audit failure is a passing testcase whose output says so.
//! Inputs that could not be read are error testcases of a suite named `inputs`.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{Format, RenderOptions, Severity, Totals, file, resource, rule_id};
use std::io::{self, Seek as _, Write};

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

/// Test cases are written to temporary files as they come, because every `<testsuite>` and the
/// `<testsuites>` around them open with counts known only once their cases are all written.
pub struct Junit {
    options: RenderOptions,
    /// The suite being written: its file name, counts and cases.
    suite: Option<(String, Counts, std::fs::File)>,
    /// The suites closed so far.
    body: std::fs::File,
    total: Counts,
}

impl Junit {
    pub fn new(options: RenderOptions) -> io::Result<Self> {
        Ok(Self {
            options,
            suite: None,
            body: tempfile::tempfile()?,
            total: Counts::default(),
        })
    }

    fn close_suite(&mut self) -> io::Result<()> {
        let Some((name, counts, mut cases)) = self.suite.take() else {
            return Ok(());
        };
        writeln!(
            self.body,
            "  <testsuite name=\"{}\" {}>",
            escape(&name),
            counts.attributes()
        )?;
        cases.rewind()?;
        io::copy(&mut cases, &mut self.body)?;
        self.body.write_all(b"  </testsuite>\n")?;
        self.total.tests += counts.tests;
        self.total.failures += counts.failures;
        self.total.errors += counts.errors;
        self.total.skipped += counts.skipped;
        Ok(())
    }
}

impl Format for Junit {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        _out: &mut dyn Write,
    ) -> io::Result<()> {
        for finding in &report.findings {
            let name = file(finding, inputs);
            if self
                .suite
                .as_ref()
                .is_none_or(|(current, _, _)| current != name)
            {
                self.close_suite()?;
                self.suite = Some((name.to_owned(), Counts::default(), tempfile::tempfile()?));
            }
            let Some((_, counts, cases)) = self.suite.as_mut() else {
                continue;
            };
            let severity = Severity::of(finding, self.options.gate);
            counts.add(severity);
            let where_ = format!("{name}:{}", finding.location);
            let message = finding.outcome.message();
            let detail = format!("{where_}: {}: {message}", resource(finding, inputs));
            write!(
                cases,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                escape(&rule_id(finding)),
                escape(&resource(finding, inputs)),
                escape(name),
                finding.location.line
            )?;
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
                None => cases.write_all(b"/>\n")?,
                Some(body) => write!(cases, ">\n{body}    </testcase>\n")?,
            }
        }
        Ok(())
    }

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
        self.close_suite()?;
        if !totals.errors.is_empty() {
            let mut cases = String::new();
            for error in &totals.errors {
                let line = error
                    .location
                    .map(|location| format!(" line=\"{}\"", location.line))
                    .unwrap_or_default();
                cases.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"inputs\" file=\"{}\"{line}>\n{}    </testcase>\n",
                    escape(&error.file),
                    escape(&error.file),
                    element("error", "input", &error.message, &error.to_string())
                ));
            }
            let errors = totals.errors.len();
            write!(
                self.body,
                "  <testsuite name=\"inputs\" tests=\"{errors}\" failures=\"0\" errors=\"{errors}\" skipped=\"0\">\n{cases}  </testsuite>\n"
            )?;
            self.total.tests += errors;
            self.total.errors += errors;
        }
        write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"portcullis check\" {}>\n",
            self.total.attributes()
        )?;
        self.body.rewind()?;
        io::copy(&mut self.body, out)?;
        out.write_all(b"</testsuites>\n")
    }
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
