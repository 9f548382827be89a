//! Level 11 — a user: the command runs as `--user UID[:GID]`.

use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
use crate::run::RUNTIME_GROUPS;
use anyhow::Result;
use probe::{Report, PRIVILEGES, REPORT};

const CREDENTIALS: &str = "https://man7.org/linux/man-pages/man7/credentials.7.html";
const SETGROUPS: &str = "https://man7.org/linux/man-pages/man2/setgroups.2.html";

/// The user the checks ask for: a uid and a gid that differ, and that no image names.
pub const UID: u32 = 1234;
pub const GID: u32 = 2345;

/// `--user 1234:2345`.
pub fn user_flags() -> Vec<String> {
    vec!["--user".into(), format!("{UID}:{GID}")]
}

/// The image's marker file: owned by root, mode 644 (see kit::builder).
const ROOT_FILE: &str = "/rubber-crab-image";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L11.user.ids",
        level: 11,
        title: "--user 1234:2345: the command runs as uid 1234, gid 2345 (real, effective, saved)",
        hint: "In the child, last thing before exec: setgid(Gid::from_raw(2345)), then setuid(Uid::from_raw(1234)). As root, setuid and setgid set the real, effective and saved ids at once; seteuid alone would leave a real uid 0 that can take root back.",
        doc: CREDENTIALS,
        run: ids_are_the_flag,
    },
    Check {
        id: "L11.user.groups",
        level: 11,
        title: "the runtime's supplementary groups do not follow the command",
        hint: "setgroups(&[]) before setgid and setuid: setuid changes the user, not the groups the process already holds, and a group can open files the user cannot. Try: your runtime run --user 1234:2345 -- /bin/id (groups= must not list the runtime's).",
        doc: SETGROUPS,
        run: supplementary_groups_cleared,
    },
    Check {
        id: "L11.user.root-file",
        level: 11,
        title: "as --user 1234:2345 the command cannot write a root-owned file",
        hint: "A non-root user writes a file of root's, mode 644, only with a capability (CAP_DAC_OVERRIDE) kept across setuid. Switch with a plain setuid as root, without PR_SET_KEEPCAPS and without raising ambient capabilities.",
        doc: "https://man7.org/linux/man-pages/man7/capabilities.7.html",
        run: root_file_not_writable,
    },
    Check {
        id: "L11.user.default-gid",
        level: 11,
        title: "--user 1234 (no group) runs with gid 0, as Docker does",
        hint: "Without :GID, Docker takes the group from the image's /etc/passwd, and 0 when the image does not name the user (our images never do): setgid(0), not setgid(uid).",
        doc: CREDENTIALS,
        run: default_gid_is_zero,
    },
];

/// The four ids of a `Uid:` or `Gid:` line of /proc/self/status: real, effective, saved, fs.
fn status_ids(report: &Report, key: &str) -> Vec<u32> {
    report
        .status
        .get(key)
        .map(|line| {
            line.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `1234 (real), 0 (effective), ...` for a verdict.
fn show_ids(ids: &[u32]) -> String {
    let names = ["real", "effective", "saved", "filesystem"];
    ids.iter()
        .zip(names)
        .map(|(id, name)| format!("{id} ({name})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids_are_the_flag(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = user_flags();
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let (uids, gids) = (status_ids(report, "Uid"), status_ids(report, "Gid"));
    let expected = format!("uid {UID} and gid {GID}, real, effective and saved alike");
    Ok(if uids.is_empty() || gids.is_empty() {
        fail(expected, "no Uid: or Gid: line in /proc/self/status inside")
    } else if uids.iter().any(|&u| u != UID) {
        let root_left = uids.contains(&0) && uids.contains(&UID);
        let observed = format!("uids {}", show_ids(&uids));
        match root_left {
            true => fail_hinting(
                expected,
                format!("{observed}: root is still one of them, and a process with a real or saved uid 0 can become root again"),
                "Use setuid (and setgid), which as root set all three ids, not seteuid/setegid, which set only the effective one.",
            ),
            false => fail(expected, observed),
        }
    } else if gids.iter().any(|&g| g != GID) {
        fail(expected, format!("gids {}", show_ids(&gids)))
    } else {
        Verdict::Pass
    })
}

fn supplementary_groups_cleared(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = user_flags();
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let extra: Vec<u32> = report
        .groups
        .iter()
        .copied()
        .filter(|&g| g != report.gid)
        .collect();
    let given = RUNTIME_GROUPS.map(|g| g.to_string()).join(", ");
    Ok(if extra.is_empty() {
        Verdict::Pass
    } else {
        let inherited = extra.iter().any(|g| RUNTIME_GROUPS.contains(g));
        fail(
            format!("no supplementary groups (the checker started the runtime with {given})"),
            format!(
                "getgroups() inside: {extra:?}{}",
                match inherited {
                    true => ": the runtime's own, passed on: call setgroups(&[]) before setgid and setuid",
                    false => "",
                }
            ),
        )
    })
}

fn root_file_not_writable(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = user_flags();
    let op = format!("write:{ROOT_FILE}");
    let run = ctx.probe(PRIVILEGES, &["--op", &op])?;
    let reply = report_or_fail!(run);
    let Some(tried) = reply.get(&op) else {
        return Ok(fail(
            "the probe's answer",
            "it did not try to open the file",
        ));
    };
    let file = tried
        .detail
        .clone()
        .unwrap_or_else(|| "unknown owner".into());
    let expected = format!("opening {ROOT_FILE} ({file}) for writing fails with EACCES");
    Ok(match tried.errno.as_deref() {
        Some("EACCES") => Verdict::Pass,
        None => fail(
            expected,
            format!(
                "it opened, as uid {} gid {}: the command can write root's files",
                reply.uid, reply.gid
            ),
        ),
        Some(other) => fail(expected, format!("it failed with {other}")),
    })
}

fn default_gid_is_zero(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = vec!["--user".into(), UID.to_string()];
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let gids = status_ids(report, "Gid");
    let expected = format!("uid {UID}, gid 0 (Docker's group for a user its image does not name)");
    Ok(if report.uid != UID {
        fail(expected, format!("uid {}", report.uid))
    } else if gids.is_empty() || gids.iter().any(|&g| g != 0) {
        fail(expected, format!("gids {}", show_ids(&gids)))
    } else {
        Verdict::Pass
    })
}
