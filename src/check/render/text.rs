//! The default human report: one line per result, `file:line:col: result Kind ns/name:
//! policy/rule: message`, grouped by file in input order with a blank line after each file, then
//! the summary. Colour only when asked for (a terminal without `NO_COLOR`): plain escapes, no
//! crate, and the same bytes as the plain text once the escapes are stripped.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{Format, RenderOptions, Severity, Totals, file, resource, rule_id};
use crate::eval::Status;
use crate::printable::printable;
use std::io::{self, Write};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

fn paint(colour: bool, style: &str, text: &str) -> String {
    if colour {
        format!("{style}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

fn status_style(severity: Severity) -> &'static str {
    match severity {
        Severity::Failure => "\x1b[1;31m",
        Severity::Warning => "\x1b[33m",
        Severity::Error => "\x1b[1;35m",
        Severity::Passed => "\x1b[32m",
        Severity::Skipped => "\x1b[2m",
    }
}

pub struct Text {
    options: RenderOptions,
    /// The file of the last line written, so a blank line separates files.
    current_file: Option<String>,
}

impl Text {
    pub fn new(options: RenderOptions) -> Self {
        Self {
            options,
            current_file: None,
        }
    }
}

impl Format for Text {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let colour = self.options.colour;
        for finding in &report.findings {
            if !self.options.verbose && matches!(finding.status, Status::Pass | Status::Skip) {
                continue;
            }
            let name = file(finding, inputs);
            if self
                .current_file
                .as_deref()
                .is_some_and(|current| current != name)
            {
                out.write_all(b"\n")?;
            }
            if self.current_file.as_deref() != Some(name) {
                self.current_file = Some(name.to_owned());
            }
            let action = if finding.status == Status::Fail {
                format!(" ({})", finding.action.as_str())
            } else {
                String::new()
            };
            let severity = Severity::of(finding, self.options.gate);
            writeln!(
                out,
                "{}: {} {}: {}: {}",
                paint(
                    colour,
                    BOLD,
                    &format!("{}:{}", printable(name), finding.location)
                ),
                paint(
                    colour,
                    status_style(severity),
                    &format!("{}{action}", finding.status)
                ),
                printable(&resource(finding, inputs)),
                printable(&rule_id(finding)),
                printable(finding.outcome.message())
            )?;
        }
        Ok(())
    }

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()> {
        if self.current_file.is_some() {
            out.write_all(b"\n")?;
        }
        writeln!(out, "{}", totals.summary_line())
    }
}
