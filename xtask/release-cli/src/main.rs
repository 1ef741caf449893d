use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match kube9_release_cli::flags::Kube9Release::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kube9_release::github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
