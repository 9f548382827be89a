//! The checker's command line.

use crate::prepare;
use crate::report::{self, JsonReport};
use crate::suite::{self, Status};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use colored::Colorize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes (README, "The checker").
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ENVIRONMENT: u8 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "checker",
    about = "Checks a rubber-crab level: `checker level3` runs the checks of levels 0 to 3.",
    override_usage = "checker levelN|all [--solution | --runtime PATH] [--keep-going] [--format human|json] [--timeout SECS] [--rootless]\n       checker list\n       checker hint [levelN] [--all]\n       checker watch [levelN] [--poll] [--rootless]\n       checker image build",
    after_help = "Examples:\n  cargo run -p checker -- level0\n  cargo run -p checker -- level3 --solution\n  cargo run -p checker -- level2 --runtime ./my-runtime\n  cargo run -p checker -- list\n  cargo run -p checker -- hint level3\n  cargo run -p checker -- watch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The ladder, with each level's last result, and what to do next.
    List,
    /// The next hint for a level (your current level by default); --all shows every hint.
    Hint {
        /// levelN (default: the first level you have not passed).
        level: Option<String>,
        /// Show every hint of the level at once.
        #[arg(long)]
        all: bool,
    },
    /// Re-check a level (your current level by default) each time you save one of its files.
    Watch {
        /// levelN (default: the first level you have not passed).
        level: Option<String>,
        /// Look for changes every 500 ms instead of using inotify.
        #[arg(long)]
        poll: bool,
        /// Check with --rootless (without root, in a user namespace).
        #[arg(long)]
        rootless: bool,
    },
    /// Build the busybox demo image (target/rubber-crab/images/busybox.tar).
    Image {
        #[command(subcommand)]
        action: ImageAction,
    },
    #[command(name = "__sandbox-hold", hide = true)]
    SandboxHold {
        #[arg(long)]
        rootless: bool,
        #[arg(long)]
        network: bool,
    },
    /// levelN or all: check a level (and every level below it).
    #[command(external_subcommand)]
    Check(Vec<OsString>),
}

#[derive(Debug, Subcommand)]
enum ImageAction {
    /// Build (or rebuild) the image.
    Build,
}

#[derive(Debug, Parser)]
#[command(name = "checker levelN")]
struct CheckArgs {
    /// Check the reference solution (solutionN) instead of your levelN.
    #[arg(long, conflicts_with = "runtime")]
    solution: bool,
    /// Check any runtime executable that follows the runtime contract.
    #[arg(long, value_name = "PATH")]
    runtime: Option<PathBuf>,
    /// Run later levels even after a level failed.
    #[arg(long)]
    keep_going: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Seconds each run of the runtime may take before its whole process group is killed.
    #[arg(long, default_value = "10", value_name = "SECS")]
    timeout: u64,
    /// Without root: run the runtime as root inside a user namespace the checker creates.
    #[arg(long)]
    rootless: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            });
        }
    };
    let result = match cli.command {
        Command::SandboxHold { rootless, network } => {
            crate::sandbox::hold(rootless, network).map(|_| exit::PASSED)
        }
        Command::List => list(),
        Command::Hint { level, all } => hint(level.as_deref(), all),
        Command::Watch {
            level,
            poll,
            rootless,
        } => one_level(level.as_deref()).and_then(|n| crate::watch::watch(n, poll, rootless)),
        Command::Image {
            action: ImageAction::Build,
        } => build_image(),
        Command::Check(words) => check(words),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("checker: {e:#}");
            let bad_input = e.is::<Usage>() || e.is::<prepare::BuildFailed>();
            ExitCode::from(if bad_input {
                exit::USAGE
            } else {
                exit::ENVIRONMENT
            })
        }
    }
}

/// Bad input: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    Usage(msg.into()).into()
}

/// Parses `level3`, `3` or `all` into the levels to run.
fn parse_target(word: &str) -> Result<Vec<u32>> {
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

fn check(words: Vec<OsString>) -> Result<u8> {
    let target = words
        .first()
        .map(|w| w.to_string_lossy().into_owned())
        .unwrap_or_default();
    let levels = parse_target(&target)?;
    let mut argv = vec![OsString::from(format!("checker {target}"))];
    argv.extend(words.into_iter().skip(1));
    let args = match CheckArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            });
        }
    };
    if args.rootless {
        crate::sandbox::user_namespaces_allowed().map_err(|why| {
            NotRoot(format!("--rootless needs user namespaces, and here {why}. Run the checker as root instead."))
        })?;
    } else {
        require_root(&target)?;
    }
    let started = std::time::Instant::now();
    let human = args.format == Format::Human;
    report::set_colour(std::io::stdout().is_terminal());
    let probe = prepare::build_probe()?;
    let image = prepare::test_image(&probe)?;
    let timeout = Duration::from_secs(args.timeout);
    if human {
        let mode = if args.rootless {
            " (rootless: your runtime is root in a user namespace the checker made)"
        } else {
            ""
        };
        println!("rubber-crab checker: {target}{mode}");
    }
    let mut results = Vec::new();
    let mut runtimes = Vec::new();
    let mut progress = BTreeMap::new();
    for (runtime, levels) in plan(&target, &levels, &args)? {
        let failed_before = results
            .iter()
            .any(|r: &suite::CheckResult| matches!(r.status, Status::Fail | Status::Error));
        if failed_before && !args.keep_going {
            // An earlier level failed: say what was not run, without building anything.
            for &level in &levels {
                for (i, check) in crate::levels::checks(level).iter().enumerate() {
                    let result = suite::skipped(check, suite::EARLIER_LEVEL_FAILED);
                    print_human(human, &result, (i == 0).then_some("not run"), None);
                    results.push(result);
                }
            }
            continue;
        }
        // The level's files as they are built: progress is recorded against them.
        let fingerprint = match (&runtime, levels.last()) {
            (Runtime::Package(_), Some(&top)) if !args.solution => {
                kit::ladder::level(top).map(crate::progress::fingerprint)
            }
            _ => None,
        };
        let runtime = match runtime {
            Runtime::Path(path) => path,
            Runtime::Package(package) => {
                if human {
                    eprintln!("building {package}…");
                }
                prepare::build_runtime(&package)?
            }
        };
        // `levelN` checks a level-N runtime: level N's checks run even after an earlier level
        // failed, since they are the ones about what the attendee is writing now.
        let working_on = (target != "all").then(|| suite::WorkingOn {
            level: levels.last().copied().unwrap_or(0),
            own_crate: fingerprint.is_some(),
        });
        let env = prepare::environment(runtime.clone(), image.clone(), timeout, args.rootless)?;
        let mut current_level = None;
        let mut first_setup_failure: Option<(String, &'static str)> = None;
        let crate_results =
            suite::run_levels(&env, &levels, args.keep_going, working_on, |result| {
                let header =
                    (current_level != Some(result.level)).then(|| runtime.display().to_string());
                current_level = Some(result.level);
                let same_as = report::same_setup_failure(result, &mut first_setup_failure);
                print_human(human, result, header.as_deref(), same_as);
            });
        // Progress is about your crates: level N's crate passed when every check it ran passed.
        if let (Some(&top), Some(fingerprint)) = (levels.last(), fingerprint) {
            let passed = crate_results.iter().all(|r| r.status == Status::Pass);
            progress.insert(top, (if passed { "pass" } else { "fail" }, fingerprint));
        }
        results.extend(crate_results);
        let _ = kit::container::remove_dir_on_one_filesystem(&env.work);
        runtimes.push(runtime.display().to_string());
    }
    let summary = report::summarize(&results);
    let code = if summary.failed > 0 {
        exit::FAILED
    } else if summary.errors > 0 {
        exit::ENVIRONMENT
    } else {
        exit::PASSED
    };
    if human {
        println!("{}", report::human_summary(&summary, &results, &target));
        if let Some(why) = crate::run::no_cage_reason() {
            println!("note: the runs were not caged in a cgroup ({why}); a timeout still kills their process group");
        }
    } else {
        let top = kit::ladder::level(*levels.last().unwrap_or(&0));
        let doc = JsonReport {
            schema: 1,
            target: &target,
            runtime: runtimes.join(", "),
            result: if code == exit::PASSED { "pass" } else { "fail" },
            exit_code: code,
            guide: top.map_or_else(String::new, |l| format!("levels/{}/README.md", l.dir)),
            duration_ms: started.elapsed().as_millis() as u64,
            rootless: args.rootless,
            host: report::HostFacts::read(),
            summary,
            checks: &results,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    crate::progress::record(&progress);
    Ok(code)
}

/// What to build or run, and which levels' checks to run on it.
enum Runtime {
    Path(PathBuf),
    Package(String),
}

/// `levelN`: the crate of level N, checked on levels 0..=N. `all`: every level's own crate on its
/// level's checks (with `--solution`, the whole reference ladder). `--runtime`: that executable.
fn plan(target: &str, levels: &[u32], args: &CheckArgs) -> Result<Vec<(Runtime, Vec<u32>)>> {
    let package = |number: u32| -> Result<Runtime> {
        let level = kit::ladder::level(number).context("a level of the ladder")?;
        Ok(Runtime::Package(if args.solution {
            level.solution_package()
        } else {
            level.skeleton_package()
        }))
    };
    Ok(match (&args.runtime, target) {
        (Some(path), _) => vec![(Runtime::Path(checked_runtime(path)?), levels.to_vec())],
        (None, "all") => levels
            .iter()
            .map(|&n| Ok((package(n)?, vec![n])))
            .collect::<Result<_>>()?,
        (None, _) => vec![(package(*levels.last().unwrap_or(&0))?, levels.to_vec())],
    })
}

/// Prints one result in human mode, after the level's header when `header` names its runtime;
/// in one line when it failed for the same reason as the check `same_as`, shown above.
fn print_human(
    human: bool,
    result: &suite::CheckResult,
    header: Option<&str>,
    same_as: Option<&str>,
) {
    if !human {
        return;
    }
    if let (Some(runtime), Some(level)) = (header, kit::ladder::level(result.level)) {
        println!("{}", report::level_header(level, runtime));
    }
    match same_as {
        Some(first) => println!("{}", report::human_same_cause(result, first)),
        None => println!("{}", report::human(result)),
    }
}

fn checked_runtime(path: &std::path::Path) -> Result<PathBuf> {
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

/// The checker creates namespaces and mounts: it needs root. Exit 3 with the command to run.
fn require_root(target: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let me = shown_exe();
    let rest: Vec<String> = std::env::args().skip(1).collect();
    let rootless = match crate::sandbox::user_namespaces_allowed() {
        Ok(()) => format!(
            "\nor, without root, in a user namespace where your runtime is root ({} work that way):\n  {me} {} --rootless",
            crate::rootless::levels_that_run(),
            rest.join(" ")
        ),
        Err(why) => format!("\n(--rootless, without root, is not possible here: {why})"),
    };
    Err(NotRoot(format!(
        "checking {target} needs root (it creates namespaces and mounts). Run:\n  sudo -E env \"PATH=$PATH\" {me} {}{rootless}",
        rest.join(" ")
    ))
    .into())
}

/// Not root: exit 3, with the command to run instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotRoot(String);

/// A single level, `levelN` or `N`; the attendee's current level when not given.
fn one_level(word: Option<&str>) -> Result<u32> {
    match word {
        None => Ok(crate::progress::current_level()),
        Some("all") => Err(usage("name one level here, e.g. level3")),
        Some(word) => Ok(*parse_target(word)?.last().unwrap_or(&0)),
    }
}

fn hint(level: Option<&str>, all: bool) -> Result<u8> {
    let number = one_level(level)?;
    let level = kit::ladder::level(number).context("a level of the ladder")?;
    println!("{}", crate::hints::next(level, all)?);
    Ok(exit::PASSED)
}

fn list() -> Result<u8> {
    use crate::progress::State;
    report::set_colour(std::io::stdout().is_terminal());
    let states = crate::progress::states();
    let current = crate::progress::current_level();
    println!("The rubber-crab ladder (✓ passed, ✗ failed, · not checked since its files last changed):\n");
    for level in kit::ladder::LADDER {
        let state = states
            .get(&level.number)
            .copied()
            .unwrap_or(State::NotChecked);
        let mark = match state {
            State::Passed => "✓".green(),
            State::Failed => "✗".red(),
            State::NotChecked => "·".dimmed(),
        };
        let here = if level.number == current && state != State::Passed {
            "  ← you are here".bold()
        } else {
            "".normal()
        };
        println!(
            "  {mark} level{:<3} levels/{:<16} {}{here}",
            level.number, level.dir, level.title
        );
    }
    let level = kit::ladder::level(current).context("a level of the ladder")?;
    match states.get(&current) {
        Some(State::Passed) => println!("\nEvery level passed. Well done!"),
        Some(State::Failed) => println!(
            "\nNext: fix level {} and run `cargo run -p checker -- level{}` (stuck? `cargo run -p checker -- hint level{}`).",
            level.number, level.number, level.number
        ),
        _ => println!(
            "\nNext: read levels/{}/README.md, then run `cargo run -p checker -- level{}` (or `cargo run -p checker -- watch` to re-check on every save).",
            level.dir, level.number
        ),
    }
    Ok(exit::PASSED)
}

fn build_image() -> Result<u8> {
    let tar = kit::image::tar_path(&kit::paths::default_image_dir(), "busybox");
    let from = match kit::builder::build_image(&tar, &kit::builder::ImageSpec::default())? {
        kit::builder::Toolset::Busybox(busybox) => format!("{}", busybox.display()),
        kit::builder::Toolset::HostBinaries(tools) => {
            format!("the host's {} tools and their libraries", tools.len())
        }
    };
    println!("built {} from {from}", tar.display());
    println!("try: cargo run -p solution3 -- run --explain -- /bin/sh");
    Ok(exit::PASSED)
}
