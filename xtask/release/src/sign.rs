//! Signatures with cosign: the image index and the chart are signed, each platform's SBOM is
//! attached as a signed CycloneDX attestation. On GitHub the identity is the workflow (keyless,
//! GitHub's OIDC token); elsewhere a key pair whose private half and password come from the
//! environment only (`COSIGN_PRIVATE_KEY`, `COSIGN_PASSWORD`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::cmd::Cmd;
use crate::config::Config;
use crate::registry::Repository;
use crate::secret::Secret;

/// GitHub's OIDC issuer, the only one a keyless release signature may come from.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Who signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Signer {
    /// A key pair; Sigstore's transparency log is not used (it is not reachable everywhere),
    /// so verification needs `--insecure-ignore-tlog`. `from` says where the key came from.
    Key {
        key: Secret,
        password: Secret,
        from: String,
    },
    /// GitHub Actions' OIDC identity, recorded in Sigstore's transparency log.
    Keyless { request_token: Secret },
}

impl Signer {
    /// A key first (a maintainer's laptop, the tests), else the workflow's OIDC identity in
    /// GitHub Actions.
    pub fn from_config(config: &Config) -> Result<Signer> {
        if let Some(k) = &config.signing_key {
            return Ok(Signer::Key {
                key: k.key.clone(),
                password: k.password.clone(),
                from: "COSIGN_PRIVATE_KEY".into(),
            });
        }
        match config.actions.as_ref().and_then(|a| a.oidc.clone()) {
            Some(request_token) => Ok(Signer::Keyless { request_token }),
            None => bail!(
                "nothing to sign with: set COSIGN_PRIVATE_KEY (the key's PEM text) and \
                 COSIGN_PASSWORD in the environment (make a pair with `cosign generate-key-pair`), \
                 or run in GitHub Actions with `permissions: id-token: write` for keyless \
                 signing; --no-sign publishes without signatures"
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Signer::Key { from, .. } => format!(
                "key pair from {from}, without the transparency log (--tlog-upload=false): verify with --insecure-ignore-tlog"
            ),
            Signer::Keyless { .. } => {
                "keyless, the workflow's GitHub OIDC identity, logged in Rekor".into()
            }
        }
    }

    fn apply(&self, cmd: Cmd) -> Cmd {
        match self {
            Signer::Key { key, password, .. } => cmd
                .opt("--key", "env://COSIGN_PRIVATE_KEY")
                .arg("--tlog-upload=false")
                .secret_env("COSIGN_PRIVATE_KEY", key.clone())
                .secret_env("COSIGN_PASSWORD", password.clone()),
            Signer::Keyless { request_token } => {
                cmd.secret_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.clone())
            }
        }
    }
}

/// How a signature is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Verifier {
    Key {
        public_key: PathBuf,
    },
    /// The release workflow of `repository` at the release's tag, and GitHub's issuer.
    Keyless {
        identity: String,
    },
}

impl Verifier {
    /// `https://github.com/<owner>/<name>/.github/workflows/release.yml@refs/tags/<tag>`.
    pub fn release_workflow(repository: &str, tag: &str) -> Verifier {
        Verifier::Keyless {
            identity: format!(
                "https://github.com/{repository}/.github/workflows/release.yml@{}",
                crate::version::tag_ref(tag)
            ),
        }
    }

    /// The withdraw workflow of `repository` on `main`, which signs withdrawals keylessly.
    pub fn withdraw_workflow(repository: &str) -> Verifier {
        Verifier::Keyless {
            identity: format!(
                "https://github.com/{repository}/.github/workflows/withdraw.yml@refs/heads/main"
            ),
        }
    }

    fn apply(&self, cmd: Cmd) -> Cmd {
        match self {
            Verifier::Key { public_key } => cmd
                .opt("--key", public_key.display().to_string())
                .arg("--insecure-ignore-tlog=true"),
            Verifier::Keyless { identity } => cmd
                .opt("--certificate-identity", identity)
                .opt("--certificate-oidc-issuer", GITHUB_ISSUER),
        }
    }
}

/// What an attestation's predicate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationType {
    /// A CycloneDX SBOM.
    CycloneDx,
    /// SLSA v1 build provenance.
    SlsaProvenance,
    /// OpenVEX statements: which findings do not affect the image, and why.
    OpenVex,
    /// The project's withdrawal statement (`crate::withdrawal`).
    Withdrawal,
}

impl AttestationType {
    /// cosign's `--type`.
    fn cosign_type(self) -> &'static str {
        match self {
            AttestationType::CycloneDx => "cyclonedx",
            AttestationType::SlsaProvenance => "slsaprovenance1",
            AttestationType::OpenVex => "openvex",
            // cosign takes a URI as the predicate type itself.
            AttestationType::Withdrawal => crate::withdrawal::PREDICATE_TYPE,
        }
    }

    /// The in-toto predicate type cosign records for it.
    pub fn predicate_type(self) -> &'static str {
        match self {
            AttestationType::CycloneDx => "https://cyclonedx.org/bom",
            AttestationType::SlsaProvenance => "https://slsa.dev/provenance/v1",
            AttestationType::OpenVex => "https://openvex.dev/ns",
            AttestationType::Withdrawal => crate::withdrawal::PREDICATE_TYPE,
        }
    }

    /// In words, for the plan and messages.
    pub fn what(self) -> &'static str {
        match self {
            AttestationType::CycloneDx => "SBOM",
            AttestationType::SlsaProvenance => "build provenance",
            AttestationType::OpenVex => "VEX statements",
            AttestationType::Withdrawal => "withdrawal statement",
        }
    }
}

/// cosign's view of one registry: whether the run logged it in (into the run's private
/// directory, `DOCKER_CONFIG`) and whether plain HTTP is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cosign {
    pub logged_in: bool,
    pub plain_http: bool,
}

impl Cosign {
    pub fn for_repository(repository: &Repository, logged_in: bool) -> Cosign {
        Cosign {
            logged_in,
            plain_http: repository.is_loopback(),
        }
    }

    fn cosign(&self, words: &[&str], login_dir: Option<&str>) -> Cmd {
        let mut cmd = Cmd::new("cosign").args(words.iter().copied());
        if let Some(dir) = login_dir {
            cmd = cmd.env("DOCKER_CONFIG", dir);
        }
        if self.plain_http {
            cmd = cmd.args(["--allow-http-registry", "--allow-insecure-registry"]);
        }
        cmd
    }

    /// Signs `reference` (`repo@sha256:...`); the signature lands under `sha256-<hex>.sig`.
    pub fn sign(&self, signer: &Signer, references: &[String], login_dir: Option<&str>) -> Cmd {
        signer
            .apply(self.cosign(&["sign", "--yes"], login_dir))
            .args(references)
    }

    /// Attaches `predicate` as a signed attestation (`sha256-<hex>.att`).
    pub fn attest(
        &self,
        signer: &Signer,
        kind: AttestationType,
        predicate: &Path,
        reference: &str,
        login_dir: Option<&str>,
    ) -> Cmd {
        let words = ["attest", "--yes", "--type", kind.cosign_type()];
        signer
            .apply(self.cosign(&words, login_dir))
            .opt("--predicate", predicate.display().to_string())
            // Trivy's `--vex oci` reads the first OpenVEX attestation it finds: statements that
            // changed replace the old ones instead of being added after them.
            .args((kind == AttestationType::OpenVex).then_some("--replace"))
            .arg(reference)
    }

    /// Signs the bytes of `blob` (a DSSE pre-authentication encoding), the base64 signature
    /// into `signature`. No registry is involved.
    pub fn sign_blob(&self, signer: &Signer, blob: &Path, signature: &Path) -> Cmd {
        signer
            .apply(Cmd::new("cosign").args(["sign-blob", "--yes"]))
            .opt("--output-signature", signature.display().to_string())
            .arg(blob.display().to_string())
    }

    /// Attaches a signed DSSE envelope as an attestation (`sha256-<hex>.att`), as `attest`
    /// would have.
    pub fn attach_attestation(
        &self,
        envelope: &Path,
        reference: &str,
        login_dir: Option<&str>,
    ) -> Cmd {
        self.cosign(&["attach", "attestation"], login_dir)
            .opt("--attestation", envelope.display().to_string())
            .arg(reference)
    }

    /// Verifies a Sigstore bundle referrer of `reference` (the form actions/attest pushes) that
    /// `verifier`'s key signed: cosign's bundle verifier finds it through the referrers API or
    /// the referrers tag, and wants a trusted root even with a key (else it asks Sigstore's TUF
    /// repository for the public one): `trusted_root` holds `EMPTY_TRUSTED_ROOT`, so that the
    /// key is all it trusts.
    pub fn verify_bundle_attestation(
        &self,
        verifier: &Verifier,
        kind: AttestationType,
        reference: &str,
        login_dir: Option<&str>,
        trusted_root: &Path,
    ) -> Cmd {
        verifier
            .apply(self.cosign(&attestation_words(kind, true), login_dir))
            .opt("--trusted-root", trusted_root.display().to_string())
            .arg(reference)
    }

    pub fn verify(&self, verifier: &Verifier, reference: &str, login_dir: Option<&str>) -> Cmd {
        verifier
            .apply(self.cosign(&["verify", "--output", "json"], login_dir))
            .arg(reference)
    }

    pub fn verify_attestation(
        &self,
        verifier: &Verifier,
        kind: AttestationType,
        reference: &str,
        login_dir: Option<&str>,
    ) -> Cmd {
        verifier
            .apply(self.cosign(&attestation_words(kind, false), login_dir))
            .arg(reference)
    }
}

/// A Sigstore trusted root that trusts no certificate authority, log or timestamp authority:
/// with a key, the key alone vouches for a bundle.
pub const EMPTY_TRUSTED_ROOT: &str =
    r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;

/// The in-toto statement in one DSSE envelope (a line of `cosign verify-attestation --output
/// json`, or a layer of an attestation tag): its base64 payload.
pub fn dsse_statement(envelope: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let envelope: serde_json::Value = serde_json::from_str(envelope.trim()).ok()?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str()?)
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// The predicate of one DSSE envelope's statement.
pub fn dsse_predicate(envelope: &str) -> Option<serde_json::Value> {
    dsse_statement(envelope)?.get("predicate").cloned()
}

/// The tag cosign stores a signature (`sig`) or attestation (`att`) of `digest` under.
pub fn cosign_tag(digest: &str, kind: &str) -> String {
    format!("{}.{kind}", digest.replace(':', "-"))
}

/// `cosign verify-attestation`'s words for `kind`, with the bundle format when it is one.
fn attestation_words(kind: AttestationType, bundle: bool) -> Vec<&'static str> {
    let words = [
        "verify-attestation",
        "--type",
        kind.cosign_type(),
        "--output",
        "json",
    ];
    words
        .into_iter()
        .chain(bundle.then_some("--new-bundle-format"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Signer {
        Signer::Key {
            key: Secret::new("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
            password: Secret::new("pw"),
            from: "COSIGN_PRIVATE_KEY".into(),
        }
    }

    #[test]
    fn key_signing_takes_the_key_from_the_environment_and_skips_the_log() {
        let cosign = Cosign {
            logged_in: true,
            plain_http: true,
        };
        let targets = [
            "127.0.0.1:5000/x@sha256:ab".to_string(),
            "127.0.0.1:5000/x@sha256:cd".to_string(),
        ];
        let cmd = cosign.sign(&key(), &targets, Some("<login-dir>"));
        assert_eq!(
            cmd.to_string(),
            "DOCKER_CONFIG=<login-dir> COSIGN_PRIVATE_KEY=*** COSIGN_PASSWORD=*** cosign sign --yes \
             --allow-http-registry --allow-insecure-registry --key env://COSIGN_PRIVATE_KEY \
             --tlog-upload=false 127.0.0.1:5000/x@sha256:ab 127.0.0.1:5000/x@sha256:cd"
        );
        assert!(!format!("{cmd:?}").contains("SIGSTORE PRIVATE"));
    }

    #[test]
    fn keyless_verification_pins_the_release_workflow_and_githubs_issuer() {
        let cosign = Cosign {
            logged_in: false,
            plain_http: false,
        };
        let verifier = Verifier::release_workflow("alto9/kube9-operator", "v1.2.3");
        let cmd = cosign.verify(&verifier, "ghcr.io/alto9/kube9-operator@sha256:ab", None);
        assert_eq!(
            cmd.to_string(),
            "cosign verify --output json --certificate-identity \
             https://github.com/alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3 \
             --certificate-oidc-issuer https://token.actions.githubusercontent.com \
             ghcr.io/alto9/kube9-operator@sha256:ab"
        );
    }

    #[test]
    fn the_sbom_is_attested_as_cyclonedx() {
        let cosign = Cosign {
            logged_in: false,
            plain_http: false,
        };
        let cmd = cosign.attest(
            &key(),
            AttestationType::CycloneDx,
            Path::new("sbom.json"),
            "r@sha256:ab",
            None,
        );
        assert!(cmd
            .args
            .join(" ")
            .starts_with("attest --yes --type cyclonedx"));
        assert!(cmd.args.join(" ").contains("--predicate sbom.json"));
        assert_eq!(cosign_tag("sha256:ab", "att"), "sha256-ab.att");
    }
}
