//! Integration tests of limina-outputs: the applets as users run them
//! (`cli`, feature `cli-tests`) and real DHCP peers in network namespaces
//! (`netns`, feature `netns-tests`). Without the features they are ignored,
//! so that `scripts/cross-test` (qemu-user, no root) stays self-contained.

mod cli;
mod netns;
mod util;
