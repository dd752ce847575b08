//! The integration tests of mtd-rs: one binary, one module per topic.

mod power_cut;
mod real_system;
