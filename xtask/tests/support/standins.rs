//! The stand-in actions' runs as their `action.yml` runs them: a job's runner files, its
//! token and OIDC identity from GitHub's API stand-in, and the attest stand-in's script.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kube9_devenv::workflow_sim::grants::{Access, Grant, Permissions};
use kube9_devenv::workflow_sim::GithubStandin;

use super::*;

pub fn standin(action: &str, script: &str) -> PathBuf {
    fixtures().join("actions").join(action).join(script)
}

/// The run must have failed; its output, for the real action's words.
pub fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "accepted what the real action refuses:\n{}",
        text(out)
    );
    text(out)
}

/// The run must have succeeded; its output.
pub fn accepted(out: &Output) -> String {
    assert!(out.status.success(), "refused:\n{}", text(out));
    text(out)
}

/// A job's runner files: its outbox, GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH, a workspace and
/// a home without a docker login.
pub struct Job {
    pub dir: PathBuf,
}

impl Job {
    pub fn new() -> Job {
        let dir = temp_dir("standin-job");
        for sub in ["outbox", "home", "workspace", "runner-temp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for file in ["github-env", "github-output", "github-path"] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        Job { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// A runner file's text ("" when it was never written).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The lines of `outbox/<name>.tsv`, the stand-ins' record of what they did.
    pub fn records(&self, name: &str) -> Vec<String> {
        self.read(&format!("outbox/{name}.tsv"))
            .lines()
            .map(String::from)
            .collect()
    }

    /// A refused run leaves the job as it was: no record, nothing exported to later steps, no
    /// login in $HOME.
    pub fn assert_untouched(&self) {
        let outbox: Vec<_> = std::fs::read_dir(self.dir.join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(outbox.is_empty(), "refused, yet recorded {outbox:?}");
        for file in ["github-env", "github-output", "github-path"] {
            assert_eq!(self.read(file), "", "refused, yet wrote {file}");
        }
        let docker = self.home().join(".docker");
        assert!(!docker.exists(), "refused, yet left {}", docker.display());
    }

    /// A refusal that came after actions/attest set its `bundle-path` output (src/main.ts sets
    /// it before it signs, stores or pushes): that output alone, with no file behind it, no
    /// attestation id, and nothing else written or recorded.
    pub fn assert_only_bundle_path(&self) {
        let output = self.read("github-output");
        let lines: Vec<&str> = output.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("bundle-path="),
            "refused, yet wrote {output:?}"
        );
        let bundle = Path::new(lines[0].trim_start_matches("bundle-path="));
        assert!(
            bundle.starts_with(self.dir.join("runner-temp")),
            "{}",
            bundle.display()
        );
        assert!(!bundle.exists(), "refused, yet wrote {}", bundle.display());
        assert!(self.records("attestations").is_empty());
        for file in ["github-env", "github-path"] {
            assert_eq!(self.read(file), "", "refused, yet wrote {file}");
        }
    }

    pub fn command(&self, script: &Path, github: &GithubStandin) -> Command {
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.home())
            .env("GITHUB_API_URL", github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_REF", "refs/tags/v1.2.3")
            .env("GITHUB_SHA", "c0ffee")
            .env("GITHUB_JOB", "image")
            .env("GITHUB_ENV", self.dir.join("github-env"))
            .env("GITHUB_OUTPUT", self.dir.join("github-output"))
            .env("GITHUB_PATH", self.dir.join("github-path"))
            .env("KUBE9_SIM_OUTBOX", self.dir.join("outbox"))
            .env("RUNNER_TEMP", self.dir.join("runner-temp"))
            .current_dir(&self.dir);
        cmd
    }
}

pub const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
pub const IMAGE: &str = "127.0.0.1:5000/alto9/kube9-operator";

/// A job with `permissions`, its OIDC identity only with `id-token: write`.
pub fn grant(github: &GithubStandin, permissions: &[(&str, Access)]) -> Grant {
    let grant = Grant {
        job: "image".into(),
        permissions: Permissions(
            permissions
                .iter()
                .map(|(s, a)| (s.to_string(), *a))
                .collect(),
        ),
        token: format!("ghs_{}", unique("token")),
        oidc_request: Some(unique("oidc")),
    };
    let workflow_ref = "alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3";
    github.issue(
        &grant,
        serde_json::json!({
            "ref": "refs/tags/v1.2.3", "sha": "c0ffee", "repository": "alto9/kube9-operator",
            "event_name": "release", "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref,
        }),
    );
    grant
}

/// The attest stand-in's run for `name@digest`, with the job's OIDC request only when `oidc`.
pub fn attest(
    job: &Job,
    github: &GithubStandin,
    grant: &Grant,
    oidc: bool,
    name: &str,
    digest: &str,
    push: bool,
) -> Output {
    let script = standin("actions/attest-build-provenance", "attest.py");
    let mut cmd = job.command(&script, github);
    cmd.env("SUBJECT_PATH", "")
        .env("NAME", name)
        .env("DIGEST", digest)
        .env("CHECKSUMS", "")
        .env("PUSH", if push { "true" } else { "false" })
        .env("TOKEN", &grant.token)
        // The job's key stands in for Fulcio's certificate, as in the simulation.
        .env("COSIGN_PRIVATE_KEY", &signing_key().private)
        .env("COSIGN_PASSWORD", &signing_key().password);
    if oidc {
        cmd.env("ACTIONS_ID_TOKEN_REQUEST_URL", github.oidc_url())
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                grant.oidc_request.as_ref().unwrap(),
            );
    }
    run(&mut cmd)
}

/// The in-toto statement of an attestation GitHub's API stand-in stored.
pub fn statement(stored: &serde_json::Value) -> serde_json::Value {
    use base64::Engine;
    let payload = stored["bundle"]["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A key pair `cosign generate-key-pair` made for these tests, where the simulation's key
/// stands in for the certificate Fulcio would give the job.
pub struct SigningKey {
    /// The private key's PEM text.
    pub private: String,
    pub password: String,
    pub public: PathBuf,
}

pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = temp_dir("standin-key");
        let password = "stand-in key".to_string();
        ok(Command::new("cosign")
            .arg("generate-key-pair")
            .env("COSIGN_PASSWORD", &password)
            .current_dir(&dir));
        SigningKey {
            private: std::fs::read_to_string(dir.join("cosign.key")).unwrap(),
            password,
            public: dir.join("cosign.pub"),
        }
    })
}

/// GitHub's API stand-in, and GHCR's in front of the environment's authenticating registry.
pub fn ghcr_standin() -> (GithubStandin, String) {
    let env = env();
    let github = GithubStandin::start();
    let address = kube9_devenv::workflow_sim::ghcr::start(
        &env.auth_registry.address(),
        &env.auth_user,
        &env.auth_password(),
        &github,
    );
    (github, address)
}

/// A registry client that logs in as a job does, with its token, and tries once.
pub fn as_job(repository: &str, token: &str) -> kube9_release::registry::Registry {
    use kube9_release::credentials::Credentials;
    use kube9_release::registry::{Registry, Repository, Retry};
    let credentials = Credentials {
        username: "github-actions".into(),
        password: kube9_release::secret::Secret::new(token),
    };
    let retry = Retry {
        attempts: 1,
        first_delay: std::time::Duration::from_millis(10),
    };
    Registry::new(
        Repository::parse(repository).unwrap(),
        Some(&credentials),
        retry,
    )
}

/// A small one-platform image (the fixture root file system with a HIGH finding), as an OCI
/// layout of its own.
pub fn fixture_image(prefix: &str) -> kube9_release::layout::Image {
    let layout = temp_dir(prefix);
    layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-high"),
        &[("linux", "amd64")],
        &layout,
    );
    kube9_release::layout::Image::open(&layout).unwrap()
}

/// The descriptor of an image index of `size` bytes, as a referrer's subject.
pub fn index_subject(digest: &str, size: usize) -> oci_client::manifest::ImageIndexEntry {
    oci_client::manifest::ImageIndexEntry {
        media_type: kube9_release::layout::INDEX_MEDIA_TYPE.into(),
        digest: digest.into(),
        size: size as i64,
        platform: None,
        annotations: None,
        artifact_type: None,
    }
}

/// `image` published with the job's `token` as a release is: its content by digest, then the
/// version tag `tag`.
pub fn publish_as_job(
    repository: &str,
    token: &str,
    image: &kube9_release::layout::Image,
    tag: &str,
) {
    let registry = as_job(repository, token);
    registry.push_content(image).unwrap();
    let index = image.blob(&image.index.digest).unwrap();
    registry
        .push_version_tag(tag, &image.index.digest, &index)
        .unwrap();
}
