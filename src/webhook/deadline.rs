//! When a review must be answered, and what the answer is when evaluation runs out of time.
//!
//! The kube-apiserver states its patience in the request URL (`/validate?timeout=10s`, Go
//! duration syntax) and gives up on the call after it, applying the webhook's failure policy.
//! Portcullis answers by 80% of that time, so its own verdict (and its own message) reaches the
//! apiserver rather than a bare "context deadline exceeded". Evaluation is synchronous and takes
//! microseconds per rule, so the deadline is checked between rules (`eval::Budget`) on the
//! request's own task: no handoff to another thread, which would cost every request latency to guard against
//! a case that needs a pathological policy set.

use std::time::{Duration, Instant};

/// The share of the apiserver's timeout Portcullis allows itself; the rest covers the network
/// and the apiserver's own clock having started before the request was sent.
const SHARE_OF_TIMEOUT: f64 = 0.8;

/// The verdict for a review whose evaluation did not finish before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnTimeout {
    /// Deny, as `failurePolicy: Fail` would once the apiserver gave up, but with a message
    /// saying why.
    #[default]
    Deny,
    /// Allow with a warning, as `failurePolicy: Ignore` would.
    Allow,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }
}

/// The apiserver's `timeout` query parameter, if the request carries one.
pub fn requested_timeout(query: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(value) = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout="))
    else {
        return Ok(None);
    };
    parse_go_duration(value)
        .map(Some)
        .ok_or_else(|| format!("invalid timeout query parameter {value:?}: expected e.g. 10s"))
}

/// The instant by which the answer must be ready, for a request that arrived at `arrived`; none
/// for a timeout so long that no clock reaches its end.
pub fn answer_by(arrived: Instant, timeout: Option<Duration>) -> Option<Instant> {
    arrived.checked_add(timeout?.mul_f64(SHARE_OF_TIMEOUT))
}

/// Go's `time.Duration` text as the apiserver writes it: `10s`, `1m30s`, `500ms`, `1.5s`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let table = [
            ("10s", Some(Duration::from_secs(10))),
            ("30s", Some(Duration::from_secs(30))),
            ("1m0s", Some(Duration::from_secs(60))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("500ms", Some(Duration::from_millis(500))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("0s", Some(Duration::ZERO)),
            ("", None),
            ("10", None),
            ("10x", None),
            ("-1s", None),
            ("s", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_go_duration(text), expected, "{text:?}");
        }
    }

    #[test]
    fn timeout_from_query() {
        assert_eq!(requested_timeout(None), Ok(None));
        assert_eq!(requested_timeout(Some("dryRun=1")), Ok(None));
        assert_eq!(
            requested_timeout(Some("timeout=10s")),
            Ok(Some(Duration::from_secs(10)))
        );
        assert_eq!(
            requested_timeout(Some("a=b&timeout=2s")),
            Ok(Some(Duration::from_secs(2)))
        );
        assert!(requested_timeout(Some("timeout=soon")).is_err());
    }

    #[test]
    fn answers_at_eighty_percent() {
        let now = Instant::now();
        assert_eq!(
            answer_by(now, Some(Duration::from_secs(10))),
            Some(now + Duration::from_secs(8))
        );
        assert_eq!(answer_by(now, None), None);
        let endless = parse_go_duration("5000000000000000h");
        assert!(endless.is_some());
        assert_eq!(answer_by(now, endless), None);
    }
}
