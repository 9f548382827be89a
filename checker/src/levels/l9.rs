//! Level 9 — a memory limit, and saying why the OOM killer struck.

use super::cgroup::{
    cleanup_verdict, group_of, held_group, oom_kill_of, Group, KernelLog, CGROUP_V2, MEMORY_V1,
};
use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
use crate::run::{self, Run, Status};
use anyhow::Result;
use probe::{Touched, REPORT, TOUCH_MEMORY};

/// A limit of 64 MiB, swap included: what the probe touches beyond it cannot go to swap.
const OOM_FLAGS: [&str; 4] = ["--memory", "64m", "--memory-swap", "64m"];
const LIMIT: u64 = 64 << 20;

pub const CHECKS: &[Check] = &[
    Check {
        id: "L9.memory-cgroup.limit",
        level: 9,
        title: "--memory 64m --memory-swap 64m: a 64 MiB limit, and no swap beyond it",
        hint: "In the container's group: v2 writes 67108864 to memory.max and memory.swap.max = swap - memory = 0; v1 writes memory.limit_in_bytes first, then memory.memsw.limit_in_bytes (memory + swap) where the file exists.",
        doc: CGROUP_V2,
        run: limit_files_hold_64_mib,
    },
    Check {
        id: "L9.memory-cgroup.swap",
        level: 9,
        title: "--memory 64m alone allows as much swap again (memory + swap = 128 MiB); --memory-swap -1 allows unlimited swap",
        hint: "Docker's --memory-swap is memory plus swap. Not given, it is twice --memory: v1 memory.memsw.limit_in_bytes = 2 × memory, v2 memory.swap.max = memory (the swap alone). -1 is unlimited: v1 -1, v2 \"max\". Equal to --memory is what means no swap.",
        doc: "https://docs.docker.com/engine/containers/resource_constraints/#--memory-swap-details",
        run: swap_follows_docker,
    },
    super::input::MEMORY_SWAP,
    Check {
        id: "L9.memory-cgroup.under-limit",
        level: 9,
        title: "under --memory 64m, touching 32 MiB succeeds",
        hint: "The limit is 64 MiB, in bytes: 64 × 1024 × 1024 = 67108864. A command using half of it must run to the end: check how --memory's size is converted (kit parses it for you).",
        doc: CGROUP_V2,
        run: under_the_limit_succeeds,
    },
    Check {
        id: "L9.memory-cgroup.oom-kill",
        level: 9,
        title: "touching 128 MiB under a 64 MiB limit: the OOM killer kills the command in its group, the runtime exits 137",
        hint: "With the limit on the container's own group, the kernel's OOM killer kills the command there; waitpid then says it was killed by SIGKILL, which the runtime turns into exit status 128 + 9 = 137.",
        doc: MEMORY_V1,
        run: over_the_limit_is_oom_killed,
    },
    Check {
        id: "L9.memory-cgroup.oom-message",
        level: 9,
        title: "after an OOM kill, the runtime says so on stderr: out of memory, and the limit",
        hint: "When the child died of SIGKILL, read the group's OOM kill count before removing it (v2 memory.events, v1 memory.oom_control: oom_kill N) and print e.g. \"killed: out of memory (limit 64 MiB)\".",
        doc: CGROUP_V2,
        run: oom_kill_is_explained,
    },
    Check {
        id: "L9.memory-cgroup.plain-kill",
        level: 9,
        title: "a command killed by SIGKILL without any OOM: exit 137, and the runtime does not say \"out of memory\"",
        hint: "Exit 137 only says SIGKILL: anyone may send it (kill -9, a supervisor). Say \"out of memory\" only when the group's OOM kill counter is above 0: v2 memory.events, v1 memory.oom_control, line oom_kill N, read before the group is removed.",
        doc: CGROUP_V2,
        run: plain_kill_is_not_called_oom,
    },
    Check {
        id: "L9.memory-cgroup.cleanup",
        level: 9,
        title: "after an OOM kill too, the group is removed",
        hint: "Remove the group on every way out of run, the OOM kill included: rmdir it after waitpid, whatever the status (a Drop guard does it even on an early return).",
        doc: CGROUP_V2,
        run: group_removed_after_oom_kill,
    },
    super::input_more::SMALL_MEMORY,
];

fn limit_files_hold_64_mib(ctx: &mut Ctx) -> Result<Verdict> {
    let seen = held_group(ctx, &OOM_FLAGS, (REPORT, &[]), "memory", |g, _| {
        limits_wrong(g)
    })?;
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((_, wrong)) if wrong.is_empty() => Verdict::Pass,
        Ok((_, wrong)) => fail(
            "a limit of 67108864 bytes (64 MiB), swap included",
            wrong.join("; "),
        ),
    })
}

/// The limit files that do not hold 64 MiB and no swap, as "file holds value".
fn limits_wrong(group: &Group) -> Vec<String> {
    let wanted: &[(&str, &str)] = if group.unified {
        &[("memory.max", "67108864"), ("memory.swap.max", "0")]
    } else {
        &[
            ("memory.limit_in_bytes", "67108864"),
            ("memory.memsw.limit_in_bytes", "67108864"),
        ]
    };
    wanted
        .iter()
        // The swap files exist only where the kernel accounts swap.
        .filter(|(file, _)| *file == wanted[0].0 || group.dir.join(file).exists())
        .filter_map(|(file, value)| {
            let seen = group
                .read(file)
                .unwrap_or_else(|| "nothing readable".into());
            (seen != *value).then(|| format!("{} holds {seen}", group.file(file)))
        })
        .collect()
}

/// What Docker's `--memory-swap` asks of the group's swap file, for `--memory` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapAsked {
    /// Not given: as much swap as memory.
    Unset,
    /// `-1`: no limit on swap.
    Unlimited,
}

/// The swap file of the layout, and whether `seen` in it is what `asked` means for `memory`
/// bytes, with what was wanted in words.
pub fn swap_judged(unified: bool, memory: u64, asked: SwapAsked, seen: &str) -> (bool, String) {
    // v1 shows "unlimited" as the largest page-aligned count (9223372036854771712).
    let unlimited_v1 = |v: &str| v.parse::<u64>().is_ok_and(|v| v >= 1 << 62) || v == "-1";
    match (unified, asked) {
        (true, SwapAsked::Unset) => (
            seen == memory.to_string(),
            format!("{memory} (as much swap as memory: memory.swap.max is the swap alone)"),
        ),
        (true, SwapAsked::Unlimited) => (seen == "max", "max".into()),
        (false, SwapAsked::Unset) => (
            seen == (2 * memory).to_string(),
            format!("{} (memory plus as much swap: twice --memory)", 2 * memory),
        ),
        (false, SwapAsked::Unlimited) => (unlimited_v1(seen), "unlimited (-1)".into()),
    }
}

fn swap_follows_docker(ctx: &mut Ctx) -> Result<Verdict> {
    let cases: [(&[&str], SwapAsked); 2] = [
        (&["--memory", "64m"], SwapAsked::Unset),
        (
            &["--memory", "64m", "--memory-swap", "-1"],
            SwapAsked::Unlimited,
        ),
    ];
    for (flags, asked) in cases {
        let seen = held_group(ctx, flags, (REPORT, &[]), "memory", |g, _| {
            let file = if g.unified {
                "memory.swap.max"
            } else {
                "memory.memsw.limit_in_bytes"
            };
            let exists = g.dir.join(file).exists();
            (g.unified, g.file(file), exists, g.read(file))
        })?;
        let (unified, file, exists, value) = match seen {
            Err(verdict) => return Ok(verdict),
            Ok((_, seen)) => seen,
        };
        if !exists {
            return Ok(Verdict::Skip(format!(
                "{file} does not exist: this kernel does not account swap (built without it, or booted with swapaccount=0), so there is no swap limit to check"
            )));
        }
        let value = value.unwrap_or_else(|| "nothing readable".into());
        let (ok, wanted) = swap_judged(unified, LIMIT, asked, &value);
        if !ok {
            let given = flags.join(" ");
            let why = match (asked, value == LIMIT.to_string() || value == "0") {
                (SwapAsked::Unset, true) => ": that is no swap at all, what --memory-swap equal to --memory asks; unset, Docker allows as much swap as memory",
                _ => "",
            };
            return Ok(fail(
                format!("with {given}: {file} holds {wanted}"),
                format!("{file} holds {value}{why}"),
            ));
        }
    }
    Ok(Verdict::Pass)
}

fn plain_kill_is_not_called_oom(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = OOM_FLAGS.iter().map(|f| f.to_string()).collect();
    // SIGKILL from the host: no OOM kill, but the same exit status.
    let run = match ctx.kill_held_probe()? {
        Ok(run) => run,
        Err(verdict) => return Ok(verdict),
    };
    let expected =
        "exit status 137, and no \"out of memory\" on stderr: the OOM killer did not strike";
    Ok(if run.status != Status::Exited(137) {
        fail(
            expected,
            format!("{}{}", run.status, crate::check::stderr_tail(&run)),
        )
    } else if run.stderr.to_lowercase().contains("out of memory") {
        fail_hinting(
            expected,
            format!("the checker sent SIGKILL itself (no OOM kill), and stderr says: {:?}", tail(run.stderr.trim())),
            "Exit 137 is any SIGKILL: read the group's OOM kill counter (v2 memory.events, v1 memory.oom_control, line oom_kill N) before removing it, and say \"out of memory\" only when it is above 0.",
        )
    } else {
        Verdict::Pass
    })
}

fn under_the_limit_succeeds(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = vec!["--memory".into(), "64m".into()];
    let run = ctx.probe(TOUCH_MEMORY, &["32"])?;
    let touched = report_or_fail!(run);
    Ok(match run.status {
        Status::Exited(0) if touched.mib == 32 => Verdict::Pass,
        status => fail(
            "the command touches 32 MiB and exits 0",
            format!(
                "{status}; the probe said {}",
                touched.error.as_deref().unwrap_or("nothing more")
            ),
        ),
    })
}

/// What the checker saw of the probe before it touched memory: its host pid and its group.
type Seen = Option<(u32, std::result::Result<Group, Verdict>)>;

/// Runs the probe that touches 128 MiB under the 64 MiB limit. It says "ready" first and waits,
/// so that the checker finds its pid and group before the OOM killer may strike.
fn over_the_limit(ctx: &mut Ctx) -> Result<(Run<Touched>, Seen)> {
    ctx.flags = OOM_FLAGS.iter().map(|f| f.to_string()).collect();
    let (argv, nonce) = ctx.probe_command(TOUCH_MEMORY, &["128", "--wait"]);
    let spec = ctx.spec(argv, nonce);
    let (run, seen) = run::run_holding(&spec, &ctx.sandbox, |held| {
        held.probe_pid
            .map(|pid| (pid, group_of(pid, "memory", held.cgroup_parent)))
    })?;
    ctx.record(&run, &spec.command[0]);
    Ok((run, seen.flatten()))
}

fn over_the_limit_is_oom_killed(ctx: &mut Ctx) -> Result<Verdict> {
    let mut log = match KernelLog::from_now() {
        Ok(log) => log,
        Err(e) => {
            return Ok(Verdict::Skip(format!(
                "the kernel log (/dev/kmsg), where the OOM killer says whom it killed, cannot be read here: {e}"
            )))
        }
    };
    let (run, seen) = over_the_limit(ctx)?;
    let touched = report_or_fail!(run);
    let (pid, group) = match seen {
        Some((pid, Ok(group))) => (pid, group),
        Some((_, Err(verdict))) => return Ok(verdict),
        None => {
            return Ok(fail(
                "the probe's process can be found on the host",
                "it could not",
            ))
        }
    };
    let expected = "the OOM killer kills the command in its own group, and the runtime exits 137";
    if touched.mib > 0 {
        return Ok(fail(
            expected,
            format!(
                "the command touched {} MiB: nothing limited it",
                touched.mib
            ),
        ));
    }
    let oom = oom_kill_of(&log.messages(), pid);
    Ok(if !oom.memcg_kill {
        fail(
            expected,
            format!(
                "{}; the kernel log shows no OOM kill of the command (host pid {pid})",
                run.status
            ),
        )
    } else if oom.oom_memcg.as_deref().is_some_and(|g| g != group.path) {
        fail(
            expected,
            format!(
                "the OOM killer struck at the limit of {}, not of the container's group {}",
                oom.oom_memcg.unwrap_or_default(),
                group.path
            ),
        )
    } else if run.status != Status::Exited(137) {
        fail(
            expected,
            format!(
                "the command was OOM-killed; the runtime ended with {}",
                run.status
            ),
        )
    } else {
        Verdict::Pass
    })
}

fn oom_kill_is_explained(ctx: &mut Ctx) -> Result<Verdict> {
    let (run, _) = over_the_limit(ctx)?;
    report_or_fail!(run);
    let said = run.stderr.to_lowercase();
    let limit = format!("{} MiB", LIMIT >> 20);
    Ok(
        if said.contains("out of memory") && run.stderr.contains(&limit) {
            Verdict::Pass
        } else {
            fail(
                format!("stderr says \"out of memory\" and names the limit ({limit})"),
                match run.stderr.trim() {
                    "" => format!("{}, and nothing on stderr", run.status),
                    text => format!("{}, and stderr: {:?}", run.status, tail(text)),
                },
            )
        },
    )
}

/// The last lines of a text, at most 300 bytes.
fn tail(text: &str) -> &str {
    let from = text.len().saturating_sub(300);
    let from = (from..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[from..]
}

fn group_removed_after_oom_kill(ctx: &mut Ctx) -> Result<Verdict> {
    let (run, _) = over_the_limit(ctx)?;
    report_or_fail!(run);
    Ok(cleanup_verdict(&run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_unset_is_as_much_swap_as_memory() {
        let m = 64 << 20;
        assert!(swap_judged(false, m, SwapAsked::Unset, "134217728").0);
        assert!(!swap_judged(false, m, SwapAsked::Unset, "67108864").0);
        assert!(
            !swap_judged(false, m, SwapAsked::Unset, "9223372036854771712").0,
            "unlimited is not twice"
        );
        assert!(swap_judged(true, m, SwapAsked::Unset, "67108864").0);
        assert!(!swap_judged(true, m, SwapAsked::Unset, "0").0);
        assert!(!swap_judged(true, m, SwapAsked::Unset, "134217728").0);
    }

    #[test]
    fn swap_minus_one_is_unlimited() {
        let m = 64 << 20;
        assert!(swap_judged(false, m, SwapAsked::Unlimited, "9223372036854771712").0);
        assert!(!swap_judged(false, m, SwapAsked::Unlimited, "134217728").0);
        assert!(swap_judged(true, m, SwapAsked::Unlimited, "max").0);
        assert!(!swap_judged(true, m, SwapAsked::Unlimited, "0").0);
    }
}
