use std::process::ExitCode;

fn main() -> ExitCode {
    match kube9_release_cli::flags::parse::<kube9_release_cli::flags::Kube9Release>().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kube9_release::github::report_error(&e);
            // A withdrawn release that verifies has a code of its own (documented in README).
            ExitCode::from(kube9_release::withdrawal::exit_code(&e))
        }
    }
}
