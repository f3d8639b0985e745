//! Go's `time.Parse` with a layout written in Go's reference time (`2006-01-02T15:04:05Z07:00`,
//! `Mon Jan _2 15:04:05 MST 2006`…), with its error messages, and `Format(time.RFC3339)`.
//!
//! Without a zone in the input a time is UTC; a zone abbreviation Go does not know (`MST`,
//! `+05`, `GMT+3`) makes up a zone, as it does in Kyverno's UTC containers: the wall clock read
//! as UTC, shown at offset zero or at the hours of `GMT±h`. A fraction of a second in the
//! input is read even where the layout does not spell it out, as Go does.

use super::duration::quote;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// Go's `time.RFC3339` layout.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// `t.Format(time.RFC3339)`.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let offset = t.offset().whole_seconds();
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.unsigned_abs() / 60;
        out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    out
}

/// The elements of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds with a fixed number of digits (`.000`).
    FracSecond0(usize),
    /// Fractional seconds with up to a number of digits (`.999`).
    FracSecond9,
}

/// Go's `nextStdChunk`: the literal text before the next element, the element and its text.
fn next_element(layout: &str) -> (&str, Option<(Element, &str)>) {
    let bytes = layout.as_bytes();
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    let lower_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..bytes.len() {
        let found: Option<(Element, usize)> = match bytes[i] {
            b'J' if starts(i, "January") => Some((Element::LongMonth, 7)),
            b'J' if starts(i, "Jan") && !lower_at(i + 3) => Some((Element::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Element::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") && !lower_at(i + 3) => Some((Element::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Element::Tz, 3)),
            b'0' => match bytes.get(i + 1) {
                Some(b'1') => Some((Element::ZeroMonth, 2)),
                Some(b'2') => Some((Element::ZeroDay, 2)),
                Some(b'3') => Some((Element::ZeroHour12, 2)),
                Some(b'4') => Some((Element::ZeroMinute, 2)),
                Some(b'5') => Some((Element::ZeroSecond, 2)),
                Some(b'6') => Some((Element::Year, 2)),
                Some(b'0') if bytes.get(i + 2) == Some(&b'2') => Some((Element::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if bytes.get(i + 1) == Some(&b'5') => Some((Element::Hour, 2)),
            b'1' => Some((Element::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Element::LongYear, 4)),
            b'2' => Some((Element::Day, 1)),
            b'_' if starts(i, "_2006") => {
                // A literal underscore followed by the year.
                return (
                    &layout[..i + 1],
                    Some((Element::LongYear, &layout[i + 5..])),
                );
            }
            b'_' if starts(i, "_2") => Some((Element::UnderDay, 2)),
            b'_' if starts(i, "__2") => Some((Element::UnderYearDay, 3)),
            b'3' => Some((Element::Hour12, 1)),
            b'4' => Some((Element::Minute, 1)),
            b'5' => Some((Element::Second, 1)),
            b'P' if bytes.get(i + 1) == Some(&b'M') => Some((Element::Pm, 2)),
            b'p' if bytes.get(i + 1) == Some(&b'm') => Some((Element::LowerPm, 2)),
            b'-' if starts(i, "-070000") => Some((Element::NumSecondsTz, 7)),
            b'-' if starts(i, "-07:00:00") => Some((Element::NumColonSecondsTz, 9)),
            b'-' if starts(i, "-0700") => Some((Element::NumTz, 5)),
            b'-' if starts(i, "-07:00") => Some((Element::NumColonTz, 6)),
            b'-' if starts(i, "-07") => Some((Element::NumShortTz, 3)),
            b'Z' if starts(i, "Z070000") => Some((Element::Iso8601SecondsTz, 7)),
            b'Z' if starts(i, "Z07:00:00") => Some((Element::Iso8601ColonSecondsTz, 9)),
            b'Z' if starts(i, "Z0700") => Some((Element::Iso8601Tz, 5)),
            b'Z' if starts(i, "Z07:00") => Some((Element::Iso8601ColonTz, 6)),
            b'Z' if starts(i, "Z07") => Some((Element::Iso8601ShortTz, 3)),
            b'.' | b',' if matches!(bytes.get(i + 1), Some(b'0' | b'9')) => {
                let digit = bytes[i + 1];
                let end = i + 1 + bytes[i + 1..].iter().take_while(|&&b| b == digit).count();
                if bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    None
                } else if digit == b'0' {
                    Some((Element::FracSecond0(end - i - 1), end - i))
                } else {
                    Some((Element::FracSecond9, end - i))
                }
            }
            _ => None,
        };
        if let Some((element, length)) = found {
            return (&layout[..i], Some((element, &layout[i + length..])));
        }
    }
    (layout, None)
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A case-insensitive prefix match against names, as Go's `lookup`; the index and the rest.
fn lookup_name<'v>(names: &[&str], short: bool, value: &'v str) -> Option<(usize, &'v str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = if short { &name[..3] } else { name };
        let head = value.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (i, &value[name.len()..]))
    })
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn get_number(value: &str, fixed: bool) -> Option<(i64, &str)> {
    let bytes = value.as_bytes();
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| i64::from(b - b'0'))
    };
    let first = digit(0)?;
    match digit(1) {
        Some(second) => Some((first * 10 + second, &value[2..])),
        None if fixed => None,
        None => Some((first, &value[1..])),
    }
}

/// Go's `getnum3`: one to three digits (exactly three when `fixed`).
fn get_number3(value: &str, fixed: bool) -> Option<(i64, &str)> {
    let count = value.bytes().take(3).take_while(u8::is_ascii_digit).count();
    if count == 0 || (fixed && count != 3) {
        return None;
    }
    Some((value[..count].parse().ok()?, &value[count..]))
}

/// Go's `skip`: the layout's literal text, where a space matches any run of spaces.
fn skip<'v>(mut value: &'v str, mut prefix: &str) -> Option<&'v str> {
    while let Some(p) = prefix.chars().next() {
        if p == ' ' {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            prefix = prefix.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        if !value.starts_with(p) {
            return None;
        }
        prefix = &prefix[p.len_utf8()..];
        value = &value[p.len_utf8()..];
    }
    Some(value)
}

/// Nanoseconds from a fraction written `.ddd` (or `,ddd`) of `length` bytes, separator included.
fn nanoseconds(value: &str, length: usize) -> Option<i64> {
    if !value.starts_with(['.', ',']) {
        return None;
    }
    let digits = &value.get(1..length.min(10))?;
    let mut nanos: i64 = digits.parse().ok()?;
    for _ in digits.len()..9 {
        nanos *= 10;
    }
    Some(nanos)
}

/// Go's `parseSignedOffset`: the length of a sign and an hour count up to 23 at the start of
/// `value`, or 0.
fn signed_hours(value: &str) -> usize {
    let bytes = value.as_bytes();
    if !matches!(bytes.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let hours = value[1..1 + digits].parse::<u64>().unwrap_or(u64::MAX);
    if digits == 0 || hours > 23 {
        return 0;
    }
    1 + digits
}

/// Length of a time zone abbreviation Go accepts at the start of `value`.
fn zone_abbreviation(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    if bytes.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(hours) = value.strip_prefix("GMT") {
        // `GMT` optionally followed by a signed hour offset.
        return Some(3 + signed_hours(hours));
    }
    // Zones without a name, written `+hh` or `-hh`.
    if matches!(bytes[0], b'+' | b'-') {
        return Some(signed_hours(value)).filter(|&n| n > 0);
    }
    let upper = bytes
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if bytes[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if bytes[4] == b'T' => Some(5),
        _ => None,
    }
}

/// `time.Parse(layout, value)`, with Go's error messages.
pub fn parse(layout: &str, value: &str) -> std::result::Result<OffsetDateTime, String> {
    let fail = |layout_element: &str, value_element: &str, message: &str| -> String {
        if message.is_empty() {
            format!(
                "parsing time {} as {}: cannot parse {} as {}",
                quote(value),
                quote(layout),
                quote(value_element),
                quote(layout_element)
            )
        } else {
            format!("parsing time {}{message}", quote(value))
        }
    };
    let (mut year, mut month, mut day, mut year_day) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let (mut pm, mut am) = (false, false);
    let mut offset: Option<i64> = None;
    // A zone named by an abbreviation Go does not know becomes a made-up zone: the wall clock
    // is read as UTC, then shown at the made-up offset (zero, or the hours of `GMT+h`).
    let mut made_up_zone = false;
    let mut rest_layout = layout;
    let mut rest = value;
    loop {
        let (prefix, element) = next_element(rest_layout);
        rest = skip(rest, prefix).ok_or_else(|| fail(prefix, rest, ""))?;
        let Some((element, suffix)) = element else {
            if !rest.is_empty() {
                return Err(fail("", rest, &format!(": extra text: {}", quote(rest))));
            }
            break;
        };
        let element_text = &rest_layout[prefix.len()..rest_layout.len() - suffix.len()];
        rest_layout = suffix;
        let hold = rest;
        let mut range_error = "";
        let parsed: Option<&str> = match element {
            Element::Year => rest.get(..2).and_then(|p| p.parse::<i64>().ok()).map(|y| {
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                &rest[2..]
            }),
            Element::LongYear => rest
                .get(..4)
                .filter(|p| p.as_bytes()[0].is_ascii_digit())
                .and_then(|p| p.parse::<i64>().ok())
                .map(|y| {
                    year = y;
                    &rest[4..]
                }),
            Element::Month | Element::LongMonth => {
                lookup_name(&LONG_MONTHS, element == Element::Month, rest).map(|(i, r)| {
                    month = i as i64 + 1;
                    r
                })
            }
            Element::NumMonth | Element::ZeroMonth => {
                get_number(rest, element == Element::ZeroMonth).map(|(m, r)| {
                    month = m;
                    if !(1..=12).contains(&m) {
                        range_error = "month";
                    }
                    r
                })
            }
            Element::WeekDay | Element::LongWeekDay => {
                lookup_name(&LONG_DAYS, element == Element::WeekDay, rest).map(|(_, r)| r)
            }
            Element::Day | Element::UnderDay | Element::ZeroDay => {
                if element == Element::UnderDay {
                    rest = rest.strip_prefix(' ').unwrap_or(rest);
                }
                get_number(rest, element == Element::ZeroDay).map(|(d, r)| {
                    day = d;
                    r
                })
            }
            Element::UnderYearDay | Element::ZeroYearDay => {
                if element == Element::UnderYearDay {
                    for _ in 0..2 {
                        rest = rest.strip_prefix(' ').unwrap_or(rest);
                    }
                }
                get_number3(rest, element == Element::ZeroYearDay).map(|(d, r)| {
                    year_day = d;
                    r
                })
            }
            Element::Hour => get_number(rest, false).map(|(h, r)| {
                hour = h;
                if !(0..24).contains(&h) {
                    range_error = "hour";
                }
                r
            }),
            Element::Hour12 | Element::ZeroHour12 => {
                get_number(rest, element == Element::ZeroHour12).map(|(h, r)| {
                    hour = h;
                    if !(0..=12).contains(&h) {
                        range_error = "hour";
                    }
                    r
                })
            }
            Element::Minute | Element::ZeroMinute => {
                get_number(rest, element == Element::ZeroMinute).map(|(m, r)| {
                    minute = m;
                    if !(0..60).contains(&m) {
                        range_error = "minute";
                    }
                    r
                })
            }
            Element::Second | Element::ZeroSecond => {
                match get_number(rest, element == Element::ZeroSecond) {
                    None => None,
                    Some((s, r)) if !(0..60).contains(&s) => {
                        second = s;
                        range_error = "second";
                        Some(r)
                    }
                    Some((s, mut r)) => {
                        second = s;
                        // A fraction in the value that the layout does not spell out is read
                        // anyway.
                        let next = next_element(rest_layout).1.map(|(e, _)| e);
                        let layout_has_fraction =
                            matches!(next, Some(Element::FracSecond0(_) | Element::FracSecond9));
                        let bytes = r.as_bytes();
                        if !layout_has_fraction
                            && bytes.len() >= 2
                            && matches!(bytes[0], b'.' | b',')
                            && bytes[1].is_ascii_digit()
                        {
                            let n =
                                1 + bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                            nanos = nanoseconds(r, n).unwrap_or_default();
                            r = &r[n..];
                        }
                        Some(r)
                    }
                }
            }
            Element::Pm | Element::LowerPm => rest.get(..2).and_then(|p| {
                let (upper, lower) = (element == Element::Pm, element == Element::LowerPm);
                match p {
                    "PM" if upper => pm = true,
                    "AM" if upper => am = true,
                    "pm" if lower => pm = true,
                    "am" if lower => am = true,
                    _ => return None,
                }
                Some(&rest[2..])
            }),
            Element::Iso8601Tz
            | Element::Iso8601SecondsTz
            | Element::Iso8601ShortTz
            | Element::Iso8601ColonTz
            | Element::Iso8601ColonSecondsTz
                if rest.starts_with('Z') =>
            {
                offset = Some(0);
                Some(&rest[1..])
            }
            Element::Iso8601Tz
            | Element::Iso8601SecondsTz
            | Element::Iso8601ShortTz
            | Element::Iso8601ColonTz
            | Element::Iso8601ColonSecondsTz
            | Element::NumTz
            | Element::NumSecondsTz
            | Element::NumShortTz
            | Element::NumColonTz
            | Element::NumColonSecondsTz => numeric_zone(element, rest).map(|(zone, r, bad)| {
                offset = Some(zone);
                if !bad.is_empty() {
                    range_error = bad;
                }
                r
            }),
            Element::Tz => {
                if let Some(r) = rest.strip_prefix("UTC") {
                    offset = Some(0);
                    Some(r)
                } else {
                    zone_abbreviation(rest).map(|n| {
                        let name = &rest[..n];
                        // An unknown abbreviation has offset zero, except GMT±h.
                        let hours: i64 = name.get(3..).and_then(|h| h.parse().ok()).unwrap_or(0);
                        offset = Some(if name.starts_with("GMT") {
                            hours * 3600
                        } else {
                            0
                        });
                        made_up_zone = true;
                        &rest[n..]
                    })
                }
            }
            Element::FracSecond0(digits) => {
                let length = 1 + digits;
                rest.get(..length)
                    .and_then(|_| nanoseconds(rest, length))
                    .map(|n| {
                        nanos = n;
                        &rest[length..]
                    })
            }
            Element::FracSecond9 => {
                let bytes = rest.as_bytes();
                if bytes.len() < 2 || !matches!(bytes[0], b'.' | b',') || !bytes[1].is_ascii_digit()
                {
                    Some(rest)
                } else {
                    let n = 1 + bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                    nanos = nanoseconds(rest, n).unwrap_or_default();
                    Some(&rest[n..])
                }
            }
        };
        if !range_error.is_empty() {
            let after = parsed.unwrap_or(rest);
            return Err(fail(
                element_text,
                after,
                &format!(": {range_error} out of range"),
            ));
        }
        rest = parsed.ok_or_else(|| fail(element_text, hold, ""))?;
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    let date = if year_day >= 0 {
        let last = if time::util::is_leap_year(i32::try_from(year).unwrap_or(0)) {
            366
        } else {
            365
        };
        if year_day < 1 || year_day > last {
            return Err(fail("", rest, ": day-of-year out of range"));
        }
        let date = i32::try_from(year)
            .ok()
            .and_then(|y| Date::from_ordinal_date(y, u16::try_from(year_day).ok()?).ok())
            .ok_or_else(|| fail("", rest, ": day-of-year out of range"))?;
        if (month >= 0 && i64::from(u8::from(date.month())) != month)
            || (day >= 0 && i64::from(date.day()) != day)
        {
            return Err(fail("", rest, ": day-of-year does not match month or day"));
        }
        date
    } else {
        let month = if month < 0 { 1 } else { month };
        let day = if day < 0 { 1 } else { day };
        let valid_month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok());
        let date = valid_month.and_then(|m| {
            Date::from_calendar_date(i32::try_from(year).ok()?, m, u8::try_from(day).ok()?).ok()
        });
        date.ok_or_else(|| fail("", rest, ": day out of range"))?
    };
    let time = Time::from_hms_nano(
        u8::try_from(hour).unwrap_or(0),
        u8::try_from(minute).unwrap_or(0),
        u8::try_from(second).unwrap_or(0),
        u32::try_from(nanos).unwrap_or(0),
    )
    .map_err(|_| fail("", rest, ": time out of range"))?;
    let local = date.with_time(time);
    let zone = offset.unwrap_or(0);
    // Go keeps a zone offset that is not a whole minute, and offsets beyond ±26h; `time` does not.
    let utc_offset = i32::try_from(zone)
        .ok()
        .and_then(|z| UtcOffset::from_whole_seconds(z).ok())
        .ok_or_else(|| fail("", rest, ": time zone offset out of range"))?;
    if made_up_zone {
        return Ok(local.assume_utc().to_offset(utc_offset));
    }
    Ok(local.assume_offset(utc_offset))
}

/// A numeric zone (`+07:00`, `-0700`, `+07`…): its offset in seconds, the rest of the value and
/// the name of a field out of range, if any.
fn numeric_zone(element: Element, value: &str) -> Option<(i64, &str, &'static str)> {
    let b = value.as_bytes();
    let (sign, hours, minutes, seconds, rest): (u8, &str, &str, &str, &str) = match element {
        Element::Iso8601ColonTz | Element::NumColonTz => {
            if b.len() < 6 || b[3] != b':' {
                return None;
            }
            (b[0], value.get(1..3)?, value.get(4..6)?, "00", &value[6..])
        }
        Element::NumShortTz | Element::Iso8601ShortTz => {
            if b.len() < 3 {
                return None;
            }
            (b[0], value.get(1..3)?, "00", "00", &value[3..])
        }
        Element::Iso8601ColonSecondsTz | Element::NumColonSecondsTz => {
            if b.len() < 9 || b[3] != b':' || b[6] != b':' {
                return None;
            }
            (
                b[0],
                value.get(1..3)?,
                value.get(4..6)?,
                value.get(7..9)?,
                &value[9..],
            )
        }
        Element::Iso8601SecondsTz | Element::NumSecondsTz => {
            if b.len() < 7 {
                return None;
            }
            (
                b[0],
                value.get(1..3)?,
                value.get(3..5)?,
                value.get(5..7)?,
                &value[7..],
            )
        }
        _ => {
            if b.len() < 5 {
                return None;
            }
            (b[0], value.get(1..3)?, value.get(3..5)?, "00", &value[5..])
        }
    };
    let hh = get_number(hours, true)?.0;
    let mm = get_number(minutes, true)?.0;
    let ss = get_number(seconds, true)?.0;
    let mut bad = "";
    if hh > 24 {
        bad = "time zone offset hour";
    }
    if mm > 60 {
        bad = "time zone offset minute";
    }
    if ss > 60 {
        bad = "time zone offset second";
    }
    let magnitude = (hh * 60 + mm) * 60 + ss;
    let offset = match sign {
        b'+' => magnitude,
        b'-' => -magnitude,
        _ => return None,
    };
    Some((offset, rest, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layouts() {
        let cases: &[(&str, &str, &str)] = &[
            (RFC3339, "2021-01-02T15:04:05Z", "2021-01-02T15:04:05Z"),
            (
                RFC3339,
                "2021-01-02T15:04:05.999+01:00",
                "2021-01-02T15:04:05+01:00",
            ),
            ("2006-01-02", "2021-12-31", "2021-12-31T00:00:00Z"),
            (
                "Mon Jan _2 15:04:05 2006",
                "Sat Jan  2 03:04:05 2021",
                "2021-01-02T03:04:05Z",
            ),
            (
                "02 Jan 06 15:04 MST",
                "02 Jan 21 15:04 PST",
                "2021-01-02T15:04:00Z",
            ),
            (
                "02 Jan 06 15:04 -0700",
                "02 Jan 21 15:04 -0800",
                "2021-01-02T15:04:00-08:00",
            ),
            ("3:04PM", "3:04PM", "0000-01-01T15:04:00Z"),
            ("January 2, 2006", "March 4, 2020", "2020-03-04T00:00:00Z"),
            (
                "2006-01-02 15:04:05.000",
                "2020-03-04 05:06:07.123",
                "2020-03-04T05:06:07Z",
            ),
            ("2006-002", "2020-060", "2020-02-29T00:00:00Z"),
        ];
        for (layout, value, want) in cases {
            let parsed = parse(layout, value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(format_rfc3339(parsed), *want, "{layout} {value}");
        }
        let errors: &[(&str, &str, &str)] = &[
            (
                RFC3339,
                "2021-01-02",
                r#"parsing time "2021-01-02" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#,
            ),
            (
                RFC3339,
                "x",
                r#"parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006""#,
            ),
            (
                RFC3339,
                "2021-02-30T00:00:00Z",
                r#"parsing time "2021-02-30T00:00:00Z": day out of range"#,
            ),
            (
                RFC3339,
                "2021-13-01T00:00:00Z",
                r#"parsing time "2021-13-01T00:00:00Z": month out of range"#,
            ),
            (
                "2006-01-02",
                "2021-01-02x",
                r#"parsing time "2021-01-02x": extra text: "x""#,
            ),
        ];
        for (layout, value, want) in errors {
            assert_eq!(
                parse(layout, value).err().as_deref(),
                Some(*want),
                "{value}"
            );
        }
    }
}
