//! The release commands: `release-image`, `release-chart`, `release`, `verify-release`,
//! `verify-reproducible`, `rescan`, `release-notes`,
//! `check-repo` and `withdraw`. Each gathers its inputs (flags, and the environment
//! as `kube9_release::config` reads it) and the registry's facts, asks `kube9_release::plan`
//! for its plan, then prints or runs it. The `kube9-release` binary is exactly these
//! commands; `cargo xtask` runs the same ones.

pub mod flags;
mod tasks;
