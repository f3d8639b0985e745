//! Report formats of `check`, one file each: human text, the JSON contract, JUnit XML, SARIF
//! 2.1.0 and GitHub workflow commands. Every format reads the same findings in input order and
//! classifies them with the same [`Severity`], so they never disagree about what failed.

pub mod github;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod text;

use super::input::{Inputs, Manifest};
use super::{CheckReport, Finding, Gate};
use crate::eval::Status;

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

/// `N resources in M files: pass N, fail N, warn N, error N, skip N`.
pub fn summary_line(report: &CheckReport<'_>, inputs: &Inputs) -> String {
    let summary = report.summary(inputs);
    format!(
        "{} resources in {} files: pass {}, fail {}, warn {}, error {}, skip {}",
        inputs.manifests.len(),
        inputs.file_count(),
        summary.pass,
        summary.fail,
        summary.warn,
        summary.error,
        summary.skip
    )
}
