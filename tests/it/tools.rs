//! External tools that some `check` tests drive as a user would (pre-commit, kubectl, helm).
//! `.ci/run` installs them with `.ci/e2e-tools.sh` and names their directory in
//! `PORTCULLIS_E2E_TOOLS`: then a missing tool fails the test. Without that variable (the
//! README's plain `cargo test`) such tests say that they were skipped, and why.

use std::path::{Path, PathBuf};

pub const TOOLS_VARIABLE: &str = "PORTCULLIS_E2E_TOOLS";

/// The executable `name`, from `PORTCULLIS_E2E_TOOLS` first, then `PATH`; `None` (with a note)
/// only when the end-to-end tools were not asked for.
pub fn tool(name: &str) -> Option<PathBuf> {
    let requested = std::env::var_os(TOOLS_VARIABLE).filter(|dir| !dir.is_empty());
    let mut dirs: Vec<PathBuf> = requested.iter().map(PathBuf::from).collect();
    dirs.extend(
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths),
    );
    let found = dirs
        .iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate));
    match (found, requested) {
        (Some(found), _) => Some(found),
        (None, Some(dir)) => panic!(
            "{name} is not in {} ({TOOLS_VARIABLE}) nor on PATH; run .ci/e2e-tools.sh",
            Path::new(&dir).display()
        ),
        (None, None) => {
            eprintln!("skipping: {name} is not installed and {TOOLS_VARIABLE} is not set");
            None
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// `PATH` for a child that must find `portcullis` and the tools given, before anything else.
pub fn path_with(tools: &[&Path]) -> std::ffi::OsString {
    let portcullis = Path::new(env!("CARGO_BIN_EXE_portcullis"))
        .parent()
        .expect("the binary has a directory")
        .to_owned();
    let mut dirs = vec![portcullis];
    dirs.extend(
        tools
            .iter()
            .filter_map(|tool| tool.parent().map(Path::to_owned)),
    );
    dirs.extend(
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths),
    );
    std::env::join_paths(dirs).expect("PATH entries without separators")
}
