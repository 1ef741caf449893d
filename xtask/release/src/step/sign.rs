//! Logins into the run's private directory, signatures and attestations with cosign.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs, Tool};
use super::{reference, Action, Cx, Placeholders, Step, Subject, Values};
use crate::cmd::Cmd;
use crate::credentials::Credentials;
use crate::provenance;
use crate::secret::Secret;
use crate::sign::{AttestationType, Cosign, Signer};
use crate::validate::{self, Standard};

/// Which tool keeps the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginClient {
    /// `cosign login`, into `DOCKER_CONFIG`.
    Cosign,
    /// `helm registry login`, into `HELM_REGISTRY_CONFIG`; `--plain-http` for plain HTTP
    /// (Helm 4's `--insecure` only skips certificate checks and still speaks HTTPS).
    Helm { plain_http: bool },
}

impl LoginClient {
    /// Its login into `host`, when there are credentials to log in with.
    pub fn login(self, host: &str, credentials: Option<&Credentials>) -> Option<Step> {
        credentials.map(|c| {
            Step::Login(Login {
                client: self,
                host: host.to_string(),
                username: c.username.clone(),
                password: c.password.clone(),
            })
        })
    }
}

/// A registry login into the run's private directory, the password on stdin.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub client: LoginClient,
    pub host: String,
    pub username: String,
    pub password: Secret,
}

impl Login {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        let dir = values.login_dir()?;
        let cmd = match &self.client {
            LoginClient::Cosign => Cmd::new("cosign")
                .args(["login", &self.host])
                .env("DOCKER_CONFIG", dir),
            LoginClient::Helm { plain_http } => Cmd::new("helm")
                .env("HELM_REGISTRY_CONFIG", format!("{dir}/registry.json"))
                .args(["registry", "login", &self.host])
                .args(plain_http.then_some("--plain-http")),
        };
        Ok(cmd
            .opt("--username", &self.username)
            .arg("--password-stdin")
            .stdin_secret(self.password.clone()))
    }
}

impl Action for Login {
    fn needs(&self) -> Needs {
        let tool = match self.client {
            LoginClient::Cosign => Tool::Cosign,
            LoginClient::Helm { .. } => Tool::Helm,
        };
        Needs::new().tools([tool]).registry(Access::Write)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("login: {cmd}")
    }

    fn hint(&self) -> String {
        format!(
            "{} refused the login: check the token and its `packages: write` permission; \
             nothing further was published",
            self.host
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        self.command(cx)?.run()
    }
}

/// The run's login directory, when cosign was logged in.
pub fn login_dir(cosign: &Cosign, values: &mut dyn Values) -> Result<Option<String>> {
    if cosign.logged_in {
        Ok(Some(values.login_dir()?))
    } else {
        Ok(None)
    }
}

/// A cosign command on `subject`: `command` is given its reference, the digest from
/// `values`, and the run's login directory when cosign was logged in.
pub fn on_subject(
    cosign: &Cosign,
    subject: &Subject,
    values: &mut dyn Values,
    command: impl FnOnce(&str, Option<&str>) -> Cmd,
) -> Result<Cmd> {
    let target = reference(subject, values)?;
    let login = login_dir(cosign, values)?;
    Ok(command(&target, login.as_deref()))
}

/// Cosign signatures of `subjects` (each `sha256-<hex>.sig`), in one cosign run: the key is
/// decrypted (or the keyless certificate obtained) once for all of them, where a run for each
/// paid its scrypt again (0.16 s of CPU a signature).
#[derive(Debug, Clone, Serialize)]
pub struct Sign {
    pub cosign: Cosign,
    pub signer: Signer,
    /// What is signed; never empty (the planners push no step with nothing to sign).
    pub subjects: Vec<Subject>,
}

impl Sign {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        let targets = self
            .subjects
            .iter()
            .map(|subject| reference(subject, values))
            .collect::<Result<Vec<_>>>()?;
        let login = login_dir(&self.cosign, values)?;
        Ok(self.cosign.sign(&self.signer, &targets, login.as_deref()))
    }

    /// What it signs, in words: `the index, the linux/amd64 image and the linux/arm64 image`.
    fn what(&self) -> String {
        let mut names: Vec<String> = self.subjects.iter().map(Subject::what).collect();
        let last = names.pop().unwrap_or_default();
        if names.is_empty() {
            last
        } else {
            format!("{} and {last}", names.join(", "))
        }
    }
}

impl Action for Sign {
    fn needs(&self) -> Needs {
        self.subjects
            .iter()
            .fold(Needs::new(), |needs, subject| needs.reads_subject(subject))
            .signs(&self.signer)
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("sign {}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        not_signed("sign", &self.what())
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        self.command(cx)?.run()
    }
}

fn not_signed(verb: &str, what: &str) -> String {
    format!(
        "cosign could not {verb} {what}: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or the \
         job's `id-token: write`); nothing further was published, and no chart is published \
         for an unsigned image. Re-running the release finishes it"
    )
}

/// A signed attestation of `subject` with `predicate` (`sha256-<hex>.att`).
#[derive(Debug, Clone, Serialize)]
pub struct Attest {
    pub cosign: Cosign,
    pub signer: Signer,
    pub kind: AttestationType,
    pub predicate: PathBuf,
    pub subject: Subject,
}

impl Attest {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            self.cosign
                .attest(&self.signer, self.kind, &self.predicate, target, login)
        })
    }

    fn what(&self) -> String {
        format!("the {} of {}", self.kind.what(), self.subject.what())
    }
}

impl Action for Attest {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .signs(&self.signer)
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("attest {}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        not_signed("attest", &self.what())
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        self.command(cx)?.run()
    }
}

/// The release's own SLSA build provenance of `subject` (off GitHub): an in-toto Statement v1
/// written here with this run's build times, its DSSE encoding signed with the release's key,
/// the envelope attached as an attestation (`crate::provenance` says why not `cosign attest`).
#[derive(Debug, Clone, Serialize)]
pub struct AttestProvenance {
    pub cosign: Cosign,
    pub signer: Signer,
    /// The predicate from the build's inputs; the run adds its times.
    pub predicate: serde_json::Value,
    /// Where the statement, its encoding, signature and envelope are written.
    pub dir: PathBuf,
    pub subject: Subject,
}

impl AttestProvenance {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn attach(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            let envelope = self.file("provenance.intoto.json");
            self.cosign.attach_attestation(&envelope, target, login)
        })
    }
}

impl Action for AttestProvenance {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .reads_if_known([Binding::Built])
            .signs(&self.signer)
            .tools([Tool::Validators])
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let attach = self.attach(&mut Placeholders).expect("placeholders");
        let statement = self.file("provenance.json");
        format!(
            "attest the SLSA build provenance of {} (in-toto Statement v1, {}): {}; {}; {attach}",
            self.subject.what(),
            statement.display(),
            validate::shown(Standard::InTotoProvenance, &statement),
            sign_blob(&self.cosign, &self.signer, &self.file("provenance"))
        )
    }

    fn hint(&self) -> String {
        format!(
            "the build provenance of {} could not be signed or attached: check \
             COSIGN_PRIVATE_KEY and COSIGN_PASSWORD; no tag names the image yet, and \
             re-running the release finishes it",
            self.subject.what()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let digest = cx.bindings.digest(&self.subject.digest)?;
        let statement = provenance::statement(
            &self.subject.repository.to_string(),
            &digest,
            &self.predicate,
            cx.bindings.built.as_ref(),
        );
        let payload = serde_json::to_vec(&statement)?;
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.file("provenance.json"), &payload)?;
        validate::check(Standard::InTotoProvenance, &self.file("provenance.json"))?;
        seal(
            &self.cosign,
            &self.signer,
            &self.file("provenance"),
            &payload,
        )?;
        self.attach(cx)?.run()
    }
}

/// `cosign sign-blob` of `<stem>.pae`, a statement's DSSE encoding, into `<stem>.sig`.
pub fn sign_blob(cosign: &Cosign, signer: &Signer, stem: &Path) -> Cmd {
    let file = |ext| stem.with_extension(ext);
    cosign.sign_blob(signer, &file("pae"), &file("sig"))
}

/// A statement (`payload`) made ready for `cosign attach attestation`: its DSSE encoding
/// signed (`sign_blob`), the envelope written as `<stem>.intoto.json`.
pub fn seal(cosign: &Cosign, signer: &Signer, stem: &Path, payload: &[u8]) -> Result<()> {
    std::fs::write(stem.with_extension("pae"), provenance::pae(payload))?;
    sign_blob(cosign, signer, stem).run()?;
    let sig = std::fs::read_to_string(stem.with_extension("sig"))
        .context("cosign sign-blob wrote no signature")?;
    let envelope = serde_json::to_vec(&provenance::envelope(payload, &sig))?;
    std::fs::write(stem.with_extension("intoto.json"), envelope)?;
    Ok(())
}

/// The public half of the signing key, for checking the release's own signatures.
#[derive(Debug, Clone, Serialize)]
pub struct DerivePublicKey {
    pub key: Secret,
    pub password: Secret,
    pub out: PathBuf,
}

impl DerivePublicKey {
    pub fn command(&self) -> Cmd {
        Cmd::new("cosign")
            .args(["public-key", "--key", "env://COSIGN_PRIVATE_KEY"])
            .opt("--outfile", self.out.display().to_string())
            .secret_env("COSIGN_PRIVATE_KEY", self.key.clone())
            .secret_env("COSIGN_PASSWORD", self.password.clone())
    }
}

impl Action for DerivePublicKey {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Cosign])
    }

    fn describe(&self) -> String {
        format!("public key: {}", self.command())
    }

    fn hint(&self) -> String {
        "cosign could not derive the public key from COSIGN_PRIVATE_KEY: check the key and \
         COSIGN_PASSWORD; the release is published, `cargo xtask verify-release --key \
         cosign.pub` checks it"
            .into()
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.command().run()
    }
}
