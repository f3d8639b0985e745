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

/// What a walk finds, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A manifest file, read as written.
    File(PathBuf),
    /// A directory with a kustomization, checked as `kustomize build` renders it; its files are
    /// not read one by one.
    Kustomization(PathBuf),
    /// A Helm chart's directory (it holds `Chart.yaml`), checked as `helm template` renders it.
    Chart(PathBuf),
}

/// The files under `path` (or `path` itself when it is not a directory: a file named on the
/// command line is always read, whatever the filters say), without kustomize or Helm roots.
pub fn files(path: &Path, filter: &PathFilter) -> std::io::Result<Vec<PathBuf>> {
    Ok(entries(path, filter, false)?
        .into_iter()
        .filter_map(|found| match found {
            Found::File(file) => Some(file),
            Found::Kustomization(_) | Found::Chart(_) => None,
        })
        .collect())
}

/// What `path` holds for `check`: manifest files, and the kustomize and Helm roots that are
/// rendered instead of read (the topmost ones: a root's own directories belong to its render).
/// A kustomization or `Chart.yaml` that the filter leaves out does not make a root; without
/// `roots`, every directory is walked as plain files.
pub fn entries(path: &Path, filter: &PathFilter, roots: bool) -> std::io::Result<Vec<Found>> {
    let root_of = |dir: &Path| {
        if !roots {
            return None;
        }
        let kept = |name: &str| {
            let file = dir.join(name);
            file.is_file() && filter.keeps(file.strip_prefix(path).unwrap_or(&file), Kind::File)
        };
        if ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .into_iter()
            .any(kept)
        {
            Some(Found::Kustomization(dir.to_owned()))
        } else if kept("Chart.yaml") {
            Some(Found::Chart(dir.to_owned()))
        } else {
            None
        }
    };
    if path.is_dir() {
        if let Some(root) = root_of(path) {
            return Ok(vec![root]);
        }
    }
    let mut found = Vec::new();
    let mut files = Vec::new();
    walk::files(path, Hidden::Skip, &mut files, |entry, kind| {
        let relative = entry.strip_prefix(path).unwrap_or(entry);
        match kind {
            Kind::Dir if filter.keeps(relative, kind) => match root_of(entry) {
                Some(root) => {
                    found.push(root);
                    false
                }
                None => true,
            },
            Kind::File if is_manifest_file(entry) && filter.keeps(relative, kind) => {
                found.push(Found::File(entry.to_owned()));
                false
            }
            Kind::Dir | Kind::File => false,
        }
    })
    .map_err(|error| error.source)?;
    // A path that is not a directory is found whatever the predicate says.
    found.extend(files.into_iter().map(Found::File));
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
