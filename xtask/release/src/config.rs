//! Everything the release reads from its environment, read here once into one typed value,
//! each default written once. No other module of the release reads an environment variable;
//! flags override what is read here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::actions::Actions;
use crate::credentials::Credentials;
use crate::secret::Secret;

pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/alto9/kube9-operator";
/// Charts live under their own path: a chart and an image with one tag in one repository
/// would overwrite each other.
pub const DEFAULT_CHART_REPOSITORY: &str = "oci://ghcr.io/alto9/charts";
/// The GitHub repository whose release workflow signs keylessly.
pub const DEFAULT_GITHUB_REPOSITORY: &str = "alto9/kube9-operator";
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";

/// A key pair's private half and its password (`COSIGN_PRIVATE_KEY`, `COSIGN_PASSWORD`).
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub key: Secret,
    pub password: Secret,
}

/// GitHub's API, as the release's issues and release notes use it.
#[derive(Debug, Clone)]
pub struct GithubApi {
    pub url: String,
    /// `owner/name`.
    pub repository: String,
    /// `GITHUB_TOKEN`: only the GitHub API and the registry login see it.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Set in GitHub Actions (`GITHUB_ACTIONS=true`).
    pub actions: Option<Actions>,
    /// `REGISTRY_USERNAME`/`REGISTRY_PASSWORD`, else `GITHUB_ACTOR`/`GITHUB_TOKEN`.
    pub registry: Option<Credentials>,
    pub signing_key: Option<SigningKey>,
    pub github: GithubApi,
    /// `TRIVY_DB_REPOSITORY`: a mirror of Trivy's vulnerability database.
    pub trivy_db_repository: Option<String>,
    /// `TRIVY_CACHE_DIR`.
    pub trivy_cache_dir: Option<PathBuf>,
    /// `KUBE9_ALLOW_STALE_DB`: judge with a database of any age (test environments).
    pub allow_stale_db: bool,
    /// `KUBE9_BUILD_CONTEXTS`: base image mirrors, `IMAGE=docker-image://MIRROR` each,
    /// separated by spaces.
    pub build_contexts: Vec<String>,
    /// `KUBE9_COSIGN_PUBLIC_KEY`: the public key a key-signed release is verified with.
    pub cosign_public_key: Option<PathBuf>,
    /// Where `cargo xtask setup` installs tools (`KUBE9_TOOLS_DIR`, else under `HOME`).
    pub tools_dir: PathBuf,
    /// The caller's `PATH`.
    pub path: OsString,
    /// `RUNNER_ENVIRONMENT=github-hosted`: a machine GitHub provides, of the architecture the
    /// job asked for.
    pub github_hosted: bool,
}

impl Config {
    /// The process's environment, read at the first call.
    pub fn get() -> &'static Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        CONFIG.get_or_init(|| {
            let path = std::env::var_os("PATH").unwrap_or_default();
            Config::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()), path)
        })
    }

    /// The configuration `var` describes; an unset and an empty variable are the same.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, path: OsString) -> Config {
        let signing_key = var("COSIGN_PRIVATE_KEY").map(|key| SigningKey {
            key: Secret::new(key),
            password: Secret::new(var("COSIGN_PASSWORD").unwrap_or_default()),
        });
        let tools_base = var("KUBE9_TOOLS_DIR")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/kube9-xtask")))
            .unwrap_or_else(|| PathBuf::from("/var/cache/kube9-xtask"));
        Config {
            actions: Actions::from_vars(&var),
            registry: Credentials::from_vars(&var),
            signing_key,
            github: GithubApi {
                url: var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_GITHUB_API.into()),
                repository: var("GITHUB_REPOSITORY")
                    .unwrap_or_else(|| DEFAULT_GITHUB_REPOSITORY.into()),
                token: var("GITHUB_TOKEN").map(Secret::new),
            },
            trivy_db_repository: var("TRIVY_DB_REPOSITORY"),
            trivy_cache_dir: var("TRIVY_CACHE_DIR").map(PathBuf::from),
            allow_stale_db: var("KUBE9_ALLOW_STALE_DB")
                .is_some_and(|v| !matches!(v.as_str(), "0" | "false")),
            build_contexts: var("KUBE9_BUILD_CONTEXTS")
                .map(|v| v.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            cosign_public_key: var("KUBE9_COSIGN_PUBLIC_KEY").map(PathBuf::from),
            tools_dir: tools_base.join("tools"),
            path,
            github_hosted: var("RUNNER_ENVIRONMENT").as_deref() == Some("github-hosted"),
        }
    }

    pub fn in_actions(&self) -> bool {
        self.actions.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(
            |k| {
                vars.iter()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            },
            OsString::from("/usr/bin"),
        )
    }

    #[test]
    fn defaults_are_written_once_and_empty_is_unset() {
        let c = config(&[("GITHUB_REPOSITORY", ""), ("HOME", "/home/me")]);
        assert_eq!(c.github.repository, DEFAULT_GITHUB_REPOSITORY);
        assert_eq!(c.github.url, DEFAULT_GITHUB_API);
        assert!(c.actions.is_none() && c.registry.is_none() && c.signing_key.is_none());
        assert_eq!(
            c.tools_dir,
            PathBuf::from("/home/me/.cache/kube9-xtask/tools")
        );
        assert!(!c.allow_stale_db);
    }

    #[test]
    fn everything_the_release_reads_comes_from_here() {
        let c = config(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "me/fork"),
            ("GITHUB_TOKEN", "ghs_t"),
            ("GITHUB_ACTOR", "me"),
            ("COSIGN_PRIVATE_KEY", "pem"),
            ("TRIVY_DB_REPOSITORY", "mirror/db:2"),
            ("KUBE9_ALLOW_STALE_DB", "true"),
            (
                "KUBE9_BUILD_CONTEXTS",
                "a=docker-image://x  b=docker-image://y",
            ),
            ("KUBE9_TOOLS_DIR", "/opt/t"),
        ]);
        assert!(c.in_actions());
        assert_eq!(c.github.repository, "me/fork");
        assert_eq!(c.registry.unwrap().username, "me");
        let key = c.signing_key.unwrap();
        assert_eq!((key.key.expose(), key.password.expose()), ("pem", ""));
        assert_eq!(c.trivy_db_repository.as_deref(), Some("mirror/db:2"));
        assert!(c.allow_stale_db);
        assert_eq!(c.build_contexts.len(), 2);
        assert_eq!(c.tools_dir, PathBuf::from("/opt/t/tools"));
        assert!(!format!("{:?}", c.github).contains("ghs_t"));
    }
}
