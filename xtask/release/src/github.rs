//! GitHub Actions' workflow commands: folded log groups and annotations when running in
//! Actions (as `config` says), plain text otherwise.

use anyhow::{Context, Result};

fn in_actions() -> bool {
    crate::config::Config::get().in_actions()
}

/// Folds long tool output in the Actions log; a plain heading elsewhere.
pub fn group<T>(title: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if in_actions() {
        println!("::group::{title}");
        let result = f();
        println!("::endgroup::");
        result
    } else {
        eprintln!("==> {title}");
        f()
    }
}

/// A token for `::stop-commands::`, which no output can guess: 128 random bits.
pub fn stop_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for a stop-commands token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Workflow commands end at a newline; the runner expects these encodings.
fn encode(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Prints a failure so that Actions annotates the run with it: one line, whatever the error
/// quotes (a typed version, a tool's output) holds.
pub fn report_error(error: &anyhow::Error) {
    let text = crate::text::one_line(&format!("{error:#}"));
    if in_actions() {
        println!("::error::{}", encode(&text));
    }
    eprintln!("error: {text}");
}

/// A problem that does not stop the release, annotated in Actions.
pub fn warning(text: &str) {
    let text = crate::text::one_line(text);
    if in_actions() {
        println!("::warning::{}", encode(&text));
    }
    eprintln!("warning: {text}");
}

pub fn step(message: &str) {
    eprintln!("--> {message}");
}
