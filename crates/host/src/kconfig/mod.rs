//! Kconfig trees and `.config` files, enough to explain why an option of
//! a config fragment is not in the final `.config`.
//!
//! `kconfig-parser` reads the tokens (`lex`); the statements, the
//! expressions and their evaluation are ours (`tree`, `expr`, `explain`),
//! see docs/decisions/0068-kconfig-check-in-rust.md.

pub mod dotconfig;
pub mod explain;
pub mod expr;
mod lex;
pub mod tree;

/// The kernel source directory under `arch/` for an `ARCH` value, as the
/// kernel's top Makefile maps it.
pub fn srcarch(arch: &str) -> &str {
    match arch {
        "i386" | "x86_64" => "x86",
        "sparc32" | "sparc64" => "sparc",
        "parisc64" => "parisc",
        "sh64" => "sh",
        other => other,
    }
}
