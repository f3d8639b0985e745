//! Kyverno's value coercions, in one place: the Go and Kubernetes readings of text and numbers
//! that decide comparisons and arithmetic in patterns, conditions and JMESPath functions.
//!
//! Each reading reproduces the Go function Kyverno calls, bit for bit where the result can reach a
//! verdict or a message: `time.ParseDuration` and `Duration.String` ([`duration`]),
//! `resource.ParseQuantity` and `Quantity.String` ([`quantity`]), `strconv` and `encoding/json`
//! number handling ([`number`]), `time.Parse` layouts ([`gotime`]), blang/semver versions and
//! ranges ([`semver`]), and the `fmt` verbs and `encoding/json` output that leak into messages
//! ([`gofmt`]).

pub mod duration;
pub mod gofmt;
pub mod gotime;
pub mod number;
pub mod quantity;
pub mod semver;
