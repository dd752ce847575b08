//! The ratchet: pure decision logic, no clock and no device.
//!
//! Keeping time and I/O out makes every path testable in microseconds with
//! a fake clock, and keeps the daemon loop (in the applet) trivially
//! small. The ratchet only moves one way: once it has starved, nothing
//! makes it feed again, because a board that failed a check once must be
//! reset even if the check flickers back to healthy (a half-broken system
//! is the case the watchdog exists for).

use std::time::Duration;

/// What the caller must do after [`Ratchet::tick`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Feed the watchdog (`WDIOC_KEEPALIVE`).
    Feed,
    /// A check failed just now: log it, and never feed again.
    StarveNow {
        /// Index of the failing check in the list given to `tick`.
        check: usize,
        /// Why it failed.
        reason: String,
    },
    /// Already starving: do nothing, the board is about to reset.
    Starving,
}

/// The ratchet's state.
///
/// ```
/// use std::time::Duration;
/// use limina_watchdog::{Action, Ratchet};
///
/// let mut r = Ratchet::new(Duration::from_secs(60));
/// // During the head start, checks are not even run.
/// assert_eq!(r.tick(Duration::from_secs(1), || Err((0, "not yet".into()))), Action::Feed);
/// // After it, a failure starves the watchdog for good.
/// let a = r.tick(Duration::from_secs(61), || Err((0, "down".into())));
/// assert!(matches!(a, Action::StarveNow { .. }));
/// assert_eq!(r.tick(Duration::from_secs(62), || Ok(())), Action::Starving);
/// ```
#[derive(Debug, Clone)]
pub struct Ratchet {
    head_start: Duration,
    starved: bool,
}

impl Ratchet {
    /// A ratchet that feeds unconditionally until `head_start` has passed
    /// (measured on the caller's clock, from the caller's zero).
    pub fn new(head_start: Duration) -> Ratchet {
        Ratchet {
            head_start,
            starved: false,
        }
    }

    /// Decides at time `now`; `checks` runs every check in order and
    /// returns the index and reason of the first failure. It is called
    /// only after the head start, and never after starving.
    pub fn tick<F>(&mut self, now: Duration, checks: F) -> Action
    where
        F: FnOnce() -> Result<(), (usize, String)>,
    {
        if self.starved {
            return Action::Starving;
        }
        if now < self.head_start {
            return Action::Feed;
        }
        match checks() {
            Ok(()) => Action::Feed,
            Err((check, reason)) => {
                self.starved = true;
                Action::StarveNow { check, reason }
            }
        }
    }

    /// Whether a check has failed.
    pub fn starved(&self) -> bool {
        self.starved
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A fake clock and fake checks: a scripted run of a daemon loop with a
    /// 10 s interval and a 30 s head start.
    #[test]
    fn head_start_then_checks_then_starve_for_good() {
        let mut r = Ratchet::new(Duration::from_secs(30));
        let ran = Cell::new(0);
        let healthy = Cell::new(false);
        let checks = || {
            ran.set(ran.get() + 1);
            if healthy.get() {
                Ok(())
            } else {
                Err((1, "service down".to_string()))
            }
        };
        let mut log = Vec::new();
        for t in (0..=90).step_by(10) {
            healthy.set(!(60..=70).contains(&t));
            log.push((t, r.tick(Duration::from_secs(t), checks)));
        }
        let feeds: Vec<u64> = log
            .iter()
            .filter(|(_, a)| *a == Action::Feed)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(feeds, [0, 10, 20, 30, 40, 50]);
        assert_eq!(
            log[6],
            (
                60,
                Action::StarveNow {
                    check: 1,
                    reason: "service down".into()
                }
            )
        );
        // Healthy again at 80 and 90, but the ratchet does not go back.
        assert_eq!(log[8].1, Action::Starving);
        assert_eq!(log[9].1, Action::Starving);
        // Checks ran at 30, 40, 50, 60 only: not in the head start, not after.
        assert_eq!(ran.get(), 4);
        assert!(r.starved());
    }

    #[test]
    fn failing_checks_during_head_start_are_ignored() {
        let mut r = Ratchet::new(Duration::from_secs(60));
        for t in 0..60 {
            assert_eq!(
                r.tick(Duration::from_secs(t), || Err((0, "x".into()))),
                Action::Feed
            );
        }
        assert!(matches!(
            r.tick(Duration::from_secs(60), || Err((0, "x".into()))),
            Action::StarveNow { check: 0, .. }
        ));
    }

    #[test]
    fn zero_head_start_checks_at_once() {
        let mut r = Ratchet::new(Duration::ZERO);
        assert!(matches!(
            r.tick(Duration::ZERO, || Err((2, "gone".into()))),
            Action::StarveNow { check: 2, .. }
        ));
    }
}
