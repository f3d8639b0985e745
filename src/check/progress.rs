//! A progress bar on stderr for large inputs: workers count finished documents in an atomic,
//! and one drawing thread redraws a single line a few times a second, so the hot path pays one
//! relaxed add. Drawn only on a terminal and only for phases with many documents.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Below this many documents a phase ends before a bar would be worth reading.
pub const SHOWN_FROM: usize = 5_000;

const WIDTH: usize = 30;

#[derive(Default)]
struct Shared {
    label: Mutex<&'static str>,
    done: AtomicUsize,
    total: AtomicUsize,
    stop: AtomicBool,
}

pub struct Progress {
    shared: Arc<Shared>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    /// Counts without drawing.
    pub fn hidden() -> Self {
        Self {
            shared: Arc::default(),
            drawer: None,
        }
    }

    /// Draws on stderr until dropped.
    pub fn on_stderr() -> Self {
        let shared = Arc::<Shared>::default();
        let drawing = shared.clone();
        let drawer = std::thread::Builder::new()
            .name("progress".to_owned())
            .spawn(move || draw_until_stopped(&drawing))
            .ok();
        Self { shared, drawer }
    }

    /// Begins a phase of `total` steps.
    pub fn start(&self, label: &'static str, total: usize) {
        if let Ok(mut current) = self.shared.label.lock() {
            *current = label;
        }
        self.shared.done.store(0, Ordering::Relaxed);
        self.shared.total.store(total, Ordering::Relaxed);
    }

    pub fn advance(&self) {
        self.shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

fn draw_until_stopped(shared: &Shared) {
    let mut drawn = false;
    let mut stderr = std::io::stderr();
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let total = shared.total.load(Ordering::Relaxed);
        if total < SHOWN_FROM {
            continue;
        }
        let done = shared.done.load(Ordering::Relaxed).min(total);
        let label = shared.label.lock().map(|label| *label).unwrap_or("");
        let _ = write!(stderr, "\r{}", bar(label, done, total));
        let _ = stderr.flush();
        drawn = true;
    }
    if drawn {
        // Erase the line so the report starts on a clean one.
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }
}

fn bar(label: &str, done: usize, total: usize) -> String {
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {done}/{total} {label}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(
            bar("parsing documents", 0, 6000),
            format!("[{}] 0/6000 parsing documents", "-".repeat(WIDTH))
        );
        assert_eq!(
            bar("checking", 3000, 6000),
            format!("[{}{}] 3000/6000 checking", "#".repeat(15), "-".repeat(15))
        );
        assert_eq!(
            bar("checking", 6000, 6000),
            format!("[{}] 6000/6000 checking", "#".repeat(WIDTH))
        );
    }

    #[test]
    fn a_hidden_progress_counts() {
        let progress = Progress::hidden();
        progress.start("checking", 3);
        progress.advance();
        progress.advance();
        assert_eq!(progress.shared.done.load(Ordering::Relaxed), 2);
    }
}
