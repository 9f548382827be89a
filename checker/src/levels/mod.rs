//! The checks, one module per level.

use crate::check::Check;

mod l0;
mod l1;
mod l2;
mod l3;

/// The checks of `level`, in the order they run.
pub fn checks(level: u32) -> &'static [Check] {
    match level {
        0 => l0::CHECKS,
        1 => l1::CHECKS,
        2 => l2::CHECKS,
        3 => l3::CHECKS,
        _ => &[],
    }
}
