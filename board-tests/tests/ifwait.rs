//! `limina ifwait` on big-endian MIPS: netlink is host-endian, so this is
//! where a byte-order slip in message parsing or building would show. The
//! malta kernel has `dummy` and `veth` built in.

use limina_board_tests::{guest_bins_dir, Machine, Vm, VmConfig};

use crate::common::Check;

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn ifwait_conditions_timeout_and_errors_on_big_endian_mips() {
    let limina = guest_bins_dir("mips-unknown-linux-gnu").join("limina");
    let mut cfg = VmConfig::new(Machine::Mips, "ifwait").check("config");
    cfg.initramfs.limina(&limina, &["ifwait"]).bytes(
        "/usr/local/bin/on-change",
        "#!/bin/sh\necho $IFWAIT_STATE >> /tmp/states\n",
        0o755,
    );
    let mut vm = Vm::boot(cfg).check("boot");

    // Timeout: exit 124, promptly.
    let (status, out) = vm
        .run("limina ifwait --timeout 0.5 d0 present")
        .check("run");
    assert_eq!(status, 124, "{out}");
    // Bad arguments: exit 2 with one clear line.
    let (status, out) = vm.run("limina ifwait d0 sideways 2>&1").check("run");
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("unknown condition \"sideways\""), "{out}");
    let (status, out) = vm
        .run("limina ifwait averyveryverylongname up 2>&1")
        .check("run");
    assert_eq!(status, 2, "{out}");

    // An interface created after the wait starts, then brought up and
    // addressed: each wait returns 0 (dummy has carrier once up). Each
    // step runs in its own `sh -c` that waits for its background job: the
    // guest's PID-1 shell once exited (kernel panic "Attempted to kill
    // init", exit code 0) when a background job of its own ended while it
    // was reading the next command.
    let bg = |vm: &mut Vm, setup: &str, wait: &str| {
        vm.run_ok(&format!("sh -c '({setup}) & {wait}; r=$?; wait; exit $r'"))
    };
    bg(
        &mut vm,
        "sleep 1; ip link add d0 type dummy",
        "limina ifwait --timeout 30 d0 present",
    )
    .check("present");
    bg(
        &mut vm,
        "sleep 1; ip link set d0 up",
        "limina ifwait --timeout 30 d0 running",
    )
    .check("running");
    vm.run_ok("limina ifwait --timeout 5 d0 carrier")
        .check("carrier");
    vm.run_ok("limina ifwait --timeout 5 d0 up").check("up");
    bg(
        &mut vm,
        "sleep 1; ip addr add 192.0.2.1/24 dev d0",
        "limina ifwait --timeout 30 --global d0 ipv4",
    )
    .check("ipv4");
    bg(
        &mut vm,
        "sleep 1; ip addr add 2001:db8::1/64 dev d0",
        "limina ifwait --timeout 30 --global d0 ipv6",
    )
    .check("ipv6");

    // Supervise mode sees the link go down and up again.
    bg(
        &mut vm,
        "sleep 2; ip link set d0 down; sleep 2; ip link set d0 up; sleep 2; killall limina",
        // Killed at the end: its status is not the point, the states are.
        "limina ifwait --supervise on-change --debounce 200 d0 running; true",
    )
    .check("supervise");
    let states = vm.run_ok("cat /tmp/states").check("states");
    assert_eq!(
        states.split_whitespace().collect::<Vec<_>>(),
        ["up", "down", "up"]
    );
    vm.poweroff().check("poweroff");
}
