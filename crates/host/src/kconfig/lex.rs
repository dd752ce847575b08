//! Tokens of one Kconfig file, from `kconfig-parser`'s lexer.
//!
//! The crate's lexer knows Kconfig's keywords, strings, operators, macros
//! and help blocks (whose end depends on indentation, the part a regular
//! expression gets wrong). Three things of the Linux tree it does not take
//! as they are, so the text is adjusted first, line numbers kept:
//! - a `\` at the end of a line continues the line (207 times in 6.1);
//! - strings in single quotes (`bool 'Connection mark tracking support'`);
//! - non-ASCII text (help texts with names): its lexer slices strings by
//!   byte and panics inside a multi-byte character, and we never need
//!   that text, so each such character becomes `?`.
//!
//! Kconfig statements end at the end of the line, so the tokens are handed
//! on grouped by line.

use kconfig_parser::lex::structs::Lexicon;
use kconfig_parser::lex::LexerBase;
use kconfig_parser::Lexer;

/// What a `$(...)` call outside a string becomes: this, then the name of
/// the function called.
pub(crate) const MACRO_PREFIX: &str = "macro--";

/// The tokens of one logical line (a help block is a line of its own).
#[derive(Debug)]
pub(crate) struct Line {
    /// 1-based line number in the file.
    pub(crate) number: usize,
    /// The tokens, in order.
    pub(crate) tokens: Vec<Lexicon>,
}

/// A token the lexer could not read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: cannot read {text:?}")]
pub struct LexError {
    /// 1-based line number.
    pub line: usize,
    /// The text the lexer stopped at.
    pub text: String,
}

/// Split `text` into lines of tokens.
pub(crate) fn lines(text: &str) -> Result<Vec<Line>, LexError> {
    let prepared = prepare(text);
    let mut lexer = Lexer::create(prepared.as_bytes());
    let mut out: Vec<Line> = Vec::new();
    loop {
        let token = lexer.next_token();
        let term = token.term();
        match term {
            Lexicon::EOT => break,
            Lexicon::Error(text) => {
                return Err(LexError {
                    line: token.line(),
                    text,
                })
            }
            Lexicon::Help(_) => out.push(Line {
                number: token.line(),
                tokens: vec![term],
            }),
            _ => match out.last_mut() {
                Some(last)
                    if last.number == token.line()
                        && !matches!(last.tokens.first(), Some(Lexicon::Help(_))) =>
                {
                    last.tokens.push(term)
                }
                _ => out.push(Line {
                    number: token.line(),
                    tokens: vec![term],
                }),
            },
        }
    }
    Ok(out)
}

/// Join continued lines, re-indent help texts, drop macro definitions
/// and top-level macro calls, double-quote single-quoted strings and
/// replace non-ASCII characters, keeping every line on its line number.
fn prepare(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut logical = String::new();
    let mut joined = 0;
    // In a help text: the text's indentation (set by its first non-empty
    // line).
    let mut help: Option<Option<usize>> = None;
    for raw in text.split_inclusive('\n') {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(text_indent) = &mut help {
            let width = indent_width(line);
            if line.trim().is_empty() {
                out.push('\n');
                continue;
            }
            if width > 0 && width >= *text_indent.get_or_insert(width) {
                // Kconfig's rule: the text goes on while lines are indented
                // at least as deep as its first one. (The crate's lexer
                // ends it at the indentation of `help` itself, as deep in
                // 30 files of Linux 6.1, and cannot take an empty one.) We
                // never show help texts, and they are over half the bytes
                // of the tree (57% in 6.1): the lexer gets neither the
                // `help` line nor the text.
                out.push('\n');
                continue;
            }
            help = None;
        }
        if let Some(body) = line.strip_suffix('\\') {
            logical.push_str(body);
            logical.push(' ');
            joined += 1;
            continue;
        }
        logical.push_str(line);
        // Statements do not depend on indentation: the lexer (which
        // allocates for every character it reads) gets none, and no
        // comment lines.
        let trimmed = logical.trim();
        if trimmed == "help" || trimmed == "---help---" {
            help = Some(None);
        } else if !trimmed.starts_with('#') && !is_macro_line(trimmed) {
            requote(trimmed, &mut out);
        }
        for _ in 0..=joined {
            out.push('\n');
        }
        logical.clear();
        joined = 0;
    }
    let trimmed = logical.trim();
    if !trimmed.is_empty() && !trimmed.starts_with('#') && !is_macro_line(trimmed) {
        requote(trimmed, &mut out);
    }
    out
}

/// The indentation of a line in columns (tabs to multiples of 8).
fn indent_width(line: &str) -> usize {
    let mut w = 0;
    for c in line.chars() {
        match c {
            ' ' => w += 1,
            '\t' => w = (w / 8 + 1) * 8,
            _ => break,
        }
    }
    w
}

/// `name := text`, `name = text`, `name += text` (whose right side is raw
/// text the lexer cannot read) and `$(warning,...)`-style calls. We do not
/// expand macros in expressions (see `expr::Expr::Macro`), so neither is
/// needed.
fn is_macro_line(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("$(") {
        return true;
    }
    let name_len = t
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    if name_len == 0 {
        return false;
    }
    let rest = t[name_len..].trim_start();
    rest.starts_with(":=")
        || rest.starts_with("+=")
        || (rest.starts_with('=') && !rest.starts_with("=="))
}

/// Copy one line, turning `'text'` into `"text"` outside double quotes and
/// comments, and non-ASCII characters into `?`.
fn requote(line: &str, out: &mut String) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    let mut i = 0;
    let mut in_double = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if in_double => {
                out.push(c);
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                    i += 1;
                }
            }
            '"' => {
                in_double = !in_double;
                out.push(c);
            }
            '$' if !in_double && chars.get(i + 1) == Some(&'(') => {
                // A macro call: its text is shell or compiler flags, which
                // the lexer cannot read. It becomes one word naming the
                // function (`macro--success`), see `expr::Expr::Macro`.
                let mut depth = 0;
                let mut end = i + 1;
                while end < chars.len() {
                    match chars[end] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    end += 1;
                }
                let name: String = chars[i + 2..end.min(chars.len())]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '-' || **c == '_')
                    .collect();
                out.push_str(MACRO_PREFIX);
                out.push_str(&name);
                i = end;
            }
            '#' if !in_double => {
                out.extend(&chars[i..]);
                return;
            }
            '\'' if !in_double => {
                // Only a whole single-quoted string on this line.
                match chars[i + 1..].iter().position(|&c| c == '\'') {
                    Some(len) => {
                        out.push('"');
                        for &inner in &chars[i + 1..i + 1 + len] {
                            if inner == '"' {
                                out.push('\\');
                            }
                            out.push(inner);
                        }
                        out.push('"');
                        i += len + 1;
                    }
                    None => out.push(c),
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(usize, Vec<String>)> {
        lines(text)
            .expect("lexes")
            .into_iter()
            .map(|l| (l.number, l.tokens.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    #[test]
    fn groups_tokens_by_line_and_skips_help_texts() {
        let got = words(concat!(
            "config A\n\tbool \"a\"\n\tdepends on B && C\n",
            "\thelp\n\t  Text.\n\n\t  More.\n",
            "config B\n\thelp\n",
            "config C\n\thelp\n\tAs deep as help.\n\n\t  Deeper.\n",
            "config D\n",
        ));
        let and = |a: &str, b: &str| {
            vec![
                "depends".into(),
                "on".into(),
                a.into(),
                "&".into(),
                b.into(),
            ]
        };
        assert_eq!(got[0], (1, vec!["config".into(), "A".into()]));
        assert_eq!(got[1].0, 2);
        assert_eq!(got[2], (3, and("B", "C")));
        // Help texts, an empty one, and one as deep as its `help`.
        assert_eq!(got[3], (8, vec!["config".into(), "B".into()]));
        assert_eq!(got[4], (10, vec!["config".into(), "C".into()]));
        assert_eq!(got[5], (15, vec!["config".into(), "D".into()]));
        assert_eq!(got.len(), 6, "{got:?}");
    }

    #[test]
    fn continued_lines_and_single_quotes_keep_line_numbers() {
        let text =
            "config A\n\tbool 'Connection \"mark\"'\n\tdepends on B && \\\n\t\tC\nconfig D\n";
        let got = lines(text).expect("lexes");
        assert_eq!(got[2].number, 3);
        assert_eq!(got[2].tokens.len(), 5);
        assert_eq!(got[3].number, 5);
        assert_eq!(
            got[1].tokens[1],
            Lexicon::String("\"Connection \\\"mark\\\"\"".into())
        );
    }

    #[test]
    fn non_ascii_text_does_not_panic() {
        // The crate's lexer alone panics on this (it slices by byte).
        let got = lines("config A\n\tbool \"\u{fc}\u{df}J\u{f6}rn\"\n").expect("lexes");
        assert_eq!(got[1].tokens[1], Lexicon::String("\"??J?rn\"".into()));
    }
}
