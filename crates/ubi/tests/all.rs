//! Integration tests of limina-ubi, with mtd-utils' `ubinize` and PyPI's
//! `ubi_reader` as oracles. Each test skips, saying why, when its oracle
//! is not installed (qemu-user and VM runs).

mod ubi_reader;
mod ubinize;
mod util;
