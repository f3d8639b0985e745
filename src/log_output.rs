//! Where log lines go: a shared buffer that a background thread writes out in batches, in
//! tracing-subscriber's text or JSON layout ([`dispatch`]).
//!
//! Under load the webhook writes a line per review, tens of thousands a second. Writing each
//! one to stderr costs a system call on the request path; handing each to a writer thread
//! through a queue costs an allocation and, often, a wake-up of that thread. Here a line is
//! only appended to a buffer under a lock: the writer thread wakes on a short interval, or when
//! the buffer has grown large, and writes everything in one call. Warnings and errors wake it at
//! once, so they are not late, but are not written by the thread that logs them: a client that
//! can make the webhook warn must not make a worker wait for stderr. Nothing is dropped: when
//! the output cannot keep up and the buffer reaches its cap, the logging thread writes the
//! buffer itself. Lines keep their order, and [`FlushGuard`] writes what is left.

use crate::cli::LogFormat;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use tracing::{Dispatch, Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The subscriber the commands log through: `filter`'s events to `writer`, in
/// tracing-subscriber's own layouts (its default text line, or JSON with the event's fields at
/// the top level), in colour only when `colour` says so. Both escape what a request could put
/// in a field to forge a line or colour a terminal.
pub fn dispatch<W>(format: LogFormat, filter: EnvFilter, writer: W, colour: bool) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour);
    match format {
        LogFormat::Text => Dispatch::new(builder.finish()),
        LogFormat::Json => Dispatch::new(builder.json().flatten_event(true).finish()),
    }
}

/// When the writer thread writes without being woken: late enough to batch many lines, soon
/// enough that `kubectl logs -f` looks live.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(25);
/// A buffer this full wakes the writer thread before its interval is up.
const WAKE_AT: usize = 64 * 1024;
/// A buffer this full is written by the thread that logs, which slows logging to the speed of
/// the output instead of growing without bound.
const CAP: usize = 4 * 1024 * 1024;

struct Shared {
    pending: Mutex<Pending>,
    /// Held while writing, and taken before `pending`, so batches reach the output in the
    /// order their lines were logged.
    output: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves bytes, not broken invariants; keep logging.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Writes everything logged so far; `spare` is reused as the next buffer.
    fn flush(&self, spare: &mut Vec<u8>) -> io::Result<()> {
        let mut output = lock(&self.output);
        std::mem::swap(&mut lock(&self.pending).lines, spare);
        let written = output.write_all(spare).and_then(|()| output.flush());
        spare.clear();
        written
    }
}

/// The [`MakeWriter`] for `tracing_subscriber::fmt`. Cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
    writer_thread: thread::Thread,
}

/// Writes what is still buffered and stops the writer thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    writer_thread: Option<JoinHandle<()>>,
}

impl BatchedWriter {
    /// Starts the writer thread for `output`.
    pub fn new(output: impl Write + Send + 'static, interval: Duration) -> (Self, FlushGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            output: Mutex::new(Box::new(output)),
        });
        let for_thread = shared.clone();
        let handle = thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_until_closed(&for_thread, interval))
            .unwrap_or_else(|error| panic!("cannot start the log writer thread: {error}"));
        let writer = BatchedWriter {
            shared: shared.clone(),
            writer_thread: handle.thread().clone(),
        };
        let guard = FlushGuard {
            shared,
            writer_thread: Some(handle),
        };
        (writer, guard)
    }
}

fn write_until_closed(shared: &Shared, interval: Duration) {
    let mut spare = Vec::new();
    loop {
        thread::park_timeout(interval);
        let closed = lock(&shared.pending).closed;
        // Nowhere is left to report a failing stderr; the next batch tries again.
        let _ = shared.flush(&mut spare);
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        lock(&self.shared.pending).closed = true;
        if let Some(handle) = self.writer_thread.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// One event's bytes; `urgent` for warnings and errors.
pub struct LineWriter<'a> {
    writer: &'a BatchedWriter,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let (buffered, closed) = {
            let mut pending = lock(&self.writer.shared.pending);
            pending.lines.extend_from_slice(bytes);
            (pending.lines.len(), pending.closed)
        };
        // Once the guard has closed the buffer, nobody else will write it out; going through
        // the buffer even then keeps this line behind any the writer thread has yet to write.
        if closed || buffered >= CAP {
            self.writer.shared.flush(&mut Vec::new())?;
        } else if buffered >= WAKE_AT {
            self.writer.writer_thread.unpark();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.urgent {
            self.writer.writer_thread.unpark();
        }
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        // `fmt` writes an event with one `write_all` and never calls `flush`.
        if self.urgent {
            let _ = Write::flush(self);
        }
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            writer: self,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            writer: self,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

/// Log output kept in memory, for tests: a writer, or a `MakeWriter` for a subscriber.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Sink(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
impl<'a> MakeWriter<'a> for Sink {
    type Writer = Sink;

    fn make_writer(&'a self) -> Sink {
        self.clone()
    }
}

#[cfg(test)]
impl Sink {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(lock(&self.0).clone()).expect("log output is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const FORGING: &str = "a\n2026-11-27T00:00:00.000000Z  INFO forged: decision=\"allow\" \x1b[31mred\x1b[0m \u{9b}31m";

    #[test]
    fn a_field_cannot_forge_a_line_or_colour_a_terminal() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let sink = Sink::default();
            let dispatch = dispatch(format, EnvFilter::new("info"), sink.clone(), false);
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::warn!(uid = FORGING, "refused admission request");
            });
            let text = sink.text();
            assert_eq!(text.lines().count(), 1, "{format:?}: {text}");
            assert!(!text.contains('\x1b'), "{format:?}: {text:?}");
            let line = text.trim_end();
            match format {
                LogFormat::Text => {
                    // 2026-11-27T15:45:46.123456Z  WARN portcullis::log_output::tests: …
                    let (time, rest) = line.split_once(' ').expect("a timestamp");
                    assert!(time.len() == 27 && time.ends_with('Z'), "{line}");
                    assert!(rest.starts_with(" WARN portcullis::"), "{line}");
                    assert!(
                        line.contains("refused admission request uid=\"a\\n2026"),
                        "{line}"
                    );
                    assert!(!line.contains('\u{9b}'), "{line:?}");
                }
                LogFormat::Json => {
                    let value: serde_json::Value =
                        serde_json::from_str(line).expect("one JSON line");
                    assert_eq!(value["uid"], FORGING);
                    assert_eq!(value["level"], "WARN");
                    assert_eq!(value["message"], "refused admission request");
                    let time = value["timestamp"].as_str().expect("a timestamp");
                    assert!(time.len() == 27 && time.ends_with('Z'), "{line}");
                }
            }
        }
    }

    const NEVER: Duration = Duration::from_secs(3600);

    fn line(writer: &mut LineWriter<'_>, text: &str) {
        writer.write_all(text.as_bytes()).expect("buffered write");
    }

    #[test]
    fn lines_wait_for_the_interval_and_the_guard_writes_the_rest() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::new(sink.clone(), NEVER);
        line(&mut writer.make_writer(), "one\n");
        line(&mut writer.make_writer(), "two\n");
        assert_eq!(sink.text(), "");
        drop(guard);
        assert_eq!(sink.text(), "one\ntwo\n");
        // A line logged after shutdown still gets out.
        line(&mut writer.make_writer(), "late\n");
        assert_eq!(sink.text(), "one\ntwo\nlate\n");
    }

    #[test]
    fn the_writer_thread_writes_on_its_interval() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::new(sink.clone(), Duration::from_millis(5));
        line(&mut writer.make_writer(), "tick\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.text(), "tick\n");
    }

    /// Waits, within a generous bound, until `sink` holds `lines` lines.
    fn wait_for_lines(sink: &Sink, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().lines().count() < lines && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        sink.text()
    }

    #[test]
    fn warnings_wake_the_writer_at_once_and_keep_their_place() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::new(sink.clone(), NEVER);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("allowed");
            assert_eq!(sink.text(), "");
            tracing::warn!("refused");
        });
        // The writer thread would otherwise wait an hour.
        let text = wait_for_lines(&sink, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].ends_with("allowed") && lines[0].contains("INFO"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("refused") && lines[1].contains("WARN"),
            "{text}"
        );
    }

    /// An output that takes nothing until it is opened.
    #[derive(Clone, Default)]
    struct Stuck {
        open: Arc<(Mutex<bool>, std::sync::Condvar)>,
        sink: Sink,
    }

    impl Stuck {
        fn open(&self) {
            *lock(&self.open.0) = true;
            self.open.1.notify_all();
        }
    }

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut open = lock(&self.open.0);
            while !*open {
                open = self
                    .open
                    .1
                    .wait(open)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            self.sink.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_warning_never_waits_for_a_slow_output() {
        let stuck = Stuck::default();
        let (writer, guard) = BatchedWriter::new(stuck.clone(), Duration::from_millis(1));
        // The writer thread is now stuck writing the first line.
        line(&mut writer.make_writer(), "first\n");
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .finish();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let logging = thread::spawn(move || {
            tracing::subscriber::with_default(subscriber, || {
                for _ in 0..10 {
                    tracing::warn!("refused");
                    tracing::error!("failed");
                }
            });
            let _ = done_tx.send(());
        });
        let logged = done_rx.recv_timeout(Duration::from_secs(10));
        stuck.open();
        assert!(logged.is_ok(), "logging a warning waited for the output");
        logging.join().expect("the logging thread");
        drop(guard);
        let text = stuck.sink.text();
        assert_eq!(text.lines().count(), 21, "{text}");
        assert!(text.starts_with("first\n"), "{text}");
    }

    #[test]
    fn a_full_buffer_wakes_the_writer_thread() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::new(sink.clone(), NEVER);
        let chunk = "x".repeat(1023) + "\n";
        for _ in 0..=WAKE_AT / chunk.len() {
            line(&mut writer.make_writer(), &chunk);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(sink.text().len() >= WAKE_AT);
    }

    #[test]
    fn the_buffer_never_grows_past_its_cap_and_nothing_is_lost() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::new(sink.clone(), NEVER);
        let chunk = "y".repeat(64 * 1024 - 1) + "\n";
        let mut logged = 0;
        while logged < 3 * CAP {
            line(&mut writer.make_writer(), &chunk);
            logged += chunk.len();
            assert!(lock(&writer.shared.pending).lines.len() < CAP);
        }
        drop(guard);
        assert_eq!(sink.text().len(), logged);
    }

    #[test]
    fn concurrent_lines_stay_whole_and_none_is_lost() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::new(sink.clone(), Duration::from_millis(1));
        thread::scope(|scope| {
            for thread_index in 0..4 {
                let writer = writer.clone();
                scope.spawn(move || {
                    for n in 0..5_000 {
                        line(&mut writer.make_writer(), &format!("{thread_index}:{n}\n"));
                    }
                });
            }
        });
        drop(guard);
        let text = sink.text();
        let mut seen: Vec<&str> = text.lines().collect();
        assert_eq!(seen.len(), 20_000);
        // Each thread's lines arrive in the order it logged them.
        for thread_index in 0..4 {
            let prefix = format!("{thread_index}:");
            let numbers: Vec<usize> = seen
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(|n| n.parse().expect("a whole line"))
                .collect();
            assert_eq!(numbers, (0..5_000).collect::<Vec<_>>());
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 20_000);
    }
}
