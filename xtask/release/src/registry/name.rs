//! Repository names, checked against the OCI distribution grammar before anything is built:
//! a name that cannot work is refused with the reason, never sent to a registry.

use std::fmt;
use std::net::IpAddr;

use anyhow::{bail, Result};
use oci_client::Reference;
use serde::Serialize;

/// A repository such as `ghcr.io/alto9/kube9-operator`, split into host and path. Charts use
/// the same type: `oci://ghcr.io/alto9/charts` is the repository `ghcr.io/alto9/charts`, and a
/// chart named `kube9-operator` lands in its child `ghcr.io/alto9/charts/kube9-operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub host: String,
    pub path: String,
}

const EXAMPLE: &str = "e.g. ghcr.io/alto9/kube9-operator";

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`: one path component of a repository name.
fn valid_component(c: &str) -> bool {
    // What lies between the letters and digits: nothing, or one separator.
    let between: Vec<&str> = c
        .split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        .collect();
    let separator = |s: &&str| matches!(*s, "." | "_" | "__") || s.bytes().all(|b| b == b'-');
    !c.is_empty()
        && between.first().is_some_and(|s| s.is_empty())
        && between.last().is_some_and(|s| s.is_empty())
        && between.iter().all(separator)
}

/// A port: digits only.
fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

/// A registry host: lowercase DNS labels or an IP address (`[...]` for IPv6), optional port.
fn valid_host(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, tail)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = tail.is_empty() || tail.strip_prefix(':').is_some_and(valid_port);
        return addr.parse::<IpAddr>().is_ok() && port_ok;
    }
    let (name, port_ok) = match host.split_once(':') {
        Some((name, port)) => (name, valid_port(port)),
        None => (host, true),
    };
    port_ok
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl Repository {
    /// Parses `host/path`, or `oci://host/path` (the form helm uses for charts).
    pub fn parse(raw: &str) -> Result<Repository> {
        let full = &crate::text::shown(raw);
        let bare = raw.strip_prefix("oci://").unwrap_or(raw);
        if bare.contains("://") {
            bail!("`{full}` has a scheme: give the repository without one ({EXAMPLE})");
        }
        if bare.contains('@') {
            bail!("`{full}` holds credentials or a digest: give the bare repository ({EXAMPLE}); credentials come from the environment");
        }
        let Some((host, path)) = bare.split_once('/') else {
            bail!("`{full}` is not a repository with a registry host ({EXAMPLE})");
        };
        let looks_like_host = host.contains('.') || host.contains(':') || host == "localhost";
        if !looks_like_host || !valid_host(host) {
            bail!(
                "`{}` in `{full}` is not a registry host: lowercase name or IP address, optional :port ({EXAMPLE})",
                crate::text::shown(host)
            );
        }
        if !path.split('/').all(valid_component) {
            bail!(
                "`{}` is not a valid repository path: lowercase letters and digits, separated by \
                 `.`, `_`, `__` or dashes, components joined by `/` ({EXAMPLE})",
                crate::text::shown(path)
            );
        }
        Ok(Repository {
            host: host.to_string(),
            path: path.to_string(),
        })
    }

    /// `<this>/<name>`, e.g. where helm puts a chart.
    pub fn child(&self, name: &str) -> Repository {
        Repository {
            host: self.host.clone(),
            path: format!("{}/{name}", self.path),
        }
    }

    /// The last element of the path (`kube9-operator`), which Trivy names an image after.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// `oci://host/path`, the form helm takes.
    pub fn oci_url(&self) -> String {
        format!("oci://{self}")
    }

    pub fn tag(&self, tag: &str) -> Reference {
        Reference::with_tag(self.host.clone(), self.path.clone(), tag.to_string())
    }

    pub fn digest(&self, digest: &str) -> Reference {
        Reference::with_digest(self.host.clone(), self.path.clone(), digest.to_string())
    }

    /// Plain HTTP is used only for hosts that are loopback addresses or `localhost`, as Docker
    /// assumes for 127.0.0.0/8; a name like `127.attacker.example` gets HTTPS.
    pub fn is_loopback(&self) -> bool {
        let host = match self.host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
            _ => self.host.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_needs_a_host_and_a_lowercase_path() {
        let r = Repository::parse("ghcr.io/alto9/kube9-operator").unwrap();
        assert_eq!(
            (r.host.as_str(), r.path.as_str()),
            ("ghcr.io", "alto9/kube9-operator")
        );
        assert!(!r.is_loopback());
        for bad in [
            "alto9/kube9-operator",
            "ghcr.io/Alto9/kube9",
            "GHCR.io/alto9/kube9",
            "ghcr.io/",
            "ghcr.io/alto9/../etc",
            "ghcr.io/alto9/.hidden",
            "ghcr.io/alto9/a..b",
            "ghcr.io/alto9/a-",
            "ghcr.io//x",
            "https://ghcr.io/alto9/x",
            "user:token@ghcr.io/alto9/x",
            "ghcr.io:port/x",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad} was accepted");
        }
        for good in [
            "ghcr.io/a__b/c-d/e.f",
            "localhost:5000/x",
            "127.0.0.1:5000/x/y",
            "[::1]:5000/x",
            "registry-1.example.com:443/a--b",
        ] {
            assert!(Repository::parse(good).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn plain_http_only_for_loopback_addresses() {
        let loopback = |r: &str| Repository::parse(r).unwrap().is_loopback();
        assert!(loopback("127.0.0.1:5000/x"));
        assert!(loopback("127.1.2.3/x"));
        assert!(loopback("localhost:5000/x"));
        assert!(loopback("[::1]:5000/x"));
        assert!(!loopback("127.attacker.example/x"));
        assert!(!loopback("127.0.0.1.nip.io:5000/x"));
        assert!(!loopback("10.0.0.1:5000/x"));
        assert!(!loopback("localhost.example/x"));
    }

    #[test]
    fn charts_share_the_type_with_an_oci_scheme() {
        let charts = Repository::parse("oci://ghcr.io/alto9/charts").unwrap();
        assert_eq!(charts.oci_url(), "oci://ghcr.io/alto9/charts");
        assert_eq!(
            charts.child("kube9-operator").to_string(),
            "ghcr.io/alto9/charts/kube9-operator"
        );
    }
}
