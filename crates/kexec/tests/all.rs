//! Integration tests of limina-kexec, one module per topic.

mod dtc;
mod running;
