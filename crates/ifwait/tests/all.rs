//! ifwait against the real kernel, in network namespaces the tests create
//! (`ip netns add`, veth pairs): needs root and iproute2, hence the
//! `netns-tests` feature. Without root the tests print why and pass
//! without checking anything; CI runs them as root.

#[path = "all/netns.rs"]
mod netns;
