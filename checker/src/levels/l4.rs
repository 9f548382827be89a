//! Level 4 — UTS and IPC namespaces.

use crate::check::{fail, own_namespaces, report_or_fail, Check, Ctx, Verdict};
use anyhow::Result;
use probe::REPORT;

const UTS: &str = "https://man7.org/linux/man-pages/man7/uts_namespaces.7.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L4.uts-ns.namespaces",
        level: 4,
        title: "the container has UTS and IPC namespaces of its own",
        hint: "In the child, unshare(CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC) before sethostname.",
        doc: UTS,
        run: own_uts_and_ipc,
    },
    Check {
        id: "L4.uts-ns.hostname",
        level: 4,
        title: "the hostname inside is --hostname",
        hint: "Call sethostname(args.hostname) in the child, after unsharing CLONE_NEWUTS.",
        doc: "https://man7.org/linux/man-pages/man2/sethostname.2.html",
        run: hostname_is_the_flag,
    },
    Check {
        id: "L4.uts-ns.default-hostname",
        level: 4,
        title: "without --hostname, the hostname is the container id",
        hint: "When args.hostname is None, use container.id (Docker does the same with the short id).",
        doc: UTS,
        run: hostname_defaults_to_the_id,
    },
    Check {
        id: "L4.uts-ns.runtime-hostname",
        level: 4,
        title: "the runtime's own hostname (the host's) is unchanged",
        hint: "sethostname changes the hostname of the caller's UTS namespace: unshare CLONE_NEWUTS first, then sethostname.",
        doc: UTS,
        run: runtime_hostname_unchanged,
    },
    super::input_more::BAD_HOSTNAME,
];

fn own_uts_and_ipc(ctx: &mut Ctx) -> Result<Verdict> {
    own_namespaces(ctx, &["uts", "ipc"])
}

fn hostname_is_the_flag(ctx: &mut Ctx) -> Result<Verdict> {
    let wanted = format!("box-{}", &crate::run::nonce()[..6]);
    ctx.flags = vec!["--hostname".into(), wanted.clone()];
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    Ok(match &report.hostname {
        seen if *seen == wanted => Verdict::Pass,
        seen => fail(
            format!("hostname {wanted:?} inside"),
            format!("hostname {seen:?}"),
        ),
    })
}

fn hostname_defaults_to_the_id(ctx: &mut Ctx) -> Result<Verdict> {
    let container_dir = ctx.container_dir.clone();
    // The id is the name of the container's directory: look while the container runs.
    let (run, ids) = ctx.hold(REPORT, &[], |_| {
        std::fs::read_dir(&container_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    })?;
    let report = report_or_fail!(run);
    let hostname = &report.hostname;
    let ids = ids.unwrap_or_default();
    Ok(if ids.contains(hostname) {
        Verdict::Pass
    } else {
        fail(
            format!("the container id as hostname (one of {ids:?})"),
            format!("hostname {hostname:?}"),
        )
    })
}

fn runtime_hostname_unchanged(ctx: &mut Ctx) -> Result<Verdict> {
    let before = ctx.sandbox.hostname()?;
    ctx.flags = vec![
        "--hostname".into(),
        format!("box-{}", &crate::run::nonce()[..6]),
    ];
    let run = ctx.probe(REPORT, &[])?;
    report_or_fail!(run);
    let after = ctx.sandbox.hostname()?;
    Ok(if after == before {
        Verdict::Pass
    } else {
        fail(
            format!("the runtime's hostname stays {before:?} (on a real host: the host's)"),
            format!("it became {after:?}: sethostname ran before the UTS namespace was unshared"),
        )
    })
}
