//! `cargo xtask bench`: how long a container takes to start and exit.
//!
//! - `images`: levels 6 and 7 with the small demo image and with the same image grown by a
//!   200 MiB file. It shows what level 7 buys: before it every start copies the whole image;
//!   from it on the image is extracted once.
//! - `latency` (`latency.rs`): every solution level against runc and the unshare floor.
//! - `explain N`: where one start of solutionN spends its time, step by step.
//! - `checker` (`checker.rs`): how long a verdict takes: `checker level3`, `level7`, `level10`
//!   and `all --solution`, round after round (interleaved with another checker binary given
//!   `--against`), the median check, and where the slowest checks' time goes.
//! - `checker LEVEL`: `checker levelN --solution` run after run: wall time, slowest checks, and
//!   the memory cgroups the kernel keeps.

mod checker;
mod latency;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The levels the images table compares: the last one that copies the image per container,
/// and overlayfs.
const LEVELS: &[u32] = &[6, 7];
const RUNS: u32 = 10;
const BIG_MIB: usize = 200;
/// Interleaved rounds of the latency table, unless `--rounds` says otherwise.
const ROUNDS: usize = 30;

const USAGE: &str =
    "usage: cargo xtask bench [images | latency [LEVEL,LEVEL…] | explain LEVEL | checker [LEVEL] [--against CHECKER]] [--rounds N]";

/// What `cargo xtask bench [images|latency [LEVELS]|explain N] [--rounds N]` asked for.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Both {
        rounds: usize,
    },
    Images,
    /// `levels`: every level of the ladder when None.
    Latency {
        rounds: usize,
        levels: Option<Vec<u32>>,
    },
    Explain {
        level: u32,
    },
    /// `runs`: checker.rs's default when `--rounds` is not given.
    Checker {
        level: u32,
        runs: Option<usize>,
    },
    /// The figures of a verdict's speed; `against`: another checker binary, interleaved.
    CheckerFigures {
        rounds: Option<usize>,
        against: Option<PathBuf>,
    },
}

/// `10`, `solution10`.
fn level_number(word: &str) -> Result<u32> {
    word.trim_start_matches("solution")
        .parse()
        .with_context(|| format!("{word}: not a level number ({USAGE})"))
}

fn parse(args: &[&str]) -> Result<Task> {
    let (given, rest) = match args {
        [rest @ .., "--rounds", n] => (Some(n.parse().context("--rounds takes a number")?), rest),
        rest => (None, rest),
    };
    let rounds = given.unwrap_or(ROUNDS);
    Ok(match rest {
        [] => Task::Both { rounds },
        ["images"] => Task::Images,
        ["latency"] => Task::Latency {
            rounds,
            levels: None,
        },
        ["latency", list] => Task::Latency {
            rounds,
            levels: Some(list.split(',').map(level_number).collect::<Result<_>>()?),
        },
        ["explain", n] => Task::Explain {
            level: level_number(n)?,
        },
        ["checker"] => Task::CheckerFigures {
            rounds: given,
            against: None,
        },
        ["checker", "--against", other] => Task::CheckerFigures {
            rounds: given,
            against: Some(PathBuf::from(other)),
        },
        ["checker", n] => Task::Checker {
            level: level_number(n.trim_start_matches("level"))?,
            runs: given,
        },
        _ => bail!("{USAGE}"),
    })
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let task = parse(args)?;
    if !nix_is_root() {
        bail!("the runtimes need root: run `sudo -E env \"PATH=$PATH\" cargo xtask bench`");
    }
    let levels: Vec<u32> = match &task {
        Task::Checker { level, runs } => {
            return checker::table(root, *level, runs.unwrap_or(checker::RUNS));
        }
        Task::CheckerFigures { rounds, against } => {
            return checker::figures(root, rounds.unwrap_or(checker::ROUNDS), against.clone());
        }
        Task::Images => LEVELS.to_vec(),
        Task::Explain { level } => vec![*level],
        Task::Latency {
            levels: Some(levels),
            ..
        } => levels.clone(),
        _ => kit::ladder::LADDER.iter().map(|l| l.number).collect(),
    };
    build_release(root, &levels)?;
    let scratch = root.join("target/rubber-crab/bench");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let small = kit::image::locate(&kit::paths::default_image_dir(), "busybox")?;
    std::fs::copy(&small, scratch.join("small.tar"))?;
    match task {
        Task::Images => images(root, &scratch, &small)?,
        Task::Latency { rounds, .. } => latency::table(root, &scratch, &levels, rounds)?,
        Task::Explain { level } => latency::timeline(root, &scratch, level)?,
        Task::Both { rounds } => {
            images(root, &scratch, &small)?;
            println!();
            latency::table(root, &scratch, &levels, rounds)?;
        }
        Task::Checker { .. } | Task::CheckerFigures { .. } => {} // timed above, without the release builds
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// `solutionN` for each of `levels`, optimised.
fn build_release(root: &Path, levels: &[u32]) -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--release", "--quiet"])
        .args(
            levels
                .iter()
                .flat_map(|n| ["-p".to_string(), format!("solution{n}")]),
        )
        .status()?;
    if !status.success() {
        bail!("the solutions did not build");
    }
    Ok(())
}

/// The images table: levels 6 and 7, small image and big.
fn images(root: &Path, scratch: &Path, small: &Path) -> Result<()> {
    grow_image(small, &scratch.join("big.tar"))?;
    println!("container start + exit (`run -- /bin/true`), release build, mean of {RUNS} runs after the first:\n");
    println!(
        "{:<12} {:>14} {:>14} {:>16}",
        "",
        "small: first",
        "small: next",
        format!("+{BIG_MIB} MiB: next")
    );
    for level in LEVELS {
        let exe = root.join(format!("target/release/solution{level}"));
        let (first, next) = time_starts(&exe, scratch, "small")?;
        let (_, big_next) = time_starts(&exe, scratch, "big")?;
        println!(
            "{:<12} {:>11} ms {:>11} ms {:>13} ms",
            format!("solution{level}"),
            first.as_millis(),
            next.as_millis(),
            big_next.as_millis()
        );
    }
    Ok(())
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The demo image plus one large file, as a second image.
fn grow_image(small: &Path, big: &Path) -> Result<()> {
    std::fs::copy(small, big)?;
    let blob = big.with_extension("blob");
    let chunk: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut file = std::fs::File::create(&blob)?;
    for _ in 0..BIG_MIB {
        std::io::Write::write_all(&mut file, &chunk)?;
    }
    let status = Command::new("tar")
        .arg("-rf")
        .arg(big)
        .arg("-C")
        .arg(blob.parent().context("blob dir")?)
        .arg(blob.file_name().context("blob name")?)
        .status()?;
    std::fs::remove_file(&blob)?;
    if !status.success() {
        bail!("tar could not append to {}", big.display());
    }
    Ok(())
}

/// The first start, and the mean of the next RUNS starts.
fn time_starts(exe: &PathBuf, scratch: &Path, image: &str) -> Result<(Duration, Duration)> {
    let start = || -> Result<Duration> {
        let began = Instant::now();
        let status = Command::new(exe)
            .args(["run", "--image", image, "--image-dir"])
            .arg(scratch)
            .arg("--container-dir")
            .arg(scratch.join("containers"))
            .args(["--", "/bin/true"])
            .status()?;
        if !status.success() {
            bail!("{} run failed: {status}", exe.display());
        }
        Ok(began.elapsed())
    };
    let first = start()?;
    let mut total = Duration::ZERO;
    for _ in 0..RUNS {
        total += start()?;
    }
    Ok((first, total / RUNS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_takes_a_table_and_a_number_of_rounds() {
        assert_eq!(parse(&[]).unwrap(), Task::Both { rounds: ROUNDS });
        assert_eq!(parse(&["images"]).unwrap(), Task::Images);
        assert_eq!(
            parse(&["latency", "--rounds", "5"]).unwrap(),
            Task::Latency {
                rounds: 5,
                levels: None
            }
        );
        assert_eq!(
            parse(&["latency", "7,solution10"]).unwrap(),
            Task::Latency {
                rounds: ROUNDS,
                levels: Some(vec![7, 10])
            }
        );
        assert!(parse(&["latency", "7,x"]).is_err());
        assert_eq!(
            parse(&["explain", "10"]).unwrap(),
            Task::Explain { level: 10 }
        );
        assert!(parse(&["latency", "--rounds", "x"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert_eq!(
            parse(&["checker"]).unwrap(),
            Task::CheckerFigures {
                rounds: None,
                against: None
            }
        );
        assert_eq!(
            parse(&["checker", "--against", "/tmp/old", "--rounds", "4"]).unwrap(),
            Task::CheckerFigures {
                rounds: Some(4),
                against: Some(PathBuf::from("/tmp/old"))
            }
        );
        assert_eq!(
            parse(&["checker", "level7", "--rounds", "3"]).unwrap(),
            Task::Checker {
                level: 7,
                runs: Some(3)
            }
        );
    }
}
