//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) with exact decimal arithmetic.
//!
//! Parsing follows `k8s.io/apimachinery/pkg/api/resource.ParseQuantity`, including its leniency
//! (`+`, `-`, `.`, `5.` are valid; a lone sign reads as zero) and its normalisation: non-zero values
//! are rounded away from zero to a multiple of 10⁻⁹, and binary-suffixed values are capped at
//! 2⁶³−1. Values are kept as a sign, a digit string and a decimal exponent, so `1Gi`, `1024Mi`
//! and `1073741824` compare equal without any floating-point rounding, whatever their size.

use std::cmp::Ordering;

/// `±0.d₁d₂…dₙ × 10^exp`; `digits` has no leading or trailing zeros and is empty for zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

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
        let suffix = parse_suffix(&text[pos..])?;
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
        };
        quantity.normalise();
        if binary_exp > 0 {
            quantity.multiply_by_power_of_two(binary_exp);
        }
        quantity.round_up_to_nano();
        if matches!(suffix, Suffix::Binary(_)) {
            quantity.cap_binary();
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

    fn cap_binary(&mut self) {
        let max = Quantity {
            negative: false,
            digits: MAX_BINARY.iter().map(|d| d - b'0').collect(),
            exp: MAX_BINARY.len() as i64,
        };
        if self.cmp_magnitude(&max) == Ordering::Greater {
            self.digits = max.digits;
            self.exp = max.exp;
        }
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

#[derive(Debug, Clone, Copy)]
enum Suffix {
    Decimal(i64),
    Binary(u32),
}

/// The suffix grammar: letters from `eEinumkKMGTP`, an optional sign, then digits, to the end.
fn parse_suffix(suffix: &str) -> Option<Suffix> {
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
        return Some(Suffix::Decimal(e));
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
        return Some(Suffix::Binary(b));
    }
    let exponent = suffix
        .strip_prefix(['e', 'E'])
        .filter(|rest| !rest.is_empty())?;
    let parsed: i64 = exponent.parse().ok()?;
    // Kubernetes narrows the exponent to int32, wrapping like Go's conversion does.
    Some(Suffix::Decimal(i64::from(parsed as i32)))
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
