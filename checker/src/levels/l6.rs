//! Level 6 — a network namespace.

use crate::check::{fail, field, own_namespaces, report_or_fail, strings, Check, Ctx, Verdict};
use anyhow::Result;
use serde_json::Value;

const NET_NS: &str = "https://man7.org/linux/man-pages/man7/network_namespaces.7.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L6.net-ns.namespace",
        level: 6,
        title: "the container has a network namespace of its own",
        hint: "In the child, unshare(CloneFlags::CLONE_NEWNET).",
        doc: NET_NS,
        run: own_network_namespace,
    },
    Check {
        id: "L6.net-ns.only-lo",
        level: 6,
        title: "/proc/net/dev lists only lo",
        hint: "A new network namespace has one interface, lo: if the host's eth0 shows up, CLONE_NEWNET is missing.",
        doc: NET_NS,
        run: only_loopback,
    },
    Check {
        id: "L6.net-ns.loopback",
        level: 6,
        title: "a TCP connection to 127.0.0.1 inside works",
        hint: "lo starts down in a new network namespace: SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS (netdevice(7)).",
        doc: "https://man7.org/linux/man-pages/man7/netdevice.7.html",
        run: loopback_works,
    },
];

fn own_network_namespace(ctx: &mut Ctx) -> Result<Verdict> {
    own_namespaces(ctx, &["net"])
}

fn only_loopback(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe("report", &[])?;
    let report = report_or_fail!(run);
    let interfaces = strings(report, "interfaces");
    Ok(if interfaces == ["lo"] {
        Verdict::Pass
    } else {
        fail("only lo in /proc/net/dev", format!("{interfaces:?}"))
    })
}

fn loopback_works(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe("tcp-loopback", &[])?;
    let report = report_or_fail!(run);
    Ok(
        if report.get("ok").and_then(Value::as_bool).unwrap_or(false) {
            Verdict::Pass
        } else {
            fail(
                "listen on 127.0.0.1, connect, send and receive",
                format!("it failed: {}", field(report, "error")),
            )
        },
    )
}
