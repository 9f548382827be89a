//! Mount tables, as read from /proc/<pid>/mountinfo.

use anyhow::{Context, Result};
use probe::{parse_mountinfo_line, MountEntry};

/// One mount, reduced to what identifies it across snapshots of the same namespace.
pub type Mount = MountEntry;

pub fn read(path: &str) -> Result<Vec<Mount>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// Mounts in `after` that were not in `before` (compared by mount id, which is stable within a
/// namespace and never reused while the namespace lives... ids can be reused after unmount, so the
/// mount point and filesystem are compared too).
pub fn added(before: &[Mount], after: &[Mount]) -> Vec<Mount> {
    after
        .iter()
        .filter(|m| !before.iter().any(|b| same(b, m)))
        .cloned()
        .collect()
}

fn same(a: &Mount, b: &Mount) -> bool {
    a.id == b.id && a.mount_point == b.mount_point && a.fstype == b.fstype
}

/// `tmpfs on /x/y`, for messages.
pub fn describe(m: &Mount) -> String {
    format!("{} on {}", m.fstype, m.mount_point)
}
