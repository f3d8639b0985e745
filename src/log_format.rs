//! The text and JSON log lines, written byte for byte as tracing-subscriber's `Full` and
//! flattened `Json` formats write them, without their general machinery.
//!
//! `serve` logs a line per review. tracing-subscriber sends every piece of a line through
//! `core::fmt`, styles each piece for colour even with colour off, and in JSON passes every few
//! bytes through serde and a UTF-8 check; that made a text line cost more than judging a policy,
//! and a JSON line twice that. Here literal pieces and strings that need no escaping are copied
//! as they are. Anything that does need escaping takes the same escaping the reference formats
//! use, and what this module does not write itself (colour, spans, events bridged from the `log`
//! crate, a writer that does not sanitize) is handed to tracing-subscriber's own format.

use crate::cli::LogFormat;
use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::UNIX_EPOCH;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer, format};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// tracing-subscriber's default text format.
pub struct TextFormat<T = UtcTime> {
    timer: T,
    fallback: Format<Full, T>,
}

/// tracing-subscriber's JSON format with the event's fields flattened into the line.
pub struct JsonFormat<T = UtcTime> {
    timer: T,
    fallback: Format<Json, T>,
}

impl TextFormat {
    pub fn new() -> Self {
        Self::with_timer(UtcTime)
    }
}

impl Default for TextFormat {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FormatTime + Clone> TextFormat<T> {
    pub fn with_timer(timer: T) -> Self {
        Self {
            fallback: format().with_timer(timer.clone()),
            timer,
        }
    }
}

impl JsonFormat {
    pub fn new() -> Self {
        Self::with_timer(UtcTime)
    }
}

impl Default for JsonFormat {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FormatTime + Clone> JsonFormat<T> {
    pub fn with_timer(timer: T) -> Self {
        Self {
            fallback: format()
                .json()
                .flatten_event(true)
                .with_timer(timer.clone()),
            timer,
        }
    }
}

/// The time as tracing-subscriber's `SystemTime` timer writes it (RFC 3339 in UTC with
/// microseconds), with the date and the time of day worked out once a second per thread: the
/// calendar arithmetic and its padded formatting were a third of a log line's cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct UtcTime;

thread_local! {
    /// The second last written on this thread, and its text up to the fraction's point.
    static LAST_SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for UtcTime {
    fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
        let now = std::time::SystemTime::now();
        let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
            return SystemTime.format_time(writer);
        };
        let second = since_epoch.as_secs();
        LAST_SECOND.with(|last| {
            let mut last = last.borrow_mut();
            if last.0 != second {
                let Some(text) = date_and_time(second) else {
                    return SystemTime.format_time(writer);
                };
                *last = (second, text);
            }
            writer.write_str(&last.1)?;
            let mut fraction = *b"000000Z";
            let mut micros = since_epoch.subsec_micros();
            for digit in fraction[..6].iter_mut().rev() {
                *digit = b'0' + (micros % 10) as u8;
                micros /= 10;
            }
            writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` for a second since the Unix epoch, in the proleptic Gregorian calendar
/// (the days-to-civil conversion of Howard Hinnant's `chrono`-compatible date algorithms);
/// `None` past the year 9999, whose text the reference writes differently.
fn date_and_time(second: u64) -> Option<String> {
    let days = second / 86_400;
    let of_day = second % 86_400;
    // Days from 0000-03-01, so that a leap day ends its year.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let of_era = shifted % 146_097;
    let year_of_era = (of_era - of_era / 1_460 + of_era / 36_524 - of_era / 146_096) / 365;
    let day_of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    if year > 9999 {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
        of_day / 3_600,
        of_day / 60 % 60,
        of_day % 60
    ))
}

/// Events the `log` crate's records become carry their real target in a field, which the
/// reference formats put in place of the event's own.
fn is_bridged_from_log(event: &Event<'_>) -> bool {
    event.metadata().fields().field("log.target").is_some()
}

impl<S, N, T> FormatEvent<S, N> for TextFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if writer.has_ansi_escapes()
            || !writer.sanitizes_ansi_escapes()
            || ctx.event_scope().is_some()
            || is_bridged_from_log(event)
        {
            return self.fallback.format_event(ctx, writer, event);
        }
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(padded_level(event.metadata().level()))?;
        writer.write_char(' ')?;
        writer.write_str(event.metadata().target())?;
        writer.write_str(": ")?;
        let mut fields = TextFields {
            writer: writer.by_ref(),
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

fn padded_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// The fields as tracing-subscriber's `DefaultFields` writes them without colour: the message
/// bare (terminal controls escaped), every other field `name=` and its `Debug` form. Like
/// `DefaultFields`, it leaves numbers and booleans to `Visit`'s default, their `Debug` form.
struct TextFields<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

/// Where a field's value goes: the message is written bare and with terminal controls escaped,
/// any other value after its name, in its `Debug` form.
enum Slot {
    Message,
    Named,
}

impl TextFields<'_> {
    /// Starts the field: a separating space, and its name unless it is the message. `None` for
    /// the `log.` fields the reference formats leave out.
    fn start(&mut self, field: &Field) -> Option<Slot> {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return None;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        if name == "message" {
            return Some(Slot::Message);
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = self
            .result
            .and_then(|()| self.writer.write_str(name))
            .and_then(|()| self.writer.write_char('='));
        Some(Slot::Named)
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match self.start(field) {
            None => {}
            Some(Slot::Message) => {
                self.result = self
                    .result
                    .and_then(|()| TerminalSafe(&mut self.writer).write_str(value));
            }
            Some(Slot::Named) => {
                self.result = self
                    .result
                    .and_then(|()| write_debug_str(&mut self.writer, value));
            }
        }
    }

    /// The error and, after it, its sources, escaped in either slot as the reference escapes them.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.start(field).is_none() {
            return;
        }
        let mut out = TerminalSafe(&mut self.writer);
        let mut written = write!(out, "{value}");
        if let Some(source) = value.source() {
            written = written
                .and_then(|()| write!(out.0, " {}.sources=", field.name()))
                .and_then(|()| write!(out.0, "{:?}", SourceList(source)));
        }
        self.result = self.result.and(written);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match self.start(field) {
            None => {}
            Some(Slot::Message) => {
                self.result = self
                    .result
                    .and_then(|()| write!(TerminalSafe(&mut self.writer), "{value:?}"));
            }
            Some(Slot::Named) => {
                self.result = self.result.and_then(|()| write!(self.writer, "{value:?}"));
            }
        }
    }
}

/// An error's chain of sources as the reference text format lists them: `["a", "b"]` with each
/// entry's terminal controls escaped.
struct SourceList<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Debug for SourceList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut next = Some(self.0);
        while let Some(error) = next {
            list.entry(&TerminalSafeDisplay(error));
            next = error.source();
        }
        list.finish()
    }
}

struct TerminalSafeDisplay<'a>(&'a dyn std::error::Error);

impl fmt::Debug for TerminalSafeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(TerminalSafe(f), "{}", self.0)
    }
}

/// `str`'s `Debug` form: quoted, with escapes. Printable ASCII other than the quote and the
/// backslash is written as it is, which is what `Debug` does with it.
fn write_debug_str(writer: &mut impl Write, value: &str) -> fmt::Result {
    if value
        .bytes()
        .all(|byte| matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\')
    {
        writer.write_char('"')?;
        writer.write_str(value)?;
        writer.write_char('"')
    } else {
        write!(writer, "{value:?}")
    }
}

/// Escapes the characters that let text drive a terminal (ESC, BEL, BS, FF, DEL and the C1
/// controls) the way tracing-subscriber does, so a logged message cannot recolour or rewrite
/// the reader's screen.
struct TerminalSafe<W>(W);

impl<W: Write> Write for TerminalSafe<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // A C1 control is 0xC2 and a second byte in UTF-8; other text starting with 0xC2
        // merely takes the careful path.
        if !text
            .bytes()
            .any(|byte| matches!(byte, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0xc2))
        {
            return self.0.write_str(text);
        }
        for c in text.chars() {
            match c {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let has_span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current())
            .is_some();
        if has_span || is_bridged_from_log(event) {
            return self.fallback.format_event(ctx, writer, event);
        }
        writer.write_str("{\"timestamp\":\"")?;
        self.timer
            .format_time(&mut Writer::new(&mut JsonEscaped(&mut writer)))?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_char('"')?;
        let mut fields = JsonFields {
            writer: writer.by_ref(),
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, event.metadata().target())?;
        writer.write_str("}\n")
    }
}

/// The fields in the order they were recorded, each as `,"name":value`, as serde_json writes
/// the entries of a map: strings and `Debug` forms as JSON strings, numbers and booleans bare.
struct JsonFields<'a> {
    writer: Writer<'a>,
    result: fmt::Result,
}

impl JsonFields<'_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self
                .writer
                .write_char(',')
                .and_then(|()| write_json_str(&mut self.writer, field.name()))
                .and_then(|()| self.writer.write_char(':'))
                .and_then(|()| value(&mut self.writer));
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |writer| write_json_str(writer, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |writer| write!(writer, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |writer| write!(writer, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |writer| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json writes the shortest round-tripping form, and `null` for NaN and infinities.
        self.entry(field, |writer| {
            writer.write_str(&serde_json::Value::from(value).to_string())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |writer| {
            writer.write_char('"')?;
            write!(JsonEscaped(&mut *writer), "{value:?}")?;
            writer.write_char('"')
        });
    }
}

fn write_json_str(writer: &mut impl Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(&mut *writer).write_str(value)?;
    writer.write_char('"')
}

/// The inside of a JSON string as serde_json writes it. Escaping is per character, so text
/// written in pieces comes out as it would whole.
struct JsonEscaped<W>(W);

impl<W: Write> Write for JsonEscaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !text
            .bytes()
            .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
        {
            return self.0.write_str(text);
        }
        let quoted = serde_json::to_string(text).map_err(|_| fmt::Error)?;
        let inside = quoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or(fmt::Error)?;
        self.0.write_str(inside)
    }
}

/// The subscriber the commands log through: `filter`'s events in `format` to `writer`, in
/// colour only when `colour` says so.
pub fn dispatch<W>(format: LogFormat, filter: EnvFilter, writer: W, colour: bool) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour);
    match format {
        LogFormat::Text => Dispatch::new(builder.event_format(TextFormat::new()).finish()),
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .event_format(JsonFormat::new())
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_output::Sink;
    use std::error::Error;
    use tracing::{debug, error, info, info_span, trace, warn};
    use tracing_subscriber::filter::LevelFilter;

    fn lines(sink: &Sink) -> Vec<String> {
        sink.text()
            .split_inclusive('\n')
            .map(str::to_owned)
            .collect()
    }

    /// A clock stopped at one instant, so both formats print the same time.
    #[derive(Clone)]
    struct Stopped;

    impl FormatTime for Stopped {
        fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
            writer.write_str("2026-11-27T15:45:46.123456Z")
        }
    }

    #[derive(Debug)]
    struct Failure {
        text: &'static str,
        source: Option<Box<Failure>>,
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Failure {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source
                .as_deref()
                .map(|source| source as &(dyn Error + 'static))
        }
    }

    const AWKWARD: [&str; 13] = [
        "",
        "plain text",
        "quote \" and backslash \\",
        "line\nbreak\ttab\rreturn\0nul",
        "\x1b[31mred\x1b[0m bell\x07 backspace\x08 feed\x0c delete\x7f",
        "C1 \u{85} \u{9b}31m",
        "not C1, though its first byte is the same: £ and \u{a0}",
        "é, ü, 漢字, 🦀",
        "\u{301}combining first",
        "bidi \u{202e}txt.exe",
        "separator \u{2028} and \u{feff}",
        "\n2026-11-27T00:00:00.000000Z  INFO forged: decision=\"allow\"",
        "single ' quote",
    ];

    /// Events of every shape: each level, each field type, strings that need escaping in either
    /// format, errors with and without sources, raw identifiers, an explicit message field, an
    /// event inside a span, and one carrying the `log` bridge's fields.
    fn log_everything() {
        let name = "web-7d4b9c8f6d-x2x9k";
        info!(
            uid = "705ab4f5-6393-11e8-b7cc-42010a800002",
            kind = "Pod",
            namespace = "shop",
            name,
            operation = "CREATE",
            subresource = "",
            dry_run = false,
            decision = "allow",
            latency_us = 133_u64,
            "admission review"
        );
        for text in AWKWARD {
            warn!(value = text, "field");
            error!("message {text}");
            info!(message = text, after = text);
            info!(debugged = ?text, displayed = %text);
        }
        trace!(
            unsigned = u64::MAX,
            signed = i64::MIN,
            small = -3_i64,
            "numbers"
        );
        debug!(
            whole = 1.0_f64,
            large = 1e300_f64,
            tiny = 5e-324_f64,
            negative_zero = -0.0_f64,
            nan = f64::NAN,
            infinite = f64::INFINITY,
            "floats"
        );
        info!(
            wide = u128::MAX,
            wide_signed = i128::MIN,
            yes = true,
            no = false
        );
        info!(list = ?vec!["a", "b\"c"], unit = ?(), "debug values");
        let chained = Failure {
            text: "outer \x1b[2J failure",
            source: Some(Box::new(Failure {
                text: "inner\ncause",
                source: Some(Box::new(Failure {
                    text: "root",
                    source: None,
                })),
            })),
        };
        let single = Failure {
            text: "alone",
            source: None,
        };
        error!(error = &chained as &(dyn Error + 'static), "with sources");
        error!(error = &single as &(dyn Error + 'static));
        warn!(r#type = "raw", r#match = 1_u64, "raw identifiers");
        info!(target: "other::target \"quoted\"", "another target");
        info!("");
        info!(only = "fields");
        info!(log.target = "from_log", log.line = 3_u64, "looks bridged");
        info_span!("request", id = 7_u64).in_scope(|| warn!(inner = "x", "in a span"));
    }

    fn compare(reference: Dispatch, ours: Dispatch, reference_lines: &Sink, our_lines: &Sink) {
        tracing::dispatcher::with_default(&reference, log_everything);
        tracing::dispatcher::with_default(&ours, log_everything);
        let (expected, got) = (lines(reference_lines), lines(our_lines));
        assert!(expected.len() > 50, "{expected:?}");
        for (expected, got) in expected.iter().zip(&got) {
            assert_eq!(got, expected);
        }
        assert_eq!(got.len(), expected.len());
    }

    fn builder(
        capture: &Sink,
        ansi: bool,
    ) -> tracing_subscriber::fmt::SubscriberBuilder<
        tracing_subscriber::fmt::format::DefaultFields,
        Format<Full, SystemTime>,
        LevelFilter,
        Sink,
    > {
        tracing_subscriber::fmt()
            .with_max_level(LevelFilter::TRACE)
            .with_writer(capture.clone())
            .with_ansi(ansi)
    }

    #[test]
    fn text_lines_are_tracing_subscribers_byte_for_byte() {
        for ansi in [false, true] {
            let (reference, ours) = (Sink::default(), Sink::default());
            compare(
                Dispatch::new(builder(&reference, ansi).with_timer(Stopped).finish()),
                Dispatch::new(
                    builder(&ours, ansi)
                        .event_format(TextFormat::with_timer(Stopped))
                        .finish(),
                ),
                &reference,
                &ours,
            );
        }
    }

    #[test]
    fn json_lines_are_tracing_subscribers_byte_for_byte() {
        let (reference, ours) = (Sink::default(), Sink::default());
        compare(
            Dispatch::new(
                builder(&reference, false)
                    .json()
                    .flatten_event(true)
                    .with_timer(Stopped)
                    .finish(),
            ),
            Dispatch::new(
                builder(&ours, false)
                    .json()
                    .flatten_event(true)
                    .event_format(JsonFormat::with_timer(Stopped))
                    .finish(),
            ),
            &reference,
            &ours,
        );
        for line in lines(&ours) {
            serde_json::from_str::<serde_json::Value>(&line).expect("each line is one JSON value");
        }
    }

    #[test]
    fn dates_and_times_of_known_seconds() {
        for (second, text) in [
            (0, "1970-01-01T00:00:00."),
            (68_169_600, "1972-02-29T00:00:00."),
            (951_782_400, "2000-02-29T00:00:00."),
            (951_868_799, "2000-02-29T23:59:59."),
            (1_583_020_800, "2020-03-01T00:00:00."),
            (1_796_989_546, "2026-12-11T11:45:46."),
            (4_107_542_400, "2100-03-01T00:00:00."),
            (4_107_628_799, "2100-03-01T23:59:59."),
            (253_402_300_799, "9999-12-31T23:59:59."),
        ] {
            assert_eq!(date_and_time(second).as_deref(), Some(text), "{second}");
        }
        assert_eq!(date_and_time(253_402_300_800), None);
    }

    #[test]
    fn the_clock_agrees_with_tracing_subscribers() {
        let format = |timer: &dyn Fn(&mut Writer<'_>) -> fmt::Result| {
            let mut text = String::new();
            timer(&mut Writer::new(&mut text)).expect("the clock writes");
            text
        };
        // Retried when a second turns between the two readings of the reference.
        for _ in 0..5 {
            let before = format(&|writer| SystemTime.format_time(writer));
            let ours = format(&|writer| UtcTime.format_time(writer));
            let after = format(&|writer| SystemTime.format_time(writer));
            if before[..20] != after[..20] {
                continue;
            }
            assert_eq!(ours.len(), before.len(), "{ours} against {before}");
            assert_eq!(ours[..20], before[..20]);
            assert!(
                ours[20..26].bytes().all(|byte| byte.is_ascii_digit()),
                "{ours}"
            );
            assert!(ours.ends_with('Z'), "{ours}");
            assert!(
                (&before[20..26]..=&after[20..26]).contains(&&ours[20..26]),
                "{before} {ours} {after}"
            );
            return;
        }
        panic!("the second turned on every try");
    }

    #[test]
    fn the_clock_is_written_where_the_reference_writes_it() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let capture = Sink::default();
            let dispatch = super::dispatch(format, EnvFilter::new("info"), capture.clone(), false);
            tracing::dispatcher::with_default(&dispatch, || info!(n = 1_u64, "tick"));
            let line = capture.text();
            let time = match format {
                LogFormat::Text => line.split(' ').next(),
                LogFormat::Json => line
                    .strip_prefix("{\"timestamp\":\"")
                    .and_then(|rest| rest.split('"').next()),
            };
            let time = time.unwrap_or_else(|| panic!("no timestamp in {line:?}"));
            // 2026-11-27T15:45:46.123456Z
            assert_eq!(time.len(), 27, "{line:?}");
            assert!(
                time.as_bytes()[10] == b'T' && time.ends_with('Z'),
                "{line:?}"
            );
        }
    }
}
