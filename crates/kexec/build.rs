//! With the `abi-probe` feature: compiles `tests/abi/kexec.c` for the target
//! (the `cc` crate picks the cross compiler), so that the tests can compare
//! the kernel ABI as C sees it with the Rust bindings. Without it: nothing.

fn main() {
    println!("cargo:rerun-if-changed=tests/abi/kexec.c");
    #[cfg(feature = "abi-probe")]
    cc::Build::new()
        .file("tests/abi/kexec.c")
        .warnings(true)
        .compile("limina_kexec_abi");
}
