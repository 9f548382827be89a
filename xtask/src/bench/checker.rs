//! `cargo xtask bench checker [LEVEL] [--rounds N] [--against CHECKER]`: the checker itself, as
//! an attendee runs it (debug build, `--solution`).
//!
//! Without LEVEL, the figures of a verdict's speed, each round running `checker level3`,
//! `level7`, `level10` and `all` (`--solution --format json`): the median check (over every
//! check of `all`), and each run's wall time; medians over the rounds. With `--against`, another
//! checker binary (an older build, say) runs the same commands in the same rounds, interleaved
//! (ABBA...), so that the machine's load falls on both alike. Then the slowest checks, with
//! where their time goes (the phases `RUBBER_CRAB_TRACE=1` prints: the runtime's own run, and
//! the checker's work around it), and which of them need their wall time by nature.
//!
//! With LEVEL, `checker levelN --solution` run after run (default 10 runs), each row one run:
//! its wall time, the median and slowest of its checks, and the number of memory cgroups the
//! kernel holds before and after it (`/proc/cgroups`, which counts the *dying* ones too:
//! removed groups kept while pages are still charged to them). A checker that leaks dying
//! memory cgroups shows a count that climbs run after run, and wall times that climb with it.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const RUNS: usize = 10;

/// Rounds of the figures (four checker runs each, about 15 s), unless `--rounds` says.
pub const ROUNDS: usize = 5;

/// The runs of a round: (what the figure is called, the checker's arguments).
const FIGURES: &[(&str, &str)] = &[
    ("level3", "level3"),
    ("level7", "level7"),
    ("level10", "level10"),
    ("all", "all"),
];

/// Checks whose time is what they test: no checker can make them shorter.
const BY_NATURE: &[(&str, &str)] = &[
    (
        "L8.cpu-cgroup.throttled",
        "a command spins 1.5 s under a quarter-CPU quota",
    ),
    (
        "L0.fork-exec.waits",
        "the command sleeps 400 ms: the runtime must wait for it",
    ),
    (
        "L9.memory-cgroup.oom-kill",
        "a command touches memory until the OOM killer ends it",
    ),
    (
        "L9.memory-cgroup.oom-message",
        "a command touches memory until the OOM killer ends it",
    ),
    (
        "L10.pids-cgroup.fork-bomb",
        "a command forks until the pids limit refuses",
    ),
];

/// One checker run: its wall time in ms, and each check's duration and phases.
struct Measured {
    wall_ms: f64,
    checks: Vec<(String, u64)>,
    /// Per check: the phases its trace line named, in ms.
    phases: BTreeMap<String, Vec<(String, f64)>>,
}

fn build(root: &Path, packages: &[String]) -> Result<()> {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(root)
        .args(["build", "--quiet", "-p", "checker", "-p", "probe"]);
    for package in packages {
        command.args(["-p", package]);
    }
    if !command.status()?.success() {
        bail!("the checker or the solutions did not build");
    }
    Ok(())
}

/// Runs `checker ARGS --solution --format json` with the trace on.
fn measure(root: &Path, checker: &Path, target: &str) -> Result<Measured> {
    let began = Instant::now();
    let out = Command::new(checker)
        .current_dir(root)
        .arg(target)
        .args(["--solution", "--format", "json"])
        .env("RUBBER_CRAB_TRACE", "1")
        .output()
        .with_context(|| format!("running {}", checker.display()))?;
    let wall_ms = began.elapsed().as_secs_f64() * 1000.0;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} {target}: no JSON report (stderr: {})",
            checker.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if report["result"] != "pass" {
        bail!(
            "{} {target} --solution did not pass: {}",
            checker.display(),
            report["summary"]
        );
    }
    let checks = report["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("?").to_string(),
                c["duration_ms"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    Ok(Measured {
        wall_ms,
        checks,
        phases: trace_lines(&String::from_utf8_lossy(&out.stderr)),
    })
}

/// `trace ID 12.3 ms (ends at 456 ms): sandbox.start 2.5, spawn 4.1×2, ...` lines, per check.
fn trace_lines(stderr: &str) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut found = BTreeMap::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("trace ") else {
            continue;
        };
        let (Some((id, _)), Some((_, phases))) = (rest.split_once(' '), rest.split_once("): "))
        else {
            continue;
        };
        let phases = phases
            .split(", ")
            .filter_map(|part| {
                let (name, value) = part.rsplit_once(' ')?;
                let ms = value.split('×').next()?.parse().ok()?;
                Some((name.to_string(), ms))
            })
            .collect();
        found.insert(id.to_string(), phases);
    }
    found
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// The figures, `rounds` rounds, this checker and (interleaved) `against`.
pub fn figures(root: &Path, rounds: usize, against: Option<PathBuf>) -> Result<()> {
    let solutions: Vec<String> = kit::ladder::LADDER
        .iter()
        .map(|l| format!("solution{}", l.number))
        .collect();
    build(root, &solutions)?;
    let ours = root.join("target/debug/checker");
    let mut checkers = vec![("this checker".to_string(), ours)];
    if let Some(other) = against {
        checkers.push((format!("--against {}", other.display()), other));
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = load();
    let cgroups_before = memory_cgroups()?;
    // runs[checker][figure] = one Measured per round.
    let mut runs: Vec<Vec<Vec<Measured>>> = checkers
        .iter()
        .map(|_| FIGURES.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..rounds {
        let order: Vec<usize> = match round % 2 {
            0 => (0..checkers.len()).collect(),
            _ => (0..checkers.len()).rev().collect(),
        };
        for (f, (_, target)) in FIGURES.iter().enumerate() {
            for &c in &order {
                let measured = measure(root, &checkers[c].1, target)?;
                runs[c][f].push(measured);
            }
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    println!(
        "`checker … --solution`, debug build, {rounds} rounds{}; {cpus} CPUs, load average {load_before} before, {} after; memory cgroups {cgroups_before} → {}\n",
        if checkers.len() > 1 { ", interleaved" } else { "" },
        load(),
        memory_cgroups()?,
    );
    let mut header = format!("{:<26}", "median of the rounds");
    for (name, _) in &checkers {
        header.push_str(&format!(" {name:>16}"));
    }
    println!("{header}");
    let all = FIGURES.len() - 1;
    let mut row = format!("{:<26}", "one check (every check of all)");
    for per_checker in &runs {
        let per_round = per_checker[all]
            .iter()
            .map(|m| median(m.checks.iter().map(|c| c.1 as f64).collect()))
            .collect();
        row.push_str(&format!(" {:>13.0} ms", median(per_round)));
    }
    println!("{row}");
    for (f, (figure, _)) in FIGURES.iter().enumerate() {
        let mut row = format!("{:<26}", format!("checker {figure} (wall)"));
        for per_checker in &runs {
            let walls = per_checker[f].iter().map(|m| m.wall_ms / 1000.0).collect();
            row.push_str(&format!(" {:>14.2} s", median(walls)));
        }
        println!("{row}");
    }
    slowest(&runs[0][all]);
    Ok(())
}

/// The slowest checks of `all` (median over the rounds), each with where its time went.
fn slowest(rounds: &[Measured]) {
    let mut per_check: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for measured in rounds {
        for (id, ms) in &measured.checks {
            per_check.entry(id).or_default().push(*ms as f64);
        }
    }
    let mut ranked: Vec<(&str, f64)> = per_check
        .into_iter()
        .map(|(id, times)| (id, median(times)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "\nslowest checks of `all` (median ms); runtime = its own runs, spawn to exit (the probe's report, for a held run); checker = the rest, its largest phases named:"
    );
    for (id, ms) in ranked.iter().take(10) {
        let phase = |name: &str| {
            median(
                rounds
                    .iter()
                    .filter_map(|m| m.phases.get(*id))
                    .map(|phases| {
                        phases
                            .iter()
                            .filter(|(n, _)| n == name)
                            .map(|(_, ms)| ms)
                            .sum()
                    })
                    .collect(),
            )
        };
        let runtime = phase("wait.runtime") + phase("wait.probe") + phase("hold");
        let mut around: Vec<(&str, f64)> = [
            "sandbox.start",
            "spawn",
            "cage.create",
            "after.cage-checks",
            "after.kill",
            "observe",
            "ctx.drop",
            "guard.start",
            "guard.finish",
        ]
        .iter()
        .map(|name| (*name, phase(name)))
        .collect();
        around.sort_by(|a, b| b.1.total_cmp(&a.1));
        let named: Vec<String> = around
            .iter()
            .take(3)
            .map(|(name, ms)| format!("{name} {ms:.0}"))
            .collect();
        let nature = BY_NATURE
            .iter()
            .find(|(check, _)| check == id)
            .map(|(_, why)| format!("  [by nature: {why}]"))
            .unwrap_or_default();
        println!(
            "  {id:<32} {ms:>6.0}  runtime {runtime:>5.0}, checker {:>4.0} ({}){nature}",
            (ms - runtime).max(0.0),
            named.join(", ")
        );
    }
}

/// `checker levelN --solution`, `runs` times in a row.
pub fn table(root: &Path, level: u32, runs: usize) -> Result<()> {
    build(root, &[format!("solution{level}")])?;
    let checker = root.join("target/debug/checker");
    println!(
        "`checker level{level} --solution`, debug build, {runs} runs in a row; memory cgroups = /proc/cgroups (dying ones included)\n"
    );
    println!(
        "{:>3} {:>9} {:>9} {:>15}  slowest checks",
        "run", "wall", "median", "memory cgroups"
    );
    for run in 1..=runs {
        let before = memory_cgroups()?;
        let measured = measure(root, &checker, &format!("level{level}"))?;
        let after = memory_cgroups()?;
        let mut checks: Vec<(u64, String)> = measured
            .checks
            .iter()
            .map(|(id, ms)| (*ms, id.clone()))
            .collect();
        checks.sort();
        let median = checks.get(checks.len() / 2).map_or(0, |c| c.0);
        let slowest: Vec<String> = checks
            .iter()
            .rev()
            .take(3)
            .map(|(ms, id)| format!("{id} {ms} ms"))
            .collect();
        println!(
            "{run:>3} {:>7.1} s {median:>6} ms {before:>6} -> {after:<6}  {}",
            measured.wall_ms / 1000.0,
            slowest.join(", ")
        );
    }
    Ok(())
}

/// The memory controller's `num_cgroups` in `/proc/cgroups`.
fn memory_cgroups() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/cgroups")?;
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"memory"))
        .and_then(|f| f.get(2)?.parse().ok())
        .context("no memory controller in /proc/cgroups")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_are_read_per_check_with_repeated_phases_summed_by_the_checker() {
        let stderr = "building…\n\
            trace L0.fork-exec.output 52.4 ms (ends at 279 ms): sandbox.start 2.5, spawn 4.7×2, wait.runtime 35.8\n\
            checker: warning: x\n";
        let found = trace_lines(stderr);
        assert_eq!(
            found["L0.fork-exec.output"],
            [
                ("sandbox.start".to_string(), 2.5),
                ("spawn".to_string(), 4.7),
                ("wait.runtime".to_string(), 35.8)
            ]
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_upper_middle() {
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 3.0);
        assert_eq!(median(vec![]), 0.0);
    }
}
