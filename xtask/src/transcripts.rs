//! The guides' transcripts are true: every ```` ```console ```` block of `levels/*/README.md` is
//! run, as root, from the workspace root, with both flavours of image (busybox and the host's
//! own tools), and what each command printed must match what the guide shows. The convention is
//! documented at the top of `levels/README.md`:
//!
//! - a line starting with `$ ` is a command; it continues on the next lines while its quotes
//!   are open or it ends with `&`, `|` or `\`;
//! - the lines after it, up to the next command, are its output (stdout and stderr together);
//! - `…` stands for any text within a line, and a line of only `…` for any number of lines;
//! - numbers, container ids, the workspace (`/work/main`) and `target/rubber-crab` are compared
//!   loosely, as are runs of spaces: a pid or a column width may differ, the words may not;
//! - variables assigned by a command (`$ probe=…`) are kept for the rest of the block.

use std::path::Path;
use std::process::Command;

/// Where the guides were recorded: the workspace root as it appears in their output.
const RECORDED_ROOT: &str = "/work/main";

/// One command of a transcript and what the guide says it prints.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    /// The guide's line number of the `$`.
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands of every ```` ```console ```` block in `guide`; each block is a list of steps.
fn transcripts(guide: &str) -> Vec<Vec<Step>> {
    let mut blocks = Vec::new();
    let mut lines = guide.lines().enumerate().peekable();
    while let Some((_, line)) = lines.next() {
        if line.trim_end() != "```console" {
            continue;
        }
        let mut steps: Vec<Step> = Vec::new();
        for (n, line) in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            match (line.strip_prefix("$ "), steps.last_mut()) {
                (_, Some(step)) if incomplete(&step.command) && step.expected.is_empty() => {
                    step.command.push('\n');
                    step.command.push_str(line);
                }
                (Some(command), _) => steps.push(Step {
                    line: n + 1,
                    command: command.to_string(),
                    expected: Vec::new(),
                }),
                (None, Some(step)) => step.expected.push(line.to_string()),
                (None, None) => {}
            }
        }
        blocks.push(steps);
    }
    blocks
}

/// Whether the shell would ask for more: an open quote, or a trailing `&`, `|` or `\`.
fn incomplete(command: &str) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in command.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    let end = command.trim_end();
    single || double || escaped || end.ends_with('&') || end.ends_with('|') || end.ends_with('\\')
}

/// A line with what varies between machines and runs made uniform: `subs` first (actual paths
/// to the recorded ones), then 12-hex-digit ids, numbers, dates and runs of spaces.
fn normalize(line: &str, subs: &[(String, String)]) -> String {
    let mut line = line.to_string();
    for (from, to) in subs {
        line = line.replace(from.as_str(), to);
    }
    let words: Vec<String> = line.split_whitespace().map(normalize_word).collect();
    normalize_dates(words).join(" ")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `ls -l`'s date, `Nov 22 14:42` or (older than six months) `Nov 22  2025`, with its numbers
/// already made `0`, becomes `<date>`: a guide recorded in November must match in any month.
fn normalize_dates(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let is_date = MONTHS.contains(&words[i].as_str())
            && words.get(i + 1).is_some_and(|day| day == "0")
            && words.get(i + 2).is_some_and(|t| t == "0:0" || t == "0");
        if is_date {
            out.push("<date>".to_string());
            i += 3;
        } else {
            out.push(words[i].clone());
            i += 1;
        }
    }
    out
}

fn normalize_word(word: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        let starts = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let ends = chars
            .get(i + hex)
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if hex == 12 && starts && ends {
            out.push_str("<id>");
            i += hex;
        } else if chars[i].is_ascii_digit() {
            out.push('0');
            i += chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Whether `line` matches `pattern`, where `…` stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == line;
    }
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Compares a command's output with the guide's. Lines may come in another order (the runtime
/// and its command write to the same terminal), but each expected line must be there, and
/// without a `…` line nothing else may be.
fn compare(expected: &[String], actual: &str, subs: &[(String, String)]) -> Result<(), String> {
    let expected: Vec<String> = expected
        .iter()
        .map(|l| normalize(l, subs))
        .filter(|l| !l.is_empty())
        .collect();
    let mut actual: Vec<Option<String>> = actual
        .lines()
        .map(|l| normalize(l, subs))
        .filter(|l| !l.is_empty())
        .map(Some)
        .collect();
    let open = expected.iter().any(|l| l == "…");
    for want in expected.iter().filter(|l| *l != "…") {
        let found = actual
            .iter_mut()
            .find(|got| got.as_deref().is_some_and(|got| matches(want, got)));
        match found {
            Some(slot) => *slot = None,
            None => {
                return Err(format!(
                    "the guide shows `{want}`, which is not in the output"
                ))
            }
        }
    }
    let extra: Vec<String> = actual.into_iter().flatten().collect();
    if !open && !extra.is_empty() {
        return Err(format!(
            "the output has lines the guide does not show: {extra:?}"
        ));
    }
    Ok(())
}

/// Runs one step in `sh` from `root`, with the block's earlier assignments, and returns what it
/// printed.
fn run_step(root: &Path, env: &[(&str, String)], assignments: &str, step: &Step) -> String {
    let script = format!("{assignments}{{\n{}\n}} 2>&1", step.command);
    let out = Command::new("timeout")
        .args(["300", "sh", "-c", &script])
        .current_dir(root)
        .env_remove("RUBBER_CRAB_HOME")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("running sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a command only assigns a shell variable (`probe=$PWD/…`).
fn is_assignment(command: &str) -> bool {
    command.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Held by a test while it runs commands as root that use the workspace's image and `/tmp/c`
/// (the guides' transcripts, the slides' demos): tests run in parallel threads.
pub(crate) static DEMO_HOST: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Rebuilds the workspace's demo image (`target/rubber-crab/images/busybox.tar`, the one the
/// guides name) from `flavour`'s tools: `busybox`, or `host` for the host's own.
pub(crate) fn build_image(root: &Path, flavour: &str) {
    let built = Command::new("cargo")
        .args(["run", "-q", "-p", "checker", "--", "image", "build"])
        .current_dir(root)
        .env_remove("RUBBER_CRAB_HOME")
        .env(kit::builder::TOOLS_ENV, flavour)
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "cargo run -p checker -- image build failed"
    );
}

/// Runs every guide's transcripts with one flavour of image; returns the failures, each naming
/// the guide and the line.
fn run_guides(root: &Path, flavour: &str) -> Vec<String> {
    // The guides name the workspace's own image, so that is the one built in this flavour
    // (beforehand: a first run would build it and say so, which the guides show as prose).
    build_image(root, flavour);
    let env = [(kit::builder::TOOLS_ENV, flavour.to_string())];
    let subs = [(root.display().to_string(), RECORDED_ROOT.to_string())];
    let mut failures = Vec::new();
    // RUBBER_CRAB_GUIDES=03-pivot-root runs one guide's, while you write it.
    let only = std::env::var("RUBBER_CRAB_GUIDES").unwrap_or_default();
    for level in kit::ladder::LADDER
        .iter()
        .filter(|l| only.is_empty() || only.contains(l.dir))
    {
        let guide_path = format!("levels/{}/README.md", level.dir);
        let guide = std::fs::read_to_string(root.join(&guide_path)).unwrap_or_default();
        for block in transcripts(&guide) {
            let mut assignments = String::new();
            for step in &block {
                if is_assignment(&step.command) {
                    assignments.push_str(&step.command);
                    assignments.push('\n');
                    continue;
                }
                let output = run_step(root, &env, &assignments, step);
                if let Err(why) = compare(&step.expected, &output, &subs) {
                    failures.push(format!(
                        "{guide_path}:{} (image tools: {flavour}): `{}`: {why}\n--- output:\n{output}---",
                        step.line, step.command
                    ));
                }
            }
        }
    }
    failures
}

#[test]
fn every_transcript_in_the_guides_runs_as_shown() {
    let root_user =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("procfs")) == 0;
    if !root_user {
        eprintln!("skipped every_transcript_in_the_guides_runs_as_shown: needs root (CI runs it)");
        return;
    }
    let root = &kit::paths::workspace_root();
    let _turn = DEMO_HOST.lock();
    // One flavour after the other: the transcripts share /tmp/c and look for their processes.
    let mut failures = run_guides(root, "host");
    failures.extend(run_guides(root, "busybox"));
    // Leave the image as a first use would have built it.
    build_image(root, "");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_transcript_is_read_and_a_wrong_one_is_caught() {
    let guide = "text\n```console\n$ probe=/x\n$ sh -c 'echo one;\n  echo two'\none\ntwo\n$ echo pid $$\npid 4242\n```\n```\n$ not run\n```\n";
    let blocks = transcripts(guide);
    assert_eq!(blocks.len(), 1);
    let steps = &blocks[0];
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[1].command, "sh -c 'echo one;\n  echo two'");
    assert_eq!(
        (steps[1].line, &steps[1].expected[..]),
        (4, &["one".to_string(), "two".into()][..])
    );
    assert!(is_assignment(&steps[0].command) && !is_assignment(&steps[2].command));
    let subs = [("/work/wt/x".to_string(), RECORDED_ROOT.to_string())];
    // Pids, ids and paths vary; words do not.
    assert!(compare(&steps[2].expected, "pid 77\n", &subs).is_ok());
    assert!(compare(
        &["rm -r /work/main/c/9b9c691162a7".into()],
        "rm -r /work/wt/x/c/0123456789ab",
        &subs
    )
    .is_ok());
    assert!(compare(&steps[2].expected, "sh: echo: not found\n", &subs).is_err());
    assert!(compare(&steps[1].expected, "two\none\nthree\n", &subs).is_err());
    assert!(compare(&["…".into(), "two".into()], "two\none\nthree\n", &subs).is_ok());
    assert!(matches("a … c … e", "a b c d e") && !matches("a … c", "a b d"));
}

#[test]
fn a_listing_matches_on_any_day() {
    let recorded = ["crw-rw-rw-    1 root     root        1,   7 Nov 22 14:42 full".to_string()];
    for today in [
        "crw-rw-rw- 1 root root 1, 7 Dec  5 13:12 full",
        "crw-rw-rw- 1 root root 1, 7 Jan 31 09:00 full",
        "crw-rw-rw- 1 root root 1, 7 May  1  2025 full",
    ] {
        assert!(compare(&recorded, today, &[]).is_ok(), "{today}");
    }
    // A date is one word; the words around it still count.
    assert!(compare(
        &recorded,
        "crw-rw-rw- 1 root root 1, 7 Dec 5 13:12 null",
        &[]
    )
    .is_err());
    assert!(compare(&["May I 0".into()], "May I 0", &[]).is_ok());
}
