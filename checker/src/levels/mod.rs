//! The checks, one module per level.

use crate::check::Check;

pub mod cgroup;
mod input;
mod input_more;
mod l0;
mod l1;
mod l10;
pub(crate) mod l11;
pub(crate) mod l12;
mod l13;
mod l2;
mod l3;
mod l4;
mod l5;
mod l6;
mod l7;
mod l8;
mod l9;

/// The checks of `level`, in the order they run.
pub fn checks(level: u32) -> &'static [Check] {
    match level {
        0 => l0::CHECKS,
        1 => l1::CHECKS,
        2 => l2::CHECKS,
        3 => l3::CHECKS,
        4 => l4::CHECKS,
        5 => l5::CHECKS,
        6 => l6::CHECKS,
        7 => l7::CHECKS,
        8 => l8::CHECKS,
        9 => l9::CHECKS,
        10 => l10::CHECKS,
        11 => l11::CHECKS,
        12 => l12::CHECKS,
        13 => l13::CHECKS,
        _ => &[],
    }
}
