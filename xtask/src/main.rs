//! `cargo xtask`: the release commands (`kube9-release`'s, run in process) and the developer
//! environment's (setup, the local services, doctor, ci, bench, the workflow simulation).

use std::process::ExitCode;

mod flags;
mod tasks;

fn main() -> ExitCode {
    match kube9_release_cli::flags::parse::<flags::Xtask>().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kube9_release::github::report_error(&e);
            // A withdrawn release that verifies has a code of its own (documented in README).
            ExitCode::from(kube9_release::withdrawal::exit_code(&e))
        }
    }
}
