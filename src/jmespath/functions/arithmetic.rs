//! Kyverno's arithmetic on numbers, Kubernetes quantities and Go durations.
//!
//! An operand is a number, or a string read first as a quantity and then as a duration (so
//! `'1m'` is a milli-quantity, `'1h'` an hour). What combines with what:
//!
//! | | `+` `-` | `*` | `/` | `%` |
//! |---|---|---|---|---|
//! | quantity, quantity | quantity | – | number | quantity (integers) |
//! | quantity, number | – | quantity | quantity | – |
//! | duration, duration | duration | – | number | duration |
//! | duration, number | – | duration | duration | – |
//! | number, number | number | number | number | number (integers) |
//! | number, quantity or duration | – | as the other way round | – | – |
//!
//! Quantities and durations come back as strings in their canonical forms (`1025Mi`, `1h30m0s`),
//! anything else is `Types mismatch`.

use super::{
    Arg, EvalError, Interpreter, Result, error, f64_at, int_number, number, string, value_at,
};
use crate::coerce::duration;
use crate::coerce::gofmt::format_v_float;
use crate::coerce::number::go_f64_to_i64;
use crate::coerce::quantity::{Decimal, Quantity};
use serde_json::Value;
use std::borrow::Cow;

enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    /// Nanoseconds.
    Duration(i64),
}

fn operand(value: &Value, function: &str) -> std::result::Result<Operand, EvalError> {
    match value {
        Value::Number(n) => Ok(Operand::Scalar(n.as_f64().unwrap_or_default())),
        Value::String(text) => Quantity::parse(text)
            .map(Operand::Quantity)
            .or_else(|| duration::parse(text).map(Operand::Duration))
            .ok_or_else(|| error(function, "invalid operand")),
        _ => Err(error(function, "invalid operand")),
    }
}

fn operands(
    args: &[Arg<'_>],
    function: &str,
) -> std::result::Result<(Operand, Operand), EvalError> {
    let at = |index: usize| match args.get(index).and_then(Arg::value) {
        Some(value) => operand(value, function),
        // An expression reference, which an argument of any type takes.
        None => Err(error(function, "invalid operand")),
    };
    Ok((at(0)?, at(1)?))
}

fn mismatch(function: &str) -> EvalError {
    error(function, "Types mismatch")
}

fn zero_divisor(function: &str) -> EvalError {
    error(function, "Zero divisor passed")
}

fn non_integer(function: &str) -> EvalError {
    error(function, "Non-integer argument(s) passed for modulo")
}

fn too_large(function: &str) -> EvalError {
    error(function, "quantity out of the supported range")
}

/// Go's `Duration.Seconds()`.
fn seconds(nanos: i64) -> f64 {
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// `time.Duration(seconds * float64(time.Second)).String()`.
fn duration_from_seconds<'a>(seconds: f64) -> Result<'a> {
    string(duration::format(go_f64_to_i64(seconds * 1e9)))
}

/// A number as Kyverno turns it into a quantity: `ParseQuantity(fmt.Sprintf("%v", f))`.
fn scalar_quantity(value: f64, function: &str) -> std::result::Result<Quantity, EvalError> {
    let text = format_v_float(value);
    Quantity::parse(&text).ok_or_else(|| {
        error(
            function,
            format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text}"),
        )
    })
}

fn add_operands<'a>(left: Operand, right: Operand, function: &str) -> Result<'a> {
    match (left, right) {
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let sum = a.add(&b, false).ok_or_else(|| too_large(function))?;
            string(sum.canonical())
        }
        (Operand::Duration(a), Operand::Duration(b)) => string(duration::format(a.wrapping_add(b))),
        (Operand::Scalar(a), Operand::Scalar(b)) => number(a + b),
        _ => Err(mismatch(function)),
    }
}

pub(super) fn add<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (left, right) = operands(&args, "add")?;
    add_operands(left, right, "add")
}

pub(super) fn sum<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let items = value_at(&args, 0)?
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some((first, rest)) = items.split_first() else {
        return Err(error(
            "sum",
            "at least one element in the array is required",
        ));
    };
    // Like Kyverno, a single element comes back as it is, whatever it is.
    let mut total: Cow<'a, Value> = Cow::Owned(first.clone());
    for item in rest {
        let left = operand(&total, "sum")?;
        let right = operand(item, "sum")?;
        total = add_operands(left, right, "sum")?;
    }
    Ok(total)
}

pub(super) fn subtract<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match operands(&args, "subtract")? {
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let difference = a.add(&b, true).ok_or_else(|| too_large("subtract"))?;
            string(difference.canonical())
        }
        (Operand::Duration(a), Operand::Duration(b)) => string(duration::format(a.wrapping_sub(b))),
        (Operand::Scalar(a), Operand::Scalar(b)) => number(a - b),
        _ => Err(mismatch("subtract")),
    }
}

fn multiply_quantity<'a>(quantity: &Quantity, factor: f64) -> Result<'a> {
    let factor = scalar_quantity(factor, "multiply")?;
    let (Some(a), Some(b)) = (quantity.as_dec(), factor.as_dec()) else {
        return Err(too_large("multiply"));
    };
    let product = Decimal {
        unscaled: a
            .unscaled
            .checked_mul(b.unscaled)
            .ok_or_else(|| too_large("multiply"))?,
        scale: a.scale + b.scale,
    };
    string(Quantity::from_decimal(product, quantity.format()).canonical())
}

pub(super) fn multiply<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match operands(&args, "multiply")? {
        (Operand::Quantity(q), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Quantity(q)) => {
            multiply_quantity(&q, s)
        }
        (Operand::Duration(d), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Duration(d)) => {
            duration_from_seconds(seconds(d) * s)
        }
        (Operand::Scalar(a), Operand::Scalar(b)) => number(a * b),
        _ => Err(mismatch("multiply")),
    }
}

/// `inf.Dec.QuoRound(a, b, scale, RoundDown)`.
fn quotient_toward_zero(a: Decimal, b: Decimal, scale: i64) -> Option<Decimal> {
    if b.unscaled == 0 {
        return None;
    }
    // a/b = (au/bu) × 10^(bs - as); at `scale` the unscaled result is (au/bu) × 10^(bs - as + scale).
    let shift = b.scale - a.scale + scale;
    let power = |n: i64| -> Option<i128> { 10i128.checked_pow(u32::try_from(n).ok()?) };
    let unscaled = if shift >= 0 {
        a.unscaled
            .checked_mul(power(shift)?)?
            .checked_div(b.unscaled)?
    } else {
        a.unscaled
            .checked_div(b.unscaled.checked_mul(power(-shift)?)?)?
    };
    Some(Decimal { unscaled, scale })
}

pub(super) fn divide<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match operands(&args, "divide")? {
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let divisor = b.approximate_f64();
            if divisor == 0.0 {
                return Err(zero_divisor("divide"));
            }
            number(a.approximate_f64() / divisor)
        }
        (Operand::Quantity(q), Operand::Scalar(s)) => {
            if s == 0.0 {
                return Err(zero_divisor("divide"));
            }
            let divisor = scalar_quantity(s, "divide")?;
            let (Some(a), Some(b)) = (q.as_dec(), divisor.as_dec()) else {
                return Err(too_large("divide"));
            };
            let quotient = quotient_toward_zero(a, b, a.scale.max(b.scale))
                .ok_or_else(|| too_large("divide"))?;
            string(Quantity::from_decimal(quotient, q.format()).canonical())
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if seconds(b) == 0.0 {
                return Err(zero_divisor("divide"));
            }
            number(seconds(a) / seconds(b))
        }
        (Operand::Duration(d), Operand::Scalar(s)) => {
            if s == 0.0 {
                return Err(zero_divisor("divide"));
            }
            duration_from_seconds(seconds(d) / s)
        }
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            if b == 0.0 {
                return Err(zero_divisor("divide"));
            }
            number(a / b)
        }
        _ => Err(mismatch("divide")),
    }
}

/// Go's `int64(f)` when it converts back to the same float, else the modulo error.
fn whole(value: f64) -> std::result::Result<i64, EvalError> {
    let converted = go_f64_to_i64(value);
    if converted as f64 != value {
        return Err(non_integer("modulo"));
    }
    Ok(converted)
}

pub(super) fn modulo<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match operands(&args, "modulo")? {
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let dividend = whole(a.approximate_f64())?;
            let divisor = whole(b.approximate_f64())?;
            if divisor == 0 {
                return Err(zero_divisor("modulo"));
            }
            let remainder = Decimal {
                unscaled: i128::from(dividend.wrapping_rem(divisor)),
                scale: 0,
            };
            string(Quantity::from_decimal(remainder, a.format()).canonical())
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero_divisor("modulo"));
            }
            string(duration::format(a.wrapping_rem(b)))
        }
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            let dividend = whole(a)?;
            let divisor = whole(b)?;
            if divisor == 0 {
                return Err(zero_divisor("modulo"));
            }
            number(dividend.wrapping_rem(divisor) as f64)
        }
        _ => Err(mismatch("modulo")),
    }
}

pub(super) fn round<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let value = f64_at(&args, 0)?;
    let places = int_number(f64_at(&args, 1)?)
        .map_err(|_| error("round", "Non-integer argument(s) passed for round off"))?;
    if places < 0 {
        // Kyverno formats this message without its arguments, and Go prints what is missing.
        return Err(error(
            "round",
            "%!d(MISSING) argument is out of bounds (%!d(MISSING))",
        ));
    }
    let shift: f64 = format!("1e{places}").parse().unwrap_or(f64::INFINITY);
    number((value * shift).round() / shift)
}
