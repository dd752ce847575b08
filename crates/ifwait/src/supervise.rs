//! Debounced transitions, for supervise mode.
//!
//! A flapping link (a bad cable, a switch port negotiating) can go down and
//! up several times a second; restarting a service tree on each edge would
//! make things worse. A transition is reported only once the condition has
//! kept its new value for the whole debounce time. Pure: the caller passes
//! the time, the tests pass a fake one.

use std::time::{Duration, Instant};

/// Turns a stream of observations into debounced transitions.
///
/// ```
/// use std::time::{Duration, Instant};
/// use limina_ifwait::Supervisor;
///
/// let t0 = Instant::now();
/// let ms = |n| t0 + Duration::from_millis(n);
/// let mut s = Supervisor::new(Duration::from_millis(100));
/// assert_eq!(s.observe(false, ms(0)), None);
/// assert_eq!(s.observe(false, ms(100)), Some(false)); // the initial state
/// assert_eq!(s.observe(true, ms(150)), None); // starts a debounce
/// assert_eq!(s.observe(false, ms(170)), None); // a flap: cancelled
/// assert_eq!(s.observe(false, ms(400)), None); // nothing changed
/// ```
#[derive(Debug, Clone)]
pub struct Supervisor {
    debounce: Duration,
    reported: Option<bool>,
    pending: Option<(bool, Instant)>,
}

impl Supervisor {
    /// A supervisor that reports a value once it has held for `debounce`.
    pub fn new(debounce: Duration) -> Supervisor {
        Supervisor {
            debounce,
            reported: None,
            pending: None,
        }
    }

    /// Records that the condition is `holds` at `now`. Returns the value to
    /// report when a debounced transition completes (the first report is
    /// the initial state).
    pub fn observe(&mut self, holds: bool, now: Instant) -> Option<bool> {
        if self.reported == Some(holds) {
            self.pending = None;
            return None;
        }
        let since = match self.pending {
            Some((v, since)) if v == holds => since,
            _ => {
                self.pending = Some((holds, now));
                now
            }
        };
        if now.saturating_duration_since(since) >= self.debounce {
            self.pending = None;
            self.reported = Some(holds);
            return Some(holds);
        }
        None
    }

    /// When to call [`observe`](Supervisor::observe) again even if nothing
    /// happens: the end of a pending debounce. `None`: sleep until an event.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.map(|(_, since)| since + self.debounce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flaps_shorter_than_the_debounce_are_not_reported() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = Supervisor::new(Duration::from_millis(200));
        let mut out = Vec::new();
        // (time, holds): up at 0, a flap at 300-350, down for good at 600.
        let script = [
            (0, true),
            (200, true),
            (300, false),
            (350, true),
            (500, true),
            (600, false),
            (700, false),
            (800, false),
            (900, false),
        ];
        for (t, h) in script {
            if let Some(v) = s.observe(h, ms(t)) {
                out.push((t, v));
            }
        }
        assert_eq!(out, [(200, true), (800, false)]);
    }

    #[test]
    fn deadline_asks_for_a_wake_up_only_while_pending() {
        let t0 = Instant::now();
        let mut s = Supervisor::new(Duration::from_millis(50));
        assert_eq!(s.deadline(), None);
        s.observe(true, t0);
        assert_eq!(s.deadline(), Some(t0 + Duration::from_millis(50)));
        assert_eq!(s.observe(true, t0 + Duration::from_millis(50)), Some(true));
        assert_eq!(s.deadline(), None, "idle: no wake-ups");
    }

    #[test]
    fn zero_debounce_reports_at_once() {
        let t0 = Instant::now();
        let mut s = Supervisor::new(Duration::ZERO);
        assert_eq!(s.observe(false, t0), Some(false));
        assert_eq!(s.observe(true, t0), Some(true));
        assert_eq!(s.observe(true, t0), None);
    }
}
