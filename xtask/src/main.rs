//! `cargo xtask <task>`: the workshop's maintenance tasks, one module per task (the cargo-xtask
//! convention; the alias lives in `.cargo/config.toml`).

mod bench;
mod generate;
#[cfg(test)]
mod guides;
#[cfg(test)]
mod hint_code;
#[cfg(test)]
mod slides;
mod template;
#[cfg(test)]
mod transcripts;

use std::process::ExitCode;

use anyhow::Result;
use kit::ladder::LADDER;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  generate [--check]  render solutions/runtime.rs into every level's crates in levels/ and
                      solutions/; with --check, write nothing and fail if any is out of date
  bench [images | latency [LEVEL,…] | explain LEVEL | checker [LEVEL] [--against BIN]] [--rounds N]
                      time container starts (needs root). images: solution6 (a copy of the
                      image per container) and solution7 (overlayfs), with a small and a
                      200 MiB image; latency: every solution level (or those listed)
                      against runc and the unshare floor, interleaved, medians; explain: one
                      start of solutionLEVEL with --explain, each step stamped with the time
                      since the start (as it reaches the bench); checker: how long a verdict
                      takes (level3, level7, level10, all --solution; rounds interleaved with
                      another checker binary given --against), the slowest checks and where
                      their time goes; checker LEVEL: `checker levelN --solution` run after
                      run, with its slowest checks and the memory cgroups the kernel keeps;
                      without a table name: images, then latency";

/// Exit status for a bad command line.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            for line in format!("{err:#}").lines() {
                eprintln!("error: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["generate"] => generate::run(&generate::project_root()?, LADDER, generate::Mode::Write)?,
        ["generate", "--check"] => {
            generate::run(&generate::project_root()?, LADDER, generate::Mode::Check)?
        }
        ["bench", rest @ ..] => bench::run(&generate::project_root()?, rest)?,
        ["help" | "--help" | "-h"] => println!("{USAGE}"),
        [] => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        _ => {
            eprintln!(
                "error: unknown task or option in `cargo xtask {}`\n\n{USAGE}",
                args.join(" ")
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    Ok(ExitCode::SUCCESS)
}
