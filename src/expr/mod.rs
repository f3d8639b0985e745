//! Kyverno's expression layer beside JMESPath: `{{ }}` substitution in policy documents
//! ([`template`]) and the conditions of preconditions, deny rules and exceptions
//! ([`conditions`]).
//!
//! Both work on `serde_json::Value` typed as Kyverno's Go code holds it: integers written in the
//! policy are int64, every other number a float64 (as everything JMESPath returns is).

pub mod conditions;
pub mod gopath;
pub mod template;

#[cfg(test)]
mod testing;
