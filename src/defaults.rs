//! The default policy set, built into the binary so `portcullis serve` and `check` work from
//! any directory with nothing else installed. The files under `policies/` are the source; a
//! test keeps this list and that directory in step.

use crate::policy::{self, LoadError, PolicySet};
use std::path::{Path, PathBuf};

pub const DEFAULT_POLICY_FILES: [(&str, &str); 2] = [
    (
        "policies/disallow-latest-tag.yaml",
        include_str!("../policies/disallow-latest-tag.yaml"),
    ),
    (
        "policies/require-image-digest.yaml",
        include_str!("../policies/require-image-digest.yaml"),
    ),
];

/// The directory the server and `check` read when no `--policies` is given.
pub const DEFAULT_POLICY_DIR: &str = "policies";

pub fn embedded_policy_set() -> Result<PolicySet, Vec<LoadError>> {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in DEFAULT_POLICY_FILES {
        match policy::load_str(text, Path::new(name)) {
            Ok(loaded) => policies.extend(loaded),
            Err(mut file_errors) => errors.append(&mut file_errors),
        }
    }
    if errors.is_empty() {
        Ok(PolicySet::from(policies))
    } else {
        Err(errors)
    }
}

/// Where policies come from when the user named none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Paths(Vec<PathBuf>),
    Embedded,
}

impl PolicySource {
    pub fn resolve(paths: &[PathBuf]) -> Self {
        if !paths.is_empty() {
            Self::Paths(paths.to_vec())
        } else if Path::new(DEFAULT_POLICY_DIR).is_dir() {
            Self::Paths(vec![PathBuf::from(DEFAULT_POLICY_DIR)])
        } else {
            Self::Embedded
        }
    }

    pub fn load(&self) -> Result<PolicySet, Vec<LoadError>> {
        match self {
            Self::Paths(paths) => policy::load_paths(paths),
            Self::Embedded => embedded_policy_set(),
        }
    }

    /// [`Self::load`] with the PolicyExceptions of `exceptions` (`--exceptions`) added.
    pub fn load_with_exceptions(
        &self,
        exceptions: &[PathBuf],
    ) -> Result<PolicySet, Vec<LoadError>> {
        let set = self.load()?;
        policy::load::with_exceptions(set, policy::load::load_exception_paths(exceptions)?)
    }

    /// [`Self::load`] with the leniencies of `options` for files; the built-in set has nothing to
    /// skip.
    pub fn load_with(
        &self,
        options: &mut policy::load::LoadOptions<'_>,
    ) -> Result<policy::load::Loaded, Vec<LoadError>> {
        match self {
            Self::Paths(paths) => policy::load::load_paths_with(paths, options),
            Self::Embedded => embedded_policy_set().map(|set| policy::load::Loaded {
                set,
                ..Default::default()
            }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Paths(paths) => paths
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Self::Embedded => "the built-in default policies".to_owned(),
        }
    }
}
