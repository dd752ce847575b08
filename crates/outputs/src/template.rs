//! Config files that reference outputs, rendered at run time.
//!
//! Users write the files (dnsmasq snippets, firewall includes), so they are
//! parsed at run time; the language is deliberately tiny:
//!
//! ```text
//! interface={{ output("wan", "ifname") }}
//! server={{ output("wan", "dns", "1.1.1.1") | word(1) }}
//! option={{ output("wan", "domain", "") | shell }}
//! literal braces: {{ "{{" }}
//! ```
//!
//! - `output(SERVICE, KEY)` is the value; a third argument is the default
//!   used when the service has no outputs or not that key. Without a
//!   default a missing value is an error naming the service and key.
//! - Filters: `shell` (one POSIX-shell word, single-quoted), `json` (a JSON
//!   string with quotes), `word(N)` (the Nth space-separated word, from 1
//!   as in awk and `output-word`; empty if there are fewer).
//!
//! See `docs/decisions/0032-outputs-runtime-templates.md` for why this
//! rather than askama (compile-time only) or a general engine.

use crate::store::{Store, StoreError};

/// Errors of template rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template does not parse.
    #[error("template: line {line}: {message}")]
    Syntax {
        /// 1-based line of the `{{`.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A referenced output is missing and has no default.
    #[error(
        "template: line {line}: service {service:?} has no output {key:?} and no default is given"
    )]
    Missing {
        /// 1-based line of the reference.
        line: usize,
        /// The service referenced.
        service: String,
        /// The key referenced.
        key: String,
    },
    /// Reading the store failed for another reason.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(usize),
    Sym(char),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Ident(s));
        } else if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_digit() {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Num(
                s.parse().map_err(|_| format!("number {s} too large"))?,
            ));
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e @ ('"' | '\\')) => s.push(e),
                        Some('n') => s.push('\n'),
                        Some(e) => return Err(format!("unknown escape \\{e}")),
                        None => return Err("unterminated string".into()),
                    },
                    Some(c) => s.push(c),
                }
            }
            out.push(Tok::Str(s));
        } else if matches!(c, '(' | ')' | ',' | '|') {
            out.push(Tok::Sym(c));
            chars.next();
        } else {
            return Err(format!("unexpected {c:?}"));
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Filter {
    Shell,
    Json,
    Word(usize),
}

#[derive(Debug)]
enum Expr {
    Literal(String),
    Output {
        service: String,
        key: String,
        default: Option<String>,
    },
}

fn parse_expr(src: &str) -> Result<(Expr, Vec<Filter>), String> {
    let toks = tokenize(src)?;
    let mut it = toks.into_iter().peekable();
    let expr = match it.next() {
        Some(Tok::Str(s)) => Expr::Literal(s),
        Some(Tok::Ident(f)) if f == "output" => {
            if it.next() != Some(Tok::Sym('(')) {
                return Err("expected ( after output".into());
            }
            let mut args = Vec::new();
            loop {
                match it.next() {
                    Some(Tok::Str(s)) => args.push(s),
                    _ => return Err("output() takes string arguments".into()),
                }
                match it.next() {
                    Some(Tok::Sym(',')) => {}
                    Some(Tok::Sym(')')) => break,
                    _ => return Err("expected , or ) in output()".into()),
                }
            }
            let mut args = args.into_iter();
            match (args.next(), args.next(), args.next(), args.next()) {
                (Some(service), Some(key), default, None) => {
                    crate::check_service(&service).map_err(|e| e.to_string())?;
                    crate::check_key(&key).map_err(|e| e.to_string())?;
                    Expr::Output {
                        service,
                        key,
                        default,
                    }
                }
                _ => return Err("output() takes a service, a key and an optional default".into()),
            }
        }
        Some(Tok::Ident(f)) => return Err(format!("unknown function {f:?}")),
        _ => return Err("expected output(...) or a string".into()),
    };
    let mut filters = Vec::new();
    while let Some(t) = it.next() {
        if t != Tok::Sym('|') {
            return Err("expected | or }}".into());
        }
        match it.next() {
            Some(Tok::Ident(f)) if f == "shell" => filters.push(Filter::Shell),
            Some(Tok::Ident(f)) if f == "json" => filters.push(Filter::Json),
            Some(Tok::Ident(f)) if f == "word" => match (it.next(), it.next(), it.next()) {
                (Some(Tok::Sym('(')), Some(Tok::Num(n)), Some(Tok::Sym(')'))) if n > 0 => {
                    filters.push(Filter::Word(n))
                }
                _ => return Err("word takes one number from 1: word(N)".into()),
            },
            Some(Tok::Ident(f)) => return Err(format!("unknown filter {f:?}")),
            _ => return Err("expected a filter name after |".into()),
        }
    }
    Ok((expr, filters))
}

/// Quotes `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes `s` as a JSON string.
pub fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Finds the `}}` closing an expression, skipping string literals.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'}' if !in_str && b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// One `{{ … }}` with its line, in template order.
struct Piece<'a> {
    text: &'a str,
    expr: Option<(usize, Expr, Vec<Filter>)>,
}

fn split(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    let mut line = 1;
    while let Some(open) = rest.find("{{") {
        let text = &rest[..open];
        line += text.matches('\n').count();
        let after = &rest[open + 2..];
        let close = find_close(after).ok_or_else(|| TemplateError::Syntax {
            line,
            message: "{{ without }}".into(),
        })?;
        let (expr, filters) = parse_expr(&after[..close])
            .map_err(|message| TemplateError::Syntax { line, message })?;
        pieces.push(Piece {
            text,
            expr: Some((line, expr, filters)),
        });
        line += after[..close].matches('\n').count();
        rest = &after[close + 2..];
    }
    pieces.push(Piece {
        text: rest,
        expr: None,
    });
    Ok(pieces)
}

/// The `(service, key)` pairs a template references, for watching.
pub fn references(template: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let mut out = Vec::new();
    for p in split(template)? {
        if let Some((_, Expr::Output { service, key, .. }, _)) = p.expr {
            if !out.contains(&(service.clone(), key.clone())) {
                out.push((service, key));
            }
        }
    }
    Ok(out)
}

/// Renders `template`, looking values up with `lookup(service, key)`
/// (`Ok(None)` = missing). Checks the whole template's syntax first, so a
/// typo at the end is reported even when a value earlier is missing.
pub fn render_with(
    template: &str,
    mut lookup: impl FnMut(&str, &str) -> Result<Option<String>, StoreError>,
) -> Result<String, TemplateError> {
    let pieces = split(template)?;
    let mut out = String::with_capacity(template.len());
    for p in pieces {
        out.push_str(p.text);
        let Some((line, expr, filters)) = p.expr else {
            continue;
        };
        let mut value = match expr {
            Expr::Literal(s) => s,
            Expr::Output {
                service,
                key,
                default,
            } => match (lookup(&service, &key)?, default) {
                (Some(v), _) => v,
                (None, Some(d)) => d,
                (None, None) => return Err(TemplateError::Missing { line, service, key }),
            },
        };
        for f in filters {
            value = match f {
                Filter::Shell => shell_quote(&value),
                Filter::Json => json_quote(&value),
                Filter::Word(n) => value.split_whitespace().nth(n - 1).unwrap_or("").to_owned(),
            };
        }
        out.push_str(&value);
    }
    Ok(out)
}

/// Renders `template` from `store`.
///
/// ```
/// use limina_outputs::{template, OutputSet, Store};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("outputs-tpl-doc-{}", std::process::id()));
/// let store = Store::new(&dir);
/// let mut set = OutputSet::new();
/// set.set("ifname", "eth1")?;
/// set.set("dns", "192.0.2.1 192.0.2.2")?;
/// store.publish("wan", &set)?;
///
/// let text = template::render(
///     "wan={{ output(\"wan\", \"ifname\") }} ns={{ output(\"wan\", \"dns\") | word(2) }} \
///      mtu={{ output(\"wan\", \"mtu\", \"1500\") }}",
///     &store,
/// )?;
/// assert_eq!(text, "wan=eth1 ns=192.0.2.2 mtu=1500");
///
/// let err = template::render("{{ output(\"lan\", \"prefix\") }}", &store).unwrap_err();
/// assert!(err.to_string().contains("service \"lan\" has no output \"prefix\""));
/// # store.remove("wan")?; std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub fn render(template: &str, store: &Store) -> Result<String, TemplateError> {
    render_with(template, |service, key| match store.get(service, key) {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NoOutputs { .. } | StoreError::NoKey { .. }) => Ok(None),
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(service: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(match (service, key) {
            ("wan", "ifname") => Some("eth1".into()),
            ("wan", "dns") => Some("192.0.2.1 192.0.2.2".into()),
            ("wan", "tricky") => Some("it's \"x\"\\".into()),
            _ => None,
        })
    }

    #[test]
    fn renders() {
        let t = "a {{ output(\"wan\",\"ifname\") }} b\n{{output(\"wan\", \"dns\")|word(2)}}|{{ output(\"wan\", \"dns\") | word(5) }}|\n\
                 {{ output(\"wan\", \"tricky\") | shell }} {{ output(\"wan\", \"tricky\") | json }}\n\
                 {{ output(\"lan\", \"x\", \"d}}ef\") }} {{ \"{{\" }}";
        assert_eq!(
            render_with(t, lookup).expect("renders"),
            "a eth1 b\n192.0.2.2||\n'it'\\''s \"x\"\\' \"it's \\\"x\\\"\\\\\"\nd}}ef {{"
        );
        assert_eq!(render_with("no refs", lookup).expect("renders"), "no refs");
    }

    #[test]
    fn missing_names_service_and_key_and_line() {
        let err =
            render_with("x\ny {{ output(\"lan\", \"prefix\") }}", lookup).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "template: line 2: service \"lan\" has no output \"prefix\" and no default is given"
        );
    }

    #[test]
    fn syntax_errors() {
        for (t, msg) in [
            (
                "{{ output(\"a\", \"b\") ",
                "template: line 1: {{ without }}",
            ),
            (
                "\n{{ env(\"a\") }}",
                "template: line 2: unknown function \"env\"",
            ),
            (
                "{{ output(\"a\") }}",
                "template: line 1: output() takes a service",
            ),
            (
                "{{ output(\"a\", \"b\") | upper }}",
                "template: line 1: unknown filter \"upper\"",
            ),
            (
                "{{ output(\"a\", \"b\") | word(x) }}",
                "template: line 1: word takes one number",
            ),
            (
                "{{ output(\"a\", \"b\") | word(0) }}",
                "template: line 1: word takes one number from 1",
            ),
            (
                "{{ output(\"a\", \"../b\") }}",
                "template: line 1: outputs: invalid key",
            ),
            ("{{ \"unterminated }}", "template: line 1: {{ without }}"),
            (
                "{{ output(\"wan\", \"ifname\") }} {{ bad }}",
                "template: line 1: unknown function",
            ),
        ] {
            let err = render_with(t, lookup).expect_err("bad template");
            assert!(err.to_string().starts_with(msg), "{err} vs {msg}");
        }
    }

    #[test]
    fn lists_references() {
        let refs = references("{{ output(\"wan\", \"a\") }}{{ output(\"lan\", \"b\", \"\") }}{{ output(\"wan\", \"a\") }}")
            .expect("parses");
        assert_eq!(
            refs,
            vec![("wan".into(), "a".into()), ("lan".into(), "b".into())]
        );
    }
}
