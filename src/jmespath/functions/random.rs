//! `random(pattern)`: a string matching a Go regular expression, as zach-klippenstein/goregen
//! generates one: each character uniformly from its class, each repetition between its bounds
//! (up to 4096 when unbounded), each alternative equally likely, anchors ignored.
//!
//! The bits come from the [`Interpreter`], which draws them from the environment's seed when it
//! has one, so `check` and `test` can reproduce a verdict.

use super::strings::rust_regex_error;
use super::{Arg, EvalError, Interpreter, Result, error, str_at, string};
use regex_syntax::hir::{Class, Hir, HirKind};

const MAX_UNBOUNDED_REPEAT: u32 = 4096;

/// Stops a pattern such as `(a{1000}){1000}` from building an unbounded string, and one such as
/// `(){1000000000}` from spinning without building anything.
const MAX_LENGTH: usize = 1 << 20;
const MAX_STEPS: usize = 1 << 22;

pub(super) fn random<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let pattern = str_at(&args, 0)?;
    if pattern.is_empty() {
        return Err(EvalError::failed("no pattern provided"));
    }
    let translated = super::re2::translate(pattern).map_err(EvalError::failed)?;
    let hir = regex_syntax::Parser::new()
        .parse(&translated)
        .map_err(|e| EvalError::failed(rust_regex_error(pattern, &e)))?;
    let mut out = String::new();
    let mut steps = MAX_STEPS;
    generate(&hir, interpreter, &mut out, &mut steps)?;
    string(out)
}

fn below(interpreter: &Interpreter<'_>, bound: u64) -> u64 {
    if bound <= 1 {
        return 0;
    }
    interpreter.next_random() % bound
}

fn generate(
    hir: &Hir,
    interpreter: &Interpreter<'_>,
    out: &mut String,
    steps: &mut usize,
) -> std::result::Result<(), EvalError> {
    *steps = steps.saturating_sub(1);
    if out.len() > MAX_LENGTH || *steps == 0 {
        return Err(error("random", "the pattern generates too long a string"));
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.push_str(&String::from_utf8_lossy(&literal.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let total: u64 = class
                .ranges()
                .iter()
                .map(|r| u64::from(r.end() as u32 - r.start() as u32) + 1)
                .sum();
            let mut pick = below(interpreter, total);
            for range in class.ranges() {
                let size = u64::from(range.end() as u32 - range.start() as u32) + 1;
                if pick < size {
                    let code = range.start() as u32 + pick as u32;
                    // Surrogates are not characters; goregen writes U+FFFD for them.
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            let total: u64 = class
                .ranges()
                .iter()
                .map(|r| u64::from(r.end() - r.start()) + 1)
                .sum();
            let mut pick = below(interpreter, total);
            for range in class.ranges() {
                let size = u64::from(range.end() - range.start()) + 1;
                if pick < size {
                    out.push(char::from(range.start() + pick as u8));
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Repetition(repetition) => {
            let max = repetition
                .max
                .unwrap_or(MAX_UNBOUNDED_REPEAT.max(repetition.min));
            let count =
                u64::from(repetition.min) + below(interpreter, u64::from(max - repetition.min) + 1);
            // Charged up front, so that repeating something that produces nothing is bounded too.
            *steps = steps.saturating_sub(usize::try_from(count).unwrap_or(usize::MAX));
            for _ in 0..count {
                generate(&repetition.sub, interpreter, out, steps)?;
            }
        }
        HirKind::Capture(capture) => generate(&capture.sub, interpreter, out, steps)?,
        HirKind::Concat(parts) => {
            for part in parts {
                generate(part, interpreter, out, steps)?;
            }
        }
        HirKind::Alternation(choices) => {
            let pick = below(interpreter, choices.len() as u64) as usize;
            if let Some(choice) = choices.get(pick) {
                generate(choice, interpreter, out, steps)?;
            }
        }
    }
    Ok(())
}
