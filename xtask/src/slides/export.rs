//! A deck exports to a handout, HTML or PDF, with the command `slides/README.md` gives
//! ("Export a handout"): `slides/export.yaml` fixes the size (100×30) so that presenterm needs no
//! terminal, and runs the demos one at a time when `-x` asks for their output.
//!
//! A demo's slide is measured live instead (`live.rs`): the export draws titles at double size.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The export settings every handout uses (slides/README.md): the size, and demos one at a time.
pub(super) fn config() -> PathBuf {
    kit::paths::workspace_root().join("slides/export.yaml")
}

/// The rows presenterm draws a slide on in an export: `export.dimensions` of `slides/export.yaml`.
const ROWS: usize = 30;
/// Exports `deck` to `out` (HTML, or PDF when `out` ends in `.pdf`), running its demos if
/// `execute`; presenterm's own message when it fails.
pub(super) fn export(
    presenterm: &Path,
    deck: &Path,
    out: &Path,
    execute: bool,
) -> Result<(), String> {
    // The defaults, not whoever runs the tests' own config (its theme may change the sizes).
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pdf = out.extension().is_some_and(|e| e == "pdf");
    let mut command = Command::new("timeout");
    command
        .arg("600")
        .arg(presenterm)
        .arg("--config-file")
        .arg(config())
        .arg(if pdf { "--export-pdf" } else { "--export-html" })
        .arg("--output")
        .arg(out)
        .arg(deck)
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(Stdio::null());
    if execute {
        command.arg("--enable-snippet-execution");
    }
    let ran = command
        .output()
        .map_err(|e| format!("cannot run presenterm: {e}"))?;
    if ran.status.success() && out.is_file() {
        return Ok(());
    }
    let said = super::overflow::text(&[ran.stdout, ran.stderr].concat());
    Err(format!(
        "presenterm --export-{} {} exited with {} and wrote {}: {}",
        if pdf { "pdf" } else { "html" },
        deck.display(),
        ran.status,
        if out.is_file() { "it" } else { "nothing" },
        said.trim()
    ))
}

/// The text of an HTML export, one list of rows per slide (the title slide first).
fn slides_of(html: &str) -> Vec<Vec<String>> {
    const OPEN: &str = "<div class=\"content-line\"><pre>";
    let rows: Vec<String> = html
        .split(OPEN)
        .skip(1)
        .map(|rest| {
            let row = rest.split("</pre></div>").next().unwrap_or("");
            unescape(&without_tags(row)).trim_end().to_string()
        })
        .collect();
    rows.chunks(ROWS).map(<[String]>::to_vec).collect()
}

fn without_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The `===`-underlined titles of a deck's slides.
fn titles(deck: &str) -> Vec<String> {
    let lines: Vec<&str> = deck.lines().collect();
    let under = lines.windows(2).filter(|w| {
        let rule = w[1].trim();
        !w[0].trim().is_empty() && rule.len() >= 3 && rule.chars().all(|c| c == '=')
    });
    under.map(|w| w[0].trim().replace('`', "")).collect()
}

#[test]
fn a_deck_exports_to_an_html_handout_with_its_titles_without_a_terminal() {
    let Some(presenterm) = super::overflow::presenterm_or_skip("a_deck_exports_to_html") else {
        return;
    };
    let root = kit::paths::workspace_root();
    let deck = root.join("slides/intro.md");
    let out = tempfile::tempdir().expect("a directory");
    let html = out.path().join("intro.html");
    // No terminal here: the test harness's stdin is not one, and the export's stdin is null.
    export(&presenterm, &deck, &html, false).expect("the export");
    let text: String = slides_of(&std::fs::read_to_string(&html).expect("the export"))
        .concat()
        .join("\n");
    let titles = titles(&std::fs::read_to_string(&deck).expect("the deck"));
    assert!(titles.len() > 5, "{titles:?}");
    for title in titles {
        assert!(text.contains(&title), "{title:?} is not in the export");
    }
}

#[test]
fn a_deck_exports_to_a_pdf_handout_when_weasyprint_is_installed() {
    let Some(presenterm) = super::overflow::presenterm_or_skip("a_deck_exports_to_pdf") else {
        return;
    };
    let found = |tool: &str, version: &str| {
        Command::new(tool)
            .arg(version)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found("weasyprint", "--version") || !found("pdftotext", "-v") {
        let install = "apt-get install weasyprint poppler-utils";
        assert!(
            std::env::var("RUBBER_CRAB_CI").ok().as_deref() != Some("1"),
            "weasyprint or pdftotext is missing, and CI must run this test: {install}"
        );
        super::say_skipped("a_deck_exports_to_pdf", &format!("{install} to run it"));
        return;
    }
    let deck = kit::paths::workspace_root().join("slides/04-uts-ns.md");
    let out = tempfile::tempdir().expect("a directory");
    let pdf = out.path().join("04.pdf");
    export(&presenterm, &deck, &pdf, false).expect("the export");
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    for title in titles(&std::fs::read_to_string(&deck).expect("the deck")) {
        assert!(text.contains(&title), "{title:?} is not in the PDF");
    }
}

#[test]
fn titles_are_the_underlined_lines() {
    assert_eq!(
        titles("A\n=\nB b\n===\n\n`c`\n=====\n"),
        vec!["B b".to_string(), "c".to_string()]
    );
}
