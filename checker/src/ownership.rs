//! Proof that a checker's run dir or cage is still in use: a lock file its owner holds with
//! flock(2) for as long as it lives. The kernel drops the lock when the owner dies, however it
//! dies, and a lock is the same across PID namespaces and never confused by a reused pid: a
//! sweeper that can take the lock knows the owner is gone; one that cannot, or finds no lock,
//! leaves the thing alone (another checker's, maybe in another PID namespace).

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// A lock its owner holds: dropped (and released) when the owner is done.
pub type Held = Flock<File>;

/// Creates the lock file `path`, locked before it appears under its name (made under a
/// temporary name, locked, then renamed): no sweeper ever sees it unlocked while its owner lives.
pub fn create_locked(path: &Path) -> Result<Held> {
    let dir = path.parent().context("a lock file has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{}.tmp", crate::run::nonce()));
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let held = Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("locking {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("creating {}", path.display()))?;
    Ok(held)
}

/// The lock `path`, taken, when its owner is gone; None while the owner lives, or when there is
/// no such lock (nothing proves the owner gone).
pub fn take_if_dead(path: &Path) -> Option<Held> {
    let file = std::fs::OpenOptions::new().read(true).open(path).ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}
