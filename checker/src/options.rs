//! What `checker levelN|all [OPTIONS]` asks for, as data: the levels a word names, the options,
//! and the plan (which runtime is checked on which levels). Depends on nothing in the crate but
//! `exit`, so that every step of a check can take a `Request` without importing the CLI.

use crate::exit::usage;
use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The options of `checker levelN` (and `checker all`).
#[derive(Debug, Parser)]
#[command(name = "checker levelN")]
pub struct CheckArgs {
    /// Check the reference solution (solutionN) instead of your levelN.
    #[arg(long, conflicts_with = "runtime")]
    pub solution: bool,
    /// Check any runtime executable that follows the runtime contract.
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Run later levels even after a level failed.
    #[arg(long)]
    pub keep_going: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Seconds each run of the runtime may take before its whole process group is killed.
    #[arg(long, default_value = "10", value_name = "SECS")]
    pub timeout: u64,
    /// Without root: run the runtime as root inside a user namespace the checker creates.
    #[arg(long)]
    pub rootless: bool,
    /// The level of the runtime checked (default: the level asked for): it gets the options of
    /// that level and the levels below (`--cgroup-parent` from level 8 on), whichever checks run.
    #[arg(long, value_name = "N")]
    pub runtime_level: Option<u32>,
    /// Run only the checks of this level and above (the runtime still gets every option of the
    /// level asked for): the checker's own tests prove a fault of level 12 on the checks it can
    /// fail without running levels 0 to 11 again for each.
    #[arg(long, value_name = "N", hide = true)]
    pub from_level: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// `checker level3 --solution …`, parsed.
#[derive(Debug)]
pub struct Request {
    /// The word as typed: `level3`, `3` or `all`.
    pub target: String,
    /// The levels whose checks run, in order.
    pub levels: Vec<u32>,
    pub args: CheckArgs,
}

impl Request {
    /// Parses the words after `checker`: the target first, then the options. A clap error (or
    /// `--help`) comes back as the error, for `exit::after_clap`.
    pub fn parse(words: Vec<OsString>) -> Result<Self> {
        let target = words
            .first()
            .map(|w| w.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut levels = parse_target(&target)?;
        let mut argv = vec![OsString::from(format!("checker {target}"))];
        argv.extend(words.into_iter().skip(1));
        let args = CheckArgs::try_parse_from(argv)?;
        if let Some(from) = args.from_level {
            levels.retain(|&n| n >= from);
            if levels.is_empty() {
                return Err(usage(format!(
                    "--from-level {from} is above {target}: nothing would be checked"
                )));
            }
        }
        Ok(Self {
            target,
            levels,
            args,
        })
    }

    /// Verdicts for people (as opposed to `--format json`).
    pub fn human(&self) -> bool {
        self.args.format == Format::Human
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.args.timeout)
    }

    /// `checker levelN` checks a level-N runtime: level N's checks run even after an earlier
    /// level failed, since they are about what the attendee is writing now. None for `all`.
    pub fn working_on(&self) -> Option<u32> {
        (self.target != "all").then(|| self.levels.last().copied().unwrap_or(0))
    }

    /// The level of the runtime that the checks of `levels` run on: `--runtime-level`, or the
    /// highest of them (`checker level3` checks a level-3 runtime; `checker all` each level's
    /// crate on its own checks).
    pub fn runtime_level(&self, levels: &[u32]) -> u32 {
        self.args
            .runtime_level
            .unwrap_or_else(|| levels.last().copied().unwrap_or(0))
    }

    /// The highest level checked.
    pub fn top(&self) -> u32 {
        self.levels.last().copied().unwrap_or(0)
    }

    /// `levelN`: the crate of level N, checked on levels 0..=N. `all`: every level's own crate on
    /// its level's checks (with `--solution`, the whole reference ladder). `--runtime`: that
    /// executable, on every level asked for.
    pub fn plan(&self) -> Result<Vec<Planned>> {
        let package = |number: u32| -> Result<Runtime> {
            let level = kit::ladder::level(number).context("a level of the ladder")?;
            Ok(Runtime::Package(if self.args.solution {
                level.solution_package()
            } else {
                level.skeleton_package()
            }))
        };
        let planned = |runtime, levels| Planned { runtime, levels };
        Ok(match (&self.args.runtime, self.target.as_str()) {
            (Some(path), _) => vec![planned(
                Runtime::Path(checked_runtime(path)?),
                self.levels.clone(),
            )],
            (None, "all") => self
                .levels
                .iter()
                .map(|&n| Ok(planned(package(n)?, vec![n])))
                .collect::<Result<_>>()?,
            (None, _) => vec![planned(package(self.top())?, self.levels.clone())],
        })
    }
}

/// One runtime of the plan and the levels whose checks it gets.
#[derive(Debug)]
pub struct Planned {
    pub runtime: Runtime,
    pub levels: Vec<u32>,
}

/// What to run: an executable as given, or a crate of the workspace to build first.
#[derive(Debug, PartialEq, Eq)]
pub enum Runtime {
    Path(PathBuf),
    Package(String),
}

impl Runtime {
    /// The crate to build, for a package.
    pub fn package(&self) -> Option<&str> {
        match self {
            Runtime::Package(package) => Some(package),
            Runtime::Path(_) => None,
        }
    }
}

/// Parses `level3`, `3` or `all` into the levels to run.
pub fn parse_target(word: &str) -> Result<Vec<u32>> {
    let max = kit::ladder::LADDER
        .iter()
        .map(|l| l.number)
        .max()
        .unwrap_or(0);
    if word == "all" {
        return Ok((0..=max).collect());
    }
    let number = word
        .strip_prefix("level")
        .unwrap_or(word)
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max);
    match number {
        Some(n) => Ok((0..=n).collect()),
        None => Err(usage(format!(
            "unknown level {word:?}: the ladder has level0 to level{max} (try `cargo run -p checker -- list`)"
        ))),
    }
}

/// `--runtime PATH`, made absolute once it is known to be an executable file.
fn checked_runtime(path: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|_| usage(format!("--runtime {}: no such file", path.display())))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(usage(format!(
            "--runtime {}: not an executable file (chmod +x it?)",
            path.display()
        )));
    }
    // Absolute, but symlinks kept: a multi-call runtime may be named by its link.
    std::path::absolute(path).map_err(|e| usage(format!("--runtime {}: {e}", path.display())))
}

/// This checker's executable, as a command to show the learner.
pub fn shown_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "target/debug/checker".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(words: &[&str]) -> Result<Request> {
        Request::parse(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn a_level_names_itself_and_every_level_below() {
        assert_eq!(parse_target("level3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_target("2").unwrap(), vec![0, 1, 2]);
        let err = parse_target("level99").unwrap_err();
        assert_eq!(crate::exit::of_error(&err), crate::exit::USAGE, "{err}");
    }

    #[test]
    fn a_level_plans_its_own_crate_on_every_level_up_to_it() {
        let asked = request(&["level2"]).unwrap();
        assert_eq!(asked.working_on(), Some(2));
        let plan = asked.plan().unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].runtime, Runtime::Package("level2".into()));
        assert_eq!(plan[0].levels, vec![0, 1, 2]);
    }

    #[test]
    fn from_level_keeps_the_levels_from_it_and_the_runtime_of_the_level_asked() {
        let asked = request(&["level5", "--from-level", "4"]).unwrap();
        assert_eq!(asked.levels, vec![4, 5]);
        assert_eq!(asked.runtime_level(&asked.levels), 5);
        let err = request(&["level3", "--from-level", "4"]).unwrap_err();
        assert_eq!(crate::exit::of_error(&err), crate::exit::USAGE, "{err}");
    }

    #[test]
    fn all_plans_each_level_on_its_own_checks() {
        let asked = request(&["all", "--solution"]).unwrap();
        assert_eq!(asked.working_on(), None);
        let plan = asked.plan().unwrap();
        assert_eq!(plan.len(), kit::ladder::LADDER.len());
        assert_eq!(plan[1].runtime, Runtime::Package("solution1".into()));
        assert_eq!(plan[1].levels, vec![1]);
        // Each crate is of its own level: solution1 gets no option of a later level.
        assert_eq!(asked.runtime_level(&plan[1].levels), 1);
        let asked = request(&["level0", "--runtime-level", "8"]).unwrap();
        assert_eq!(asked.runtime_level(&asked.levels), 8);
    }

    #[test]
    fn options_come_after_the_level_and_a_bad_one_is_clap_s_to_report() {
        let asked = request(&["level1", "--format", "json", "--timeout", "3"]).unwrap();
        assert!(!asked.human());
        assert_eq!(asked.timeout(), Duration::from_secs(3));
        assert_eq!(asked.runtime_level(&asked.levels), 1);
        let err = request(&["level1", "--frobnicate"]).unwrap_err();
        assert!(err.is::<clap::Error>(), "{err}");
    }
}
