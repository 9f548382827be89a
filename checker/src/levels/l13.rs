//! Level 13 — a network cable: a veth pair from the runtime's host into the container.
//!
//! The runtime's "host" is a network namespace of the checker's own (see
//! [`Sandbox::start_with_network`]): the host end of every pair, and the TCP server the container
//! connects to, live there, and nothing is created in the machine's own network namespace. The
//! runtime contract fixes the network: containers in 10.13.0.0/24, the host's end 10.13.0.1.

use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
use crate::run::{self, Run};
use anyhow::Result;
use probe::{Network, Report, NETWORK, REPORT};
use std::net::Ipv4Addr;

const VETH: &str = "https://man7.org/linux/man-pages/man4/veth.4.html";
const RTNETLINK: &str = "https://man7.org/linux/man-pages/man7/rtnetlink.7.html";

/// The host's end of every container's cable, and the containers' gateway (the contract).
const GATEWAY: Ipv4Addr = kit::cli::IP_GATEWAY;

/// The port of the checker's TCP server on the runtime's host: a network namespace of the
/// check's own, where no other program listens.
const PORT: u16 = 8013;

pub const CHECKS: &[Check] = &[
    Check {
        id: "L13.veth.address",
        level: 13,
        title: "the container has eth0, up, with the address --ip gave (/24)",
        hint: "Create the veth pair before fork; in the child, after unshare(CLONE_NEWNET), move its end in and name it eth0 (RTM_NEWLINK with IFLA_NET_NS_FD and IFLA_IFNAME, on a netlink socket opened before the unshare), then give it --ip's address /24 (RTM_NEWADDR) and bring it up (IFF_UP).",
        doc: VETH,
        run: eth0_has_the_address,
    },
    Check {
        id: "L13.veth.route",
        level: 13,
        title: "a default route inside goes to the host's end, 10.13.0.1, over eth0",
        hint: "After eth0 is up, add the default route inside: RTM_NEWROUTE, destination length 0, RTA_GATEWAY 10.13.0.1, RTA_OIF eth0's index (ip route add default via 10.13.0.1).",
        doc: RTNETLINK,
        run: default_route_via_the_host,
    },
    Check {
        id: "L13.veth.reachable",
        level: 13,
        title: "a TCP server on the host side (10.13.0.1) is reachable from inside",
        hint: "The host's end of the cable needs an address and must be up: 10.13.0.1 with the container's address as its peer (RTM_NEWADDR, prefix 32, IFA_LOCAL 10.13.0.1, IFA_ADDRESS the container's), then IFF_UP, in the runtime's own network namespace.",
        doc: VETH,
        run: host_server_is_reachable,
    },
    Check {
        id: "L13.veth.default-address",
        level: 13,
        title: "without --ip, two containers at once get two different addresses in 10.13.0.0/24",
        hint: "Without --ip, choose an address no running container has: e.g. name the host end after the address (rc-7 for 10.13.0.7) and create the pair with NLM_F_EXCL: EEXIST means taken, try the next.",
        doc: VETH,
        run: default_addresses_differ,
    },
    Check {
        id: "L13.veth.unplugged",
        level: 13,
        title: "the host's end of the cable is deleted when the container exits",
        hint: "After wait_for, delete the host end (RTM_DELLINK by its index): the kernel deletes its peer with it. Do not count on the container's namespace dying: anything that holds it open (here the checker) keeps the pair alive.",
        doc: RTNETLINK,
        run: host_end_removed,
    },
    Check {
        id: "L13.input.bad-ip",
        level: 13,
        title: "a bad --ip (not IPv4, outside 10.13.0.0/24, .0, .1 or .255) exits 2 with one line, nothing created",
        hint: "Check --ip before anything is created (kit::cli::check_ip): in 10.13.0.0/24, and not the network's address (.0), the host's end (.1) or the broadcast address (.255).",
        doc: super::input::CONTRACT,
        run: bad_ip_is_refused,
    },
];

/// The address the checks ask for: not the first free one (.2), which a runtime that ignores
/// --ip would give; fixed, so that a verdict reads the same from run to run.
fn some_address() -> Ipv4Addr {
    Ipv4Addr::new(10, 13, 0, 77)
}

fn eth0_has_the_address(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    let address = some_address();
    ctx.flags = vec!["--ip".into(), address.to_string()];
    let run = ctx.probe(NETWORK, &[])?;
    let network = report_or_fail!(run);
    let expected = format!("eth0 inside, up, with {address}/24");
    let Some(eth0) = network.link("eth0") else {
        let links: Vec<&str> = network.links.iter().map(|l| l.name.as_str()).collect();
        return Ok(fail(
            expected,
            format!("no eth0: the container's links are {links:?}"),
        ));
    };
    let has = network.addresses_of("eth0");
    if !has.contains(&format!("{address}/24")) {
        return Ok(fail(expected, format!("eth0 has {has:?}")));
    }
    Ok(match eth0.up {
        true => Verdict::Pass,
        false => fail_hinting(
            expected,
            format!("eth0 has {address}/24 but is down"),
            "Bring eth0 up after giving it its address: RTM_NEWLINK on eth0's index with IFF_UP in ifi_flags and ifi_change (ip link set eth0 up). A link that is down sends nothing.",
        ),
    })
}

fn default_route_via_the_host(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    ctx.flags = vec!["--ip".into(), some_address().to_string()];
    let run = ctx.probe(NETWORK, &[])?;
    let network = report_or_fail!(run);
    let default = network.routes.iter().find(|r| r.prefix_len == 0);
    let expected = format!("default via {GATEWAY} dev eth0");
    Ok(match default {
        Some(r) if r.gateway == GATEWAY.to_string() && r.interface == "eth0" => Verdict::Pass,
        Some(r) => fail(expected, format!("{r}")),
        None => fail(expected, format!("no default route: {}", routes(network))),
    })
}

fn routes(network: &Network) -> String {
    match network.routes.is_empty() {
        true => "no route at all".into(),
        false => {
            let all: Vec<String> = network.routes.iter().map(|r| r.to_string()).collect();
            format!("the routes are {}", all.join("; "))
        }
    }
}

fn host_server_is_reachable(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    let address = some_address();
    ctx.flags = vec!["--ip".into(), address.to_string()];
    let port = ctx.sandbox.listen(PORT)?;
    let to = format!("{GATEWAY}:{port}");
    let (argv, nonce) = ctx.probe_command(NETWORK, &["--connect", &to]);
    let run: Run<Network> = ctx.command(argv, nonce.clone())?;
    let network = report_or_fail!(run);
    let came = ctx.sandbox.accepted()?;
    if came.contains(&nonce) {
        return Ok(Verdict::Pass);
    }
    let expected = format!("a TCP connection from {address} to {to}, the server in the runtime's own network namespace");
    let why = match &network.connect {
        Some(outcome) => outcome
            .error
            .clone()
            .unwrap_or_else(|| "it connected, but not to the checker's server".into()),
        None => "the probe did not try".into(),
    };
    // The host's route to the container exists only when its end has the container's address
    // as its peer and is up.
    let host_routes =
        std::fs::read_to_string(format!("/proc/{}/net/route", ctx.sandbox.holder_pid()))
            .map(|text| probe::parse_routes(&text))
            .unwrap_or_default();
    let back = host_routes.iter().any(|r| {
        let network: Ipv4Addr = r.destination.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mask = u32::MAX
            .checked_shl(32 - u32::from(r.prefix_len))
            .unwrap_or(0);
        r.prefix_len > 0 && u32::from(address) & mask == u32::from(network)
    });
    Ok(match back {
        true => fail(expected, format!("it failed: {why}")),
        false => fail(
            expected,
            format!("it failed: {why}; the runtime's host has no route to {address}: its end of the cable has no address with {address} as peer, or is down"),
        ),
    })
}

fn default_addresses_differ(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    ctx.flags = Vec::new();
    let (argv, nonce) = ctx.probe_command(NETWORK, &["--hold"]);
    let second = ctx.spec(argv, nonce);
    let (first, inner) = ctx.hold(NETWORK, &[], |held| {
        run::run_holding::<Network, ()>(&second, held.sandbox, |_| ())
    })?;
    let first = report_or_fail!(first);
    let Some(inner) = inner else {
        return Ok(fail(
            "two containers running at once",
            "the first one's probe never reported",
        ));
    };
    let (second, _) = inner?;
    let second = report_or_fail!(second);
    let expected = "two addresses in 10.13.0.2 to 10.13.0.254, different";
    let (a, b) = (first.addresses_of("eth0"), second.addresses_of("eth0"));
    let ours = |has: &[String]| {
        has.iter().find_map(|a| {
            let ip: Ipv4Addr = a.split('/').next()?.parse().ok()?;
            kit::cli::check_ip(ip).is_ok().then_some(ip)
        })
    };
    Ok(match (ours(&a), ours(&b)) {
        (Some(x), Some(y)) if x != y => Verdict::Pass,
        (Some(x), Some(_)) => fail(expected, format!("both containers have {x}")),
        _ => fail(
            expected,
            format!("eth0 of the first has {a:?}, of the second {b:?}"),
        ),
    })
}

fn host_end_removed(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    ctx.flags = vec!["--ip".into(), some_address().to_string()];
    let before = ctx.sandbox.links()?;
    // Hold the container's network namespace open past its end: the pair then lives on until
    // the runtime deletes it, and a runtime that leaves it to the namespace's death is seen.
    let (run, held) = ctx.hold(NETWORK, &[], |held| {
        let pid = held.probe_pid?;
        std::fs::File::open(format!("/proc/{pid}/ns/net")).ok()
    })?;
    let _ = report_or_fail!(run);
    let after = ctx.sandbox.links()?;
    drop(held);
    let left: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    Ok(match left.is_empty() {
        true => Verdict::Pass,
        false => fail(
            format!("the runtime's host has the links it had before: {before:?}"),
            format!("{left:?} still there after the runtime exited (the container's network namespace was still open)"),
        ),
    })
}

fn bad_ip_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.with_network()?;
    for bad in [
        "10.13.0.300",
        "10.14.0.7",
        "10.13.0.0",
        "10.13.0.1",
        "10.13.0.255",
    ] {
        ctx.flags = vec!["--ip".into(), bad.into()];
        let before = super::input::leftovers(ctx);
        let links = ctx.sandbox.links()?;
        let (argv, nonce) = ctx.probe_command(REPORT, &[]);
        let run: Run<Report> = ctx.command(argv, nonce)?;
        let mut verdict = super::input::refused(&run, ctx, &before, &[])?;
        let made: Vec<String> = ctx
            .sandbox
            .links()?
            .into_iter()
            .filter(|l| !links.contains(l))
            .collect();
        if verdict == Verdict::Pass && !made.is_empty() {
            verdict = fail(
                "exit status 2, and no link made for a container that never ran",
                format!("{made:?} on the runtime's host"),
            );
        }
        if verdict != Verdict::Pass {
            return Ok(verdict.map_observed(|seen| format!("with --ip {bad}: {seen}")));
        }
    }
    Ok(Verdict::Pass)
}
