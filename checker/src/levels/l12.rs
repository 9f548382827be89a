//! Level 12 — capabilities: Docker's default set, and no_new_privs.

use super::l11::{user_flags, UID};
use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
use crate::run::RUNTIME_AMBIENT_CAP;
use anyhow::Result;
use probe::{Report, PRIVILEGES, REPORT};

const CAPABILITIES: &str = "https://man7.org/linux/man-pages/man7/capabilities.7.html";

/// Docker's default capabilities as /proc/self/status shows a set (moby's
/// oci/caps/defaults.go): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
/// NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
pub const DOCKER_CAPS: u64 = 0x0000_0000_a804_25fb;

/// `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h): the capget/capset header's version,
/// whose data is two 3-word structs (effective, permitted, inheritable).
pub const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The names of capabilities 0 to 40 (capabilities(7), linux/capability.h), for verdicts.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

pub const CHECKS: &[Check] = &[
    Check {
        id: "L12.capabilities.bounding",
        level: 12,
        title: "the bounding set is Docker's default (CapBnd 00000000a80425fb)",
        hint: "In the child, before exec and before setuid: prctl(PR_CAPBSET_DROP, cap) for every capability not in Docker's list (0 up to the kernel's last, EINVAL past it). Try: your runtime run -- /bin/grep Cap /proc/self/status",
        doc: CAPABILITIES,
        run: bounding_set_is_dockers,
    },
    Check {
        id: "L12.capabilities.sets",
        level: 12,
        title: "root's permitted and effective sets are Docker's default",
        hint: "Dropping from the bounding set is not enough: exec gives root the bounding set plus its inheritable set. capset(2) with effective = permitted = Docker's set, inheritable = 0, before exec.",
        doc: CAPABILITIES,
        run: permitted_and_effective_are_dockers,
    },
    Check {
        id: "L12.capabilities.inheritable",
        level: 12,
        title: "the inheritable and ambient sets are empty (the runtime's CAP_NET_ADMIN is not passed on)",
        hint: "capset with inheritable = 0, then prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0): the checker starts your runtime with CAP_NET_ADMIN in both, as a service manager can, and exec passes them on (Docker clears inheritable since CVE-2022-24769).",
        doc: CAPABILITIES,
        run: inheritable_and_ambient_empty,
    },
    Check {
        id: "L12.capabilities.no-new-privs",
        level: 12,
        title: "no_new_privs is set (NoNewPrivs 1)",
        hint: "prctl(PR_SET_NO_NEW_PRIVS, 1) before exec (nix::sys::prctl::set_no_new_privs): no later exec, of a setuid binary or a file with capabilities, can gain a privilege.",
        doc: "https://docs.kernel.org/userspace-api/no_new_privs.html",
        run: no_new_privs_set,
    },
    Check {
        id: "L12.capabilities.denied",
        level: 12,
        title: "sethostname and mount fail with EPERM inside (no CAP_SYS_ADMIN)",
        hint: "CAP_SYS_ADMIN is not in Docker's set: drop it from the bounding, permitted and effective sets. Drop after every mount, pivot_root and sethostname of your own, which need it.",
        doc: CAPABILITIES,
        run: privileged_operations_refused,
    },
    Check {
        id: "L12.capabilities.allowed",
        level: 12,
        title: "what Docker's set allows still works: chown a file, bind port 80",
        hint: "Keep CAP_CHOWN (0) and CAP_NET_BIND_SERVICE (10), like the rest of Docker's 14: dropping everything breaks images that chown their files or serve on port 80.",
        doc: CAPABILITIES,
        run: allowed_operations_work,
    },
    Check {
        id: "L12.capabilities.non-root",
        level: 12,
        title: "with --user 1234:2345: CapBnd is Docker's set, CapPrm and CapEff are empty",
        hint: "Drop the capabilities before level 11's setuid: PR_CAPBSET_DROP needs CAP_SETPCAP, which setuid to a non-root user takes away, and setuid needs CAP_SETUID, which Docker's set keeps.",
        doc: CAPABILITIES,
        run: non_root_has_no_capabilities,
    },
];

/// A capability set from /proc/self/status (16 hex digits), if the report has it.
fn set(report: &Report, key: &str) -> Option<u64> {
    u64::from_str_radix(report.status.get(key)?, 16).ok()
}

/// The capabilities a verdict names first when there are many: root's most powerful.
const NOTABLE: [u32; 4] = [21, 12, 16, 19]; // SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_PTRACE

/// The names of the capabilities in `mask`: `CAP_NET_ADMIN, CAP_SYS_ADMIN`; past four, the most
/// powerful three and how many more.
fn names(mask: u64) -> String {
    let name = |bit: u32| match NAMES.get(bit as usize) {
        Some(name) => format!("CAP_{name}"),
        None => format!("capability {bit}"),
    };
    let bits: Vec<u32> = (0..64).filter(|bit| mask & (1 << bit) != 0).collect();
    if bits.len() <= 4 {
        return bits.into_iter().map(name).collect::<Vec<_>>().join(", ");
    }
    let notable: Vec<u32> = NOTABLE.into_iter().filter(|b| bits.contains(b)).collect();
    let rest = bits.iter().copied().filter(|b| !notable.contains(b));
    let first: Vec<u32> = notable.iter().copied().chain(rest).collect();
    let shown: Vec<String> = first.into_iter().take(3).map(name).collect();
    format!("{} and {} more", shown.join(", "), bits.len() - 3)
}

/// How `seen` differs from `wanted`: `000000a8...: has CAP_SYS_ADMIN that Docker's set does not;
/// lacks CAP_CHOWN`.
fn differs(key: &str, seen: u64, wanted: u64) -> String {
    let mut parts = vec![format!("{key} {seen:016x}")];
    if seen & !wanted != 0 {
        parts.push(format!("with {}", names(seen & !wanted)));
    }
    if wanted & !seen != 0 {
        parts.push(format!("without {}", names(wanted & !seen)));
    }
    parts.join(": ")
}

/// `key` of the report is `wanted`, or a verdict saying how it differs.
fn expect_set(report: &Report, key: &str, wanted: u64) -> Option<String> {
    match set(report, key) {
        Some(seen) if seen == wanted => None,
        Some(seen) => Some(differs(key, seen, wanted)),
        None => Some(format!("no {key} line in /proc/self/status inside")),
    }
}

fn bounding_set_is_dockers(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    Ok(match expect_set(report, "CapBnd", DOCKER_CAPS) {
        None => Verdict::Pass,
        Some(observed) => fail(format!("CapBnd {DOCKER_CAPS:016x}"), observed),
    })
}

fn permitted_and_effective_are_dockers(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let wrong: Vec<String> = ["CapPrm", "CapEff"]
        .iter()
        .filter_map(|key| expect_set(report, key, DOCKER_CAPS))
        .collect();
    Ok(if wrong.is_empty() {
        Verdict::Pass
    } else {
        fail(
            format!("CapPrm and CapEff {DOCKER_CAPS:016x}"),
            wrong.join("; "),
        )
    })
}

fn inheritable_and_ambient_empty(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let wrong: Vec<String> = ["CapInh", "CapAmb"]
        .iter()
        .filter_map(|key| expect_set(report, key, 0))
        .collect();
    let seeded = 1u64 << RUNTIME_AMBIENT_CAP;
    let passed_on = ["CapInh", "CapAmb"]
        .iter()
        .any(|key| set(report, key).is_some_and(|s| s & seeded != 0));
    Ok(if wrong.is_empty() {
        Verdict::Pass
    } else {
        let why = match passed_on {
            true => ": the runtime's own, passed on to the command",
            false => "",
        };
        fail("CapInh and CapAmb 0", format!("{}{why}", wrong.join("; ")))
    })
}

fn no_new_privs_set(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    Ok(match report.status.get("NoNewPrivs").map(String::as_str) {
        Some("1") => Verdict::Pass,
        Some(seen) => fail("NoNewPrivs 1", format!("NoNewPrivs {seen}")),
        None => fail("NoNewPrivs 1", "no NoNewPrivs line in /proc/self/status"),
    })
}

fn privileged_operations_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(PRIVILEGES, &["--op", "sethostname", "--op", "mount"])?;
    let reply = report_or_fail!(run);
    let worked: Vec<String> = reply
        .tried
        .iter()
        .filter(|t| t.errno.as_deref() != Some("EPERM"))
        .map(|t| match &t.errno {
            None => format!("{} worked", t.op),
            Some(errno) => format!("{} failed with {errno}", t.op),
        })
        .collect();
    Ok(if worked.is_empty() && reply.tried.len() == 2 {
        Verdict::Pass
    } else {
        fail(
            "sethostname and mount fail with EPERM",
            format!("{}: the command has CAP_SYS_ADMIN", worked.join(", ")),
        )
    })
}

fn allowed_operations_work(ctx: &mut Ctx) -> Result<Verdict> {
    // Rootless, the user namespace maps no uid to give a file to but root's.
    let ops: &[&str] = match ctx.env.rootless {
        true => &["--op", "bind-80"],
        false => &["--op", "chown", "--op", "bind-80"],
    };
    let run = ctx.probe(PRIVILEGES, ops)?;
    let reply = report_or_fail!(run);
    let refused: Vec<String> = reply
        .tried
        .iter()
        .filter_map(|t| Some(format!("{} failed with {}", t.op, t.errno.as_ref()?)))
        .collect();
    Ok(
        if refused.is_empty() && reply.tried.len() == ops.len() / 2 {
            Verdict::Pass
        } else {
            fail(
                "chown of a new file and a bind to 127.0.0.1:80 work, as root in the container",
                refused.join(", "),
            )
        },
    )
}

fn non_root_has_no_capabilities(ctx: &mut Ctx) -> Result<Verdict> {
    if let Some(why) = crate::rootless::blocker(11).filter(|_| ctx.env.rootless) {
        return Ok(Verdict::Skip(why));
    }
    ctx.flags = user_flags();
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let wrong: Vec<String> = [("CapBnd", DOCKER_CAPS), ("CapPrm", 0), ("CapEff", 0)]
        .iter()
        .filter_map(|&(key, wanted)| expect_set(report, key, wanted))
        .collect();
    let expected = format!("uid {UID}, CapBnd {DOCKER_CAPS:016x}, CapPrm and CapEff 0");
    Ok(if report.uid != UID {
        fail(expected, format!("uid {}", report.uid))
    } else if wrong.is_empty() {
        Verdict::Pass
    } else {
        fail_hinting(
            expected,
            wrong.join("; "),
            "A non-root command keeps a capability only through the ambient set or PR_SET_KEEPCAPS: use neither. And drop the bounding set before setuid.",
        )
    })
}
