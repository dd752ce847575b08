//! The watchdog crate's public API without a watchdog device: the hand-off
//! protocol's checks. (The device itself is tested in the VMs:
//! board-tests/tests/watchdog.rs.)

use std::os::fd::IntoRawFd;

use limina_watchdog::{DeviceError, Watchdog, HAND_OFF_ENV};

/// One test, because it changes the process environment.
#[test]
fn hand_off_variable_is_validated() {
    std::env::remove_var(HAND_OFF_ENV);
    assert!(Watchdog::from_env().expect("unset is fine").is_none());

    let reason = |value: &str| {
        std::env::set_var(HAND_OFF_ENV, value);
        match Watchdog::from_env() {
            Err(DeviceError::HandOff { reason, .. }) => reason,
            other => panic!("{value}: expected a hand-off error, got {other:?}"),
        }
    };
    assert!(reason("abc").contains("not a number"));
    assert!(reason("1").contains("stdio"));
    assert!(reason("1000000").contains("not open"));
    // An open fd that is not a watchdog: adopted, checked, rejected (and
    // closed).
    let fd = std::fs::File::open("/dev/null")
        .expect("/dev/null exists")
        .into_raw_fd();
    let r = reason(&fd.to_string());
    assert!(r.contains("not a watchdog"), "{r}");
    std::env::remove_var(HAND_OFF_ENV);
}
