//! Test support: the local environment's services and tools, unique names so that tests never
//! share state and can run in parallel, and small fixtures (git repositories, OCI layouts).
//!
//! The environment comes from `cargo xtask ci`, or from `cargo xtask env up` followed by
//! `source target/kube9-env/local/env.sh`. A test that needs a missing piece fails and says
//! how to get it; it never passes silently.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestEnv {
    pub registry: String,
    pub auth_registry: String,
    pub auth_user: String,
    pub auth_password: String,
    pub trivy_db_repository: String,
    pub trivy_cache: PathBuf,
    pub build_args: Vec<String>,
    pub containerd_address: Option<String>,
}

const HOW: &str = "run the suite with `cargo xtask ci`, or `cargo xtask env up` and then \
                   `source target/kube9-env/local/env.sh` before `cargo test`";

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: the local environment is not up; {HOW}"))
}

pub fn env() -> TestEnv {
    let password_file = var("KUBE9_TEST_AUTH_PASSWORD_FILE");
    TestEnv {
        registry: var("KUBE9_TEST_REGISTRY"),
        auth_registry: var("KUBE9_TEST_AUTH_REGISTRY"),
        auth_user: var("KUBE9_TEST_AUTH_USER"),
        auth_password: std::fs::read_to_string(&password_file)
            .unwrap_or_else(|e| panic!("cannot read {password_file}: {e}; {HOW}")),
        trivy_db_repository: var("KUBE9_TEST_TRIVY_DB_REPOSITORY"),
        trivy_cache: PathBuf::from(var("KUBE9_TEST_TRIVY_CACHE")),
        build_args: std::env::var("KUBE9_TEST_BUILD_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
        containerd_address: std::env::var("KUBE9_TEST_CONTAINERD_ADDRESS").ok(),
    }
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

impl TestEnv {
    /// A repository of its own in the open registry.
    pub fn repository(&self, prefix: &str) -> String {
        format!("{}/test/{}", self.registry, unique(prefix))
    }
}

/// A program the tests need; a clear failure when it is missing.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .any(|d| d.join(name).is_file());
    assert!(
        found,
        "`{name}` is not installed or not on PATH: run `cargo xtask setup` ({HOW})"
    );
    Command::new(name)
}

pub fn skopeo() -> Command {
    tool("skopeo")
}

pub fn helm() -> Command {
    let mut cmd = tool("helm");
    // Each test keeps helm's registry logins and cache to itself.
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
    let _ = run(ctr().args(["-n", &namespace, "images", "rm", reference]));
    let _ = run(ctr().args(["-n", &namespace, "content", "prune", "references"]));
    content
}

/// The xtask binary under test.
pub fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

/// Runs a command and returns its output, printing both streams for the test log.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    eprintln!(
        "$ {cmd:?}\n{}{}",
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
        "{cmd:?} failed: {}",
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

/// A fresh directory under target/, removed when the test ends well (kept on failure).
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
        let digest = xtask::layout::sha256(bytes);
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
    std::fs::write(dir.join("payload-amd64.txt"), format!("{payload} amd64\n")).unwrap();
    std::fs::write(dir.join("payload-arm64.txt"), format!("{payload} arm64\n")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nARG VERSION\nCOPY rootfs/ /\nCOPY payload-${TARGETARCH}.txt /payload.txt\n",
    )
    .unwrap();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    commit_all(&dir, "fixture image");
    dir
}

/// `cargo xtask release-image` on a source repository, with the local environment's Trivy
/// database and no credentials unless the caller adds them.
pub fn release_image_cmd(source: &Path, version: &str, repository: &str) -> Command {
    let env = env();
    let mut cmd = xtask();
    cmd.args([
        "release-image",
        "--version",
        version,
        "--repository",
        repository,
        "--source",
    ])
    .arg(source)
    .args([
        "--trivy-db-repository",
        &env.trivy_db_repository,
        "--trivy-cache-dir",
    ])
    .arg(source.join("target/trivy-cache"));
    outside_actions(&mut cmd);
    cmd
}

/// `cargo xtask release`: the image step's flags (as `release_image_cmd`) plus the chart's.
pub fn release_cmd(source: &Path, version: &str, repository: &str, charts: &str) -> Command {
    let image = release_image_cmd(source, version, repository);
    let mut cmd = xtask();
    cmd.arg("release")
        .args(image.get_args().skip(1))
        .args(["--chart-repository", charts]);
    outside_actions(&mut cmd);
    cmd
}

/// No GitHub Actions behaviour and no credentials unless a test adds them.
pub fn outside_actions(cmd: &mut Command) {
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_TOKEN",
        "GITHUB_ACTOR",
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
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

/// The digest a tag points to, as skopeo sees it.
pub fn digest_of(reference: &str) -> String {
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    xtask::layout::sha256(raw.as_bytes())
}

pub fn image_record(source: &Path) -> xtask::record::ImageRecord {
    let path = source.join("target/release/image.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Watches every process's command line while it runs, for a secret that must not appear there.
pub struct CmdlineWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<(Vec<String>, usize)>>,
}

impl CmdlineWatch {
    pub fn start(secret: &str) -> CmdlineWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, secret) = (stop.clone(), secret.to_string());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut samples = 0;
            while !flag.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        if cmdline.contains(&secret) {
                            seen.push(cmdline);
                        }
                    }
                }
                samples += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            (seen, samples)
        });
        CmdlineWatch {
            stop,
            handle: Some(handle),
        }
    }

    /// Command lines that held the secret, and how many times /proc was sampled.
    pub fn finish(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
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
        "--chart-repository",
        charts,
        "--source",
    ])
    .arg(source);
    outside_actions(&mut cmd);
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
