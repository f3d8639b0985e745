//! Kyverno's functions about where things live: `image_normalize` and `is_external_url`.

use super::{Arg, EvalError, Interpreter, Result, boolean, error, str_at, string};
use crate::image::ImageInfo;
use std::net::IpAddr;

pub(super) fn image_normalize<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let image = str_at(&args, 0)?;
    let info = ImageInfo::parse(image, &interpreter.environment.registry)
        .map_err(|reason| error("image_normalize", reason))?;
    string(info.to_string())
}

/// True unless the URL's host is, or resolves to, a loopback or private address. Names are
/// resolved through the environment's resolver, so an offline run can refuse instead of asking
/// the network.
pub(super) fn is_external_url<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let url = str_at(&args, 0)?;
    let host = url_hostname(url).map_err(EvalError::failed)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return boolean(!is_internal(ip));
    }
    // Go's resolver answers an empty name without asking anyone.
    if host.is_empty() {
        return Err(EvalError::failed("lookup : no such host"));
    }
    let addresses = interpreter
        .environment
        .resolver
        .lookup(&host)
        .map_err(EvalError::failed)?;
    boolean(!addresses.into_iter().any(is_internal))
}

/// Go's `IsLoopback() || IsPrivate()`, IPv4-mapped addresses included.
fn is_internal(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// `url.Parse(text).Hostname()`: the host of `scheme://[user@]host[:port]/…`, without brackets
/// or port; empty when the URL has no authority.
fn url_hostname(text: &str) -> std::result::Result<String, String> {
    if text.chars().any(|c| c.is_ascii_control()) {
        return Err(format!(
            "parse {}: net/url: invalid control character in URL",
            crate::coerce::gofmt::quote(text)
        ));
    }
    let (without_fragment, fragment) = text.split_once('#').unwrap_or((text, ""));
    let invalid = |detail: String| format!("parse {}: {detail}", crate::coerce::gofmt::quote(text));
    let rest = match without_fragment.split_once(':') {
        Some((scheme, rest))
            if scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            rest
        }
        Some(("", _)) => {
            return Err(format!(
                "parse {}: missing protocol scheme",
                crate::coerce::gofmt::quote(text)
            ));
        }
        _ => without_fragment,
    };
    let rest = rest.split('?').next().unwrap_or(rest);
    let Some(after) = rest.strip_prefix("//") else {
        unescape(rest, Part::Other).map_err(invalid)?;
        unescape(fragment, Part::Other).map_err(invalid)?;
        return Ok(String::new());
    };
    let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    let (user_info, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
    unescape(user_info, Part::Other).map_err(invalid)?;
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((host, _)) = bracketed.split_once(']') else {
            return Err(format!(
                "parse {}: missing ']' in host",
                crate::coerce::gofmt::quote(text)
            ));
        };
        return Ok(host.split('%').next().unwrap_or(host).to_owned());
    }
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some((_, port)) => {
            return Err(format!(
                "parse {}: invalid port {} after host",
                crate::coerce::gofmt::quote(text),
                crate::coerce::gofmt::quote(&format!(":{port}"))
            ));
        }
        None => host_port,
    };
    let host = unescape(host, Part::Host).map_err(invalid)?;
    unescape(path, Part::Other).map_err(invalid)?;
    unescape(fragment, Part::Other).map_err(invalid)?;
    Ok(host)
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Host,
    Other,
}

/// `net/url`'s `unescape`: `%` must start two hex digits, and in a host name it may only write
/// a byte of a multi-byte character or `%25`, among characters a host name may hold.
fn unescape(text: &str, part: Part) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
            let escape = || {
                let end = (i + 3).min(bytes.len());
                format!(
                    "invalid URL escape {}",
                    crate::coerce::gofmt::quote(&String::from_utf8_lossy(&bytes[i..end]))
                )
            };
            let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
                return Err(escape());
            };
            if part == Part::Host && high < 8 && &bytes[i..i + 3] != b"%25" {
                return Err(escape());
            }
            out.push(u8::try_from(high * 16 + low).unwrap_or_default());
            i += 3;
            continue;
        }
        if part == Part::Host && byte.is_ascii() && !host_byte(byte) {
            return Err(format!(
                "invalid character {} in host name",
                crate::coerce::gofmt::quote(&char::from(byte).to_string())
            ));
        }
        out.push(byte);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The ASCII bytes `net/url` leaves unescaped in a host name.
fn host_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        let cases: &[(&str, &str)] = &[
            ("http://localhost", "localhost"),
            ("http://127.0.0.1:8080/x", "127.0.0.1"),
            ("https://user:pw@example.com/path?q#f", "example.com"),
            ("http://www.google.com@192.168.1.3", "192.168.1.3"),
            ("http://[::1]:80/", "::1"),
            ("http://[fd12:3456:789a:1::1]", "fd12:3456:789a:1::1"),
            ("example.com/path", ""),
            ("//host/x", "host"),
        ];
        for (url, want) in cases {
            assert_eq!(url_hostname(url).as_deref(), Ok(*want), "{url}");
        }
        assert!(url_hostname("http://host:abc/").is_err());
        assert!(url_hostname("://x").is_err());
    }

    #[test]
    fn internal_addresses() {
        let internal = [
            "127.0.0.1",
            "10.1.1.1",
            "172.16.1.1",
            "192.168.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ];
        for ip in internal {
            assert!(
                is_internal(ip.parse().unwrap_or(IpAddr::from([8, 8, 8, 8]))),
                "{ip}"
            );
        }
        let external = [
            "8.8.8.8",
            "245.48.83.160",
            "2001:db8::ff00:42:8329",
            "172.32.0.1",
        ];
        for ip in external {
            assert!(
                !is_internal(ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]))),
                "{ip}"
            );
        }
    }
}
