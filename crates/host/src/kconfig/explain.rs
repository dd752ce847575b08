//! Why a fragment option did not land: Kconfig's rules, evaluated with the
//! values of the final `.config`.
//!
//! The `.config` holds what Kconfig decided; we do not decide again. For
//! each option whose value differs from what the fragment asked, the rules
//! that bound it are evaluated with the `.config` values and the ones that
//! fail are named: the `depends on` with its false terms (followed down to
//! a symbol the fragment could set), the choice another option won, a
//! `select` that forces a value, `=m` of a `bool` or without `MODULES`, a
//! hidden prompt, a range, or a symbol this kernel does not have.

use std::collections::{HashMap, HashSet};

use super::expr::{Expr, Tri, Values};
use super::tree::{Definition, Tree, Type};

/// The `.config` seen through the tree's types.
pub struct State<'a> {
    /// The tree.
    pub tree: &'a Tree,
    /// `.config` values by symbol name (`n` for unset).
    pub config: &'a HashMap<String, String>,
    /// What the fragments ask, by symbol name (for "also asked" notes).
    pub asked: HashMap<String, String>,
}

impl Values for State<'_> {
    fn tri(&self, name: &str) -> Tri {
        match self.config.get(name).map(String::as_str) {
            Some("y") => Tri::Y,
            Some("m") => Tri::M,
            _ => Tri::N,
        }
    }

    fn text(&self, name: &str) -> String {
        match self.config.get(name) {
            Some(v) => v.trim_matches('"').to_string(),
            None if self.defined(name) => match self.tree.symbols[name].ty {
                Some(Type::Bool | Type::Tristate) | None => "n".into(),
                Some(_) => String::new(),
            },
            None => name.to_string(),
        }
    }

    fn display(&self, name: &str) -> String {
        if self.defined(name) {
            self.text(name)
        } else {
            "n".into()
        }
    }
}

/// How a value is shown: `n` for unset.
fn shown(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "n".into())
}

fn tri_of(v: &str) -> Option<Tri> {
    match v {
        "y" => Some(Tri::Y),
        "m" => Some(Tri::M),
        "n" => Some(Tri::N),
        _ => None,
    }
}

/// Whether the `.config` value is what was asked.
pub fn same(asked: &str, got: Option<&String>) -> bool {
    let got = got.map(String::as_str).unwrap_or("n");
    if asked == got {
        return true;
    }
    let num = |s: &str| match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse::<i64>().ok(),
    };
    matches!((num(asked), num(got)), (Some(a), Some(b)) if a == b)
}

impl State<'_> {
    fn defined(&self, name: &str) -> bool {
        self.tree
            .symbols
            .get(name)
            .is_some_and(|s| !s.defs.is_empty())
    }

    fn value(&self, name: &str) -> String {
        shown(self.config.get(name))
    }

    /// The definition that explains best: the one with a prompt whose
    /// dependencies evaluate highest.
    fn main_def(&self, name: &str) -> Option<&Definition> {
        let sym = self.tree.symbols.get(name)?;
        sym.defs
            .iter()
            .max_by_key(|d| (d.prompt.is_some(), d.deps.eval(self)))
    }

    /// Whether the user can set it: a prompt whose condition, menu
    /// visibility and dependencies hold.
    fn settable(&self, d: &Definition) -> bool {
        match &d.prompt {
            Some((_, cond)) => {
                Expr::and(Expr::and(d.deps.clone(), cond.clone()), d.visible.clone()).eval(self)
                    > Tri::N
            }
            None => false,
        }
    }

    /// The reasons an option of a fragment got `got` instead of `asked`:
    /// the first line's text and the lines below it.
    pub fn explain(&self, name: &str, asked: &str) -> (String, Vec<String>) {
        let mut below = Vec::new();
        let Some(sym) = self.tree.symbols.get(name).filter(|s| !s.defs.is_empty()) else {
            let mut first = format!("no symbol {name} in this kernel's Kconfig");
            if let Some(close) = self.suggest(name) {
                first.push_str(&format!(" (did you mean {close}?)"));
            }
            return (first, below);
        };
        let ty = sym.ty;
        let Some(def) = self.main_def(name) else {
            return ("no definition".into(), below);
        };
        below.push(format!("{name} is defined at {}:{}", def.file, def.line));
        let asked_tri = tri_of(asked);
        let got_tri = self.tri(name);
        let tristate_like = matches!(ty, Some(Type::Bool | Type::Tristate));

        // =m of a bool, or without modules.
        if asked == "m" && ty == Some(Type::Bool) {
            return (
                format!("{name} is a {}: it cannot be m", Type::Bool.name()),
                below,
            );
        }
        if asked == "m" && ty == Some(Type::Tristate) && self.tri("MODULES") != Tri::Y {
            let first = format!("m needs MODULES [={}]", self.value("MODULES"));
            self.why_low("MODULES", Tri::Y, 0, &mut HashSet::new(), &mut below);
            return (first, below);
        }

        // Asked on (or a value), got less.
        let wants_more = match (asked_tri, tristate_like) {
            (Some(a), true) => a > got_tri,
            (_, false) => asked != "n",
            _ => false,
        };
        if wants_more {
            let need = if tristate_like {
                asked_tri.unwrap_or(Tri::Y)
            } else {
                Tri::Y
            };
            // A choice another option won.
            if let Some(i) = def.choice {
                let choice = &self.tree.choices[i];
                if choice.deps.eval(self) >= Tri::M {
                    if let Some(winner) = choice
                        .options
                        .iter()
                        .find(|o| o.as_str() != name && self.tri(o) == Tri::Y)
                    {
                        let mut first = format!(
                            "choice \"{}\" ({}:{}) took {winner} [=y]",
                            choice.prompt, choice.file, choice.line
                        );
                        if let Some(v) = self.asked.get(winner) {
                            first.push_str(&format!(", which the fragments set to {v}"));
                        }
                        return (first, below);
                    }
                } else {
                    let first = format!(
                        "choice \"{}\" depends on {}",
                        choice.prompt,
                        choice.deps.show(self)
                    );
                    self.terms(&choice.deps, Tri::M, 0, &mut HashSet::new(), &mut below);
                    return (first, below);
                }
            }
            let deps = def.deps.eval(self);
            if deps < need {
                let mut visited = HashSet::from([name.to_string()]);
                let first = format!("depends on {}", def.deps.show(self));
                self.terms(&def.deps, need, 0, &mut visited, &mut below);
                return (first, below);
            }
            match &def.prompt {
                None => {
                    let first = format!("{name} has no prompt: only a select or a default sets it");
                    self.selectors(name, &mut below, 0);
                    return (first, below);
                }
                Some((_, cond)) if cond.eval(self) < Tri::M => {
                    let first = format!("its prompt is hidden: if {}", cond.show(self));
                    return (first, below);
                }
                _ => {}
            }
            if def.visible.eval(self) < Tri::M {
                let first = format!("its menu is hidden: visible if {}", def.visible.show(self));
                return (first, below);
            }
            if !tristate_like {
                if let Some(first) = self.range_problem(def, asked) {
                    return (first, below);
                }
            }
            return (
                "its dependencies hold and its prompt is visible: something after the fragments set it (a config fixup of the build?)".into(),
                below,
            );
        }

        // Asked less (n, or m of what is y), got more.
        if let Some(a) = asked_tri {
            let forcing: Vec<String> = sym
                .selected_by
                .iter()
                .filter(|s| !s.weak && s.cond.eval(self) > a && self.tri(&s.by) > a)
                .map(|s| format!("{} [={}]", s.by, self.value(&s.by)))
                .collect();
            if !forcing.is_empty() {
                return (format!("selected by {}", capped(&forcing)), below);
            }
            if let Some(i) = def.choice {
                let c = &self.tree.choices[i];
                return (
                    format!(
                        "{name} is the option choice \"{}\" ({}:{}) took: set another of {} instead",
                        c.prompt,
                        c.file,
                        c.line,
                        c.options.join(", ")
                    ),
                    below,
                );
            }
            if !self.settable(def) {
                let defaults: Vec<String> = def
                    .defaults
                    .iter()
                    .map(|(v, c)| {
                        if c.is_y() {
                            v.show(self)
                        } else {
                            format!("{} if {}", v.show(self), c.show(self))
                        }
                    })
                    .collect();
                return (
                    format!(
                        "{name} cannot be changed here (no visible prompt): default {}",
                        if defaults.is_empty() {
                            "n".to_string()
                        } else {
                            defaults.join(", ")
                        }
                    ),
                    below,
                );
            }
        }
        (
            "its dependencies hold and its prompt is visible: something after the fragments set it (a config fixup of the build?)".into(),
            below,
        )
    }

    /// Explain each term of `e` that is below `need`.
    fn terms(
        &self,
        e: &Expr,
        need: Tri,
        depth: usize,
        visited: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) {
        let mut false_terms = Vec::new();
        e.false_terms(self, need, &mut false_terms);
        for term in false_terms {
            match term {
                Expr::Sym(s) if self.defined(s) => self.why_low(s, need, depth, visited, out),
                Expr::Sym(s) if !matches!(s.as_str(), "y" | "m" | "n") => out.push(format!(
                    "{}{s} [=n]: not defined for this architecture",
                    indent(depth)
                )),
                Expr::Not(inner) => {
                    let mut names = Vec::new();
                    inner.symbols(&mut names);
                    for n in names.into_iter().filter(|n| self.tri(n) > Tri::N) {
                        self.why_high(&n, depth, out);
                    }
                }
                other => out.push(format!("{}{} is false", indent(depth), other.show(self))),
            }
        }
    }

    /// Why symbol `name` is below `need`, down to a symbol that can be set.
    fn why_low(
        &self,
        name: &str,
        need: Tri,
        depth: usize,
        visited: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) {
        let pad = indent(depth);
        let value = self.value(name);
        if !visited.insert(name.to_string()) || depth > 12 {
            return;
        }
        let Some(def) = self.main_def(name) else {
            return;
        };
        let also = match self.asked.get(name) {
            Some(v) => format!(" (the fragments ask {v})"),
            None => String::new(),
        };
        if def.deps.eval(self) < need {
            out.push(format!(
                "{pad}{name} [={value}]{also}: depends on {}",
                def.deps.show(self)
            ));
            self.terms(&def.deps, need, depth + 1, visited, out);
        } else if self.settable(def) {
            out.push(format!(
                "{pad}{name} [={value}]{also}: can be set, its dependencies hold (add CONFIG_{name}={} to the fragment)",
                need.letter()
            ));
        } else if let Some(i) = def.choice {
            let c = &self.tree.choices[i];
            let winner = c
                .options
                .iter()
                .find(|o| self.tri(o) == Tri::Y)
                .map_or("none".to_string(), |w| w.clone());
            out.push(format!(
                "{pad}{name} [={value}]{also}: an option of choice \"{}\", which took {winner}",
                c.prompt
            ));
        } else if def.prompt.is_none() {
            out.push(format!(
                "{pad}{name} [={value}]{also}: has no prompt, only a select or a default sets it"
            ));
            self.selectors(name, out, depth + 1);
        } else {
            out.push(format!(
                "{pad}{name} [={value}]{also}: its prompt is hidden"
            ));
        }
    }

    /// Why `name` is on when something needs it off.
    fn why_high(&self, name: &str, depth: usize, out: &mut Vec<String>) {
        let pad = indent(depth);
        let value = self.value(name);
        let forcing: Vec<String> = self
            .tree
            .symbols
            .get(name)
            .map(|s| {
                s.selected_by
                    .iter()
                    .filter(|s| !s.weak && s.cond.eval(self) > Tri::N && self.tri(&s.by) > Tri::N)
                    .map(|s| format!("{} [={}]", s.by, self.value(&s.by)))
                    .collect()
            })
            .unwrap_or_default();
        if !forcing.is_empty() {
            out.push(format!(
                "{pad}{name} [={value}] is on: selected by {}",
                capped(&forcing)
            ));
        } else if self.main_def(name).is_some_and(|d| self.settable(d)) {
            out.push(format!(
                "{pad}{name} [={value}] is on: it can be unset (add # CONFIG_{name} is not set)"
            ));
        } else {
            out.push(format!("{pad}{name} [={value}] is on: set by its default"));
        }
    }

    /// The symbols that select `name`, with their values.
    fn selectors(&self, name: &str, out: &mut Vec<String>, depth: usize) {
        let Some(sym) = self.tree.symbols.get(name) else {
            return;
        };
        let list: Vec<String> = sym
            .selected_by
            .iter()
            .filter(|s| !s.weak)
            .map(|s| format!("{} [={}]", s.by, self.value(&s.by)))
            .collect();
        if list.is_empty() {
            return;
        }
        out.push(format!("{}selected by: {}", indent(depth), capped(&list)));
    }

    /// A range the asked value is outside of.
    fn range_problem(&self, def: &Definition, asked: &str) -> Option<String> {
        let num = |s: &str| match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(h) => i64::from_str_radix(h, 16).ok(),
            None => s.parse::<i64>().ok(),
        };
        let want = num(asked)?;
        for (low, high, cond) in &def.ranges {
            if cond.eval(self) < Tri::M {
                continue;
            }
            let bound = |e: &Expr| match e {
                Expr::Sym(s) => num(&self.text(s)).or_else(|| num(s)),
                Expr::Str(s) => num(s),
                _ => None,
            };
            let (Some(lo), Some(hi)) = (bound(low), bound(high)) else {
                continue;
            };
            if want < lo || want > hi {
                return Some(format!(
                    "{asked} is outside its range {} {}",
                    low.show(self),
                    high.show(self)
                ));
            }
        }
        None
    }

    /// A defined symbol whose name is close to `name` (a typo).
    fn suggest(&self, name: &str) -> Option<String> {
        let limit = if name.len() > 6 { 2 } else { 1 };
        self.tree
            .symbols
            .iter()
            .filter(|(_, s)| !s.defs.is_empty())
            .filter_map(|(n, _)| {
                let d = distance(name, n, limit)?;
                Some((d, n))
            })
            .min()
            .map(|(_, n)| n.clone())
    }
}

/// At most 8 items, then how many more.
fn capped(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

fn indent(depth: usize) -> String {
    "    ".repeat(depth)
}

/// Edit distance of `a` and `b` if at most `limit`.
fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        if cur.iter().min().is_some_and(|&m| m > limit) {
            return None;
        }
        prev = cur;
    }
    prev.last().copied().filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_with_limit() {
        assert_eq!(distance("MTD_UBII", "MTD_UBI", 2), Some(1));
        assert_eq!(distance("MTD_BUI", "MTD_UBI", 2), Some(2));
        assert_eq!(distance("USB", "MTD_UBI", 2), None);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same("0x10", Some(&"0x0010".to_string())));
        assert!(same("n", None));
        assert!(!same("y", Some(&"m".to_string())));
    }
}
