//! The daemon's settings from a small TOML file.
//!
//! ```toml
//! device = "/dev/watchdog"   # default
//! timeout = 15               # seconds; default: leave the driver's
//! interval = 5               # seconds; default: a third of the timeout
//! head_start = 120           # seconds; default 60
//!
//! [[check]]
//! service = "/run/service/dnsmasq"
//! ready = true               # also require readiness (default false)
//!
//! [[check]]
//! interface = "eth0"
//!
//! [[check]]
//! file = "/overlay/.healthy"
//!
//! [[check]]
//! command = "test -w /overlay"
//! deadline = 3               # seconds; default 10
//! ```
//!
//! Each `[[check]]` names exactly one kind; unknown keys are errors, so a
//! typo never silently drops a check.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Check;

/// Settings of the watchdog daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The device; `None`: the default (`/dev/watchdog`).
    pub device: Option<PathBuf>,
    /// The timeout to set; `None`: keep the driver's.
    pub timeout: Option<Duration>,
    /// The feed interval; `None`: a third of the timeout.
    pub interval: Option<Duration>,
    /// The head start; `None`: the default (60 s).
    pub head_start: Option<Duration>,
    /// The checks, in file order.
    pub checks: Vec<Check>,
}

/// The TOML file is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Syntax error, unknown key, wrong type.
    #[error("watchdog: config: {0}")]
    Toml(#[from] toml::de::Error),
    /// A `[[check]]` table names no kind or several.
    #[error("watchdog: config: check {index}: {reason}")]
    Check {
        /// 1-based position among the `[[check]]` tables.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    device: Option<PathBuf>,
    timeout: Option<u64>,
    interval: Option<u64>,
    head_start: Option<u64>,
    #[serde(default)]
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    service: Option<PathBuf>,
    ready: Option<bool>,
    interface: Option<String>,
    file: Option<PathBuf>,
    command: Option<String>,
    deadline: Option<u64>,
}

impl Config {
    /// Parses the TOML text of a config file.
    ///
    /// ```
    /// use limina_watchdog::{Check, Config};
    ///
    /// let c = Config::from_toml("timeout = 15\n[[check]]\nfile = \"/run/ok\"\n")?;
    /// assert_eq!(c.checks, [Check::FileExists { path: "/run/ok".into() }]);
    /// # Ok::<(), limina_watchdog::ConfigError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let checks = raw
            .check
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.into_check().map_err(|reason| ConfigError::Check {
                    index: i + 1,
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Config {
            device: raw.device,
            timeout: raw.timeout.map(Duration::from_secs),
            interval: raw.interval.map(Duration::from_secs),
            head_start: raw.head_start.map(Duration::from_secs),
            checks,
        })
    }
}

impl RawCheck {
    fn into_check(self) -> Result<Check, String> {
        let kinds = [
            self.service.is_some(),
            self.interface.is_some(),
            self.file.is_some(),
            self.command.is_some(),
        ];
        match kinds.iter().filter(|&&k| k).count() {
            0 => return Err("needs one of service, interface, file, command".into()),
            1 => {}
            _ => return Err("names more than one of service, interface, file, command".into()),
        }
        if self.ready.is_some() && self.service.is_none() {
            return Err("ready only applies to service".into());
        }
        if self.deadline.is_some() && self.command.is_none() {
            return Err("deadline only applies to command".into());
        }
        Ok(if let Some(dir) = self.service {
            Check::S6Service {
                dir,
                ready: self.ready.unwrap_or(false),
            }
        } else if let Some(name) = self.interface {
            Check::Interface { name }
        } else if let Some(path) = self.file {
            Check::FileExists { path }
        } else {
            Check::Command {
                command: self.command.unwrap_or_default(),
                deadline: Duration::from_secs(self.deadline.unwrap_or(10)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example() {
        let c = Config::from_toml(
            r#"
            device = "/dev/watchdog1"
            timeout = 15
            interval = 5
            head_start = 120
            [[check]]
            service = "/run/service/dnsmasq"
            ready = true
            [[check]]
            interface = "eth0"
            [[check]]
            file = "/overlay/.healthy"
            [[check]]
            command = "test -w /overlay"
            deadline = 3
            "#,
        )
        .expect("valid");
        assert_eq!(c.device, Some("/dev/watchdog1".into()));
        assert_eq!(c.timeout, Some(Duration::from_secs(15)));
        assert_eq!(c.interval, Some(Duration::from_secs(5)));
        assert_eq!(c.head_start, Some(Duration::from_secs(120)));
        assert_eq!(
            c.checks,
            [
                Check::S6Service {
                    dir: "/run/service/dnsmasq".into(),
                    ready: true
                },
                Check::Interface {
                    name: "eth0".into()
                },
                Check::FileExists {
                    path: "/overlay/.healthy".into()
                },
                Check::Command {
                    command: "test -w /overlay".into(),
                    deadline: Duration::from_secs(3)
                },
            ]
        );
    }

    #[test]
    fn mistakes_are_errors() {
        let err = |t: &str| Config::from_toml(t).expect_err(t).to_string();
        assert!(err("timeot = 5").contains("timeot"), "typo in a key");
        assert!(err("[[check]]\nfiel = \"/x\"").contains("fiel"));
        assert!(err("[[check]]\nready = true").contains("check 1: needs one of"));
        assert!(err("[[check]]\nfile = \"/x\"\ninterface = \"lo\"").contains("more than one"));
        assert!(err("[[check]]\nfile = \"/x\"\nready = true").contains("ready only"));
        assert!(err("timeout = \"15\"").starts_with("watchdog: config:"));
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::from_toml("").expect("empty is valid");
        assert_eq!(c.device, None);
        assert!(c.checks.is_empty());
    }
}
