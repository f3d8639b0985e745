//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) with exact decimal arithmetic.
//!
//! Parsing follows `k8s.io/apimachinery/pkg/api/resource.ParseQuantity`, including its leniency
//! (`+`, `-`, `.`, `5.` are valid; a lone sign reads as zero) and its normalisation: non-zero values
//! are rounded away from zero to a multiple of 10⁻⁹, and binary-suffixed values are capped at
//! 2⁶³−1. Values are kept as a sign, a digit string and a decimal exponent, so `1Gi`, `1024Mi`
//! and `1073741824` compare equal without any floating-point rounding, whatever their size.
//!
//! For Kyverno's arithmetic a quantity also remembers what Kubernetes remembers: its format
//! (decimal SI, binary SI or decimal exponent), which decides how a result is written
//! ([`Quantity::canonical`]: `1025Mi`, `2100m`, `2e3`), and the scale of Go's internal decimal,
//! which decides the precision of a division and the rounding of [`Quantity::approximate_f64`].

use std::cmp::Ordering;

/// `±0.d₁d₂…dₙ × 10^exp`; `digits` has no leading or trailing zeros and is empty for zero.
#[derive(Debug, Clone)]
pub struct Quantity {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
    format: Format,
    /// Digits after the point in Go's `AsDec()` form of this quantity (negative for a value
    /// kept as a multiple of a power of ten, as `1k` is).
    dec_scale: i64,
}

/// How Kubernetes writes a quantity back out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

const NANO_PLACE: i64 = -9;
/// 2⁶³−1, the largest binary-suffixed quantity Kubernetes keeps.
const MAX_BINARY: &[u8] = b"9223372036854775807";

impl Quantity {
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        if let Some(&sign @ (b'-' | b'+')) = bytes.first() {
            negative = sign == b'-';
            pos = 1;
        }
        let int_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_digits = &bytes[int_start..pos];
        let mut frac_digits: &[u8] = &[];
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            let frac_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_digits = &bytes[frac_start..pos];
        }
        let (suffix, format) = parse_suffix(&text[pos..])?;
        let has_digits = !int_digits.is_empty() || !frac_digits.is_empty();
        let (decimal_exp, binary_exp) = match suffix {
            Suffix::Decimal(e) => (e, 0),
            Suffix::Binary(b) => (0, b),
        };
        // Kubernetes only reaches its digit-less-value failure on the slow path, which a bare sign
        // or dot takes when the decimal exponent pushes the scale below nano.
        if !has_digits && decimal_exp < NANO_PLACE {
            return None;
        }
        let mut all: Vec<u8> = int_digits
            .iter()
            .chain(frac_digits)
            .map(|d| d - b'0')
            .collect();
        let leading = all.iter().take_while(|&&d| d == 0).count();
        let exp = (all.len() - leading) as i64 - frac_digits.len() as i64 + decimal_exp;
        all.drain(..leading);
        let mut quantity = Quantity {
            negative,
            digits: all,
            exp,
            format,
            dec_scale: 0,
        };
        quantity.normalise();
        if binary_exp > 0 {
            quantity.multiply_by_power_of_two(binary_exp);
        }
        let unrounded = quantity.clone();
        quantity.round_up_to_nano();
        let mut capped = false;
        if matches!(suffix, Suffix::Binary(_)) {
            capped = quantity.cap_binary();
        }
        let significant = int_digits.iter().skip_while(|&&d| d == b'0').count().max(1) as i64;
        let fraction = frac_digits.len() as i64;
        let fast = match suffix {
            Suffix::Decimal(e) => 18 - significant - fraction >= 0 && e - fraction >= NANO_PLACE,
            Suffix::Binary(b) => {
                fraction == 0
                    && 15 - significant - i64::from(b * 3 / 10) > 0
                    && unrounded.fits_i64()
            }
        };
        quantity.dec_scale = match (fast, suffix) {
            (true, Suffix::Decimal(e)) => fraction - e,
            (true, Suffix::Binary(_)) => 0,
            // The slow path rounds a non-zero value to nano, at scale 9, unless it was capped.
            (false, _) if capped => 0,
            (false, _) if !quantity.digits.is_empty() => 9,
            (false, Suffix::Decimal(e)) => fraction - e,
            (false, Suffix::Binary(_)) => fraction,
        };
        if !fast
            && format == Format::BinarySi
            && !quantity.digits.is_empty()
            && quantity.cmp_magnitude(&Quantity::from_i64(1, Format::DecimalSi)) == Ordering::Less
        {
            quantity.format = Format::DecimalSi;
        }
        Some(quantity)
    }

    fn normalise(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.negative = false;
            self.exp = 0;
        }
    }

    fn multiply_by_power_of_two(&mut self, power: u32) {
        if self.digits.is_empty() {
            return;
        }
        let factor = 1u128 << power;
        let old_len = self.digits.len() as i64;
        let mut out = Vec::with_capacity(self.digits.len() + 20);
        let mut carry = 0u128;
        for &d in self.digits.iter().rev() {
            let v = u128::from(d) * factor + carry;
            out.push((v % 10) as u8);
            carry = v / 10;
        }
        while carry > 0 {
            out.push((carry % 10) as u8);
            carry /= 10;
        }
        out.reverse();
        self.exp += out.len() as i64 - old_len;
        self.digits = out;
        self.normalise();
    }

    fn round_up_to_nano(&mut self) {
        if self.digits.is_empty() || self.exp - self.digits.len() as i64 >= NANO_PLACE {
            return;
        }
        // Digit i has place value 10^(exp-1-i); keep those at or above 10⁻⁹, then add one unit.
        let keep = self.exp - NANO_PLACE;
        if keep <= 0 {
            self.digits = vec![1];
            self.exp = NANO_PLACE + 1;
            return;
        }
        let keep = usize::try_from(keep)
            .unwrap_or(usize::MAX)
            .min(self.digits.len());
        self.digits.truncate(keep);
        let mut i = keep;
        loop {
            if i == 0 {
                self.digits.insert(0, 1);
                self.exp += 1;
                break;
            }
            i -= 1;
            if self.digits[i] == 9 {
                self.digits[i] = 0;
            } else {
                self.digits[i] += 1;
                break;
            }
        }
        self.normalise();
    }

    /// Caps the magnitude at 2⁶³−1; whether it had to.
    fn cap_binary(&mut self) -> bool {
        let max = Quantity {
            negative: false,
            digits: MAX_BINARY.iter().map(|d| d - b'0').collect(),
            exp: MAX_BINARY.len() as i64,
            format: Format::BinarySi,
            dec_scale: 0,
        };
        if self.cmp_magnitude(&max) == Ordering::Greater {
            self.digits = max.digits;
            self.exp = max.exp;
            return true;
        }
        false
    }

    /// Whether the value is a whole number within Go's `int64`.
    fn fits_i64(&self) -> bool {
        self.to_decimal(0)
            .is_some_and(|d| d.unscaled.abs() <= i128::from(i64::MAX))
    }

    fn from_i64(value: i64, format: Format) -> Self {
        Self::from_decimal(
            Decimal {
                unscaled: i128::from(value),
                scale: 0,
            },
            format,
        )
    }

    /// `resource.NewDecimalQuantity`: the exact value, unrounded, in the given format.
    pub fn from_decimal(decimal: Decimal, format: Format) -> Self {
        let text = decimal.unscaled.unsigned_abs().to_string();
        let mut quantity = Quantity {
            negative: decimal.unscaled < 0,
            digits: text.bytes().map(|d| d - b'0').collect(),
            exp: text.len() as i64 - decimal.scale,
            format,
            dec_scale: decimal.scale,
        };
        let leading = quantity.digits.iter().take_while(|&&d| d == 0).count();
        quantity.digits.drain(..leading);
        quantity.exp -= leading as i64;
        quantity.normalise();
        quantity
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The value as `unscaled × 10^-scale`, or `None` if it is not a multiple of `10^-scale` or
    /// does not fit 128 bits.
    fn to_decimal(&self, scale: i64) -> Option<Decimal> {
        // value = digits × 10^(exp - len); unscaled = digits × 10^(exp - len + scale).
        let shift = self.exp - self.digits.len() as i64 + scale;
        if shift < 0 && (self.digits.len() as i64) + shift < 0 {
            return self
                .digits
                .is_empty()
                .then_some(Decimal { unscaled: 0, scale });
        }
        let mut unscaled: i128 = 0;
        let keep = if shift < 0 {
            let keep = (self.digits.len() as i64 + shift) as usize;
            if self.digits[keep..].iter().any(|&d| d != 0) {
                return None;
            }
            keep
        } else {
            self.digits.len()
        };
        for &d in &self.digits[..keep] {
            unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(d))?;
        }
        for _ in 0..shift.max(0) {
            unscaled = unscaled.checked_mul(10)?;
        }
        Some(Decimal {
            unscaled: if self.negative { -unscaled } else { unscaled },
            scale,
        })
    }

    /// Go's `AsDec()`: the value at the scale Kubernetes keeps it, or `None` beyond 128 bits.
    pub fn as_dec(&self) -> Option<Decimal> {
        self.to_decimal(self.dec_scale)
    }

    /// Go's `AsApproximateFloat64`: the unscaled integer as a float64 times `math.Pow10`.
    pub fn approximate_f64(&self) -> f64 {
        let mut text = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            text.push('-');
        }
        if self.digits.is_empty() {
            return 0.0;
        }
        text.extend(self.digits.iter().map(|d| char::from(b'0' + d)));
        let zeros = self.exp - self.digits.len() as i64 + self.dec_scale;
        // The unscaled integer is the digits followed by `zeros` zeros; a negative count only
        // happens for values Kubernetes would have rounded, and reads as a plain fraction.
        let base: f64 = if zeros >= 0 {
            text.extend(std::iter::repeat_n('0', zeros as usize));
            text.parse().unwrap_or(0.0)
        } else {
            format!("{text}e{zeros}").parse().unwrap_or(0.0)
        };
        base * go_pow10(-self.dec_scale)
    }

    /// `Quantity.String()`: the canonical form in this quantity's format.
    pub fn canonical(&self) -> String {
        if self.digits.is_empty() {
            return "0".to_owned();
        }
        let sign = if self.negative { "-" } else { "" };
        let integral = self.exp >= self.digits.len() as i64;
        let small =
            self.cmp_magnitude(&Quantity::from_i64(1024, Format::DecimalSi)) == Ordering::Less;
        if self.format == Format::BinarySi && integral && !small {
            // Divide out 1024 while it divides evenly; Kubernetes has no suffix past Ei, and
            // then writes the bare number.
            let mut value: Vec<u8> = self.digits.clone();
            value.extend(std::iter::repeat_n(
                0,
                (self.exp - self.digits.len() as i64) as usize,
            ));
            let mut power = 0;
            while let Some(quotient) = divide_exact(&value, 1024) {
                value = quotient;
                power += 1;
            }
            let suffix = match power {
                1 => "Ki",
                2 => "Mi",
                3 => "Gi",
                4 => "Ti",
                5 => "Pi",
                6 => "Ei",
                _ => "",
            };
            let digits: String = value.iter().map(|d| char::from(b'0' + d)).collect();
            return format!("{sign}{digits}{suffix}");
        }
        let mut mantissa: Vec<u8> = self.digits.clone();
        let mut exponent = self.exp - self.digits.len() as i64;
        while exponent.rem_euclid(3) != 0 {
            mantissa.push(0);
            exponent -= 1;
        }
        let digits: String = mantissa.iter().map(|d| char::from(b'0' + d)).collect();
        let suffix = match (self.format, exponent) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".to_owned(),
            (_, -6) => "u".to_owned(),
            (_, -3) => "m".to_owned(),
            (_, 3) => "k".to_owned(),
            (_, 6) => "M".to_owned(),
            (_, 9) => "G".to_owned(),
            (_, 12) => "T".to_owned(),
            (_, 15) => "P".to_owned(),
            (_, 18) => "E".to_owned(),
            // Kubernetes has no suffix for other exponents and silently writes the mantissa.
            _ => String::new(),
        };
        format!("{sign}{digits}{suffix}")
    }

    /// `Add` (or `Sub`, with `negate`): the exact sum, in this quantity's format unless it is
    /// zero, when it takes the other's. `None` beyond 128 bits.
    pub fn add(&self, other: &Quantity, negate: bool) -> Option<Quantity> {
        let scale = self.fraction_digits().max(other.fraction_digits());
        let a = self.to_decimal(scale)?;
        let b = other.to_decimal(scale)?;
        let b = if negate { -b.unscaled } else { b.unscaled };
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        let sum = Decimal {
            unscaled: a.unscaled.checked_add(b)?,
            scale,
        };
        Some(Quantity::from_decimal(sum, format))
    }

    /// Digits after the point needed to write the value exactly.
    fn fraction_digits(&self) -> i64 {
        (self.digits.len() as i64 - self.exp).max(0)
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .exp
                .cmp(&other.exp)
                .then_with(|| self.digits.cmp(&other.digits)),
        }
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `unscaled × 10^-scale`, as Go's `inf.Dec` holds a decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub unscaled: i128,
    pub scale: i64,
}

/// `math.Pow10(n)`: exact table powers combined the way Go combines them.
fn go_pow10(n: i64) -> f64 {
    let power = |k: i64| -> f64 { format!("1e{k}").parse().unwrap_or(f64::INFINITY) };
    match n {
        0..=308 => power(n / 32 * 32) * power(n % 32),
        -323..=-1 => power(-((-n) / 32 * 32)) / power((-n) % 32),
        n if n > 308 => f64::INFINITY,
        _ => 0.0,
    }
}

/// `digits / divisor` when it divides exactly, for the base-1024 form.
fn divide_exact(digits: &[u8], divisor: u32) -> Option<Vec<u8>> {
    let mut quotient = Vec::with_capacity(digits.len());
    let mut remainder: u32 = 0;
    for &d in digits {
        let current = remainder * 10 + u32::from(d);
        quotient.push((current / divisor) as u8);
        remainder = current % divisor;
    }
    if remainder != 0 {
        return None;
    }
    let leading = quotient.iter().take_while(|&&d| d == 0).count();
    quotient.drain(..leading);
    (!quotient.is_empty()).then_some(quotient)
}

#[derive(Debug, Clone, Copy)]
enum Suffix {
    Decimal(i64),
    Binary(u32),
}

/// The suffix grammar: letters from `eEinumkKMGTP`, an optional sign, then digits, to the end.
fn parse_suffix(suffix: &str) -> Option<(Suffix, Format)> {
    let bytes = suffix.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < bytes.len() && matches!(bytes[pos], b'-' | b'+') {
        pos += 1;
    }
    if !bytes[pos..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = decimal {
        return Some((Suffix::Decimal(e), Format::DecimalSi));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(b) = binary {
        return Some((Suffix::Binary(b), Format::BinarySi));
    }
    let exponent = suffix
        .strip_prefix(['e', 'E'])
        .filter(|rest| !rest.is_empty())?;
    let parsed: i64 = exponent.parse().ok()?;
    // Kubernetes narrows the exponent to int32, wrapping like Go's conversion does.
    Some((
        Suffix::Decimal(i64::from(parsed as i32)),
        Format::DecimalExponent,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|| panic!("{text:?} should parse"))
    }

    #[test]
    fn grammar() {
        let valid = [
            "0", "1", "-1", "+1", "1.5", ".5", "5.", ".", "+", "-", "500m", "1Gi", "1e3", "1E3",
            "1e-3", "1E+3", "1n", "1u", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Ei", "007",
        ];
        for text in valid {
            assert!(Quantity::parse(text).is_some(), "{text:?} should parse");
        }
        let invalid = [
            "", "1K", "1ki", "1.2.3", "gii", "abc", "1e", "1e+", "1Mi3", "1 Gi", " 1", "1e3e",
            "--1", "1x", ".e-10", "1µ",
        ];
        for text in invalid {
            assert!(Quantity::parse(text).is_none(), "{text:?} should not parse");
        }
    }

    #[test]
    fn comparisons() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1Gi", "1024Mi", Ordering::Equal),
            ("1Gi", "1073741824", Ordering::Equal),
            ("1Gi", "1000Mi", Ordering::Greater),
            ("1G", "1Gi", Ordering::Less),
            ("500m", "0.5", Ordering::Equal),
            ("0.2", "200m", Ordering::Equal),
            ("1", "500m", Ordering::Greater),
            ("1e3", "1k", Ordering::Equal),
            ("80", "8e1", Ordering::Equal),
            ("080", "80", Ordering::Equal),
            ("-10Mi", "-8Mi", Ordering::Less),
            ("+", "0", Ordering::Equal),
            ("-", "0", Ordering::Equal),
            (".", "0", Ordering::Equal),
            ("1.500000", "1.5", Ordering::Equal),
            ("1e-10", "1n", Ordering::Equal),
            ("-1e-10", "-1n", Ordering::Equal),
            ("1.0000000001", "1.000000001", Ordering::Equal),
            ("0.9999999999", "1", Ordering::Equal),
            ("1e30", "1e29", Ordering::Greater),
            ("1e400", "1e399", Ordering::Greater),
            ("1Ei", "1152921504606846976", Ordering::Equal),
            ("16Ei", "9223372036854775807", Ordering::Equal),
            ("-16Ei", "-9223372036854775807", Ordering::Equal),
            ("1.5Gi", "1536Mi", Ordering::Equal),
            ("0", "-0", Ordering::Equal),
        ];
        for &(a, b, want) in cases {
            assert_eq!(q(a).cmp(&q(b)), want, "{a} vs {b}");
        }
    }
}
