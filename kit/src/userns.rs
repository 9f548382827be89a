//! Questions about the user namespace the runtime runs in (user_namespaces(7)). As root on the
//! host it is the initial namespace, which maps every id; rootless (`checker --rootless`), it is
//! a namespace that maps only a few, and some operations are refused there (mknod of a device,
//! mounting a procfs for a PID namespace it does not own, chown to an unmapped id).

/// Whether this process's user namespace maps every user id (the initial namespace does:
/// `0 0 4294967295`); a rootless container's maps only a few.
pub fn maps_every_id() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    mapped_ids(&map) == u64::from(u32::MAX)
}

/// How many ids a `uid_map` maps: the sum of its ranges' lengths (the third field of each line).
fn mapped_ids(uid_map: &str) -> u64 {
    uid_map
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2)?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_initial_namespace_maps_every_id() {
        assert_eq!(
            mapped_ids("         0          0 4294967295\n"),
            u64::from(u32::MAX)
        );
        assert_eq!(mapped_ids("         0       1000          1\n"), 1);
        assert_eq!(mapped_ids("0 1000 1\n1 100000 65536\n"), 65537);
        assert_eq!(mapped_ids(""), 0);
    }
}
