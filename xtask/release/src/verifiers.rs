//! Which verifiers a verification checked a release with. "Signed" means "verifiable by a named
//! set of verifiers at named versions": cosign 2.x reads only the legacy `.sig` layout, cosign
//! 3.1.3 fixes a verification bypass, Helm 3 and 4 render differently in places. So every
//! check says which program made it, and the report lists each program, its version and how
//! its checks ended.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cmd::Cmd;

/// How a check of a verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Failed, but only a warning was asked for (`--public-check warn`).
    Warned,
    Failed,
    /// Not run, on request (`--run-platform none`, `--public-check skip`): never a pass.
    Skipped,
}

/// One finished check of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub status: Status,
    pub detail: String,
    /// The verifier that made it (set by the executor from the step).
    pub by: Option<Checker>,
}

/// A program a check is made with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "lowercase")]
pub enum Checker {
    /// Signatures and attestations (the legacy `.sig`/`.att` layout every verifier reads).
    Cosign,
    /// GitHub's build provenance (`gh attestation verify`).
    Gh,
    /// The chart: pull, render (Helm 4, what the release packages with).
    Helm,
    /// The chart rendered by the last Helm 3 as well (`helm3`), when it is installed: admins
    /// still install with it until its end of life.
    Helm3,
    /// Each platform pulled by tag and run, as a node runs it.
    Docker,
    /// Each platform pulled through a `sigstoreSigned` policy, as CRI-O and podman nodes pull
    /// (skopeo with sigstore built in).
    #[strum(serialize = "containers/image (skopeo)")]
    ContainersImage,
    /// The registry's API read by this tool (OCI distribution, anonymous pulls, referrers).
    #[strum(serialize = "OCI distribution API (kube9-release)")]
    RegistryApi,
    /// The standards' own validators (CycloneDX, in-toto/SLSA, OpenVEX), on what the registry
    /// serves.
    #[strum(serialize = "the standards' validators")]
    Validators,
}

impl Checker {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The command that prints its version; `None` for this tool itself.
    pub fn version_command(self) -> Option<Cmd> {
        let cmd = match self {
            Checker::Cosign => Cmd::new("cosign").args(["version", "--json"]),
            Checker::Gh => Cmd::new("gh").arg("--version"),
            Checker::Helm => Cmd::new("helm").args(["version", "--short"]),
            Checker::Helm3 => Cmd::new("helm3").args(["version", "--short"]),
            Checker::Docker => Cmd::new("docker").arg("--version"),
            Checker::ContainersImage => Cmd::new(crate::tools::node_skopeo()).arg("--version"),
            Checker::Validators => crate::validate::python_versions(),
            Checker::RegistryApi => return None,
        };
        Some(cmd)
    }

    /// The version in what `version_command` printed.
    pub fn version_of(self, printed: &str) -> String {
        let printed = printed.trim();
        let version = match self {
            Checker::Cosign => serde_json::from_str::<serde_json::Value>(printed)
                .ok()
                .and_then(|v| v["gitVersion"].as_str().map(str::to_string)),
            // `gh version 2.83.0 (...)`, `Docker version 28.2.2, build e6534b4`, `skopeo
            // version 1.18.0`.
            Checker::Gh | Checker::Docker | Checker::ContainersImage => printed
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2))
                .map(|v| v.trim_end_matches(',').to_string()),
            // One `name version` per line.
            Checker::Validators => Some(printed.lines().collect::<Vec<_>>().join(", ")),
            _ => printed.lines().next().map(str::to_string),
        };
        version.unwrap_or_else(|| "unknown".into())
    }
}

/// One verifier's line of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifierResult {
    pub verifier: String,
    pub version: String,
    pub checks: usize,
    pub failed: usize,
    pub warned: usize,
    /// Checks it could not make (the verifier is not installed here).
    pub skipped: usize,
}

impl VerifierResult {
    pub fn result(&self) -> &'static str {
        match (self.failed, self.warned) {
            _ if self.skipped == self.checks => "not checked (not installed here)",
            (0, 0) => "ok",
            (0, _) => "ok, with warnings",
            _ => "FAILED",
        }
    }
}

/// The matrix of `checks`: each verifier that made one, with its version (asked with `version`
/// from the checker) and how its checks ended, in a fixed order.
pub fn matrix(checks: &[Check], version: impl Fn(Checker) -> String) -> Vec<VerifierResult> {
    let mut by: BTreeMap<Checker, Vec<&Check>> = BTreeMap::new();
    for c in checks {
        if let Some(checker) = c.by {
            by.entry(checker).or_default().push(c);
        }
    }
    by.into_iter()
        .map(|(checker, checks)| {
            let count = |s| checks.iter().filter(|c| c.status == s).count();
            VerifierResult {
                verifier: checker.name().into(),
                version: version(checker),
                checks: checks.len(),
                failed: count(Status::Failed),
                warned: count(Status::Warned),
                skipped: count(Status::Skipped),
            }
        })
        .collect()
}

/// The version of `checker` on this machine, asked now.
pub fn installed_version(checker: Checker) -> String {
    match checker.version_command() {
        None => format!("{} ({})", env!("CARGO_PKG_VERSION"), "this tool"),
        Some(cmd) => match cmd.read() {
            Ok(printed) => checker.version_of(&printed),
            Err(_) => "unknown (its version command failed)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(by: Option<Checker>, status: Status) -> Check {
        Check {
            what: "w".into(),
            status,
            detail: String::new(),
            by,
        }
    }

    #[test]
    fn each_verifier_is_listed_once_with_its_version_and_result() {
        let checks = [
            check(Some(Checker::Cosign), Status::Ok),
            check(Some(Checker::Helm), Status::Ok),
            check(Some(Checker::Cosign), Status::Failed),
            check(Some(Checker::RegistryApi), Status::Warned),
            check(None, Status::Ok),
            check(Some(Checker::Helm3), Status::Skipped),
        ];
        let m = matrix(&checks, |c| format!("v-{}", c.name()));
        let rows: Vec<(&str, &str, usize, &str)> = m
            .iter()
            .map(|r| {
                (
                    r.verifier.as_str(),
                    r.version.as_str(),
                    r.checks,
                    r.result(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("cosign", "v-cosign", 2, "FAILED"),
                ("helm", "v-helm", 1, "ok"),
                ("helm3", "v-helm3", 1, "not checked (not installed here)"),
                (
                    "OCI distribution API (kube9-release)",
                    "v-OCI distribution API (kube9-release)",
                    1,
                    "ok, with warnings"
                ),
            ]
        );
    }

    #[test]
    fn versions_are_read_from_what_each_tool_prints() {
        let cosign = r#"{"gitVersion": "v2.5.0", "gitCommit": "x"}"#;
        assert_eq!(Checker::Cosign.version_of(cosign), "v2.5.0");
        assert_eq!(Checker::Cosign.version_of("garbage"), "unknown");
        assert_eq!(
            Checker::Gh.version_of("gh version 2.83.0 (2026-11-01)\nhttps://x\n"),
            "2.83.0"
        );
        assert_eq!(
            Checker::Helm.version_of("v4.1.4+g05fa379\n"),
            "v4.1.4+g05fa379"
        );
        assert_eq!(
            Checker::Docker.version_of("Docker version 28.2.2, build e6534b4"),
            "28.2.2"
        );
    }
}
