//! Which files `check` reads: directories walked recursively for `.yaml`, `.yml` and `.json`,
//! in sorted order so output is stable, filtered by `--include` / `--exclude` globs matched
//! against the path relative to the directory that was given.

use crate::walk::{self, Hidden, Kind};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// `--include` and `--exclude`. A glob without `/` matches a name at any depth (`values*.yaml`,
/// `charts`), as in `.gitignore`; a glob with `/` matches the whole relative path
/// (`apps/*/secrets/**`), and `*` never crosses a `/`.
#[derive(Debug, Default)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl PathFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        Ok(Self {
            include: glob_set(include, "--include")?,
            exclude: glob_set(exclude, "--exclude")?,
        })
    }

    /// Whether a walk enters a directory or keeps a file, by its path relative to the directory
    /// named on the command line.
    pub fn keeps(&self, relative: &Path, kind: Kind) -> bool {
        !self.excluded(relative) && (kind == Kind::Dir || self.included(relative))
    }

    /// Whether any glob was given, so that a walk that found nothing can say it was filtered.
    pub fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    fn excluded(&self, relative: &Path) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|set| set.is_match(relative))
    }

    fn included(&self, relative: &Path) -> bool {
        self.include
            .as_ref()
            .is_none_or(|set| set.is_match(relative))
    }
}

fn glob_set(globs: &[String], flag: &str) -> Result<Option<GlobSet>, String> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let anchored = match glob.trim_start_matches("./") {
            pattern if pattern.contains('/') => pattern.trim_start_matches('/').to_owned(),
            pattern => format!("**/{pattern}"),
        };
        let compiled = GlobBuilder::new(&anchored)
            .literal_separator(true)
            .build()
            .map_err(|error| format!("{flag} {glob:?}: {error}"))?;
        builder.add(compiled);
    }
    builder
        .build()
        .map(Some)
        .map_err(|error| format!("{flag}: {error}"))
}

/// The files under `path` (or `path` itself when it is not a directory: a file named on the
/// command line is always read, whatever the filters say).
pub fn files(path: &Path, filter: &PathFilter) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk::files(path, Hidden::Skip, &mut found, |entry, kind| {
        (kind == Kind::Dir || is_manifest_file(entry))
            && filter.keeps(entry.strip_prefix(path).unwrap_or(entry), kind)
    })
    .map_err(|error| error.source)?;
    Ok(found)
}

fn is_manifest_file(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| matches!(ext, "yaml" | "yml" | "json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> PathFilter {
        let owned = |globs: &[&str]| {
            globs
                .iter()
                .map(|glob| glob.to_string())
                .collect::<Vec<_>>()
        };
        PathFilter::new(&owned(include), &owned(exclude)).expect("valid globs")
    }

    #[test]
    fn globs_without_a_slash_match_names_at_any_depth() {
        let filter = filter(&[], &["values*.yaml", "charts"]);
        assert!(filter.excluded(Path::new("values.yaml")));
        assert!(filter.excluded(Path::new("apps/web/values-prod.yaml")));
        assert!(filter.excluded(Path::new("charts")));
        assert!(filter.excluded(Path::new("deploy/charts")));
        assert!(!filter.excluded(Path::new("apps/web/deployment.yaml")));
    }

    #[test]
    fn globs_with_a_slash_match_the_relative_path_and_star_stays_in_one_segment() {
        let filter = filter(&["apps/*.yaml"], &["apps/**/secret*.yaml"]);
        assert!(filter.included(Path::new("apps/web.yaml")));
        assert!(!filter.included(Path::new("apps/web/deployment.yaml")));
        assert!(filter.excluded(Path::new("apps/web/secret-db.yaml")));
        assert!(filter.excluded(Path::new("apps/secret.yaml")));
        assert!(!filter.excluded(Path::new("other/apps/secret.yaml")));
    }

    #[test]
    fn no_include_means_everything_is_included() {
        assert!(filter(&[], &[]).included(Path::new("any/file.yaml")));
    }

    #[test]
    fn an_invalid_glob_names_the_flag_and_the_glob() {
        let error = PathFilter::new(&["apps/[".to_owned()], &[]).expect_err("invalid");
        assert!(error.starts_with("--include \"apps/[\""), "{error}");
    }
}
