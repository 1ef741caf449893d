//! Release automation for the kube9-operator: `cargo xtask --help`.
//!
//! Two rooms, one direction: `release` is everything a release needs (plans, the executor,
//! registries, scans, signatures); `devenv` is the developer environment (setup, the local
//! services, doctor, ci, bench, workflow simulation) and may use `release`, never the reverse.
//! `flags` is the command line and `tasks` holds one file per command.

pub mod devenv;
pub mod flags;
pub mod release;
mod tasks;
