//! The symbols of a whole Kconfig tree: every definition with its type,
//! prompt, `depends on` (its own and those of the enclosing `if`, `menu`
//! and `choice` blocks), defaults, `select`s and ranges, and the choices.
//!
//! The statements come from `kconfig-parser`'s lexer (see `lex`); the
//! structure is read here, because the crate's `Ast` stops at the first
//! `choice` (it has no rule for it) and keeps no file or line. Only what
//! explaining a `.config` needs is kept: no help texts, no menu tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kconfig_parser::lex::structs::{Keyword, Lexicon};

use super::expr::{unquote, Expr, ExprError};
use super::lex::{self, LexError};

/// A symbol type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `tristate`
    Tristate,
    /// `string`
    String,
    /// `int`
    Int,
    /// `hex`
    Hex,
}

impl Type {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Tristate => "tristate",
            Type::String => "string",
            Type::Int => "int",
            Type::Hex => "hex",
        }
    }
}

/// One `config`/`menuconfig` entry of a symbol (a symbol may be defined in
/// several places).
#[derive(Clone, Debug)]
pub struct Definition {
    /// File, relative to the tree.
    pub file: String,
    /// 1-based line of `config NAME`.
    pub line: usize,
    /// Its own `depends on` and those of the enclosing blocks.
    pub deps: Expr,
    /// The prompt text and its `if` condition.
    pub prompt: Option<(String, Expr)>,
    /// `visible if` of the enclosing menus.
    pub visible: Expr,
    /// `default VALUE if COND`, in order.
    pub defaults: Vec<(Expr, Expr)>,
    /// `range LOW HIGH if COND`.
    pub ranges: Vec<(Expr, Expr, Expr)>,
    /// The choice it is an option of.
    pub choice: Option<usize>,
    /// `select`/`imply TARGET if COND` (true for `imply`).
    pub selects: Vec<(String, Expr, bool)>,
}

/// A symbol.
#[derive(Clone, Debug, Default)]
pub struct Symbol {
    /// Its type (the last one given).
    pub ty: Option<Type>,
    /// Its definitions, in the order read.
    pub defs: Vec<Definition>,
    /// `select` (and `imply`) statements naming it: who, under what
    /// condition (the selecting entry's dependencies included).
    pub selected_by: Vec<Select>,
}

/// A `select` of a symbol by another.
#[derive(Clone, Debug)]
pub struct Select {
    /// The selecting symbol.
    pub by: String,
    /// `if` condition and the selecting entry's dependencies.
    pub cond: Expr,
    /// `imply` rather than `select` (only a default, can be overridden).
    pub weak: bool,
}

/// A `choice` block.
#[derive(Clone, Debug)]
pub struct Choice {
    /// Its prompt.
    pub prompt: String,
    /// Where it starts.
    pub file: String,
    /// 1-based line of `choice`.
    pub line: usize,
    /// Its `depends on` and those of the enclosing blocks.
    pub deps: Expr,
    /// The options, in order.
    pub options: Vec<String>,
}

/// A parsed tree.
#[derive(Debug, Default)]
pub struct Tree {
    /// Symbols by name.
    pub symbols: HashMap<String, Symbol>,
    /// The choices.
    pub choices: Vec<Choice>,
    /// How many files were read.
    pub files: usize,
}

/// Why a tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// A file could not be read.
    #[error("kconfig: {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The lexer stopped.
    #[error("kconfig: {path}: {source}")]
    Lex {
        /// The file.
        path: PathBuf,
        /// Why.
        source: LexError,
    },
    /// A statement could not be read.
    #[error("kconfig: {path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// An open block.
enum Block {
    If(Expr),
    Menu { deps: Expr, visible: Expr },
    Choice(usize),
}

/// The entry whose attributes are being read.
enum Entry {
    None,
    Config(String, Definition),
    Choice(usize),
    /// `menu` and `comment`: their `depends on` matters to what they hold
    /// (menu) or nothing (comment).
    Menu {
        deps: Expr,
        visible: Expr,
    },
    Comment,
}

struct Reader<'a> {
    root: &'a Path,
    vars: &'a HashMap<String, String>,
    tree: Tree,
    blocks: Vec<Block>,
    entry: Entry,
    /// The error of a sourced file, passed up unchanged.
    nested: Option<TreeError>,
}

impl Tree {
    /// Read `root/Kconfig` and every file it sources. `vars` expands
    /// `$(NAME)` in `source` paths (`SRCARCH`, `ARCH`, ...).
    pub fn load(root: &Path, vars: &HashMap<String, String>) -> Result<Tree, TreeError> {
        let mut r = Reader {
            root,
            vars,
            tree: Tree::default(),
            blocks: Vec::new(),
            entry: Entry::None,
            nested: None,
        };
        r.file(&root.join("Kconfig"), false)?;
        r.finish_entry();
        r.link_selects();
        Ok(r.tree)
    }

    /// Parse Kconfig text on its own (tests).
    #[cfg(test)]
    pub(crate) fn from_text(text: &str) -> Result<Tree, TreeError> {
        let dir = std::env::temp_dir();
        let vars = HashMap::new();
        let mut r = Reader {
            root: &dir,
            vars: &vars,
            tree: Tree::default(),
            blocks: Vec::new(),
            entry: Entry::None,
            nested: None,
        };
        r.text(Path::new("Kconfig"), text)?;
        r.finish_entry();
        r.link_selects();
        Ok(r.tree)
    }
}

impl Reader<'_> {
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn file(&mut self, path: &Path, optional: bool) -> Result<(), TreeError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(TreeError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        self.tree.files += 1;
        self.text(path, &String::from_utf8_lossy(&bytes))
    }

    fn text(&mut self, path: &Path, text: &str) -> Result<(), TreeError> {
        let lines = lex::lines(text).map_err(|source| TreeError::Lex {
            path: path.to_path_buf(),
            source,
        })?;
        for line in lines {
            if let Err(message) = self.line(path, line.number, &line.tokens) {
                // A sourced file's own error goes up as it is.
                return Err(self.nested.take().unwrap_or(TreeError::Syntax {
                    path: path.to_path_buf(),
                    line: line.number,
                    message,
                }));
            }
        }
        Ok(())
    }

    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("$(") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find(')') {
                Some(end) => {
                    let name = &after[..end];
                    if let Some(v) = self.vars.get(name) {
                        out.push_str(v);
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The dependencies the open blocks give an entry.
    fn block_deps(&self) -> Expr {
        let mut e = Expr::y();
        for b in &self.blocks {
            let d = match b {
                Block::If(c) => c.clone(),
                Block::Menu { deps, .. } => deps.clone(),
                Block::Choice(i) => self.tree.choices[*i].deps.clone(),
            };
            e = Expr::and(e, d);
        }
        e
    }

    fn block_visible(&self) -> Expr {
        let mut e = Expr::y();
        for b in &self.blocks {
            if let Block::Menu { visible, .. } = b {
                e = Expr::and(e, visible.clone());
            }
        }
        e
    }

    fn current_choice(&self) -> Option<usize> {
        // Options are the entries directly in the choice (through `if`s).
        for b in self.blocks.iter().rev() {
            match b {
                Block::Choice(i) => return Some(*i),
                Block::If(_) => continue,
                Block::Menu { .. } => return None,
            }
        }
        None
    }

    fn finish_entry(&mut self) {
        match std::mem::replace(&mut self.entry, Entry::None) {
            Entry::Config(name, def) => {
                if let Some(i) = def.choice {
                    let options = &mut self.tree.choices[i].options;
                    if !options.contains(&name) {
                        options.push(name.clone());
                    }
                }
                self.tree.symbols.entry(name).or_default().defs.push(def);
            }
            Entry::Menu { deps, visible } => self.blocks.push(Block::Menu { deps, visible }),
            Entry::Choice(i) => self.blocks.push(Block::Choice(i)),
            Entry::None | Entry::Comment => {}
        }
    }

    fn line(&mut self, path: &Path, number: usize, t: &[Lexicon]) -> Result<(), String> {
        let Some(first) = t.first() else {
            return Ok(());
        };
        let rest = &t[1..];
        let expr = |tokens: &[Lexicon]| Expr::parse(tokens).map_err(|ExprError(e)| e);
        match first {
            Lexicon::Help(_) => return Ok(()),
            Lexicon::Keyword(k) => match k {
                Keyword::Config | Keyword::Menuconfig => {
                    self.finish_entry();
                    let Some(Lexicon::Identifier(name)) = rest.first() else {
                        return Err("config without a name".into());
                    };
                    let choice = self.current_choice();
                    let def = Definition {
                        file: self.rel(path),
                        line: number,
                        deps: self.block_deps(),
                        prompt: None,
                        visible: self.block_visible(),
                        defaults: Vec::new(),
                        ranges: Vec::new(),
                        choice,
                        selects: Vec::new(),
                    };
                    self.entry = Entry::Config(name.clone(), def);
                }
                Keyword::Choice => {
                    self.finish_entry();
                    self.tree.choices.push(Choice {
                        prompt: String::new(),
                        file: self.rel(path),
                        line: number,
                        deps: self.block_deps(),
                        options: Vec::new(),
                    });
                    self.entry = Entry::Choice(self.tree.choices.len() - 1);
                }
                Keyword::Endchoice => {
                    self.finish_entry();
                    self.close(|b| matches!(b, Block::Choice(_)), "endchoice")?;
                }
                Keyword::Menu => {
                    self.finish_entry();
                    self.entry = Entry::Menu {
                        deps: Expr::y(),
                        visible: Expr::y(),
                    };
                }
                Keyword::Endmenu => {
                    self.finish_entry();
                    self.close(|b| matches!(b, Block::Menu { .. }), "endmenu")?;
                }
                Keyword::If => {
                    self.finish_entry();
                    self.blocks.push(Block::If(expr(rest)?));
                }
                Keyword::Endif => {
                    self.finish_entry();
                    self.close(|b| matches!(b, Block::If(_)), "endif")?;
                }
                Keyword::Comment => {
                    self.finish_entry();
                    self.entry = Entry::Comment;
                }
                Keyword::Mainmenu => self.finish_entry(),
                Keyword::Source => {
                    self.finish_entry();
                    self.source(path, rest, false, false)?;
                }
                Keyword::Depends => {
                    let Some(Lexicon::Keyword(Keyword::On)) = rest.first() else {
                        return Err("depends without on".into());
                    };
                    let e = expr(&rest[1..])?;
                    self.add_dep(e);
                }
                Keyword::Visible => {
                    let Some(Lexicon::Keyword(Keyword::If)) = rest.first() else {
                        return Err("visible without if".into());
                    };
                    let e = expr(&rest[1..])?;
                    if let Entry::Menu { visible, .. } = &mut self.entry {
                        *visible = Expr::and(visible.clone(), e);
                    }
                }
                Keyword::Bool
                | Keyword::Tristate
                | Keyword::String
                | Keyword::Hex
                | Keyword::Int
                | Keyword::Prompt => {
                    let ty = match k {
                        Keyword::Bool => Some(Type::Bool),
                        Keyword::Tristate => Some(Type::Tristate),
                        Keyword::String => Some(Type::String),
                        Keyword::Hex => Some(Type::Hex),
                        Keyword::Int => Some(Type::Int),
                        _ => None,
                    };
                    let prompt = match rest.first() {
                        Some(Lexicon::String(raw)) => {
                            let cond = condition(&rest[1..])?;
                            Some((unquote(raw), cond))
                        }
                        _ => None,
                    };
                    self.set_type_prompt(ty, prompt);
                }
                Keyword::DefBool | Keyword::DefTristate => {
                    let ty = if *k == Keyword::DefBool {
                        Type::Bool
                    } else {
                        Type::Tristate
                    };
                    self.set_type_prompt(Some(ty), None);
                    let (value, cond) = value_if(rest)?;
                    self.add_default(value, cond);
                }
                Keyword::Default => {
                    let (value, cond) = value_if(rest)?;
                    self.add_default(value, cond);
                }
                Keyword::Select | Keyword::Imply => {
                    let Some(Lexicon::Identifier(target)) = rest.first() else {
                        return Err("select without a symbol".into());
                    };
                    let cond = condition(&rest[1..])?;
                    if let Entry::Config(_, def) = &mut self.entry {
                        def.selects
                            .push((target.clone(), cond, *k == Keyword::Imply));
                    }
                }
                Keyword::Range => {
                    let (low, after) = Expr::parse_prefix(rest).map_err(|ExprError(e)| e)?;
                    let (high, after) = Expr::parse_prefix(after).map_err(|ExprError(e)| e)?;
                    let cond = condition(after)?;
                    if let Entry::Config(_, def) = &mut self.entry {
                        def.ranges.push((low, high, cond));
                    }
                }
                Keyword::On => return Err("unexpected on".into()),
            },
            Lexicon::Identifier(word) => match word.as_str() {
                "source" | "rsource" | "osource" | "orsource" => {
                    self.finish_entry();
                    let relative = word.contains("rsource");
                    let optional = word.starts_with('o');
                    self.source(path, rest, relative, optional)?;
                }
                // Attributes that change nothing we explain.
                "optional" | "modules" | "option" | "transitional" => {}
                // `VAR := value`, `VAR = value`: macro variables, used by
                // `$(...)` in defaults we take as true anyway.
                _ if matches!(
                    rest.first(),
                    Some(
                        Lexicon::Assignment
                            | Lexicon::ImmediateAssignment
                            | Lexicon::AppendAssignment
                    )
                ) => {}
                // A top-level macro call (`$(warning ...)`), or a word we
                // do not know: Kconfig itself would stop; we say where.
                _ => return Err(format!("unexpected word {word:?}")),
            },
            Lexicon::MacroOpen => {}
            other => return Err(format!("unexpected {other}")),
        }
        Ok(())
    }

    fn close(&mut self, is: impl Fn(&Block) -> bool, what: &str) -> Result<(), String> {
        match self.blocks.pop() {
            Some(b) if is(&b) => Ok(()),
            _ => Err(format!("{what} without its opening statement")),
        }
    }

    fn source(
        &mut self,
        path: &Path,
        rest: &[Lexicon],
        relative: bool,
        optional: bool,
    ) -> Result<(), String> {
        let Some(Lexicon::String(raw)) = rest.first() else {
            return Err("source without a file name".into());
        };
        let name = self.expand(&unquote(raw));
        let base = if relative {
            path.parent().unwrap_or(self.root).to_path_buf()
        } else {
            self.root.to_path_buf()
        };
        // Kconfig allows wildcards in `source`; Linux 6.1 has none, so the
        // name is taken as it is.
        let path = base.join(&name);
        self.file(&path, optional).map_err(|e| {
            let text = e.to_string();
            self.nested = Some(e);
            text
        })
    }

    fn add_dep(&mut self, e: Expr) {
        match &mut self.entry {
            Entry::Config(_, def) => def.deps = Expr::and(def.deps.clone(), e),
            Entry::Choice(i) => {
                let c = &mut self.tree.choices[*i];
                c.deps = Expr::and(c.deps.clone(), e);
            }
            Entry::Menu { deps, .. } => *deps = Expr::and(deps.clone(), e),
            Entry::None | Entry::Comment => {}
        }
    }

    fn set_type_prompt(&mut self, ty: Option<Type>, prompt: Option<(String, Expr)>) {
        match &mut self.entry {
            Entry::Config(name, def) => {
                if prompt.is_some() {
                    def.prompt = prompt;
                }
                if let Some(ty) = ty {
                    self.tree.symbols.entry(name.clone()).or_default().ty = Some(ty);
                }
            }
            Entry::Choice(i) => {
                if let Some((text, _)) = prompt {
                    self.tree.choices[*i].prompt = text;
                }
            }
            _ => {}
        }
    }

    fn add_default(&mut self, value: Expr, cond: Expr) {
        if let Entry::Config(_, def) = &mut self.entry {
            def.defaults.push((value, cond));
        }
    }

    /// Record each select on the symbol it selects, once every
    /// definition is known.
    fn link_selects(&mut self) {
        let mut found = Vec::new();
        for (name, sym) in &self.tree.symbols {
            for def in &sym.defs {
                for (target, cond, weak) in &def.selects {
                    let select = Select {
                        by: name.clone(),
                        cond: Expr::and(def.deps.clone(), cond.clone()),
                        weak: *weak,
                    };
                    found.push((target.clone(), select));
                }
            }
        }
        found.sort_by(|a, b| a.1.by.cmp(&b.1.by));
        for (target, select) in found {
            self.tree
                .symbols
                .entry(target)
                .or_default()
                .selected_by
                .push(select);
        }
    }
}

/// `if EXPR` at the end of a statement, or `y`.
fn condition(t: &[Lexicon]) -> Result<Expr, String> {
    match t.first() {
        None => Ok(Expr::y()),
        Some(Lexicon::Keyword(Keyword::If)) => Expr::parse(&t[1..]).map_err(|ExprError(e)| e),
        Some(other) => Err(format!("unexpected {other}")),
    }
}

/// `VALUE [if EXPR]`.
fn value_if(t: &[Lexicon]) -> Result<(Expr, Expr), String> {
    let (value, after) = Expr::parse_prefix(t).map_err(|ExprError(e)| e)?;
    Ok((value, condition(after)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
config MTD
	tristate "MTD"
	select CRC32 if MTD_UBI
if MTD
config MTD_UBI
	tristate "UBI"
	depends on BLOCK || !X
	help
	  Unsorted block images.
endif
menu "Compression"
	visible if EXPERT
choice
	prompt "Kernel compression mode"
	default KERNEL_GZIP
config KERNEL_GZIP
	bool "Gzip"
config KERNEL_XZ
	bool "XZ"
	depends on HAVE_XZ
endchoice
endmenu
config CRC32
	tristate
config NR
	int "n" if EXPERT
	range 1 NR_MAX
	default 4
"#;

    #[test]
    fn reads_blocks_choices_selects_and_ranges() {
        let t = Tree::from_text(TEXT).expect("parses");
        let ubi = &t.symbols["MTD_UBI"];
        assert_eq!(ubi.ty, Some(Type::Tristate));
        assert_eq!(
            ubi.defs[0].deps,
            Expr::and(
                Expr::Sym("MTD".into()),
                Expr::Or(
                    Box::new(Expr::Sym("BLOCK".into())),
                    Box::new(Expr::Not(Box::new(Expr::Sym("X".into()))))
                )
            )
        );
        assert_eq!(ubi.defs[0].line, 6);
        let xz = &t.symbols["KERNEL_XZ"].defs[0];
        assert_eq!(xz.choice, Some(0));
        assert_eq!(xz.visible, Expr::Sym("EXPERT".into()));
        assert_eq!(t.choices[0].prompt, "Kernel compression mode");
        assert_eq!(t.choices[0].options, ["KERNEL_GZIP", "KERNEL_XZ"]);
        let crc = &t.symbols["CRC32"];
        assert_eq!(crc.selected_by.len(), 1);
        assert_eq!(crc.selected_by[0].by, "MTD");
        assert!(crc.defs[0].prompt.is_none());
        let nr = &t.symbols["NR"].defs[0];
        assert_eq!(nr.ranges.len(), 1);
        assert_eq!(
            nr.prompt.as_ref().map(|p| &p.1),
            Some(&Expr::Sym("EXPERT".into()))
        );
        assert_eq!(nr.defaults.len(), 1);
    }

    #[test]
    fn unbalanced_blocks_are_errors_with_a_line() {
        let e = Tree::from_text("config A\n\tbool \"a\"\nendif\n").expect_err("fails");
        assert!(e.to_string().contains("Kconfig:3: endif without"), "{e}");
    }
}
