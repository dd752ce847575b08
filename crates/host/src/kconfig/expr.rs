//! Kconfig expressions: parsing from tokens, evaluation against a `.config`,
//! and display with each symbol's value (`MTD [=n]`), as menuconfig shows
//! them.
//!
//! `kconfig-parser` has an expression type, but it keeps the operands of
//! `&&`, `||` and comparisons in a set: order and repeats are lost, so
//! `A < B` and `B < A` are the same value, and the expression cannot be
//! shown as written. This one keeps the tree as written.

use std::cmp::Ordering;
use std::fmt::Write as _;

use kconfig_parser::lex::structs::{EqualityOperator, Lexicon};

/// A tristate value: n < m < y.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tri {
    /// Off.
    N,
    /// Module.
    M,
    /// Built in.
    Y,
}

impl Tri {
    /// The letter Kconfig writes.
    pub fn letter(self) -> char {
        match self {
            Tri::N => 'n',
            Tri::M => 'm',
            Tri::Y => 'y',
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn text(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// An expression as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A symbol, or one of the constants `y`, `m`, `n`.
    Sym(String),
    /// A quoted constant.
    Str(String),
    /// A `$(...)` macro: the kernel's Kconfig runs the compiler for these;
    /// we cannot, and take them as true (shown with `[=?]`).
    Macro(String),
    /// `!e`
    Not(Box<Expr>),
    /// `a && b`
    And(Box<Expr>, Box<Expr>),
    /// `a || b`
    Or(Box<Expr>, Box<Expr>),
    /// `a OP b`
    Cmp(Cmp, Box<Expr>, Box<Expr>),
}

/// Where symbol values come from.
pub trait Values {
    /// The tristate value of a bool or tristate symbol (n for other types
    /// and unknown names).
    fn tri(&self, name: &str) -> Tri;
    /// The value as a string, for comparisons: the `.config` value of a
    /// defined symbol, the name itself for an undefined one (Kconfig takes
    /// unknown words as constants).
    fn text(&self, name: &str) -> String;
    /// The value shown after a symbol (`MTD [=n]`).
    fn display(&self, name: &str) -> String {
        self.text(name)
    }
}

/// An expression that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("bad expression: {0}")]
pub struct ExprError(pub String);

impl Expr {
    /// `a && b`, leaving out a `y` side.
    pub fn and(a: Expr, b: Expr) -> Expr {
        if a.is_y() {
            b
        } else if b.is_y() || a == b {
            a
        } else {
            Expr::And(Box::new(a), Box::new(b))
        }
    }

    /// The constant `y`.
    pub fn y() -> Expr {
        Expr::Sym("y".into())
    }

    /// Whether this is the constant `y`.
    pub fn is_y(&self) -> bool {
        matches!(self, Expr::Sym(s) if s == "y")
    }

    /// Parse the whole token slice as one expression.
    pub fn parse(tokens: &[Lexicon]) -> Result<Expr, ExprError> {
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or()?;
        if p.pos != tokens.len() {
            return Err(ExprError(format!(
                "unexpected {} after the expression",
                tokens[p.pos]
            )));
        }
        Ok(e)
    }

    /// Parse an expression at the front of `tokens`; the rest (from an
    /// `if`, say) is left.
    pub fn parse_prefix(tokens: &[Lexicon]) -> Result<(Expr, &[Lexicon]), ExprError> {
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or()?;
        Ok((e, &tokens[p.pos..]))
    }

    /// The tristate value.
    pub fn eval(&self, v: &dyn Values) -> Tri {
        match self {
            Expr::Sym(s) => match s.as_str() {
                "y" => Tri::Y,
                "m" => Tri::M,
                "n" => Tri::N,
                _ => v.tri(s),
            },
            Expr::Str(s) => match s.as_str() {
                "y" => Tri::Y,
                "m" => Tri::M,
                _ => Tri::N,
            },
            Expr::Macro(_) => Tri::Y,
            Expr::Not(e) => match e.eval(v) {
                Tri::N => Tri::Y,
                Tri::M => Tri::M,
                Tri::Y => Tri::N,
            },
            Expr::And(a, b) => a.eval(v).min(b.eval(v)),
            Expr::Or(a, b) => a.eval(v).max(b.eval(v)),
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.text(v), b.text(v));
                let ord = match (number(&a), number(&b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => a.cmp(&b),
                };
                let holds = match op {
                    Cmp::Eq => ord == Ordering::Equal,
                    Cmp::Ne => ord != Ordering::Equal,
                    Cmp::Lt => ord == Ordering::Less,
                    Cmp::Le => ord != Ordering::Greater,
                    Cmp::Gt => ord == Ordering::Greater,
                    Cmp::Ge => ord != Ordering::Less,
                };
                if holds {
                    Tri::Y
                } else {
                    Tri::N
                }
            }
        }
    }

    fn text(&self, v: &dyn Values) -> String {
        match self {
            Expr::Sym(s) if matches!(s.as_str(), "y" | "m" | "n") => s.clone(),
            Expr::Sym(s) => v.text(s),
            Expr::Str(s) => s.clone(),
            other => other.eval(v).letter().to_string(),
        }
    }

    /// The symbols this expression names (not the constants).
    pub fn symbols(&self, out: &mut Vec<String>) {
        match self {
            Expr::Sym(s) if !matches!(s.as_str(), "y" | "m" | "n") => {
                if !out.contains(s) {
                    out.push(s.clone())
                }
            }
            Expr::Sym(_) | Expr::Str(_) | Expr::Macro(_) => {}
            Expr::Not(e) => e.symbols(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                a.symbols(out);
                b.symbols(out)
            }
        }
    }

    /// The terms that keep this expression below `need`: the operands of
    /// an `&&` chain that are below it (each split further), or the whole
    /// expression when it is not an `&&`.
    pub fn false_terms<'a>(&'a self, v: &dyn Values, need: Tri, out: &mut Vec<&'a Expr>) {
        if self.eval(v) >= need {
            return;
        }
        match self {
            Expr::And(a, b) => {
                a.false_terms(v, need, out);
                b.false_terms(v, need, out);
            }
            _ => out.push(self),
        }
    }

    /// The expression with each symbol's value, e.g. `MTD [=n] && !X [=y]`.
    pub fn show(&self, v: &dyn Values) -> String {
        let mut s = String::new();
        self.write(v, &mut s, 0);
        s
    }

    fn write(&self, v: &dyn Values, s: &mut String, parent: u8) {
        // Precedence: || 1, && 2, ! and comparisons 3.
        let own = match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            _ => 3,
        };
        let paren = own < parent;
        if paren {
            s.push('(');
        }
        match self {
            Expr::Sym(n) if matches!(n.as_str(), "y" | "m" | "n") => s.push_str(n),
            Expr::Sym(n) if number(n).is_some() => s.push_str(n),
            Expr::Sym(n) => {
                let _ = write!(s, "{n} [={}]", v.display(n));
            }
            Expr::Str(t) => {
                let _ = write!(s, "\"{t}\"");
            }
            Expr::Macro(m) => {
                let _ = write!(s, "$({m},...) [=?]");
            }
            Expr::Not(e) => {
                s.push('!');
                e.write(v, s, 3);
            }
            Expr::And(a, b) => {
                a.write(v, s, 2);
                s.push_str(" && ");
                b.write(v, s, 2);
            }
            Expr::Or(a, b) => {
                a.write(v, s, 1);
                s.push_str(" || ");
                b.write(v, s, 1);
            }
            Expr::Cmp(op, a, b) => {
                a.write(v, s, 3);
                let _ = write!(s, " {} ", op.text());
                b.write(v, s, 3);
            }
        }
        if paren {
            s.push(')');
        }
    }
}

/// A decimal or `0x` hex number.
fn number(s: &str) -> Option<i64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

struct Parser<'a> {
    tokens: &'a [Lexicon],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexicon> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.and()?;
        while self.peek() == Some(&Lexicon::Or) {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.not()?;
        while self.peek() == Some(&Lexicon::And) {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.peek() == Some(&Lexicon::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let left = self.primary()?;
        let op = match self.peek() {
            Some(Lexicon::Assignment) => Cmp::Eq,
            Some(Lexicon::EqualityOperator(op)) => match op {
                EqualityOperator::Eq => Cmp::Eq,
                EqualityOperator::Ne => Cmp::Ne,
                EqualityOperator::Lt => Cmp::Lt,
                EqualityOperator::Lte => Cmp::Le,
                EqualityOperator::Gt => Cmp::Gt,
                EqualityOperator::Gte => Cmp::Ge,
            },
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.primary()?;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| ExprError("expression ends early".into()))?;
        self.pos += 1;
        match token {
            Lexicon::Identifier(name) => match name.strip_prefix(super::lex::MACRO_PREFIX) {
                Some(call) => Ok(Expr::Macro(call.to_string())),
                None => Ok(Expr::Sym(name)),
            },
            Lexicon::String(raw) => Ok(Expr::Str(unquote(&raw))),
            Lexicon::Open => {
                let e = self.or()?;
                if self.peek() != Some(&Lexicon::Close) {
                    return Err(ExprError("missing )".into()));
                }
                self.pos += 1;
                Ok(e)
            }
            // Keywords used as words (`depends on m`, a symbol named like
            // a keyword does not occur in Linux).
            other => Err(ExprError(format!("unexpected {other}"))),
        }
    }
}

/// The text of a string token (which keeps its quotes).
pub(crate) fn unquote(raw: &str) -> String {
    kconfig_parser::parse_string(raw).unwrap_or_else(|_| raw.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct V(HashMap<&'static str, &'static str>);
    impl Values for V {
        fn tri(&self, name: &str) -> Tri {
            match self.0.get(name) {
                Some(&"y") => Tri::Y,
                Some(&"m") => Tri::M,
                _ => Tri::N,
            }
        }
        fn text(&self, name: &str) -> String {
            self.0.get(name).map_or(name.into(), |s| s.to_string())
        }
    }

    fn parse(s: &str) -> Expr {
        let lines = super::super::lex::lines(s).expect("lexes");
        Expr::parse(&lines[0].tokens).expect("parses")
    }

    #[test]
    fn evaluates_tristate_logic_and_comparisons() {
        let v = V([("A", "y"), ("B", "m"), ("N", "32"), ("S", "\"x\"")].into());
        assert_eq!(parse("A && B").eval(&v), Tri::M);
        assert_eq!(parse("A && !B").eval(&v), Tri::M);
        assert_eq!(parse("C || B").eval(&v), Tri::M);
        assert_eq!(parse("!(A || C)").eval(&v), Tri::N);
        assert_eq!(parse("N >= 16 && N < 0x21").eval(&v), Tri::Y);
        assert_eq!(parse("N > 100").eval(&v), Tri::N);
        assert_eq!(parse("(B = m)").eval(&v), Tri::Y);
        assert_eq!(parse("B != m").eval(&v), Tri::N);
        assert_eq!(parse("A && $(cc-option,-mfoo)").eval(&v), Tri::Y);
    }

    #[test]
    fn shows_values_and_finds_the_false_terms() {
        let v = V([("MTD", "n"), ("BLOCK", "y"), ("X", "y")].into());
        let e = parse("MTD && (BLOCK || X) && !X");
        assert_eq!(e.show(&v), "MTD [=n] && (BLOCK [=y] || X [=y]) && !X [=y]");
        let mut terms = Vec::new();
        e.false_terms(&v, Tri::Y, &mut terms);
        let shown: Vec<String> = terms.iter().map(|t| t.show(&v)).collect();
        assert_eq!(shown, ["MTD [=n]", "!X [=y]"]);
    }

    #[test]
    fn keeps_operand_order() {
        let v = V([("A", "1"), ("B", "2")].into());
        assert_eq!(parse("A < B").eval(&v), Tri::Y);
        assert_eq!(parse("B < A").eval(&v), Tri::N);
    }
}
