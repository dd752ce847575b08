//! Integration tests of limina-outputs: the applets as users run them
//! (`cli`, feature `cli-tests`) and real DHCP peers in network namespaces
//! (`netns`, feature `netns-tests`), and the acquire applets against the
//! kernel in a network namespace (`acquire`, same feature). Without the features they are ignored,
//! so that `scripts/cross-test` (qemu-user, no root) stays self-contained.

mod acquire;
mod cli;
mod netns;
mod util;
