//! Change detection for mounted files: one watcher shared by policies and certificates.
//!
//! Kubernetes updates a mounted Secret or ConfigMap by writing a new `..2024_…` directory and
//! swapping the `..data` symlink to it, so watching a file misses the update: this module
//! watches the *directory* of each file (and directories themselves, recursively), debounces
//! the burst of events one update produces into a single notification, and keeps a slow poll of
//! a fingerprint (inode, size, mtime, symlink target, real path) as a backstop for changes
//! inotify cannot see, such as a file reached through a symlink into an unwatched directory.
//! What a notification means — reload the certificate, recompile the policies — and keeping the
//! old state when the new one is invalid is the caller's part.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A directory walk stops this deep; policy trees are shallow and a symlink loop must not hang us.
const MAX_DEPTH: usize = 8;

/// How change notifications are paced.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// A notification waits until events have been quiet this long (at most 8× this in all),
    /// so one Kubernetes update — several files and a symlink swap — reloads once.
    pub debounce: Duration,
    /// How often the fingerprint is compared, for changes that raise no event.
    pub poll_interval: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(250),
            poll_interval: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot resolve {}: {source}", path.display())]
    Path { path: PathBuf, source: io::Error },
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

/// Notifies when any watched path may have changed; dropping it stops watching.
#[derive(Debug)]
pub struct Watcher {
    changes: mpsc::Receiver<()>,
    // Held for its Drop: it owns the inotify thread.
    _events: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Watcher {
    /// Waits for the next change. Changes that arrive while nobody is waiting coalesce into one.
    /// Returns `false` only if the watcher has stopped.
    pub async fn changed(&mut self) -> bool {
        self.changes.recv().await.is_some()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one given path asks to watch.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A file (or a path that does not exist yet), seen through its parent directory.
    File { dir: PathBuf, path: PathBuf },
    /// A directory and everything under it.
    Dir { dir: PathBuf },
}

impl Target {
    fn of(path: &Path) -> Result<Target, ReloadError> {
        let path = std::path::absolute(path).map_err(|source| ReloadError::Path {
            path: path.to_path_buf(),
            source,
        })?;
        if path.is_dir() {
            return Ok(Target::Dir { dir: path });
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| ReloadError::Path {
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "has no parent directory"),
            })?;
        Ok(Target::File { dir, path })
    }

    /// Whether an event on `changed` may affect this target.
    fn is_affected_by(&self, changed: &Path) -> bool {
        match self {
            Target::Dir { dir } => changed.starts_with(dir),
            Target::File { dir, path } => {
                changed.parent() == Some(dir.as_path())
                    && (changed == path
                        // The Kubernetes atomic writer's `..data` and `..<timestamp>` entries.
                        || changed
                            .file_name()
                            .is_some_and(|name| name.as_encoded_bytes().starts_with(b"..")))
            }
        }
    }
}

/// Starts watching `paths` (files or directories). Must be called within a Tokio runtime.
pub fn watch(paths: Vec<PathBuf>, options: WatchOptions) -> Result<Watcher, ReloadError> {
    let targets = paths
        .iter()
        .map(|path| Target::of(path))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = Arc::new(targets);

    let (raw_tx, raw_rx) = mpsc::channel::<()>(1);
    let filter = Arc::clone(&targets);
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            // Reads, including our own reloads, change nothing.
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => false,
            // No path (a rescan after an overflowed queue, say): anything may have changed.
            Ok(event) if event.paths.is_empty() => true,
            Ok(event) => event
                .paths
                .iter()
                .any(|changed| filter.iter().any(|t| t.is_affected_by(changed))),
            Err(_) => true,
        };
        if relevant {
            // A full channel already holds a pending poke; the debounce absorbs the rest.
            let _ = raw_tx.try_send(());
        }
    };
    let mut events = notify::recommended_watcher(handler).map_err(|source| ReloadError::Watch {
        path: paths.first().cloned().unwrap_or_default(),
        source,
    })?;
    let mut dirs: BTreeMap<&Path, bool> = BTreeMap::new();
    for target in targets.iter() {
        match target {
            Target::File { dir, .. } => {
                dirs.entry(dir).or_insert(false);
            }
            Target::Dir { dir } => {
                dirs.insert(dir, true);
            }
        }
    }
    for (dir, recursive) in dirs {
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        events
            .watch(dir, mode)
            .map_err(|source| ReloadError::Watch {
                path: dir.to_path_buf(),
                source,
            })?;
    }

    let (out_tx, out_rx) = mpsc::channel(1);
    // Taken before returning, so a change made right after `watch` returns is never missed.
    let initial = fingerprint(&targets);
    let task = tokio::spawn(run(raw_rx, out_tx, targets, initial, options));
    Ok(Watcher {
        changes: out_rx,
        _events: events,
        task,
    })
}

async fn run(
    mut raw: mpsc::Receiver<()>,
    out: mpsc::Sender<()>,
    targets: Arc<Vec<Target>>,
    mut last: Fingerprint,
    options: WatchOptions,
) {
    let mut poll = tokio::time::interval_at(
        Instant::now() + options.poll_interval,
        options.poll_interval,
    );
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = raw.recv() => {
                if event.is_none() {
                    return;
                }
                let cap = Instant::now() + options.debounce * 8;
                loop {
                    tokio::select! {
                        event = raw.recv() => if event.is_none() { return },
                        _ = tokio::time::sleep(options.debounce) => break,
                        _ = tokio::time::sleep_until(cap) => break,
                    }
                }
                // Re-based so the poll does not report this change a second time.
                last = fingerprint_off_thread(&targets).await;
            }
            _ = poll.tick() => {
                let now = fingerprint_off_thread(&targets).await;
                if now == last {
                    continue;
                }
                last = now;
            }
            _ = out.closed() => return,
        }
        if let Err(mpsc::error::TrySendError::Closed(())) = out.try_send(()) {
            return;
        }
    }
}

/// Everything about the watched files whose change means "reload".
type Fingerprint = BTreeMap<PathBuf, Option<Stamp>>;

#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    /// Where a symlink points, as written (`..data/tls.crt`, `..2024_a`).
    link: Option<PathBuf>,
    /// The file finally reached, which moves when `..data` is swapped.
    real: Option<PathBuf>,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

async fn fingerprint_off_thread(targets: &Arc<Vec<Target>>) -> Fingerprint {
    let targets = Arc::clone(targets);
    tokio::task::spawn_blocking(move || fingerprint(&targets))
        .await
        .unwrap_or_default()
}

fn fingerprint(targets: &[Target]) -> Fingerprint {
    let mut out = Fingerprint::new();
    for target in targets {
        match target {
            Target::File { path, .. } => {
                out.insert(path.clone(), stamp(path));
            }
            Target::Dir { dir } => {
                out.insert(dir.clone(), stamp(dir));
                walk(dir, 0, &mut out);
            }
        }
    }
    out
}

/// Not [`crate::walk`]: a change must show in every entry, directories and links included.
fn walk(dir: &Path, depth: usize, out: &mut Fingerprint) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        out.insert(path.clone(), stamp(&path));
        // `file_type` does not follow symlinks: `..data` is recorded by its target, not walked
        // twice.
        if depth < MAX_DEPTH && entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, depth + 1, out);
        }
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let own = fs::symlink_metadata(path).ok()?;
    let link = if own.file_type().is_symlink() {
        fs::read_link(path).ok()
    } else {
        None
    };
    // A dangling symlink still has a stamp: its target is what changed.
    let meta = fs::metadata(path).unwrap_or(own);
    Some(Stamp {
        link,
        real: fs::canonicalize(path).ok(),
        inode: inode(&meta),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_events_affect_a_target() {
        let file = Target::File {
            dir: PathBuf::from("/m"),
            path: PathBuf::from("/m/tls.crt"),
        };
        let dir = Target::Dir {
            dir: PathBuf::from("/p"),
        };
        let cases = [
            (&file, "/m/tls.crt", true),
            (&file, "/m/..data", true),
            (&file, "/m/..data_tmp", true),
            (&file, "/m/..2024_05_01_10_00_00.123", true),
            (&file, "/m/ca.crt", false),
            (&file, "/m/sub/tls.crt", false),
            (&file, "/other/tls.crt", false),
            (&dir, "/p/a.yaml", true),
            (&dir, "/p/team/b.yaml", true),
            (&dir, "/policy.yaml", false),
        ];
        for (target, changed, expected) in cases {
            assert_eq!(
                target.is_affected_by(Path::new(changed)),
                expected,
                "{target:?} {changed}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn fingerprint_follows_a_swapped_data_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (dir, body) in [("..a", "one"), ("..b", "two")] {
            fs::create_dir(root.join(dir)).unwrap();
            fs::write(root.join(dir).join("tls.crt"), body).unwrap();
        }
        std::os::unix::fs::symlink("..a", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/tls.crt", root.join("tls.crt")).unwrap();
        let targets = [Target::of(&root.join("tls.crt")).unwrap()];
        let before = fingerprint(&targets);
        assert_eq!(before, fingerprint(&targets));
        std::os::unix::fs::symlink("..b", root.join("..tmp")).unwrap();
        fs::rename(root.join("..tmp"), root.join("..data")).unwrap();
        assert_ne!(before, fingerprint(&targets));
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_one_notification() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("policy.yaml");
        fs::write(&path, "a").unwrap();
        let options = WatchOptions {
            debounce: Duration::from_millis(300),
            poll_interval: Duration::from_secs(3600),
        };
        let mut watcher = watch(vec![path.clone()], options).unwrap();
        for i in 0..5 {
            fs::write(&path, format!("version {i}")).unwrap();
        }
        let first = tokio::time::timeout(Duration::from_secs(10), watcher.changed()).await;
        assert_eq!(first.ok(), Some(true));
        // Negative check: the burst must not leave a second notification behind.
        let second = tokio::time::timeout(options.debounce * 3, watcher.changed()).await;
        assert!(second.is_err(), "a burst produced two notifications");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_poll_sees_a_change_behind_a_symlink_into_an_unwatched_directory() {
        let watched = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let real = elsewhere.path().join("real.crt");
        fs::write(&real, "one").unwrap();
        let link = watched.path().join("tls.crt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let options = WatchOptions {
            debounce: Duration::from_millis(50),
            poll_interval: Duration::from_millis(100),
        };
        let mut watcher = watch(vec![link], options).unwrap();
        fs::write(&real, "a longer second version").unwrap();
        let changed = tokio::time::timeout(Duration::from_secs(10), watcher.changed()).await;
        assert_eq!(changed.ok(), Some(true));
    }

    #[tokio::test]
    async fn a_directory_is_watched_recursively() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("team")).unwrap();
        let options = WatchOptions {
            debounce: Duration::from_millis(50),
            poll_interval: Duration::from_secs(3600),
        };
        let mut watcher = watch(vec![tmp.path().to_path_buf()], options).unwrap();
        fs::write(tmp.path().join("team").join("p.yaml"), "x").unwrap();
        let changed = tokio::time::timeout(Duration::from_secs(10), watcher.changed()).await;
        assert_eq!(changed.ok(), Some(true));
    }
}
