//! Report formats of `check`, one file each: human text, the JSON contract, JUnit XML, SARIF
//! 2.1.0 and GitHub workflow commands. Every format reads the same findings in input order and
//! classifies them with the same [`Severity`], so they never disagree about what failed.

pub mod github;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod text;

use super::input::{InputError, Inputs, Manifest};
use super::{CheckReport, Finding, Gate};
use crate::cli::OutputFormat;
use crate::eval::Status;
use crate::policy::PolicySet;
use std::io::{self, Write};

/// What the renderers need besides the findings.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    pub gate: Gate,
    /// Text: also list passing and skipped results.
    pub verbose: bool,
    /// Text: ANSI colours.
    pub colour: bool,
}

/// Where the policies of the run came from, as the reports name it: the files and directories
/// given (or found in `./policies`), or `None` for the set built into the binary.
#[derive(Debug, Clone, Copy)]
pub struct PolicyOrigin<'a> {
    pub paths: Option<&'a [std::path::PathBuf]>,
    pub loaded: usize,
    /// Policies left out under `--skip-unsupported`.
    pub refused: &'a [crate::policy::LoadError],
}

impl<'a> PolicyOrigin<'a> {
    pub fn of(
        source: &'a crate::defaults::PolicySource,
        loaded: usize,
        refused: &'a [crate::policy::LoadError],
    ) -> Self {
        let paths = match source {
            crate::defaults::PolicySource::Paths(paths) => Some(paths.as_slice()),
            crate::defaults::PolicySource::Embedded => None,
        };
        Self {
            paths,
            loaded,
            refused,
        }
    }
}

/// A finding as a CI report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Makes the run exit 1 under the gate in force.
    Failure,
    /// A failure the gate lets through: Audit mode, or an unscored policy.
    Warning,
    /// The rule could not be evaluated.
    Error,
    Passed,
    Skipped,
}

impl Severity {
    pub fn of(finding: &Finding<'_>, gate: Gate) -> Self {
        match finding.status {
            Status::Error => Self::Error,
            Status::Pass => Self::Passed,
            Status::Skip => Self::Skipped,
            Status::Fail | Status::Warn if gate.fails(finding) => Self::Failure,
            Status::Fail | Status::Warn => Self::Warning,
        }
    }
}

/// `namespace/name`, or `name` for a cluster-scoped resource.
pub fn resource_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// The report name of the file a manifest was written in.
pub fn file_of<'i>(manifest: &Manifest, inputs: &'i Inputs) -> &'i str {
    &inputs.files[inputs.report_file(manifest)].name
}

/// `Kind namespace/name` of the finding's resource.
fn resource(finding: &Finding<'_>, inputs: &Inputs) -> String {
    let manifest = &inputs.manifests[finding.manifest];
    format!(
        "{} {}",
        manifest.gvk.kind,
        resource_name(&manifest.namespace, &manifest.name)
    )
}

/// The report name of the file the finding's resource was read from (`-` for stdin).
fn file<'i>(finding: &Finding<'_>, inputs: &'i Inputs) -> &'i str {
    file_of(&inputs.manifests[finding.manifest], inputs)
}

/// `policy/rule`, the identifier of a rule in every format.
fn rule_id(finding: &Finding<'_>) -> String {
    format!("{}/{}", finding.policy.name, finding.rule.name)
}

/// What the reports count over the whole run, chunk after chunk.
#[derive(Debug, Default)]
pub struct Totals {
    pub resources: usize,
    pub files: usize,
    pub summary: super::Summary,
    /// Every input error, in order.
    pub errors: Vec<InputError>,
    /// Whether any rule applied to any resource.
    pub matched: bool,
    /// Whether any result fails the run under the gate.
    pub failed: bool,
}

impl Totals {
    /// `N resources in M files: pass N, fail N, warn N, error N, skip N`.
    pub fn summary_line(&self) -> String {
        let summary = &self.summary;
        format!(
            "{} resources in {} files: pass {}, fail {}, warn {}, error {}, skip {}",
            self.resources,
            self.files,
            summary.pass,
            summary.fail,
            summary.warn,
            summary.error,
            summary.skip
        )
    }
}

/// One report format, written as the chunks of a run come: findings in input order, and what
/// needs the whole run (counts, input errors) once it ends.
pub trait Format {
    fn chunk(
        &mut self,
        report: &CheckReport<'_>,
        inputs: &Inputs,
        out: &mut dyn Write,
    ) -> io::Result<()>;

    fn finish(&mut self, totals: &Totals, out: &mut dyn Write) -> io::Result<()>;
}

/// The report of a run on `out`, in the format asked for, and the exit code it earns.
pub struct Sink<'a, W: Write> {
    out: W,
    format: Box<dyn Format + 'a>,
    gate: Gate,
    totals: Totals,
}

impl<'a, W: Write> Sink<'a, W> {
    pub fn new(
        format: OutputFormat,
        options: RenderOptions,
        set: &'a PolicySet,
        origin: PolicyOrigin<'a>,
        out: W,
    ) -> io::Result<Self> {
        let format: Box<dyn Format + 'a> = match format {
            OutputFormat::Text => Box::new(text::Text::new(options)),
            OutputFormat::Json => Box::new(json::Json::new(origin)),
            OutputFormat::Junit => Box::new(junit::Junit::new(options)?),
            OutputFormat::Sarif => Box::new(sarif::Sarif::new(options, set)),
            OutputFormat::Github => Box::new(github::Github::new(options)),
        };
        Ok(Self {
            out,
            format,
            gate: options.gate,
            totals: Totals::default(),
        })
    }

    /// Reports one chunk: the findings of its resources, and its input errors.
    pub fn chunk(&mut self, report: &CheckReport<'_>, inputs: &Inputs) -> io::Result<()> {
        let totals = &mut self.totals;
        totals.resources += inputs.manifests.len();
        totals.files += inputs.file_count();
        totals.summary.add(&report.summary(inputs));
        totals.errors.extend(inputs.errors.iter().cloned());
        totals.matched |= !report.findings.is_empty();
        totals.failed |= report
            .findings
            .iter()
            .any(|finding| self.gate.fails(finding));
        self.format.chunk(report, inputs, &mut self.out)
    }

    /// Closes the report and gives the exit code: 2 for any error, 1 for a failure the gate
    /// counts (or nothing matched under `--require-match`), else 0.
    pub fn finish(mut self) -> io::Result<u8> {
        self.format.finish(&self.totals, &mut self.out)?;
        self.out.flush()?;
        let totals = &self.totals;
        Ok(if totals.summary.error > 0 {
            super::EXIT_ERROR
        } else if totals.failed || (self.gate.require_match && !totals.matched) {
            super::EXIT_ENFORCE_FAILED
        } else {
            super::EXIT_CLEAN
        })
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }
}

/// A JSON value pretty-printed as a member at `indent` spaces: its lines after the first indented.
fn pretty_at(value: &serde_json::Value, indent: usize) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.replace('\n', &format!("\n{}", " ".repeat(indent)))
}
