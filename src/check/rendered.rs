//! Kustomize and Helm trees, checked as they will be applied: a directory with a kustomization
//! is rendered by `kubectl kustomize` (or `kustomize build`), a chart by `helm template`, and
//! every object of the output is attributed to the file it was written in.
//!
//! Kustomize names the file of each object when its build sets `buildMetadata:
//! [originAnnotations]`. That is set on a temporary wrapper kustomization whose only resource is
//! the user's directory, never on the user's own file, and the annotation is taken off the
//! objects again before they are judged. Helm names the template of each document in a
//! `# Source: chart/templates/x.yaml` comment.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The annotation kustomize's `originAnnotations` writes on every object.
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// How to run kustomize: `kubectl kustomize DIR` or `kustomize build DIR`.
#[derive(Debug, Clone)]
pub struct Kustomize {
    program: PathBuf,
    subcommand: &'static str,
}

impl Kustomize {
    /// The renderer named by `--kustomize-bin` (a `kubectl` or a `kustomize` binary), else
    /// `kubectl`, else `kustomize` from `PATH`; `None` when there is none.
    pub fn find(bin: Option<&Path>) -> Result<Option<Self>, String> {
        let of = |program: PathBuf| {
            let subcommand = match program.file_stem().and_then(|stem| stem.to_str()) {
                Some(stem) if stem.starts_with("kubectl") => "kustomize",
                _ => "build",
            };
            Self {
                program,
                subcommand,
            }
        };
        match bin {
            Some(bin) if bin.components().count() > 1 && !bin.is_file() => {
                Err(format!("--kustomize-bin {}: no such file", bin.display()))
            }
            Some(bin) => find_program(bin.as_os_str())
                .map(|program| Some(of(program)))
                .ok_or_else(|| format!("--kustomize-bin {}: not found on PATH", bin.display())),
            None => Ok(find_program("kubectl".as_ref())
                .or_else(|| find_program("kustomize".as_ref()))
                .map(of)),
        }
    }

    /// Renders the kustomization in `dir`, with origin annotations relative to the returned
    /// wrapper directory (which lives as long as the returned value).
    pub fn render(&self, dir: &Path) -> Result<(String, tempfile::TempDir), String> {
        let target = dir
            .canonicalize()
            .map_err(|error| format!("cannot resolve the directory: {error}"))?;
        let wrapper = tempfile::Builder::new()
            .prefix("portcullis-kustomize-")
            .tempdir()
            .map_err(|error| format!("cannot create a temporary kustomization: {error}"))?;
        let wrapper_dir = wrapper
            .path()
            .canonicalize()
            .map_err(|error| format!("cannot resolve the temporary directory: {error}"))?;
        // Kustomize refuses absolute resource paths, so the wrapper names the tree relatively.
        let relative = relative_path(&wrapper_dir, &target);
        let kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {}\nbuildMetadata: [originAnnotations]\n",
            serde_json::Value::String(relative.display().to_string())
        );
        std::fs::write(wrapper_dir.join("kustomization.yaml"), kustomization)
            .map_err(|error| format!("cannot write a temporary kustomization: {error}"))?;
        let output = Command::new(&self.program)
            .arg(self.subcommand)
            .arg(&wrapper_dir)
            .output()
            .map_err(|error| format!("cannot run {}: {error}", self.describe()))?;
        if !output.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                self.describe(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8(output.stdout)
            .map_err(|_| format!("{} wrote output that is not UTF-8", self.describe()))?;
        Ok((text, wrapper))
    }

    pub fn describe(&self) -> String {
        format!("{} {}", self.program.display(), self.subcommand)
    }
}

/// `helm template` from `PATH`, with the `--helm-values` files.
#[derive(Debug, Clone)]
pub struct Helm {
    program: PathBuf,
    values: Vec<PathBuf>,
}

impl Helm {
    pub fn find(values: &[PathBuf]) -> Option<Self> {
        find_program("helm".as_ref()).map(|program| Self {
            program,
            values: values.to_vec(),
        })
    }

    /// Renders the chart in `dir` as release `dir`'s name.
    pub fn render(&self, dir: &Path) -> Result<String, String> {
        let release = dir
            .canonicalize()
            .ok()
            .and_then(|dir| {
                dir.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "release".to_owned());
        let mut command = Command::new(&self.program);
        command.arg("template").arg(&release).arg(dir);
        for values in &self.values {
            command.arg("--values").arg(values);
        }
        let output = command
            .output()
            .map_err(|error| format!("cannot run {}: {error}", self.program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "helm template failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| "helm template wrote output that is not UTF-8".to_owned())
    }
}

/// An executable by name: a path as given, or the first match on `PATH`.
fn find_program(name: &std::ffi::OsStr) -> Option<PathBuf> {
    let name = Path::new(name);
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_owned());
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `to` relative to `from`, both absolute and canonical.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to)
        .take_while(|(left, right)| left == right)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for component in &to[common..] {
        relative.push(component.as_os_str());
    }
    relative
}

/// `path` with `.` and `..` resolved lexically, as kustomize wrote it relative to `base`.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let mut resolved = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            other => resolved.push(other.as_os_str()),
        }
    }
    resolved
}

/// How a file found through a render is named in reports: relative to the current directory
/// when it lies below it, as files read directly are, else absolute.
pub fn report_name(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| cwd.canonicalize().ok())
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned));
    relative.as_deref().unwrap_or(path).display().to_string()
}

/// The file of an origin annotation's text (`path:` of a resource, `configuredIn:` of a
/// generated one).
pub fn origin_path(annotation: &str) -> Option<&str> {
    annotation.lines().find_map(|line| {
        let line = line.trim_start();
        line.strip_prefix("path:")
            .or_else(|| line.strip_prefix("configuredIn:"))
            .map(|rest| rest.trim().trim_matches(['"', '\'']))
            .filter(|path| !path.is_empty())
    })
}

/// The `# Source: chart/templates/x.yaml` comments of Helm output, with their 1-based lines.
pub fn helm_sources(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            line.strip_prefix("# Source: ")
                .map(|source| (index + 1, source.trim()))
        })
        .collect()
}

/// The files a kustomization patches, which are fragments, never objects of their own:
/// `patchesStrategicMerge` entries and the `path` of `patches` and `patchesJson6902`, resolved
/// against the kustomization's directory.
pub fn patch_files(kustomization: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(kustomization)
        .map_err(|error| format!("{}: cannot read: {error}", kustomization.display()))?;
    let documents = crate::yaml::parse_documents(&text).map_err(|error| {
        format!(
            "{}:{}: invalid YAML: {}",
            kustomization.display(),
            error.location,
            error.message
        )
    })?;
    let dir = kustomization.parent().unwrap_or(Path::new(""));
    let mut patches = Vec::new();
    for document in &documents {
        let value = &document.value;
        let merge = value
            .get("patchesStrategicMerge")
            .and_then(|list| list.as_array());
        for entry in merge.into_iter().flatten() {
            // An entry is a file name, or an inline patch that holds a newline.
            if let Some(path) = entry.as_str().filter(|text| !text.contains('\n')) {
                patches.push(dir.join(path));
            }
        }
        for key in ["patches", "patchesJson6902"] {
            let list = value.get(key).and_then(|list| list.as_array());
            for entry in list.into_iter().flatten() {
                if let Some(path) = entry.get("path").and_then(|path| path.as_str()) {
                    patches.push(dir.join(path));
                }
            }
        }
    }
    Ok(patches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        assert_eq!(
            relative_path(Path::new("/tmp/wrap"), Path::new("/work/repo/deploy")),
            Path::new("../../work/repo/deploy")
        );
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/c")),
            Path::new("c")
        );
    }

    #[test]
    fn origins_resolve_against_the_wrapper() {
        assert_eq!(
            resolve(Path::new("/tmp/wrap"), "../../work/repo/base/app.yaml"),
            Path::new("/work/repo/base/app.yaml")
        );
        assert_eq!(
            origin_path("path: ../repo/base/app.yaml\n"),
            Some("../repo/base/app.yaml")
        );
        assert_eq!(
            origin_path(
                "configuredIn: ../repo/kustomization.yaml\nconfiguredBy:\n  kind: ConfigMapGenerator\n"
            ),
            Some("../repo/kustomization.yaml")
        );
    }

    #[test]
    fn helm_source_comments_are_found_with_their_lines() {
        let text = "---\n# Source: web/templates/service.yaml\napiVersion: v1\n---\n# Source: web/templates/deployment.yaml\nkind: Deployment\n";
        assert_eq!(
            helm_sources(text),
            [
                (2, "web/templates/service.yaml"),
                (5, "web/templates/deployment.yaml")
            ]
        );
    }
}
