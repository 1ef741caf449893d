//! `cargo xtask`: the release commands (`kube9-release`'s, run in process) and the developer
//! environment's (setup, the local services, doctor, ci, bench, the workflow simulation).

use std::process::ExitCode;

use clap::Parser;

mod flags;
mod tasks;

fn main() -> ExitCode {
    match flags::Xtask::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kube9_release::github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
