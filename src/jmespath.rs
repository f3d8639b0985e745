//! Kyverno's JMESPath dialect: the language of `{{ }}` variables, `deny` and precondition keys,
//! `foreach` lists and `context` entries.
//!
//! Kyverno evaluates JMESPath with kyverno/go-jmespath, a fork of jmespath/go-jmespath, and
//! registers 51 functions of its own beside the 26 of the specification. This module reproduces
//! that behaviour, including where it departs from the specification:
//!
//! * **A missing key is an error**, `Unknown key "x" in path`, not `null`. It is swallowed (read
//!   as `null`) only where the fork swallows it: by `||` (either side), by function arguments, by
//!   comparisons, by `!`, by the left side of `&&`, by every stage of a pipe, inside projections,
//!   filters and multi-selects. A field of something that is not an object is `null`, not an
//!   error. See [`interpreter`] for the rule of each node.
//! * **Numbers are float64**, as Go decodes JSON into `interface{}`: `1` and `1.0` are equal,
//!   and a result that is a whole number is returned as an integer.
//! * Functions check their arguments before running, with the fork's messages
//!   (`Invalid type for: 1, expected: []jmespath.JpType{"string"}`, `incorrect number of args`),
//!   then report their own errors as Kyverno words them (`JMESPath function 'add': Types
//!   mismatch`).
//! * Arithmetic works on numbers, Kubernetes quantities and Go durations with Kyverno's rules,
//!   through [`crate::coerce`], the one home of those readings.
//!
//! Expressions are compiled once into a [`Compiled`]; a syntax error or an unknown function is a
//! [`CompileError`] with the byte offset where it was found. Functions whose result the input
//! does not fix (`time_now`, `time_now_utc`, `time_since` without an end, `random`,
//! `is_external_url`) read the clock, a seed and a name resolver from an [`Environment`], which
//! `check` and `test` set so that a verdict can be reproduced.
//!
//! ## Why our own parser and interpreter
//!
//! The `jmespath` crate (0.5) supports custom functions, but its interpreter returns `null` for a
//! missing key and its values are `Rc<Variable>` trees built from the whole input. Reproducing
//! the fork means replacing the evaluation of a dozen node kinds, each with its own rule for
//! which errors it swallows, and its lexer and parser differ from the fork's in the places
//! policies rely on (`f(a b)`, raw-string escapes, literal parsing). What remains of the crate
//! would be the AST, at the price of converting every admission request into its value type on
//! each evaluation. This module reads `serde_json::Value` in place and copies only what an
//! expression produces, and adds no crate to the build.
//!
//! ## Where it knowingly differs
//!
//! Each difference is a row of the tables (`src/jmespath/tests/tables.rs`, `KYVERNO_DIFFERS`)
//! with what Kyverno answers, which `tests/oracle/functions.sh` checks against Kyverno's CLI.
//!
//! * An unknown function, a call on something that is not a function name (`abs(x)(y)`), an
//!   index that is not a number and the empty node the fork leaves where it drops a syntax error
//!   (`[0`) are compile errors; the fork accepts them and fails (or guesses) on every
//!   evaluation.
//! * `&expr` outside a function argument is an error; the fork returns the reference, which
//!   encodes as `{}`.
//! * Where Kyverno panics (`contains` comparing two objects, `merge` of something that is not an
//!   object) the panic's message is the error.
//! * `keys`, `values` and `*` follow the object's key order; Go's map order is random.
//! * `compare` returns a number, and `items` a plain array; in Go they are an `int` (which `==`
//!   never finds equal to a JSON number) and a typed slice.
//! * `sort_by` leaves its argument as it is; the fork sorts it in place, in the input, so later
//!   reads of that array see it sorted.
//! * Malformed JSON and regular expressions get Go's messages (Go's JSON scanner and
//!   `regexp/syntax` rules are reproduced); YAML errors follow go-yaml's wording for the common
//!   cases, and `parse_yaml` shares the manifest reader, which refuses duplicate keys (go-yaml
//!   keeps the last) and takes a tab before a key. `x509_decode` words a malformed request its
//!   own way.

mod functions;
pub mod interpreter;

pub use interpreter::Overlay;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use crate::image::RegistryDefaults;
use parser::Comparator;
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// A parsed expression, ready to be evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Compiled {
    expression: String,
    root: Node,
}

impl Compiled {
    /// Parses `expression`, resolving every function it names.
    pub fn new(expression: &str) -> Result<Self, CompileError> {
        let root = parser::parse(expression).map_err(|mut error| {
            error.expression = expression.to_owned();
            error
        })?;
        Ok(Self {
            expression: expression.to_owned(),
            root,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Evaluates the expression against `data`.
    pub fn search(&self, data: &Value, environment: &Environment) -> Result<Value, EvalError> {
        interpreter::Interpreter::new(environment)
            .evaluate(&self.root, data)
            .map(std::borrow::Cow::into_owned)
    }
}

impl Compiled {
    /// Evaluates the expression against `data` with `overlay` laid over it, borrowing from
    /// both where the result is a part of them.
    pub fn search_with<'a>(
        &'a self,
        data: &'a Value,
        overlay: &'a dyn Overlay,
        environment: &'a Environment,
    ) -> Result<std::borrow::Cow<'a, Value>, EvalError> {
        interpreter::Interpreter::with_overlay(environment, overlay).evaluate(&self.root, data)
    }
}

/// Parses and evaluates `expression` once; prefer [`Compiled`] for anything evaluated twice.
pub fn search(expression: &str, data: &Value, environment: &Environment) -> Result<Value, Error> {
    Ok(Compiled::new(expression)?.search(data, environment)?)
}

/// The AST of the fork, one variant per node kind it evaluates differently.
#[derive(Debug, Clone)]
enum Node {
    Field(String),
    Index(i64),
    Slice([Option<i64>; 3]),
    Literal(Value),
    Identity,
    Current,
    Subexpression(Box<Node>, Box<Node>),
    IndexExpression(Box<Node>, Box<Node>),
    Projection(Box<Node>, Box<Node>),
    ValueProjection(Box<Node>, Box<Node>),
    FilterProjection {
        left: Box<Node>,
        right: Box<Node>,
        condition: Box<Node>,
    },
    Flatten(Box<Node>),
    Comparison(Comparator, Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Pipe(Box<Node>, Box<Node>),
    MultiSelectList(Vec<Node>),
    MultiSelectHash(Vec<(String, Node)>),
    Function(&'static functions::Function, Vec<Node>),
    ExpRef(Box<Node>),
}

/// An expression that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the expression where the problem was found.
    pub offset: usize,
    pub message: String,
    expression: String,
}

impl CompileError {
    fn new(offset: usize, message: String) -> Self {
        Self {
            offset,
            message,
            expression: String::new(),
        }
    }

    /// The expression with a caret under the offending position, as go-jmespath shows it.
    pub fn highlight(&self) -> String {
        let column = self
            .expression
            .get(..self.offset)
            .map_or(self.offset, |prefix| prefix.chars().count());
        format!("{}\n{}^", self.expression, " ".repeat(column))
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SyntaxError: {} (at offset {} of {:?})",
            self.message, self.offset, self.expression
        )
    }
}

impl std::error::Error for CompileError {}

/// An expression that failed while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A field that the object does not have, which Kyverno distinguishes from other errors (a
    /// precondition or substitution may treat it as "not applicable").
    NotFound(String),
    /// Any other failure, worded as Kyverno words it.
    Failed(String),
}

impl EvalError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, EvalError::NotFound(_))
    }

    fn failed(message: impl Into<String>) -> Self {
        EvalError::Failed(message.into())
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::NotFound(key) => write!(f, "Unknown key \"{key}\" in path"),
            EvalError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for EvalError {}

/// Either kind of failure, for [`search`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// Resolves host names for `is_external_url`.
pub trait Resolver: Send + Sync + fmt::Debug {
    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The operating system's resolver, which Kyverno uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        use std::net::ToSocketAddrs;
        (host, 0)
            .to_socket_addrs()
            .map(|addresses| addresses.map(|a| a.ip()).collect())
            .map_err(|error| format!("lookup {host}: {error}"))
    }
}

/// What an evaluation may read besides its input: the clock, randomness, name resolution and the
/// image registry settings. The default reads the system clock, draws fresh randomness and
/// resolves names with the system resolver, as Kyverno does.
#[derive(Debug, Clone)]
pub struct Environment {
    now: Option<OffsetDateTime>,
    seed: Option<u64>,
    resolver: Arc<dyn Resolver>,
    registry: RegistryDefaults,
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            now: None,
            seed: None,
            resolver: Arc::new(SystemResolver),
            registry: RegistryDefaults::default(),
        }
    }
}

impl Environment {
    /// Fixes the time `time_now`, `time_now_utc` and `time_since` read.
    pub fn with_now(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Makes `random` reproducible: each evaluation draws the same sequence from `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Replaces the resolver `is_external_url` asks about host names.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Kyverno's `defaultRegistry` and `enableDefaultRegistryMutation` settings, which
    /// `image_normalize` applies.
    pub fn with_registry_defaults(mut self, registry: RegistryDefaults) -> Self {
        self.registry = registry;
        self
    }

    fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(OffsetDateTime::now_utc)
    }
}
