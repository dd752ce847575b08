//! The applet table.
//!
//! Adding an applet:
//! 1. write `src/applets/<name>.rs` with
//!    `pub fn main(args: Vec<OsString>) -> ExitCode` (argv\[0\] is the
//!    applet name; flags as the tool users know, exit codes documented);
//! 2. gate it behind the cargo feature of its library crate (e.g. `mtd`),
//!    so that the Buildroot package can build a binary with only the
//!    applets a board selects;
//! 3. add one `Applet` line below, keeping the table sorted by name
//!    (a unit test checks), with `#[cfg(feature = "…")]` on the line.

#[cfg(any(feature = "ubi", feature = "outputs"))]
pub(crate) use crate::applet::utf8;
use crate::applet::Applet;

#[cfg(feature = "outputs")]
mod acquire;
#[cfg(feature = "mtd")]
mod flash_erase;
#[cfg(feature = "mtd")]
mod flashcp;
#[cfg(feature = "ifwait")]
mod ifwait;
#[cfg(feature = "kexec")]
mod kexec;
#[cfg(feature = "mtd")]
mod mtd_args;
#[cfg(feature = "mtd")]
mod mtdinfo;
#[cfg(feature = "outputs")]
mod odhcp6c_script;
#[cfg(feature = "outputs")]
mod output;
#[cfg(feature = "outputs")]
mod output_path;
#[cfg(feature = "outputs")]
mod output_publish;
#[cfg(feature = "outputs")]
mod output_render;
#[cfg(feature = "outputs")]
mod output_word;
#[cfg(feature = "outputs")]
mod outputs_cli;
#[cfg(feature = "outputs")]
mod ppp_scripts;
#[cfg(feature = "kexec")]
mod trial_boot;
#[cfg(feature = "ubi")]
mod ubi_args;
#[cfg(feature = "ubi")]
mod ubiattach;
#[cfg(feature = "ubi")]
mod ubidetach;
#[cfg(feature = "ubi")]
mod ubiformat;
#[cfg(feature = "ubi")]
mod ubimkvol;
#[cfg(feature = "ubi")]
mod ubinfo;
#[cfg(feature = "ubi")]
mod ubinize;
#[cfg(feature = "ubi")]
mod ubirename;
#[cfg(feature = "ubi")]
mod ubirmvol;
#[cfg(feature = "ubi")]
mod ubirsvol;
#[cfg(feature = "ubi")]
mod ubiupdatevol;
#[cfg(feature = "outputs")]
mod udhcpc_script;
#[cfg(feature = "hotplug")]
mod uevent_wait;
#[cfg(feature = "upgrade")]
mod upgrade;
#[cfg(feature = "sign")]
mod verify_image;
#[cfg(feature = "outputs")]
mod watch_outputs;
#[cfg(feature = "watchdog")]
mod watchdog;

/// Every applet built in, sorted by name.
pub static APPLETS: &[Applet] = &[
    #[cfg(feature = "outputs")]
    Applet {
        name: "acquire-delegated-prefix",
        summary: "apply the LAN address of a delegated IPv6 prefix (rtnetlink)",
        usage: acquire::PREFIX_USAGE,
        main: acquire::delegated_prefix,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "acquire-wan-address",
        summary: "apply a service's addresses and default route (rtnetlink)",
        usage: acquire::WAN_USAGE,
        main: acquire::wan_address,
    },
    #[cfg(feature = "mtd")]
    Applet {
        name: "flash_erase",
        summary: "erase blocks of an MTD device",
        usage: flash_erase::USAGE,
        main: flash_erase::main,
    },
    #[cfg(feature = "mtd")]
    Applet {
        name: "flashcp",
        summary: "write an image to an MTD device, power-cut safe",
        usage: flashcp::USAGE,
        main: flashcp::main,
    },
    #[cfg(feature = "ifwait")]
    Applet {
        name: "ifwait",
        summary: "wait for a network interface to be up, running or addressed",
        usage: ifwait::USAGE,
        main: ifwait::main,
    },
    #[cfg(feature = "kexec")]
    Applet {
        name: "kexec",
        summary: "load a kernel with an edited device tree and boot it",
        usage: kexec::USAGE,
        main: kexec::main,
    },
    #[cfg(feature = "mtd")]
    Applet {
        name: "mtdinfo",
        summary: "show MTD devices and their geometry",
        usage: mtdinfo::USAGE,
        main: mtdinfo::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "odhcp6c-script",
        summary: "odhcp6c -s hook: publish DHCPv6/RA state as outputs",
        usage: odhcp6c_script::USAGE,
        main: odhcp6c_script::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output",
        summary: "print a service output value",
        usage: output::USAGE,
        main: output::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output-path",
        summary: "print the file path of a service output",
        usage: output_path::USAGE,
        main: output_path::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output-publish",
        summary: "publish a service's outputs from arguments or a file (atomic)",
        usage: output_publish::USAGE,
        main: output_publish::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output-render",
        summary: "render a config file from a template of outputs",
        usage: output_render::USAGE,
        main: output_render::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output-unpublish",
        summary: "remove a service's outputs",
        usage: output_publish::UNPUBLISH_USAGE,
        main: output_publish::unpublish,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "output-word",
        summary: "print one word of a service output value",
        usage: output_word::USAGE,
        main: output_word::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "ppp-ip-down",
        summary: "pppd ip-down hook: remove the IPv4 session outputs",
        usage: ppp_scripts::IP_DOWN_USAGE,
        main: ppp_scripts::ip_down,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "ppp-ip-up",
        summary: "pppd ip-up hook: publish the IPv4 session as outputs",
        usage: ppp_scripts::IP_UP_USAGE,
        main: ppp_scripts::ip_up,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "ppp-ipv6-down",
        summary: "pppd ipv6-down hook: remove the IPv6 session outputs",
        usage: ppp_scripts::IPV6_DOWN_USAGE,
        main: ppp_scripts::ipv6_down,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "ppp-ipv6-up",
        summary: "pppd ipv6-up hook: publish the IPv6 session as outputs",
        usage: ppp_scripts::IPV6_UP_USAGE,
        main: ppp_scripts::ipv6_up,
    },
    #[cfg(feature = "kexec")]
    Applet {
        name: "trial-boot",
        summary: "boot a new kernel and squashfs root from RAM (phram) with kexec",
        usage: trial_boot::USAGE,
        main: trial_boot::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubiattach",
        summary: "attach an MTD device to UBI",
        usage: ubiattach::USAGE,
        main: ubiattach::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubidetach",
        summary: "detach a UBI device",
        usage: ubidetach::USAGE,
        main: ubidetach::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubiformat",
        summary: "format an MTD device for UBI or write an image, keeping erase counters",
        usage: ubiformat::USAGE,
        main: ubiformat::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubimkvol",
        summary: "create a UBI volume",
        usage: ubimkvol::USAGE,
        main: ubimkvol::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubinfo",
        summary: "show UBI devices and volumes, or inspect a UBI image",
        usage: ubinfo::USAGE,
        main: ubinfo::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubinize",
        summary: "build a UBI image from an ini file, as mtd-utils does",
        usage: ubinize::USAGE,
        main: ubinize::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubirename",
        summary: "rename UBI volumes atomically (A/B swap)",
        usage: ubirename::USAGE,
        main: ubirename::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubirmvol",
        summary: "remove a UBI volume",
        usage: ubirmvol::USAGE,
        main: ubirmvol::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubirsvol",
        summary: "resize a UBI volume",
        usage: ubirsvol::USAGE,
        main: ubirsvol::main,
    },
    #[cfg(feature = "ubi")]
    Applet {
        name: "ubiupdatevol",
        summary: "replace a UBI volume's contents",
        usage: ubiupdatevol::USAGE,
        main: ubiupdatevol::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "udhcpc-script",
        summary: "udhcpc -s hook: publish the DHCPv4 lease as outputs",
        usage: udhcpc_script::USAGE,
        main: udhcpc_script::main,
    },
    #[cfg(feature = "hotplug")]
    Applet {
        name: "uevent-wait",
        summary: "run a command for each matching kernel uevent (hotplug)",
        usage: uevent_wait::USAGE,
        main: uevent_wait::main,
    },
    #[cfg(feature = "upgrade")]
    Applet {
        name: "upgrade",
        summary: "check a signed firmware image and write it to both slots, power-cut safe",
        usage: upgrade::USAGE,
        main: upgrade::main,
    },
    #[cfg(feature = "sign")]
    Applet {
        name: "verify-image",
        summary: "check an image's minisign signature before an upgrade",
        usage: verify_image::USAGE,
        main: verify_image::main,
    },
    #[cfg(feature = "outputs")]
    Applet {
        name: "watch-outputs",
        summary: "run an action when service outputs change",
        usage: watch_outputs::USAGE,
        main: watch_outputs::main,
    },
    #[cfg(feature = "watchdog")]
    Applet {
        name: "watchdog",
        summary: "feed the hardware watchdog while health checks pass",
        usage: watchdog::USAGE,
        main: watchdog::main,
    },
];
