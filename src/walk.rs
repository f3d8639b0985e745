//! The one directory walk behind loading policies, `check`'s manifest discovery and `test`'s
//! search for test files: entries in sorted order so every output is stable, `.`-prefixed
//! entries skipped or entered as the caller asks, one predicate deciding per entry whether a
//! directory is descended into and whether a file is kept, and errors that name the path that
//! failed. Symlinks are followed, with `walkdir`'s loop detection: a link to an ancestor is an
//! error naming both, never an endless walk, and so is a tree deeper than [`MAX_DEPTH`]. Hot
//! reload's fingerprint walk is not this one: it must record every entry, symlinks unfollowed,
//! whatever their names.

use std::fmt;
use std::path::{Path, PathBuf};

/// Whether entries whose name starts with `.` are walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    Skip,
    Enter,
}

/// What the predicate is asked about: a directory (descend or not) or anything else (keep or
/// not). Symlinks are followed, so a link to a directory is a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// A directory that could not be listed, or a path whose metadata could not be read.
#[derive(Debug)]
pub struct WalkError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for WalkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Appends to `found` what `path` names: `path` itself when it is not a directory (a path named
/// explicitly is read whatever the predicate says, so a pipe from process substitution works
/// too), otherwise the kept files below it, as [`dir`] walks them.
pub fn files(
    path: &Path,
    hidden: Hidden,
    found: &mut Vec<PathBuf>,
    keep: impl FnMut(&Path, Kind) -> bool,
) -> Result<(), WalkError> {
    let metadata = std::fs::metadata(path).map_err(|source| WalkError {
        path: path.to_owned(),
        source,
    })?;
    if metadata.is_dir() {
        dir(path, hidden, found, keep)
    } else {
        found.push(path.to_owned());
        Ok(())
    }
}

/// How many directories deep a walk goes below the directory it was given; a tree that goes
/// deeper is an error rather than a walk that silently stops.
pub const MAX_DEPTH: usize = 64;

/// Appends to `found` the files below the directory `root` that `keep` accepts, depth first in
/// sorted order, descending only into the directories `keep` accepts. Files found before an
/// error stay in `found`, so a caller that goes on can report what it did read.
pub fn dir(
    root: &Path,
    hidden: Hidden,
    found: &mut Vec<PathBuf>,
    mut keep: impl FnMut(&Path, Kind) -> bool,
) -> Result<(), WalkError> {
    let mut entries = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .min_depth(1)
        .max_depth(MAX_DEPTH)
        .into_iter();
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(|error| WalkError {
            path: error.path().map_or_else(|| root.to_owned(), Path::to_owned),
            source: error.into(),
        })?;
        let path = entry.path();
        let is_dir = entry.file_type().is_dir();
        if hidden == Hidden::Skip && is_hidden(path) {
            if is_dir {
                entries.skip_current_dir();
            }
            continue;
        }
        if !is_dir {
            if keep(path, Kind::File) {
                found.push(path.to_owned());
            }
        } else if !keep(path, Kind::Dir) {
            entries.skip_current_dir();
        } else if entry.depth() == MAX_DEPTH {
            return Err(WalkError {
                path: path.to_owned(),
                source: std::io::Error::other(format!(
                    "more than {MAX_DEPTH} directories deep below {}",
                    root.display()
                )),
            });
        }
    }
    Ok(())
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(paths: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temp dir");
        for path in paths {
            let path = root.path().join(path);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("create dirs");
            fs::write(&path, "x").expect("write file");
        }
        root
    }

    fn relative(root: &Path, found: &[PathBuf]) -> Vec<String> {
        found
            .iter()
            .map(|path| {
                path.strip_prefix(root)
                    .expect("below root")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    fn walked(root: &Path, hidden: Hidden) -> Vec<String> {
        let mut found = Vec::new();
        dir(root, hidden, &mut found, |_, _| true).expect("walk");
        relative(root, &found)
    }

    #[test]
    fn entries_come_in_sorted_order_depth_first() {
        let root = tree(&["b/2.yaml", "b/1.yaml", "a.yaml", "c.yaml", "a/z/9.yaml"]);
        assert_eq!(
            walked(root.path(), Hidden::Skip),
            ["a/z/9.yaml", "a.yaml", "b/1.yaml", "b/2.yaml", "c.yaml"]
        );
    }

    #[test]
    fn hidden_entries_are_skipped_or_entered_as_asked() {
        let root = tree(&["..data/p.yaml", ".kyverno-test/t.yaml", ".env", "p.yaml"]);
        assert_eq!(walked(root.path(), Hidden::Skip), ["p.yaml"]);
        assert_eq!(
            walked(root.path(), Hidden::Enter),
            ["..data/p.yaml", ".env", ".kyverno-test/t.yaml", "p.yaml"]
        );
    }

    #[test]
    fn the_predicate_prunes_directories_and_filters_files() {
        let root = tree(&["charts/x.yaml", "apps/web.yaml", "apps/notes.txt"]);
        let mut asked = Vec::new();
        let mut found = Vec::new();
        dir(root.path(), Hidden::Skip, &mut found, |path, kind| {
            asked.push((path.to_owned(), kind));
            match kind {
                Kind::Dir => !path.ends_with("charts"),
                Kind::File => path.extension().is_some_and(|ext| ext == "yaml"),
            }
        })
        .expect("walk");
        assert_eq!(relative(root.path(), &found), ["apps/web.yaml"]);
        assert!(
            !asked.iter().any(|(path, _)| path.ends_with("x.yaml")),
            "a pruned directory is not read: {asked:?}"
        );
        assert!(asked.contains(&(root.path().join("charts"), Kind::Dir)));
    }

    #[test]
    fn a_named_file_is_found_whatever_the_predicate_says() {
        let root = tree(&["notes.txt"]);
        let file = root.path().join("notes.txt");
        let mut found = Vec::new();
        files(&file, Hidden::Skip, &mut found, |_, _| false).expect("walk");
        assert_eq!(found, [file]);
    }

    #[test]
    fn symlink_loops_are_an_error_naming_the_link_not_an_endless_walk() {
        let root = tree(&["apps/app.yaml"]);
        std::os::unix::fs::symlink("..", root.path().join("apps/up")).expect("symlink");
        std::os::unix::fs::symlink(".", root.path().join("self")).expect("symlink");
        let mut found = Vec::new();
        let error = dir(root.path(), Hidden::Skip, &mut found, |_, _| true).expect_err("a loop");
        assert_eq!(error.path, root.path().join("apps/up"));
        assert!(
            error.to_string().contains("points to an ancestor"),
            "{error}"
        );
        assert_eq!(relative(root.path(), &found), ["apps/app.yaml"]);
    }

    #[test]
    fn a_tree_deeper_than_the_bound_is_an_error() {
        let deep: String = (0..MAX_DEPTH).map(|level| format!("d{level}/")).collect();
        let root = tree(&[&format!("{deep}x.yaml")]);
        let mut found = Vec::new();
        let error = dir(root.path(), Hidden::Skip, &mut found, |_, _| true).expect_err("too deep");
        assert!(
            error.to_string().contains("more than 64 directories deep"),
            "{error}"
        );
        let shallower: String = (1..MAX_DEPTH).map(|level| format!("d{level}/")).collect();
        let root = tree(&[&format!("{shallower}x.yaml")]);
        dir(root.path(), Hidden::Skip, &mut found, |_, _| true).expect("within the bound");
    }

    #[test]
    fn an_error_names_the_path_that_failed() {
        let root = tree(&[]);
        let missing = root.path().join("missing");
        let mut found = Vec::new();
        let error = files(&missing, Hidden::Skip, &mut found, |_, _| true).expect_err("missing");
        assert_eq!(error.path, missing);
        assert_eq!(error.source.kind(), std::io::ErrorKind::NotFound);
        assert!(
            error
                .to_string()
                .starts_with(&missing.display().to_string()),
            "{error}"
        );
        let error = dir(&missing, Hidden::Skip, &mut found, |_, _| true).expect_err("missing");
        assert_eq!(error.path, missing);
    }
}
