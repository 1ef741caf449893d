use std::process::ExitCode;

fn main() -> ExitCode {
    match kube9_release_cli::flags::parse::<kube9_release_cli::flags::Kube9Release>().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kube9_release::github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
