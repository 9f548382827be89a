//! The rubber-crab checker: proves each level works by running a probe inside the container the
//! learner's runtime creates, and by observing it from the host.

pub mod capture;
pub mod cgroups;
pub mod check;
pub mod cli;
pub mod container_ids;
pub mod doctor;
pub mod enter;
pub mod exit;
pub mod guard;
pub mod hang;
pub mod hints;
pub mod hold;
pub mod interrupt;
pub mod kernel;
pub mod levels;
pub mod links;
pub mod mounts;
pub mod options;
pub mod ownership;
pub mod prepare;
pub mod progress;
pub mod reach;
pub mod report;
pub mod room;
pub mod rootless;
pub mod run;
pub mod sandbox;
pub mod suite;
pub mod text;
pub mod trace;
pub mod watch;
