//! `--output github`: GitHub Actions workflow commands, which the runner turns into annotations
//! on the pull request's files: `::error` for what fails the run, `::warning` for what the gate
//! lets through, and a closing `::notice` with the summary. Every line is a command.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{Format, RenderOptions, Severity, Totals, file, resource, rule_id};
use std::io::{self, Write};

pub struct Github {
    options: RenderOptions,
}

impl Github {
    pub fn new(options: RenderOptions) -> Self {
        Self { options }
    }
}

impl Format for Github {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for error in &inputs.errors {
            let mut place = format!("file={}", property(&error.file));
            if let Some(location) = error.location {
                place.push_str(&format!(",line={},col={}", location.line, location.column));
            }
            writeln!(
                out,
                "::error {place},title={}::{}",
                property("portcullis check: input error"),
                data(&error.message)
            )?;
        }
        for finding in &report.findings {
            let command = match Severity::of(finding, self.options.gate) {
                Severity::Failure | Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Passed | Severity::Skipped => continue,
            };
            writeln!(
                out,
                "::{command} file={},line={},col={},title={}::{}: {}",
                property(file(finding, inputs)),
                finding.location.line,
                finding.location.column,
                property(&rule_id(finding)),
                data(&resource(finding, inputs)),
                data(finding.outcome.message())
            )?;
        }
        Ok(())
    }

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "::notice title={}::{}",
            property("portcullis check"),
            data(&totals.summary_line())
        )
    }
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
