//! Kyverno's `time_*` functions, with Go's `time` package semantics (see
//! [`crate::coerce::gotime`]): RFC 3339 output without fractional seconds, `Duration.String`
//! for differences, and truncation counted from year 1.

use super::{Arg, EvalError, Interpreter, Result, boolean, str_at, string};
use crate::coerce::duration;
use crate::coerce::gotime::{RFC3339, format_rfc3339, parse as parse_layout};
use time::{OffsetDateTime, UtcOffset};

/// Seconds from 0001-01-01T00:00:00Z, Go's zero time, to the Unix epoch.
const ZERO_TO_UNIX: i128 = 62_135_596_800;

pub(super) fn now<'a>(interpreter: &Interpreter<'_>, _: Vec<Arg<'a>>) -> Result<'a> {
    string(format_rfc3339(interpreter.environment.now()))
}

pub(super) fn now_utc<'a>(interpreter: &Interpreter<'_>, _: Vec<Arg<'a>>) -> Result<'a> {
    string(format_rfc3339(in_utc(interpreter.environment.now())?))
}

fn time_at(args: &[Arg<'_>], index: usize) -> std::result::Result<OffsetDateTime, EvalError> {
    parse_layout(RFC3339, str_at(args, index)?).map_err(EvalError::failed)
}

fn duration_at(args: &[Arg<'_>], index: usize) -> std::result::Result<i64, EvalError> {
    duration::parse_with_error(str_at(args, index)?).map_err(EvalError::failed)
}

pub(super) fn since<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let layout = match str_at(&args, 0)? {
        "" => RFC3339,
        layout => layout,
    };
    let start = parse_layout(layout, str_at(&args, 1)?).map_err(EvalError::failed)?;
    let end = match str_at(&args, 2)? {
        "" => interpreter.environment.now(),
        text => parse_layout(layout, text).map_err(EvalError::failed)?,
    };
    string(duration::format(difference(start, end)))
}

pub(super) fn to_cron<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let t = time_at(&args, 0)?;
    string(format!(
        "{} {} {} {} {}",
        t.minute(),
        t.hour(),
        t.day(),
        u8::from(t.month()),
        t.weekday().number_days_from_sunday()
    ))
}

pub(super) fn add<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let t = time_at(&args, 0)?;
    let d = duration_at(&args, 1)?;
    let sum = t
        .checked_add(time::Duration::nanoseconds(d))
        .ok_or_else(|| EvalError::failed("time out of range"))?;
    string(format_rfc3339(sum))
}

pub(super) fn parse<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let layout = str_at(&args, 0)?;
    let text = str_at(&args, 1)?;
    if layout.parse::<i64>().is_ok() {
        // A numeric layout means "seconds since the epoch".
        let seconds: i64 = text.parse().map_err(|_| {
            EvalError::failed(format!(
                "strconv.ParseInt: parsing {}: invalid syntax",
                crate::coerce::gofmt::quote(text)
            ))
        })?;
        let t = OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|_| EvalError::failed("time out of range"))?;
        return string(format_rfc3339(t));
    }
    let t = parse_layout(layout, text).map_err(EvalError::failed)?;
    string(format_rfc3339(t))
}

pub(super) fn utc<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(format_rfc3339(in_utc(time_at(&args, 0)?)?))
}

pub(super) fn diff<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (t1, t2) = (time_at(&args, 0)?, time_at(&args, 1)?);
    string(duration::format(difference(t1, t2)))
}

pub(super) fn before<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    boolean(time_at(&args, 0)? < time_at(&args, 1)?)
}

pub(super) fn after<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    boolean(time_at(&args, 0)? > time_at(&args, 1)?)
}

pub(super) fn between<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (t, start, end) = (time_at(&args, 0)?, time_at(&args, 1)?, time_at(&args, 2)?);
    boolean(t > start && t < end)
}

/// `t.Truncate(d)`: down to a multiple of `d` counted from Go's zero time, in absolute time.
pub(super) fn truncate<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let t = time_at(&args, 0)?;
    let d = duration_at(&args, 1)?;
    if d <= 0 {
        return string(format_rfc3339(t));
    }
    let since_zero = (i128::from(t.unix_timestamp()) + ZERO_TO_UNIX) * 1_000_000_000
        + i128::from(t.nanosecond());
    let remainder = since_zero.rem_euclid(i128::from(d));
    let truncated = i64::try_from(remainder)
        .ok()
        .and_then(|r| t.checked_sub(time::Duration::nanoseconds(r)))
        .ok_or_else(|| EvalError::failed("time out of range"))?;
    string(format_rfc3339(truncated))
}

fn in_utc(t: OffsetDateTime) -> std::result::Result<OffsetDateTime, EvalError> {
    t.checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| EvalError::failed("time out of range"))
}

/// `t2.Sub(t1)`, saturating at the range of a Go duration.
fn difference(t1: OffsetDateTime, t2: OffsetDateTime) -> i64 {
    let nanos = (t2 - t1).whole_nanoseconds();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}
