//! Helpers shared by the VM tests.

use std::fmt::Display;

/// Like `expect`, but prints the error with `Display`: the harness's errors
/// carry the cause and the console log path there.
pub trait Check<T> {
    /// Unwraps, or fails the test with `step: error`.
    fn check(self, step: &str) -> T;
}

impl<T, E: Display> Check<T> for Result<T, E> {
    fn check(self, step: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{step}: {e}"),
        }
    }
}

/// `expect` for options, in the same style.
pub trait CheckSome<T> {
    /// Unwraps, or fails the test naming what was missing.
    fn check_some(self, what: &str) -> T;
}

impl<T> CheckSome<T> for Option<T> {
    fn check_some(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: missing"),
        }
    }
}

/// For `result.err()`: the error a test expects.
pub trait CheckErr<E> {
    /// Unwraps the expected error, or fails the test.
    fn check_err(self) -> E;
}

impl<E> CheckErr<E> for Option<E> {
    fn check_err(self) -> E {
        match self {
            Some(e) => e,
            None => panic!("expected an error, got success"),
        }
    }
}
