//! The arm64 entry trampoline ("purgatory") for `kexec_load`.
//!
//! With `kexec_load`, arm64 Linux jumps to the image's entry with the MMU
//! off and `x0` *not* set to a device tree (`kexec_file_load` sets it; the
//! old syscall leaves that to user space — kexec-tools links a C
//! purgatory for it). The boot protocol (`Documentation/arm64/booting.rst`)
//! wants `x0` = physical address of the DTB and `x1`..`x3` = 0. So the entry
//! we give the kernel is this 40-byte segment:
//!
//! ```text
//!  0: 580000c0  ldr  x0, 24        // x0 = DTB address
//!  4: aa1f03e1  mov  x1, xzr
//!  8: aa1f03e2  mov  x2, xzr
//! 12: aa1f03e3  mov  x3, xzr
//! 16: 58000084  ldr  x4, 32        // x4 = kernel entry
//! 20: d61f0080  br   x4
//! 24: <DTB address, 8 bytes>
//! 32: <kernel entry, 8 bytes>
//! ```
//!
//! Instructions are always little-endian on AArch64; the two data words are
//! read by `ldr` in the CPU's data endianness at that point, which is the
//! running kernel's (arm64 keeps `SCTLR_EL1.EE` across the kexec jump),
//! hence the `big_endian` argument. Both words are 8-byte aligned: with
//! the MMU off every access is a Device access, and a misaligned one
//! faults.

/// Size of the trampoline in bytes.
pub const ARM64_TRAMPOLINE_LEN: usize = 40;

/// `LDR Xt, #imm` (literal, 64-bit): PC-relative, `imm` a multiple of 4.
const fn ldr_literal(rt: u32, imm: u32) -> u32 {
    0x5800_0000 | ((imm / 4) << 5) | rt
}

/// `MOV Xd, XZR` (an alias of `ORR Xd, XZR, XZR`).
const fn mov_zero(rd: u32) -> u32 {
    0xaa1f_03e0 | rd
}

/// `BR Xn`.
const fn br(rn: u32) -> u32 {
    0xd61f_0000 | (rn << 5)
}

/// The trampoline's bytes: set `x0` = `dtb`, `x1`..`x3` = 0, branch to
/// `kernel`. `big_endian`: the running kernel's data endianness.
pub fn arm64_trampoline(dtb: u64, kernel: u64, big_endian: bool) -> Vec<u8> {
    let code = [
        ldr_literal(0, 24),
        mov_zero(1),
        mov_zero(2),
        mov_zero(3),
        ldr_literal(4, 32 - 16),
        br(4),
    ];
    let mut out = Vec::with_capacity(ARM64_TRAMPOLINE_LEN);
    for insn in code {
        out.extend_from_slice(&insn.to_le_bytes());
    }
    for word in [dtb, kernel] {
        out.extend_from_slice(&if big_endian {
            word.to_be_bytes()
        } else {
            word.to_le_bytes()
        });
    }
    out
}
