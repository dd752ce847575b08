//! Integration tests of limina-kexec, one module per topic.

mod common;
mod dtc;
mod images;
mod layout;
mod memory;
mod running;
mod trampoline;
mod trial;
mod uimage;
