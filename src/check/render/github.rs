//! `--output github`: GitHub Actions workflow commands, which the runner turns into annotations
//! on the pull request's files: `::error` for what fails the run, `::warning` for what the gate
//! lets through, and a closing `::notice` with the summary. Every line is a command.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{RenderOptions, Severity, file, resource, rule_id, summary_line};
use std::fmt::Write as _;

pub fn render(report: &CheckReport<'_>, inputs: &Inputs, options: &RenderOptions) -> String {
    let mut out = String::new();
    for error in &inputs.errors {
        let mut place = format!("file={}", property(&error.file));
        if let Some(location) = error.location {
            let _ = write!(place, ",line={},col={}", location.line, location.column);
        }
        let _ = writeln!(
            out,
            "::error {place},title={}::{}",
            property("portcullis check: input error"),
            data(&error.message)
        );
    }
    for finding in &report.findings {
        let command = match Severity::of(finding, options.gate) {
            Severity::Failure | Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Passed | Severity::Skipped => continue,
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title={}::{}: {}",
            property(file(finding, inputs)),
            finding.location.line,
            finding.location.column,
            property(&rule_id(finding)),
            data(&resource(finding, inputs)),
            data(finding.outcome.message())
        );
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        property("portcullis check"),
        data(&summary_line(report, inputs))
    );
    out
}

/// The message part of a command.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A `key=value` property, where `:` and `,` would end the value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(
            data("100% done\r\nnext: a, b"),
            "100%25 done%0D%0Anext: a, b"
        );
        assert_eq!(property("a:b,c%\nd"), "a%3Ab%2Cc%25%0Ad");
    }
}
