//! The checker's command line.

use crate::exit::{self, usage, NotRoot};
use crate::options::{shown_exe, Planned, Request, Runtime};
use crate::prepare::{self, TestImage};
use crate::report::{self, JsonReport};
use crate::suite::{self, CheckResult, Status};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use colored::Colorize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(
    name = "checker",
    about = "Checks a rubber-crab level: `checker level3` runs the checks of levels 0 to 3.",
    override_usage = "checker levelN|all [--solution | --runtime PATH [--runtime-level N]] [--keep-going] [--format human|json] [--timeout SECS] [--rootless]\n       checker list\n       checker hint [levelN] [--all]\n       checker watch [levelN] [--poll] [--rootless]\n       checker image build\n       checker room DIR [--format human|json] [--serve ADDR]\n       checker doctor [--format human|json]",
    after_help = "Examples:\n  cargo run -p checker -- level0\n  cargo run -p checker -- level3 --solution\n  cargo run -p checker -- level2 --runtime ./my-runtime\n  cargo run -p checker -- list\n  cargo run -p checker -- hint level3\n  cargo run -p checker -- watch\n  cargo run -p checker -- room reports/ --serve 0.0.0.0:8080\n  sudo -E env \"PATH=$PATH\" cargo run -p checker -- doctor"
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
        /// levelN (default: the level you are working on, the crate you edited or checked last).
        level: Option<String>,
        /// Show every hint of the level at once.
        #[arg(long)]
        all: bool,
    },
    /// Re-check a level (your current level by default) each time you save one of its files.
    Watch {
        /// levelN (default: the level you are working on, the crate you edited or checked last).
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
    /// The room at a glance, from one `--format json` report per attendee in DIR: who is at
    /// which level, the checks most fail, the machines that cannot run a level.
    Room {
        /// The directory of reports: `NAME.json` for each attendee NAME.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: crate::options::Format,
        /// Serve the room on ADDR (e.g. 0.0.0.0:8080): a page for the projector that refreshes
        /// itself, and `curl --data-binary @- http://ADDR/NAME.json` stores a report in DIR.
        #[arg(long, value_name = "ADDR")]
        serve: Option<String>,
        /// Count the reports' ages up to this UTC time instead of now (for tests).
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Can this machine run the workshop? Its cgroups, namespaces, overlayfs and veth, each
    /// tried, and which levels can run here (exit 3 when some cannot). Needs root.
    Doctor {
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: crate::options::Format,
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

pub fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => run(cli.command),
        Err(e) => Err(e.into()),
    };
    ExitCode::from(match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<clap::Error>() {
            Some(clap) => exit::after_clap(clap),
            None => {
                eprintln!("checker: {e:#}");
                exit::of_error(&e)
            }
        },
    })
}

fn run(command: Command) -> Result<u8> {
    match command {
        Command::SandboxHold { rootless, network } => {
            crate::sandbox::hold(rootless, network).map(|_| exit::PASSED)
        }
        Command::List => list(),
        Command::Hint { level, all } => hint(level.as_deref(), all),
        Command::Watch {
            level,
            poll,
            rootless,
        } => crate::watch::watch(one_level(level.as_deref())?, poll, rootless),
        Command::Image {
            action: ImageAction::Build,
        } => build_image(),
        Command::Room {
            dir,
            format,
            serve,
            now,
        } => crate::room::room(&dir, format, serve.as_deref(), now.as_deref()),
        Command::Doctor { format } => crate::doctor::doctor(format),
        Command::Check(words) => check(words),
    }
}

/// `checker levelN|all [OPTIONS]`, step by step.
fn check(words: Vec<OsString>) -> Result<u8> {
    let request = Request::parse(words)?;
    require_privileges(&request)?;
    let started = Instant::now();
    report::set_colour(std::io::stdout().is_terminal());
    let image = build_probe_and_image()?;
    print_title(&request);
    let mut checked = Checked::default();
    let plan = request.plan()?;
    checked.built = build_at_once(&request, &plan);
    for planned in plan {
        check_runtime(&request, &image, planned, &mut checked)?;
    }
    // Interrupted during the last check: the signal's thread cleans up and gives the exit code.
    crate::interrupt::checkpoint();
    let code = checked.exit_code();
    print_verdict(&request, &checked, code, started)?;
    crate::progress::record(&checked.progress, checked.last_own_crate);
    Ok(code)
}

/// Root, or with `--rootless` a host that allows user namespaces; exit 3 otherwise, saying what
/// to run instead.
fn require_privileges(request: &Request) -> Result<()> {
    if !request.args.rootless {
        return require_root(&request.target);
    }
    crate::sandbox::user_namespaces_allowed().map_err(|why| {
        NotRoot(format!(
            "--rootless needs user namespaces, and here {why}. Run the checker as root instead."
        ))
        .into()
    })
}

/// The probe, built statically, and the test image holding it (cached).
fn build_probe_and_image() -> Result<TestImage> {
    let probe = prepare::build_probe()?;
    prepare::test_image(&probe)
}

fn print_title(request: &Request) {
    if !request.human() {
        return;
    }
    let mode = if request.args.rootless {
        " (rootless: your runtime is root in a user namespace the checker made)"
    } else {
        ""
    };
    println!("rubber-crab checker: {}{mode}", request.target);
}

/// What the runtimes of a plan got, as each was checked.
#[derive(Default)]
struct Checked {
    results: Vec<CheckResult>,
    /// Each runtime checked, as shown.
    runtimes: Vec<String>,
    /// For `list`: per level, "pass" or "fail" and the fingerprint of the files checked.
    progress: BTreeMap<u32, (&'static str, String)>,
    /// The attendee's own crate checked last, and when its files were read.
    last_own_crate: Option<(u32, std::time::SystemTime)>,
    /// The plan's packages, built in one cargo run (see [`build_at_once`]).
    built: Vec<(String, PathBuf)>,
}

impl Checked {
    fn any_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.status, Status::Fail | Status::Error))
    }

    fn exit_code(&self) -> u8 {
        let summary = report::summarize(&self.results);
        if summary.failed > 0 {
            exit::FAILED
        } else if summary.errors > 0 {
            exit::ENVIRONMENT
        } else {
            exit::PASSED
        }
    }
}

/// One runtime of the plan on its levels; after an earlier level failed (and without
/// `--keep-going`) it is not even built: its checks are listed as not run.
fn check_runtime(
    request: &Request,
    image: &TestImage,
    planned: Planned,
    checked: &mut Checked,
) -> Result<()> {
    if checked.any_failed() && !request.args.keep_going {
        checked.results.extend(not_run(request, &planned.levels));
        return Ok(());
    }
    let read_at = std::time::SystemTime::now();
    let fingerprint = fingerprint_of_own_crate(request, &planned);
    let exe = planned.runtime.package().and_then(|package| {
        checked
            .built
            .iter()
            .find(|(built, _)| built == package)
            .map(|(_, exe)| exe.clone())
    });
    let exe = match exe {
        Some(exe) => exe,
        None => build_runtime(request, planned.runtime)?,
    };
    let results = run_checks(request, image, &exe, &planned.levels, fingerprint.is_some())?;
    if let (Some(&top), Some(fingerprint)) = (planned.levels.last(), fingerprint) {
        checked
            .progress
            .insert(top, (pass_or_fail(&results), fingerprint));
        // `checker all` checks every crate: it says nothing of where the attendee is.
        if request.working_on().is_some() {
            checked.last_own_crate = Some((top, read_at));
        }
    }
    checked.results.extend(results);
    checked.runtimes.push(exe.display().to_string());
    Ok(())
}

/// The checks of `levels`, skipped because an earlier level failed, and shown as not run.
fn not_run(request: &Request, levels: &[u32]) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for &level in levels {
        for (i, check) in crate::levels::checks(level).iter().enumerate() {
            let result = suite::skipped(check, suite::EARLIER_LEVEL_FAILED);
            print_human(request, &result, (i == 0).then_some("not run"), None);
            results.push(result);
        }
    }
    results
}

/// The attendee's own crate's files as they are built, for progress; None for a solution or a
/// `--runtime`, which are not the attendee's progress.
fn fingerprint_of_own_crate(request: &Request, planned: &Planned) -> Option<String> {
    match (&planned.runtime, planned.levels.last()) {
        (Runtime::Package(_), Some(&top)) if !request.args.solution => {
            kit::ladder::level(top).map(crate::progress::fingerprint)
        }
        _ => None,
    }
}

/// A plan of several packages (`checker all`) is built in one cargo run; where one of them does
/// not build, none is taken from it, and each is built in its turn (its errors shown then).
fn build_at_once(request: &Request, plan: &[Planned]) -> Vec<(String, PathBuf)> {
    let packages: Vec<String> = plan
        .iter()
        .filter_map(|planned| planned.runtime.package().map(String::from))
        .collect();
    if packages.len() < 2 {
        return Vec::new();
    }
    if request.human() {
        eprintln!("building {}…", packages.join(", "));
    }
    prepare::build_runtimes(&packages).unwrap_or_default()
}

fn build_runtime(request: &Request, runtime: Runtime) -> Result<PathBuf> {
    match runtime {
        Runtime::Path(path) => Ok(path),
        Runtime::Package(package) => {
            if request.human() {
                eprintln!("building {package}…");
            }
            prepare::build_runtime(&package)
        }
    }
}

/// Runs the checks of `levels` on `exe` in an environment of its own, showing each result as it
/// comes.
fn run_checks(
    request: &Request,
    image: &TestImage,
    exe: &Path,
    levels: &[u32],
    own_crate: bool,
) -> Result<Vec<CheckResult>> {
    let working_on = request
        .working_on()
        .map(|level| suite::WorkingOn { level, own_crate });
    let env = prepare::environment(
        exe.to_path_buf(),
        image.clone(),
        request.timeout(),
        request.args.rootless,
        request.runtime_level(levels),
    )?;
    let shown = exe.display().to_string();
    let mut current_level = None;
    let mut first_setup_failure: Option<(String, &'static str)> = None;
    let results = suite::run_levels(
        &env,
        levels,
        request.args.keep_going,
        working_on,
        |result| {
            let header = (current_level != Some(result.level)).then_some(shown.as_str());
            current_level = Some(result.level);
            let same_as = report::same_setup_failure(result, &mut first_setup_failure);
            print_human(request, result, header, same_as);
        },
    );
    let _ = kit::container::remove_dir_on_one_filesystem(&env.work);
    Ok(results)
}

/// Level N's crate passed when every check it ran passed.
fn pass_or_fail(results: &[CheckResult]) -> &'static str {
    if results.iter().all(|r| r.status == Status::Pass) {
        "pass"
    } else {
        "fail"
    }
}

/// Prints one result in human mode, after the level's header when `header` names its runtime;
/// in one line when it failed for the same reason as the check `same_as`, shown above.
fn print_human(
    request: &Request,
    result: &CheckResult,
    header: Option<&str>,
    same_as: Option<&str>,
) {
    if !request.human() {
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

/// The summary under the results, or the whole JSON document.
fn print_verdict(request: &Request, checked: &Checked, code: u8, started: Instant) -> Result<()> {
    let summary = report::summarize(&checked.results);
    if request.human() {
        println!(
            "{}",
            report::human_summary(&summary, &checked.results, &request.target)
        );
        if let Some(why) = crate::run::no_cage_reason() {
            println!("note: the runs were not caged in a cgroup ({why}); a timeout still kills their process group");
        }
        return Ok(());
    }
    let doc = JsonReport {
        schema: 1,
        target: &request.target,
        runtime: checked.runtimes.join(", "),
        result: if code == exit::PASSED { "pass" } else { "fail" },
        exit_code: code,
        guide: kit::ladder::level(request.top())
            .map_or_else(String::new, |l| format!("levels/{}/README.md", l.dir)),
        duration_ms: started.elapsed().as_millis() as u64,
        rootless: request.args.rootless,
        host: report::HostFacts::read(),
        summary,
        checks: &checked.results,
        made_at: crate::room::clock::utc(crate::room::clock::now()),
        checked: match (&request.args.runtime, request.args.solution) {
            (Some(_), _) => "runtime",
            (None, true) => "solution",
            (None, false) => "own",
        },
    };
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
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

/// A single level, `levelN` or `N`; the attendee's current level when not given.
fn one_level(word: Option<&str>) -> Result<u32> {
    match word {
        None => Ok(crate::progress::current_level()),
        Some("all") => Err(usage("name one level here, e.g. level3")),
        Some(word) => Ok(*crate::options::parse_target(word)?.last().unwrap_or(&0)),
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
