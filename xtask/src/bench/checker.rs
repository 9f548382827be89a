//! `cargo xtask bench checker [LEVEL] [--rounds N]`: the checker itself, as an attendee runs it
//! (debug build, `checker levelN --solution`), N times in a row (default 10, level 10).
//!
//! Each row is one whole run: its wall time, the median and slowest of its checks (from
//! `--format json`), and the number of memory cgroups the kernel holds (`/proc/cgroups`, which
//! counts the *dying* ones too: removed groups kept while pages are still charged to them)
//! before and after it. A checker that leaks dying memory cgroups shows a count that climbs run
//! after run, and wall times that climb with it; a fixed one shows both flat.
//!
//! Checks that need wall time by nature (a spinning command under a CPU quota, an OOM kill, a
//! fork bomb) are named in the slowest column: they are what they are.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub const RUNS: usize = 10;

pub fn table(root: &Path, level: u32, runs: usize) -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--quiet", "-p", "checker", "-p", "probe"])
        .arg("-p")
        .arg(format!("solution{level}"))
        .status()?;
    if !status.success() {
        bail!("the checker or solution{level} did not build");
    }
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
        let began = Instant::now();
        let out = Command::new(&checker)
            .current_dir(root)
            .arg(format!("level{level}"))
            .args(["--solution", "--format", "json"])
            .output()?;
        let wall = began.elapsed();
        let after = memory_cgroups()?;
        let report: Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("run {run}: the checker printed no JSON report"))?;
        if report["result"] != "pass" {
            bail!(
                "run {run}: the reference solution did not pass: {}",
                report["summary"]
            );
        }
        let mut checks: Vec<(u64, String)> = report["checks"]
            .as_array()
            .context("checks")?
            .iter()
            .map(|c| {
                (
                    c["duration_ms"].as_u64().unwrap_or(0),
                    c["id"].as_str().unwrap_or("?").to_string(),
                )
            })
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
            wall.as_secs_f64(),
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
