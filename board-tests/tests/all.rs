//! The VM tests: one test binary, one module per machine, plus the harness's
//! own failure modes. They boot QEMU guests, so they need `scripts/setup` and
//! `scripts/vm-assets`; without the `vm` feature they are ignored.

mod aarch64;
mod buildroot;
mod buildroot_trial;
mod common;
mod harness;
mod ifwait;
mod kexec;
mod mips;
mod mtd;
mod outputs;
mod router_l2tp;
mod router_pppoe;
mod router_vm;
mod trial_boot;
mod ubi;
mod uboot;
mod upgrade;
mod upgrade_ubi;
mod watchdog;
mod x86_64;
