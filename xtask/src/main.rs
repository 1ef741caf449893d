use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match xtask::flags::Xtask::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            xtask::release::github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
