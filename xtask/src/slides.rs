//! The slides are a talk an instructor can give tomorrow (`slides/README.md`):
//!
//! - every level of `kit::ladder::LADDER` has its deck, `slides/<level dir>.md`, between
//!   `slides/intro.md` and `slides/closing.md`;
//! - every deck has front matter (`title`, `sub_title`, `author: rubber-crab`), slides separated by
//!   `<!-- end_slide -->`, and on each slide a speaker note that says how long it takes (`~4 min`);
//! - every ```` ```bash +exec ```` demo runs as root, as presenterm runs it (from the deck's
//!   directory, `slides/`), exits 0 and leaves no mount, process or cgroup (`rubber-crab-demo`)
//!   behind;
//! - no slide overflows a 100×30 terminal, as presenterm itself judges it (`overflow.rs`), and no
//!   table is wider than the 84 columns presenterm gives it there (which it does not check);
//! - a demo's slide still fits once the demo has run, seen in a 100×30 tmux window (`live.rs`);
//! - a deck exports to an HTML and a PDF handout without a terminal (`export.rs`).

mod export;
mod live;
mod overflow;
mod plan;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a deck's front matter must set, each at the start of a line.
const FRONT_MATTER: [&str; 3] = ["title:", "sub_title:", "author: rubber-crab"];
/// The line that ends a slide.
const END_SLIDE: &str = "<!-- end_slide -->";
/// The opening of a speaker note; it runs to the next `-->`.
const SPEAKER_NOTE: &str = "<!-- speaker_note:";
/// How long one demo may run before it counts as hung.
const DEMO_TIMEOUT_SECS: &str = "120";
/// Set in each demo's environment, to find what it left running.
const DEMO_MARK: &str = "RUBBER_CRAB_SLIDE_DEMO";
/// presenterm runs a bash snippet's lines starting with this but does not show them
/// (`hidden_line_prefix` in its `executors.yaml`).
const HIDDEN_LINE: &str = "/// ";

/// The decks the workshop needs, in the order they are given.
fn required_decks() -> Vec<String> {
    let levels = kit::ladder::LADDER.iter().map(|l| l.dir.to_string());
    std::iter::once("intro".to_string())
        .chain(levels)
        .chain(std::iter::once("closing".to_string()))
        .collect()
}

/// Every deck in `slides/`: its `*.md` files but the README (fixtures live one level down).
fn decks(root: &Path) -> Vec<PathBuf> {
    let mut decks: Vec<PathBuf> = std::fs::read_dir(root.join("slides"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    decks.retain(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("README.md"));
    decks.sort();
    decks
}

/// A deck's path as messages show it: from the workspace root.
fn shown(root: &Path, deck: &Path) -> String {
    deck.strip_prefix(root)
        .unwrap_or(deck)
        .display()
        .to_string()
}

/// One slide: the deck's line it starts on, and its text.
struct Slide {
    line: usize,
    text: String,
}

/// The slides of `deck`, split at each `<!-- end_slide -->` outside a code block; the text after
/// the last one is a slide only if it holds something.
fn slides(deck: &str) -> Vec<Slide> {
    let mut slides = vec![Slide {
        line: 1,
        text: String::new(),
    }];
    let mut fenced = false;
    for (n, line) in deck.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.trim() == END_SLIDE {
            slides.push(Slide {
                line: n + 2,
                text: String::new(),
            });
            continue;
        }
        if let Some(slide) = slides.last_mut() {
            slide.text.push_str(line);
            slide.text.push('\n');
        }
    }
    slides.retain(|s| !s.text.trim().is_empty());
    slides
}

/// What is wrong with the deck's shape: front matter, separators, a timed note on each slide.
fn format_problems(deck: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lines = deck.lines();
    let front: Vec<&str> = match lines.next() {
        Some("---") => lines.take_while(|l| *l != "---").collect(),
        _ => Vec::new(),
    };
    for key in FRONT_MATTER {
        if !front.iter().any(|l| l.starts_with(key)) {
            problems.push(format!(
                "the front matter (between `---` lines at the top) has no `{key}`"
            ));
        }
    }
    let slides = slides(deck);
    if slides.len() < 2 {
        problems.push(format!(
            "one slide only: slides are separated by `{END_SLIDE}` lines"
        ));
    }
    for slide in &slides {
        for note in speaker_notes(&slide.text) {
            if let Err(why) = note_as_presenterm_reads_it(note) {
                problems.push(format!(
                    "a speaker note of the slide at line {} is not YAML, and presenterm drops it \
                     without a word ({why}): write `{SPEAKER_NOTE} |`, then the note indented",
                    slide.line
                ));
            }
        }
        for note in speaker_notes(&slide.text) {
            if let Some(why) = note_layout_problem(note) {
                problems.push(format!(
                    "a speaker note of the slide at line {}: {why}",
                    slide.line
                ));
            }
        }
        if !speaker_notes(&slide.text).iter().any(|n| has_timing(n)) {
            problems.push(format!(
                "the slide at line {} has no speaker note with a timing (`{SPEAKER_NOTE} … ~3 min -->`)",
                slide.line
            ));
        }
    }
    for (line, width) in wrapped_code_lines(deck) {
        problems.push(format!(
            "the code line at line {line} is {width} columns wide: on 100 columns presenterm \
             shows {CODE_COLUMNS} and wraps the rest (it calls an overflow only past 70)"
        ));
    }
    for (line, width) in wide_tables(deck) {
        problems.push(format!(
            "the table at line {line} is {width} columns wide: on 100 columns presenterm shows \
             {TABLE_COLUMNS} and wraps the rest (it does not call that an overflow)"
        ));
    }
    problems
}

/// The widest code line presenterm shows whole on 100 columns: a longer one is wrapped (seen in
/// its HTML export at 100 columns: 66 characters, then the rest on a line of its own), and
/// `--validate-overflows` only objects past 70.
const CODE_COLUMNS: usize = 66;

/// The shown lines of code blocks longer than [`CODE_COLUMNS`]: each line number and width. A
/// demo's hidden `/// ` lines are not shown.
fn wrapped_code_lines(deck: &str) -> Vec<(usize, usize)> {
    let mut fenced = false;
    let mut wrapped = Vec::new();
    for (n, line) in deck.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let width = line.chars().count();
        if fenced && !line.starts_with("/// ") && width > CODE_COLUMNS {
            wrapped.push((n + 1, width));
        }
    }
    wrapped
}

/// The widest table row presenterm shows whole on 100 columns: its default theme keeps 8% of the
/// width as margin on each side. A wider table wraps into a mess, and `--validate-overflows`
/// does not say so.
const TABLE_COLUMNS: usize = 84;

/// The tables of a deck too wide for the slide: the line each starts on and its width.
fn wide_tables(deck: &str) -> Vec<(usize, usize)> {
    let mut wide = Vec::new();
    let mut table: Option<(usize, Vec<usize>)> = None;
    let mut fenced = false;
    for (n, line) in deck.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let row = line.trim();
        if fenced || !row.starts_with('|') {
            wide.extend(table.take().and_then(|t| too_wide(&t)));
            continue;
        }
        // The row under the header (`|---|---|`) is drawn as a line as wide as the others.
        if row.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            continue;
        }
        // `\|` is a pipe inside a cell, drawn as one `|`: not a column.
        let row = row.replace("\\|", "\u{1}");
        let cells = row
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('`', ""));
        let widths: Vec<usize> = cells.map(|c| c.chars().count()).collect();
        let (_, columns) = table.get_or_insert((n + 1, Vec::new()));
        for (i, width) in widths.into_iter().enumerate() {
            match columns.get_mut(i) {
                Some(column) => *column = (*column).max(width),
                None => columns.push(width),
            }
        }
    }
    wide.extend(table.and_then(|t| too_wide(&t)));
    wide
}

/// A table's line and width if it is too wide: its columns, and ` │ ` between them.
fn too_wide((line, columns): &(usize, Vec<usize>)) -> Option<(usize, usize)> {
    let width = columns.iter().sum::<usize>() + 3 * columns.len().saturating_sub(1);
    (width > TABLE_COLUMNS).then_some((*line, width))
}

/// The text of each speaker note of a slide.
fn speaker_notes(slide: &str) -> Vec<&str> {
    slide
        .split(SPEAKER_NOTE)
        .skip(1)
        .filter_map(|rest| rest.split_once("-->").map(|(note, _)| note))
        .collect()
}

/// A comment command is YAML (`speaker_note: text`): presenterm parses it with serde_yaml, and a
/// note that does not parse (a `: ` inside a plain multi-line note, say) is not shown.
fn note_as_presenterm_reads_it(note: &str) -> Result<String, String> {
    let command: serde_yaml::Value =
        serde_yaml::from_str(&format!("speaker_note:{note}")).map_err(|e| e.to_string())?;
    command["speaker_note"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the note is not text".to_string())
}

/// What the speaker-notes terminal would show badly: a literal block (`|`) keeps the source's
/// line breaks, and the listener wraps each of those lines again, leaving orphan words; it shows
/// markdown raw, so a backtick is a stray character there.
fn note_layout_problem(note: &str) -> Option<String> {
    let header = note.lines().next().unwrap_or("").trim();
    if header == "|" {
        return Some(format!(
            "`{SPEAKER_NOTE} |` keeps the source's line breaks (orphan words on the speaker's \
             screen): write `{SPEAKER_NOTE} >`, which joins the lines"
        ));
    }
    note.contains('`').then(|| {
        "a backtick: the speaker's screen shows it as is; write the command without it".to_string()
    })
}

/// Whether a note says how long its slide takes: `~` and a number of minutes (`~4 min`, `~1.5 min`).
fn has_timing(note: &str) -> bool {
    note.split('~').skip(1).any(|after| {
        let after = after.trim_start();
        let digits = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        digits > 0 && after[digits..].trim_start().starts_with("min")
    })
}

/// A live demo: the deck's line of its fence, the script, and how wide presenterm draws its
/// output box.
struct Demo {
    line: usize,
    script: String,
    width: usize,
}

/// The ```` ```bash +exec ```` blocks of a deck (`+exec_replace` too: presenterm runs both).
fn demos(deck: &str) -> Vec<Demo> {
    let mut demos = Vec::new();
    let mut lines = deck.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let runs = words.next() == Some("bash") && words.any(|w| w.starts_with("+exec"));
        let body: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.trim_start().starts_with("```"))
            .collect();
        if runs {
            let script = body
                .iter()
                .map(|l| l.strip_prefix(HIDDEN_LINE).unwrap_or(l));
            // The output box is as wide as the code block above it: its widest shown line.
            let shown = body.iter().filter(|l| !l.starts_with(HIDDEN_LINE));
            demos.push(Demo {
                line: n + 1,
                script: script.collect::<Vec<_>>().join("\n"),
                width: shown.map(|l| l.chars().count()).max().unwrap_or(0),
            });
        }
    }
    demos
}

/// The mounts of this mount namespace: each mount's id (new for each mount, even over the same
/// path) and where it is.
fn mounts() -> BTreeSet<(String, String)> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let fields = table.lines().map(|l| l.split(' ').collect::<Vec<_>>());
    fields
        .filter_map(|f| Some((f.first()?.to_string(), f.get(4)?.to_string())))
        .collect()
}

/// The cgroup parent every demo that makes a container's group passes (`--cgroup-parent
/// rubber-crab-demo`, slides/README.md): a group by that name is a demo's, never a checker's or
/// another test's, so one left behind is the demo's doing.
const DEMO_CGROUP_PARENT: &str = "rubber-crab-demo";

/// Where each cgroup hierarchy, v1 or v2, is mounted.
fn cgroup_roots() -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let roots = table.lines().filter_map(|l| {
        // `id parent dev root mount-point options … - fstype source super-options`
        let (fields, fs) = l.split_once(" - ")?;
        let fstype = fs.split(' ').next()?;
        let at = fields.split(' ').nth(4)?;
        matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(at))
    });
    roots.collect()
}

/// The demos' cgroup parents that exist: `rubber-crab-demo` at the root of each hierarchy.
fn demo_groups() -> BTreeSet<PathBuf> {
    let groups = cgroup_roots()
        .into_iter()
        .map(|r| r.join(DEMO_CGROUP_PARENT));
    groups.filter(|group| group.is_dir()).collect()
}

/// Processes still running from a demo: in its process group, or carrying its mark.
fn leftovers(group: u32, mark: &str) -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …: the fields after the last `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .collect();
        let in_group = fields.get(2).is_some_and(|g| *g == group.to_string());
        let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
        let marked = environ.split(|b| *b == 0).any(|v| v == mark.as_bytes());
        // A zombie is waited for by its parent; only the living are left behind.
        if (in_group || marked) && fields.first() != Some(&"Z") {
            left.push(stat.split(')').next().map_or("", str::trim).to_string() + ")");
        }
    }
    left
}

/// Runs one demo of `deck` as presenterm does (`bash script.sh`, from the deck's directory) and
/// says what went wrong.
fn run_demo(deck: &Path, demo: &Demo) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let place = format!("{}:{}", deck.display(), demo.line);
    let mark = format!("{DEMO_MARK}={place}");
    let script =
        tempfile::NamedTempFile::new().map_err(|e| format!("cannot write the script: {e}"))?;
    std::fs::write(script.path(), &demo.script)
        .map_err(|e| format!("cannot write the script: {e}"))?;
    let before = mounts();
    let groups_before = demo_groups();
    // Files, not pipes: a process the demo left behind may hold them open forever.
    let (stdout, stderr) = (output_file()?, output_file()?);
    let mut child = Command::new("timeout")
        .args([DEMO_TIMEOUT_SECS, "bash"])
        .arg(script.path())
        .current_dir(deck.parent().unwrap_or(Path::new(".")))
        .env(DEMO_MARK, &place)
        .process_group(0)
        // A demo that waits for input would wait forever: it gets none.
        .stdin(std::process::Stdio::null())
        .stdout(clone(&stdout)?)
        .stderr(clone(&stderr)?)
        .spawn()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    // The demo's process group is its first process's pid.
    let group = child.id();
    let status = child.wait().map_err(|e| format!("cannot wait: {e}"))?;
    let mut problems = Vec::new();
    if !status.success() {
        problems.push(format!("exited with {status}"));
    }
    let after = mounts();
    let added: Vec<&String> = after.difference(&before).map(|(_, at)| at).collect();
    if !added.is_empty() {
        problems.push(format!("left mounts behind: {added:?}"));
    }
    let groups_after = demo_groups();
    let groups: Vec<&PathBuf> = groups_after.difference(&groups_before).collect();
    if !groups.is_empty() {
        problems.push(format!(
            "left cgroups behind: {groups:?} (end the demo with a hidden `/// rmdir …` line)"
        ));
    }
    // A container's last process may still be on its way out: give it a moment.
    let grace = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut running = leftovers(group, &mark);
    while !running.is_empty() && std::time::Instant::now() < grace {
        std::thread::sleep(std::time::Duration::from_millis(100));
        running = leftovers(group, &mark);
    }
    if !running.is_empty() {
        problems.push(format!("left processes running: {running:?}"));
    }
    let (stdout, stderr) = (read_back(stdout), read_back(stderr));
    let wide: Vec<&str> = (stdout.lines().chain(stderr.lines()))
        .filter(|l| l.chars().count() > demo.width)
        .collect();
    if let Some(widest) = wide.iter().map(|l| l.chars().count()).max() {
        problems.push(format!(
            "prints {} line(s) up to {widest} columns wide, and presenterm wraps its output at \
             the width of the code above it, {} columns: cut it (`| cut -c1-{}`) or hide the \
             filter in a `/// ` line. {wide:?}",
            wide.len(),
            demo.width,
            demo.width
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\n--- stdout:\n{}--- stderr:\n{}---",
        problems.join("; "),
        stdout,
        stderr
    ))
}

/// The slides of `deck` that, once their demo has run, are taller than 100×30 (`live.rs`).
fn slides_too_tall_with_output(presenterm: &Path, deck: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(deck).unwrap_or_default();
    let starts: Vec<usize> = slides(&text).iter().map(|s| s.line).collect();
    // presenterm's numbers: the front matter's title slide is 1, the first slide 2.
    let mut numbers: Vec<usize> = demos(&text)
        .iter()
        .map(|d| starts.iter().filter(|&&line| line <= d.line).count() + 1)
        .collect();
    numbers.dedup();
    match live::too_tall_once_run(presenterm, deck, &numbers) {
        Ok(problems) => problems
            .into_iter()
            .map(|p| format!("{name}: {p}"))
            .collect(),
        Err(why) => vec![format!("{name}: cannot present it in tmux: {why}")],
    }
}

fn output_file() -> Result<std::fs::File, String> {
    tempfile::tempfile().map_err(|e| format!("cannot make a temporary file: {e}"))
}

fn clone(file: &std::fs::File) -> Result<std::fs::File, String> {
    file.try_clone()
        .map_err(|e| format!("cannot share a file: {e}"))
}

/// What a demo wrote to `file`.
fn read_back(mut file: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
    text
}

/// Says a test was skipped where it is seen: on stderr itself, which the test harness does not
/// capture (it captures `eprintln!`).
fn say_skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("procfs")) == 0
}

#[test]
fn every_level_has_a_deck_with_front_matter_and_timed_notes() {
    let root = kit::paths::workspace_root();
    let mut problems = Vec::new();
    for name in required_decks() {
        let path = format!("slides/{name}.md");
        if !root.join(&path).is_file() {
            problems.push(format!(
                "{path} is missing: every level of kit::ladder::LADDER has a deck"
            ));
        }
    }
    for deck in decks(&root) {
        let text = std::fs::read_to_string(&deck).expect("reading a deck");
        for problem in format_problems(&text) {
            problems.push(format!("{}: {problem}", shown(&root, &deck)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_deck_without_front_matter_separators_or_timings_is_caught() {
    let good = "---\ntitle: t\nsub_title: s\nauthor: rubber-crab\n---\n\
        <!-- speaker_note: >\n  ~2 min\n-->\n<!-- end_slide -->\n\
        ```bash +exec\n<!-- end_slide -->\n/// hidden\necho hi\n```\n\
        <!-- speaker_note: the demo. ~1.5 min -->\n<!-- end_slide -->\n";
    assert_eq!(format_problems(good), Vec::<String>::new());
    assert_eq!(
        slides(good).len(),
        2,
        "an end_slide inside a code block ends nothing"
    );
    let demos = demos(good);
    assert_eq!((demos.len(), demos[0].line), (1, 10));
    assert_eq!(demos[0].script, "<!-- end_slide -->\nhidden\necho hi");
    assert_eq!(
        demos[0].width,
        "<!-- end_slide -->".len(),
        "hidden lines are not drawn"
    );

    let untimed = good.replace("~2 min", "two minutes");
    assert!(format_problems(&untimed)[0].contains("line 1 has no speaker note with a timing"));
    let one_slide = good.replace(END_SLIDE, "");
    assert!(format_problems(&one_slide)
        .iter()
        .any(|p| p.contains("one slide only")));
    let no_author = good.replace("author: rubber-crab", "author: someone");
    assert!(format_problems(&no_author)[0].contains("author: rubber-crab"));
    assert!(has_timing("intro ~ 4 min") && !has_timing("~min") && !has_timing("4 min"));
    // A plain note with `: ` in it is not YAML; the same text as a block scalar is.
    let plain = good.replacen(SPEAKER_NOTE, &format!("{SPEAKER_NOTE} Ask: why?"), 1);
    assert!(
        format_problems(&plain)[0].contains("is not YAML"),
        "{plain}"
    );
    let block = " |\n  ~2 min. Ask: why?\n";
    assert_eq!(
        note_as_presenterm_reads_it(block).unwrap(),
        "~2 min. Ask: why?\n"
    );
    // A literal block keeps its line breaks, a folded one joins them; backticks are shown raw.
    let folded = " >\n  ~2 min. Ask:\n  why?\n";
    assert_eq!(
        note_as_presenterm_reads_it(folded).unwrap(),
        "~2 min. Ask: why?\n"
    );
    let literal = good.replacen("speaker_note: >", "speaker_note: |", 1);
    assert!(
        format_problems(&literal)[0].contains("orphan words"),
        "{literal}"
    );
    let ticked = good.replacen("~2 min", "~2 min, `ls`", 1);
    assert!(
        format_problems(&ticked)[0].contains("a backtick"),
        "{ticked}"
    );

    // Columns are as wide as their widest cell, wherever it is; backticks are not shown.
    let cell = |n: usize| "z".repeat(n);
    let table = format!(
        "| a | `b` |\n|---|---|\n| {} | b |\n| a | {} |\n",
        cell(40),
        cell(41)
    );
    assert_eq!(wide_tables(&table), vec![]);
    let wider = table.replace(&cell(41), &cell(42));
    assert_eq!(wide_tables(&wider), vec![(1, 85)]);
    // A code line of 66 characters is shown whole, 67 wrap; hidden lines do not count.
    let code = format!(
        "text {}\n```\n{}\n/// {}\n```\n",
        "t".repeat(90),
        "c".repeat(66),
        "h".repeat(90)
    );
    assert_eq!(wrapped_code_lines(&code), vec![]);
    assert_eq!(
        wrapped_code_lines(&code.replace(&"c".repeat(66), &"c".repeat(67))),
        vec![(3, 67)]
    );
    // An escaped pipe is one character of its cell, not a column: 40 + 3 + (39 + 1 + 1) = 84.
    let escaped = table.replace(&cell(41), &format!("{} \\| z", cell(37)));
    assert_eq!(wide_tables(&escaped), vec![]);
    assert_eq!(
        wide_tables(&escaped.replace(" \\| z", " \\| zz")),
        vec![(1, 85)]
    );
    let problems = format_problems(&(good.to_string() + &wider));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("line 17 is 85 columns wide")),
        "{problems:?}"
    );
}

#[test]
fn every_demo_in_the_decks_runs_as_root_and_leaves_nothing_behind() {
    if !is_root() {
        say_skipped(
            "every_demo_in_the_decks_runs_as_root_and_leaves_nothing_behind",
            "needs root (CI runs it)",
        );
        return;
    }
    let root = &kit::paths::workspace_root();
    // The demos share the guides' image and /tmp/c: one test at a time uses them.
    let _turn = crate::transcripts::DEMO_HOST.lock();
    // What the presenter does before the talk (slides/README.md).
    let built = Command::new("cargo")
        .args(["build", "-q", "--workspace"])
        .current_dir(root)
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "cargo build --workspace failed"
    );
    crate::transcripts::build_image(root, "");
    let presenterm = overflow::presenterm_or_skip("the demos' slides fit with their output")
        .filter(|_| {
            let tmux = live::have_tmux();
            if !tmux {
                assert!(
                    std::env::var("RUBBER_CRAB_CI").ok().as_deref() != Some("1"),
                    "tmux is missing, and CI must measure the demos' slides: apt-get install tmux"
                );
                say_skipped(
                    "the demos' slides fit with their output",
                    "apt-get install tmux to measure them",
                );
            }
            tmux
        });
    let mut failures = Vec::new();
    for deck in decks(root) {
        let text = std::fs::read_to_string(&deck).expect("reading a deck");
        let name = shown(root, &deck);
        let demos = demos(&text);
        for demo in &demos {
            if let Err(why) = run_demo(&deck, demo) {
                failures.push(format!("{name}:{}: the demo {why}", demo.line));
            }
        }
        // Each demo's slide, with its real output, as presenterm draws it on 100×30.
        if let (false, Some(presenterm)) = (demos.is_empty(), &presenterm) {
            failures.extend(slides_too_tall_with_output(presenterm, &deck, &name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_failing_or_lingering_demo_is_caught() {
    let deck = std::env::temp_dir().join("t.md");
    let demo = |script: &str| Demo {
        line: 7,
        script: script.to_string(),
        width: 20,
    };
    assert_eq!(run_demo(&deck, &demo("echo fine")), Ok(()));
    // From the deck's directory, as presenterm runs it: not from the workspace root.
    let dir = std::env::temp_dir()
        .canonicalize()
        .expect("the temporary directory");
    let here = format!("test \"$(pwd -P)\" = '{}'", dir.display());
    assert_eq!(run_demo(&deck, &demo(&here)), Ok(()));
    // Output wider than the code above it is wrapped by presenterm: caught.
    let wide = run_demo(&deck, &demo("printf '%021d\\n' 0")).unwrap_err();
    assert!(
        wide.starts_with("prints 1 line(s) up to 21 columns wide"),
        "{wide}"
    );
    let failed = run_demo(&deck, &demo("echo out; exit 3")).unwrap_err();
    assert!(
        failed.starts_with("exited with exit status: 3") && failed.contains("out"),
        "{failed}"
    );
    // Out of its process group, but marked: still found.
    let lingering = run_demo(&deck, &demo("setsid sleep 60 & echo \"pid $!\"")).unwrap_err();
    let pid = lingering
        .split("pid ")
        .nth(1)
        .and_then(|p| p.lines().next());
    let pid: i32 = pid
        .and_then(|p| p.parse().ok())
        .expect("the demo's pid line");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    assert!(
        lingering.contains(&format!("left processes running: [\"{pid} (sleep)\"]")),
        "{lingering}"
    );
    if is_root() {
        // What this part leaves for a moment (a mount, a group) is what the demos of
        // every_demo_in_the_decks_runs_as_root_and_leaves_nothing_behind must not see.
        let _turn = crate::transcripts::DEMO_HOST.lock();
        let at = tempfile::tempdir().expect("a mount point");
        let at = at.path().display();
        let mounting = run_demo(&deck, &demo(&format!("mount -t tmpfs slides-test {at}")));
        let unmounted = Command::new("umount").arg(at.to_string()).status();
        assert!(unmounted.is_ok_and(|s| s.success()), "umount {at}");
        let mounting = mounting.unwrap_err();
        assert!(
            mounting.starts_with(&format!("left mounts behind: [\"{at}\"]")),
            "{mounting}"
        );
        // The demos' cgroup parent, made and left: caught.
        let writable = cgroup_roots().into_iter().find(|root| {
            let probe = root.join(DEMO_CGROUP_PARENT);
            std::fs::create_dir(&probe).is_ok() && std::fs::remove_dir(&probe).is_ok()
        });
        if let Some(root) = writable {
            let group = root.join(DEMO_CGROUP_PARENT);
            let making = run_demo(&deck, &demo(&format!("mkdir {}", group.display())));
            std::fs::remove_dir(&group).expect("removing the test's group");
            let making = making.unwrap_err();
            assert!(
                making.starts_with(&format!("left cgroups behind: [{group:?}]")),
                "{making}"
            );
        }
    }
}
