//! The level being watched, and the commands that check it: the checker itself, run as a child.

use crate::exit;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The level being watched, and how to run the checker on it.
pub struct Target {
    pub number: u32,
    /// `levels/03-pivot-root`, as the learner knows it.
    pub shown: String,
    pub dir: PathBuf,
    pub checker: PathBuf,
    /// Check with `--rootless`.
    rootless: bool,
}

impl Target {
    pub fn new(number: u32, rootless: bool) -> Result<Self> {
        let level = kit::ladder::level(number)
            .with_context(|| format!("level{number} is not on the ladder"))?;
        let shown = format!("levels/{}", level.dir);
        let dir = kit::paths::workspace_root().join(&shown);
        anyhow::ensure!(
            dir.is_dir(),
            "{} does not exist: watch mode needs the rubber-crab workspace this checker was built in",
            dir.display()
        );
        let checker = std::env::current_exe()
            .context("finding the checker's own executable, to run the checks with it")?;
        Ok(Self {
            number,
            shown,
            dir,
            checker,
            rootless,
        })
    }

    /// `checker <args>`, with stdin closed: the keys belong to watch mode.
    fn checker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.checker);
        command.args(args).stdin(Stdio::null());
        command
    }

    /// `checker levelN`, with `--rootless` when watching rootless.
    pub fn checks(&self) -> Command {
        let level = format!("level{}", self.number);
        if self.rootless {
            self.checker(&[&level, "--rootless"])
        } else {
            self.checker(&[&level])
        }
    }

    /// `checker hint levelN`.
    pub fn hint(&self) -> Command {
        self.checker(&["hint", &format!("level{}", self.number)])
    }

    /// No terminal (a pipe, CI): nobody would see the re-runs, so run the checks once.
    pub fn run_once(&self) -> Result<u8> {
        let status = self
            .checks()
            .status()
            .with_context(|| format!("running {}", self.checker.display()))?;
        eprintln!(
            "checker watch: stdout is not a terminal, so this ran the checks once instead of \
             watching (run it in a terminal to re-check on every save)"
        );
        Ok(exit::of_status(status))
    }
}
