//! Integration tests of the multi-call binary, run through the built
//! `limina` (`CARGO_BIN_EXE_limina`): every applet's `--help` and
//! `--version` and the `output-publish` journeys (feature `cli-tests`),
//! `uevent-wait` against the kernel's uevents in a network namespace
//! (feature `netns-tests`, root). Without the features they are ignored,
//! so that `scripts/cross-test` (qemu-user cannot exec the target binary
//! from a test) stays self-contained.

#[path = "all/help.rs"]
mod help;
#[path = "all/publish.rs"]
mod publish;
#[path = "all/uevent.rs"]
mod uevent;
#[path = "all/util.rs"]
mod util;
#[path = "all/verify_image.rs"]
mod verify_image;
