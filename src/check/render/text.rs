//! The default human report: one line per result, `file:line:col: result Kind ns/name:
//! policy/rule: message`, grouped by file in input order with a blank line after each file, then
//! the summary. Colour only when asked for (a terminal without `NO_COLOR`): plain escapes, no
//! crate, and the same bytes as the plain text once the escapes are stripped.

use super::super::CheckReport;
use super::super::input::Inputs;
use super::{RenderOptions, Severity, file, resource, rule_id, summary_line};
use crate::eval::Status;
use crate::printable::printable;
use std::fmt::Write as _;

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

pub fn render(report: &CheckReport<'_>, inputs: &Inputs, options: &RenderOptions) -> String {
    let colour = options.colour;
    let mut out = String::new();
    let mut current_file = None;
    for finding in &report.findings {
        if !options.verbose && matches!(finding.status, Status::Pass | Status::Skip) {
            continue;
        }
        let manifest = &inputs.manifests[finding.manifest];
        let report_file = inputs.report_file(manifest);
        if current_file.is_some_and(|current| current != report_file) {
            out.push('\n');
        }
        current_file = Some(report_file);
        let action = if finding.status == Status::Fail {
            format!(" ({})", finding.action.as_str())
        } else {
            String::new()
        };
        let severity = Severity::of(finding, options.gate);
        let _ = writeln!(
            out,
            "{}: {} {}: {}: {}",
            paint(
                colour,
                BOLD,
                &format!("{}:{}", printable(file(finding, inputs)), finding.location)
            ),
            paint(
                colour,
                status_style(severity),
                &format!("{}{action}", finding.status)
            ),
            printable(&resource(finding, inputs)),
            printable(&rule_id(finding)),
            printable(finding.outcome.message())
        );
    }
    if current_file.is_some() {
        out.push('\n');
    }
    out.push_str(&summary_line(report, inputs));
    out.push('\n');
    out
}
