//! Facts about the Debian machine: the mirror it installs from.

use std::path::Path;

const SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// The machine's own Debian mirror (the first `URIs:` of its sources that is not the security
/// archive), so that nothing names a mirror the machine may not reach.
pub fn mirror() -> Option<String> {
    mirror_in(&std::fs::read_to_string(SOURCES).ok()?)
}

fn mirror_in(sources: &str) -> Option<String> {
    sources
        .lines()
        .filter_map(|l| l.strip_prefix("URIs:"))
        .flat_map(|u| u.split_whitespace())
        .find(|u| !u.contains("security"))
        .map(String::from)
}

/// Whether this is a Debian machine apt can install on.
pub fn has_apt() -> bool {
    Path::new("/usr/bin/apt-get").exists()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_mirror_is_the_first_non_security_uri() {
        let sources = "Types: deb\nURIs: http://security.example/debian-security\nSuites: x\n\nTypes: deb\nURIs: http://mirror.example/debian\n";
        assert_eq!(
            super::mirror_in(sources).as_deref(),
            Some("http://mirror.example/debian")
        );
    }
}
