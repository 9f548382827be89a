//! Level 6 — a network namespace.

use crate::check::{
    fail, fail_hinting, field, own_namespaces, report_or_fail, strings, Check, Ctx, Verdict,
};
use crate::sandbox::Sandbox;
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
        hint: "lo starts down in a new network namespace: in the child, after unshare(CLONE_NEWNET), open a socket, then SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS (netdevice(7)).",
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

/// The hint when the ioctls brought up the `lo` of the runtime's own namespace instead.
const SOCKET_BEFORE_UNSHARE: &str = "The interface ioctls act on the network namespace of the socket they are made on, and a socket belongs to the namespace it was opened in: yours was opened before unshare(CLONE_NEWNET), so it configured the host's lo. Open the socket after the unshare.";

fn loopback_works(ctx: &mut Ctx) -> Result<Verdict> {
    // First with the runtime's "host" a network namespace of the checker's whose lo starts down:
    // if the runtime's ioctls bring up that lo instead of the container's, the checker sees it.
    ctx.sandbox = Sandbox::start_with_network(ctx.env.rootless)?;
    let run = ctx.probe("tcp-loopback", &[])?;
    let report = report_or_fail!(run);
    if connected(report) {
        return Ok(Verdict::Pass);
    }
    let expected = "listen on 127.0.0.1, connect, send and receive";
    if ctx.sandbox.lo_is_up()? {
        return Ok(fail_hinting(
            format!("{expected}, with the container's lo up"),
            format!("it failed: {}; the container's lo stayed down, and the runtime's own lo (the host's, as the runtime sees it) was brought up instead", field(report, "error")),
            SOCKET_BEFORE_UNSHARE,
        ));
    }
    // Nothing came up: judge as on the host, whose lo is up (a runtime without a network
    // namespace of its own uses it, as it would anywhere).
    ctx.sandbox = Sandbox::start(ctx.env.rootless)?;
    let run = ctx.probe("tcp-loopback", &[])?;
    let report = report_or_fail!(run);
    Ok(match connected(report) {
        true => Verdict::Pass,
        false => fail(expected, format!("it failed: {}", field(report, "error"))),
    })
}

fn connected(report: &Value) -> bool {
    report.get("ok").and_then(Value::as_bool).unwrap_or(false)
}
