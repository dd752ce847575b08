//! What a service name, key and value may contain.
//!
//! Names become file names under `/run`, and values are read back as the
//! first line of a file, so both are checked before anything touches the
//! disk: a newline in a value or a `..` in a key is refused, not escaped.

/// A service name, key or value that cannot be stored.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The service name is not a single safe file name.
    #[error("outputs: invalid service name {name:?}: {reason}")]
    Service {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key is not a `/`-separated path of safe names.
    #[error("outputs: invalid key {key:?}: {reason}")]
    Key {
        /// The key given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value holds a newline or NUL.
    #[error("outputs: value for key {key:?} holds a newline or NUL byte")]
    Value {
        /// The key the value was for.
        key: String,
    },
}

fn check_component(c: &str) -> Result<(), &'static str> {
    if c.is_empty() {
        return Err("empty component");
    }
    if c.starts_with('.') {
        return Err("component starts with '.'");
    }
    if c.len() > 200 {
        return Err("component longer than 200 bytes");
    }
    if !c
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'@' | b'+'))
    {
        return Err("only ASCII letters, digits and _ - . : @ + are allowed");
    }
    Ok(())
}

/// Checks a service name: one component of `[A-Za-z0-9_.:@+-]`, not
/// starting with `.`.
pub fn check_service(name: &str) -> Result<(), NameError> {
    check_component(name).map_err(|reason| NameError::Service {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a key: one or more components joined by `/`.
pub fn check_key(key: &str) -> Result<(), NameError> {
    key.split('/')
        .try_for_each(check_component)
        .map_err(|reason| NameError::Key {
            key: key.to_owned(),
            reason,
        })
}

/// Checks a value: no newline, no NUL.
pub fn check_value(key: &str, value: &str) -> Result<(), NameError> {
    if value.contains(['\n', '\0']) {
        return Err(NameError::Value {
            key: key.to_owned(),
        });
    }
    Ok(())
}
