//! A Pratt parser with kyverno/go-jmespath's binding powers, producing the AST the interpreter
//! walks. Its grammar is the fork's, including what the JMESPath specification does not allow:
//! function arguments need no commas between them (`f(a b)`), a trailing comma is accepted, and
//! `[*]`, `[]` and `[?…]` bind as in the fork.
//!
//! Where the fork accepts an expression at compile time and fails every time it runs (a function
//! name that is not a name, an index that is not a number, an unknown function), this parser
//! refuses it, so a policy carrying one is rejected at load instead of erroring on every request.

use super::functions::{self, Function};
use super::lexer::{Kind, Token, tokenize};
use super::{CompileError, Node};
use crate::coerce::gofmt::go_json_parse;
use serde_json::Value;

/// Deep enough for any expression a person writes; shallow enough that the recursive parser and
/// interpreter cannot exhaust the stack.
const MAX_DEPTH: usize = 200;

pub(super) fn parse(expression: &str) -> Result<Node, CompileError> {
    let tokens = tokenize(expression)?;
    let mut parser = Parser {
        tokens,
        index: 0,
        depth: 0,
        empty_node: None,
    };
    let node = parser.expression(0)?;
    if parser.current() != Kind::Eof {
        return Err(parser.error(format!(
            "Unexpected token at the end of the expression: {}",
            parser.current()
        )));
    }
    if let Some(offset) = parser.empty_node {
        return Err(CompileError::new(
            offset,
            "Unknown AST node: ASTEmpty".to_owned(),
        ));
    }
    Ok(node)
}

fn binding_power(kind: Kind) -> u8 {
    match kind {
        Kind::Pipe => 1,
        Kind::Or => 2,
        Kind::And => 3,
        Kind::Eq | Kind::Lt | Kind::Lte | Kind::Gt | Kind::Gte | Kind::Ne => 5,
        Kind::Flatten => 9,
        Kind::Star => 20,
        Kind::Filter => 21,
        Kind::Dot => 40,
        Kind::Not => 45,
        Kind::Lbrace => 50,
        Kind::Lbracket => 55,
        Kind::Lparen => 60,
        _ => 0,
    }
}

struct Parser {
    tokens: Vec<Token>,
    index: usize,
    depth: usize,
    /// Where the fork dropped an error and put an empty node, which fails every evaluation.
    empty_node: Option<usize>,
}

impl Parser {
    fn token(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.index + ahead).min(last)]
    }

    fn current(&self) -> Kind {
        self.token(0).kind
    }

    fn advance(&mut self) {
        if self.index + 1 < self.tokens.len() {
            self.index += 1;
        }
    }

    fn error(&self, message: String) -> CompileError {
        CompileError::new(self.token(0).offset, message)
    }

    fn expect(&mut self, kind: Kind) -> Result<(), CompileError> {
        if self.current() == kind {
            self.advance();
            return Ok(());
        }
        Err(self.error(format!("Expected {kind}, received: {}", self.current())))
    }

    fn expression(&mut self, power: u8) -> Result<Node, CompileError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "expression nested more than {MAX_DEPTH} levels deep"
            )));
        }
        let token = self.token(0).clone();
        self.advance();
        let mut left = self.nud(token)?;
        while power < binding_power(self.current()) {
            let token = self.token(0).clone();
            self.advance();
            left = self.led(token, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, token: Token) -> Result<Node, CompileError> {
        match token.kind {
            Kind::JsonLiteral => go_json_parse(&token.text)
                .map(Node::Literal)
                .map_err(|message| CompileError::new(token.offset, message)),
            Kind::StringLiteral => Ok(Node::Literal(Value::String(token.text))),
            Kind::UnquotedIdentifier => Ok(Node::Field(token.text)),
            Kind::QuotedIdentifier => {
                if self.current() == Kind::Lparen {
                    return Err(CompileError::new(
                        token.offset,
                        "Can't have quoted identifier as function Name.".to_owned(),
                    ));
                }
                Ok(Node::Field(token.text))
            }
            Kind::Star => {
                let right = if self.current() == Kind::Rbracket {
                    Node::Identity
                } else {
                    self.projection_rhs(binding_power(Kind::Star))?
                };
                Ok(Node::ValueProjection(
                    Box::new(Node::Identity),
                    Box::new(right),
                ))
            }
            Kind::Filter => self.filter(Node::Identity),
            Kind::Lbrace => self.multi_select_hash(),
            Kind::Flatten => {
                let left = Node::Flatten(Box::new(Node::Identity));
                let right = self.projection_rhs(binding_power(Kind::Flatten))?;
                Ok(Node::Projection(Box::new(left), Box::new(right)))
            }
            Kind::Lbracket => match self.current() {
                // The fork drops an error of a leading index or slice and carries on from the
                // token where it stopped, with an empty node in its place: what follows decides
                // the syntax error, and an expression that parses all the same fails whenever
                // the empty node is evaluated.
                Kind::Number | Kind::Colon => match self.index_expression() {
                    Ok(right) => self.project_if_slice(Node::Identity, right),
                    Err(_) => {
                        self.empty_node.get_or_insert(token.offset);
                        Ok(Node::Identity)
                    }
                },
                Kind::Star if self.token(1).kind == Kind::Rbracket => {
                    self.advance();
                    self.advance();
                    let right = self.projection_rhs(binding_power(Kind::Star))?;
                    Ok(Node::Projection(Box::new(Node::Identity), Box::new(right)))
                }
                _ => self.multi_select_list(),
            },
            Kind::Current => Ok(Node::Current),
            Kind::Expref => {
                let expression = self.expression(binding_power(Kind::Expref))?;
                Ok(Node::ExpRef(Box::new(expression)))
            }
            Kind::Not => {
                let expression = self.expression(binding_power(Kind::Not))?;
                Ok(Node::Not(Box::new(expression)))
            }
            Kind::Lparen => {
                let expression = self.expression(0)?;
                self.expect(Kind::Rparen)?;
                Ok(expression)
            }
            Kind::Eof => Err(CompileError::new(
                token.offset,
                "Incomplete expression".to_owned(),
            )),
            other => Err(CompileError::new(
                token.offset,
                format!("Invalid token: {other}"),
            )),
        }
    }

    fn led(&mut self, token: Token, left: Node) -> Result<Node, CompileError> {
        let pair = |node: fn(Box<Node>, Box<Node>) -> Node, left: Node, right: Node| {
            node(Box::new(left), Box::new(right))
        };
        match token.kind {
            Kind::Dot => {
                if self.current() != Kind::Star {
                    let right = self.dot_rhs(binding_power(Kind::Dot))?;
                    return Ok(pair(Node::Subexpression, left, right));
                }
                self.advance();
                let right = self.projection_rhs(binding_power(Kind::Dot))?;
                Ok(pair(Node::ValueProjection, left, right))
            }
            Kind::Pipe => {
                let right = self.expression(binding_power(Kind::Pipe))?;
                Ok(pair(Node::Pipe, left, right))
            }
            Kind::Or => {
                let right = self.expression(binding_power(Kind::Or))?;
                Ok(pair(Node::Or, left, right))
            }
            Kind::And => {
                let right = self.expression(binding_power(Kind::And))?;
                Ok(pair(Node::And, left, right))
            }
            Kind::Lparen => self.function(token, left),
            Kind::Filter => self.filter(left),
            Kind::Flatten => {
                let flattened = Node::Flatten(Box::new(left));
                let right = self.projection_rhs(binding_power(Kind::Flatten))?;
                Ok(Node::Projection(Box::new(flattened), Box::new(right)))
            }
            Kind::Eq | Kind::Ne | Kind::Lt | Kind::Lte | Kind::Gt | Kind::Gte => {
                let right = self.expression(binding_power(token.kind))?;
                let comparator = match token.kind {
                    Kind::Eq => Comparator::Equal,
                    Kind::Ne => Comparator::NotEqual,
                    Kind::Lt => Comparator::Less,
                    Kind::Lte => Comparator::LessEqual,
                    Kind::Gt => Comparator::Greater,
                    _ => Comparator::GreaterEqual,
                };
                Ok(Node::Comparison(
                    comparator,
                    Box::new(left),
                    Box::new(right),
                ))
            }
            Kind::Lbracket => {
                if matches!(self.current(), Kind::Number | Kind::Colon) {
                    let right = self.index_expression()?;
                    return self.project_if_slice(left, right);
                }
                self.expect(Kind::Star)?;
                self.expect(Kind::Rbracket)?;
                let right = self.projection_rhs(binding_power(Kind::Star))?;
                Ok(pair(Node::Projection, left, right))
            }
            other => Err(self.error(format!("Unexpected token: {other}"))),
        }
    }

    /// `name(args)`: the fork takes the name from whatever node precedes `(`; only a plain
    /// identifier naming a known function is accepted here.
    fn function(&mut self, paren: Token, left: Node) -> Result<Node, CompileError> {
        let name_offset = self
            .index
            .checked_sub(2)
            .map_or(paren.offset, |i| self.tokens[i].offset);
        let mut args = Vec::new();
        while self.current() != Kind::Rparen {
            args.push(self.expression(0)?);
            if self.current() == Kind::Comma {
                self.advance();
            }
        }
        self.expect(Kind::Rparen)?;
        let Node::Field(name) = left else {
            return Err(CompileError::new(
                paren.offset,
                "only a function name may be called".to_owned(),
            ));
        };
        let function: &'static Function = functions::lookup(&name)
            .ok_or_else(|| CompileError::new(name_offset, format!("unknown function: {name}")))?;
        Ok(Node::Function(function, args))
    }

    fn index_expression(&mut self) -> Result<Node, CompileError> {
        if self.current() == Kind::Colon || self.token(1).kind == Kind::Colon {
            return self.slice_expression();
        }
        let index = self.integer()?;
        self.advance();
        self.expect(Kind::Rbracket)?;
        Ok(Node::Index(index))
    }

    /// `strconv.Atoi` of the current number token.
    fn integer(&self) -> Result<i64, CompileError> {
        let text = &self.token(0).text;
        text.parse().map_err(|error: std::num::ParseIntError| {
            let reason = match error.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            self.error(format!("strconv.Atoi: parsing \"{text}\": {reason}"))
        })
    }

    fn slice_expression(&mut self) -> Result<Node, CompileError> {
        let mut parts = [None; 3];
        let mut position = 0;
        while self.current() != Kind::Rbracket && position < 3 {
            match self.current() {
                Kind::Colon => {
                    position += 1;
                    self.advance();
                }
                Kind::Number => {
                    parts[position] = Some(self.integer()?);
                    self.advance();
                }
                other => {
                    return Err(
                        self.error(format!("Expected tColon or tNumber, received: {other}"))
                    );
                }
            }
        }
        self.expect(Kind::Rbracket)?;
        Ok(Node::Slice(parts))
    }

    fn project_if_slice(&mut self, left: Node, right: Node) -> Result<Node, CompileError> {
        let is_slice = matches!(right, Node::Slice(_));
        let indexed = Node::IndexExpression(Box::new(left), Box::new(right));
        if !is_slice {
            return Ok(indexed);
        }
        let rest = self.projection_rhs(binding_power(Kind::Star))?;
        Ok(Node::Projection(Box::new(indexed), Box::new(rest)))
    }

    fn filter(&mut self, left: Node) -> Result<Node, CompileError> {
        let condition = self.expression(0)?;
        self.expect(Kind::Rbracket)?;
        let right = if self.current() == Kind::Flatten {
            Node::Identity
        } else {
            self.projection_rhs(binding_power(Kind::Filter))?
        };
        Ok(Node::FilterProjection {
            left: Box::new(left),
            right: Box::new(right),
            condition: Box::new(condition),
        })
    }

    fn dot_rhs(&mut self, power: u8) -> Result<Node, CompileError> {
        match self.current() {
            Kind::QuotedIdentifier | Kind::UnquotedIdentifier | Kind::Star => {
                self.expression(power)
            }
            Kind::Lbracket => {
                self.advance();
                self.multi_select_list()
            }
            Kind::Lbrace => {
                self.advance();
                self.multi_select_hash()
            }
            _ => Err(self.error("Expected identifier, lbracket, or lbrace".to_owned())),
        }
    }

    fn projection_rhs(&mut self, power: u8) -> Result<Node, CompileError> {
        match self.current() {
            kind if binding_power(kind) < 10 => Ok(Node::Identity),
            Kind::Lbracket | Kind::Filter => self.expression(power),
            Kind::Dot => {
                self.advance();
                self.dot_rhs(power)
            }
            _ => Err(self.error("Error".to_owned())),
        }
    }

    fn multi_select_list(&mut self) -> Result<Node, CompileError> {
        let mut items = Vec::new();
        loop {
            items.push(self.expression(0)?);
            if self.current() == Kind::Rbracket {
                break;
            }
            self.expect(Kind::Comma)?;
        }
        self.expect(Kind::Rbracket)?;
        Ok(Node::MultiSelectList(items))
    }

    fn multi_select_hash(&mut self) -> Result<Node, CompileError> {
        let mut entries = Vec::new();
        loop {
            let key = self.token(0).clone();
            if !matches!(key.kind, Kind::UnquotedIdentifier | Kind::QuotedIdentifier) {
                return Err(
                    self.error("Expected tQuotedIdentifier or tUnquotedIdentifier".to_owned())
                );
            }
            self.advance();
            self.expect(Kind::Colon)?;
            let value = self.expression(0)?;
            entries.push((key.text, value));
            match self.current() {
                Kind::Comma => self.advance(),
                Kind::Rbrace => {
                    self.advance();
                    break;
                }
                _ => {}
            }
        }
        Ok(Node::MultiSelectHash(entries))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparator {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}
