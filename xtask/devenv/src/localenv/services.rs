//! The local environment's processes: dockerd, the registries, QEMU binfmt, the Trivy database
//! as a mirror serves it, and the cosign key pair.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::{CosignKeys, Service, AUTH_USER, TRIVY_DB_PATH};
use crate::{docker, random_hex, write_private};
use kube9_release::cmd::Cmd;
use kube9_release::github;
use kube9_release::net::block_on;
use kube9_release::registry::{Registry, Repository};
use kube9_release::secret::Secret;
use kube9_release::{layout, tools, workspace};

/// Machine-wide state that outlives a run: Docker's data (layer cache, stand-in images).
pub const MACHINE_DIR: &str = "/var/lib/kube9-env";
/// Where the environment's own dockerd keeps its images and build cache.
pub fn engine_data_dir() -> PathBuf {
    Path::new(MACHINE_DIR).join("docker")
}

/// The managed dockerd's runtime files; one dockerd per machine.
const DOCKER_RUN_DIR: &str = "/run/kube9-env";

/// The environments' dockerd's runtime files: its socket, its pid, who uses it.
pub fn run_dir() -> PathBuf {
    PathBuf::from(DOCKER_RUN_DIR)
}

/// The socket of the environments' own dockerd.
pub fn docker_host() -> String {
    format!("unix://{DOCKER_RUN_DIR}/docker.sock")
}

/// The engine the environment uses: its own dockerd, or none of its own.
#[derive(Debug, Default)]
pub struct Engine {
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub containerd: Option<String>,
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

pub fn stop_pid(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    let _ = Cmd::new("kill").arg(pid.to_string()).output();
    let start = Instant::now();
    while alive(pid) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid) {
        let _ = Cmd::new("kill").args(["-9", &pid.to_string()]).output();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The HTTP status a GET of `path` gets, to learn whether a registry answers (and how).
pub fn http_status(address: &str, path: &str) -> Option<u16> {
    let url = format!("http://{address}{path}");
    block_on(async {
        let client = kube9_release::net::http_builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        Some(client.get(url).send().await.ok()?.status().as_u16())
    })
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            bail!("{what} did not come up within {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Starts a registry on a free loopback port; with `htpasswd`, it requires a login.
pub fn start_registry(dir: &Path, name: &str, htpasswd: Option<&Path>) -> Result<Service> {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("data"))?;
    for _ in 0..5 {
        let port = free_port()?;
        let auth = htpasswd.map_or(String::new(), |h| {
            format!(
                "auth:\n  htpasswd:\n    realm: kube9-test\n    path: {}\n",
                h.display()
            )
        });
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            root.join("data").display()
        );
        let config_path = root.join("config.yml");
        std::fs::write(&config_path, config)?;
        // Go's collector runs four times less often: the registry's heap is small and it
        // allocates for every request, and with the default (100) collection was a fifth of
        // its CPU through `docker_release_image` (8.5 s against 6.7 s, docs/benchmarks.md).
        let pid = Cmd::new("docker-registry")
            .env("GOGC", "400")
            .arg("serve")
            .arg(config_path.display().to_string())
            .spawn_logged(&root.join("log"))
            .context("cannot start docker-registry: run `cargo xtask setup`")?;
        let address = format!("127.0.0.1:{port}");
        let up = wait_until(name, Duration::from_secs(15), || {
            !alive(pid) || http_status(&address, "/v2/").is_some()
        });
        if up.is_ok() && alive(pid) {
            return Ok(Service { pid, port });
        }
        // Most likely another process took the port between our probe and the registry's bind.
        stop_pid(pid, Duration::from_secs(2));
    }
    bail!(
        "the {name} registry would not start; see {}",
        root.join("log").display()
    )
}

/// What a registry of the environment held once the base image stand-ins were pushed into it,
/// kept for the next `env up`. Every `env up` starts a new registry, and pushing the stand-ins
/// into it (some 450 MB) was most of its time: the suite starts five environments. A new
/// registry starts from this copy, and the push then finds every blob there and sends only
/// the manifests; whatever the copy lacks (new stand-ins, a copy cut short) it still uploads.
pub fn registry_seed() -> PathBuf {
    Path::new(MACHINE_DIR).join("registry-seed")
}

const REGISTRY_TREE: &str = "docker/registry/v2";

/// Starts the registry's data directory `data` from the seed, if there is one. Best effort:
/// the push that follows uploads whatever is missing.
pub fn seed_registry(seed: &Path, data: &Path) {
    if seed.join(REGISTRY_TREE).is_dir() {
        let _ = copy_registry(seed, data);
    }
}

/// Keeps `data` (a registry's data directory, just after the push) as the seed, unless the
/// seed already holds every blob it does.
pub fn keep_registry_seed(seed: &Path, data: &Path) -> Result<()> {
    if blobs(data).is_subset(&blobs(seed)) {
        return Ok(());
    }
    // A registry copying from the old seed meanwhile uploads what its copy then lacks.
    let _ = std::fs::remove_dir_all(seed);
    crate::staging::made_once(seed, |staging| copy_registry(data, staging))?;
    Ok(())
}

/// Removes the seed; a registry started from it keeps its own links to the blobs.
pub fn remove_registry_seed(seed: &Path) -> Result<()> {
    match std::fs::remove_dir_all(seed) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", seed.display()))
        }
        _ => Ok(()),
    }
}

/// The blobs are hard-linked: a registry writes a blob once (an upload renamed into place)
/// and deletes it by unlinking, so the copies never change each other. The repositories'
/// small link files are copied: a registry rewrites a tag's in place.
fn copy_registry(from: &Path, to: &Path) -> Result<()> {
    let (from, to) = (from.join(REGISTRY_TREE), to.join(REGISTRY_TREE));
    std::fs::create_dir_all(&to)?;
    for (part, how) in [("blobs", "-al"), ("repositories", "-a")] {
        crate::cp(how, &from.join(part), &to)
            .read()
            .with_context(|| format!("cannot copy the registry's {part}"))?;
    }
    Ok(())
}

/// The digests of the blobs under a registry's data directory.
fn blobs(data: &Path) -> std::collections::BTreeSet<String> {
    walkdir::WalkDir::new(data.join(REGISTRY_TREE).join("blobs"))
        .min_depth(3)
        .max_depth(3)
        .into_iter()
        .flatten()
        .filter(|e| e.path().join("data").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The registry that requires a login; its password stays in `password_file`, readable by
/// root only.
pub fn start_auth_registry(dir: &Path, password_file: &Path) -> Result<Service> {
    let password = Secret::new(random_hex(16)?);
    write_private(password_file, password.expose())?;
    let htpasswd = Cmd::new("htpasswd")
        .args(["-B", "-i", "-n", AUTH_USER])
        .stdin_secret(password)
        .read()
        .context("htpasswd failed: apt-get install apache2-utils")?;
    let htpasswd_file = dir.join("htpasswd");
    std::fs::write(&htpasswd_file, htpasswd.trim())?;
    start_registry(dir, "auth-registry", Some(&htpasswd_file))
}

/// A key pair for the environment, its password random: the private key in cosign's own
/// format with its legacy scrypt parameters (`cosign_key`), the public key as cosign derives
/// it from that file (so a key cosign cannot read stops here).
pub fn cosign_keys(dir: &Path) -> Result<CosignKeys> {
    let keys = CosignKeys {
        private_key: dir.join("cosign.key"),
        public_key: dir.join("cosign.pub"),
        password: dir.join("cosign-password"),
    };
    let password = random_hex(16)?;
    write_private(&keys.password, &password)?;
    write_private(&keys.private_key, &super::cosign_key::generate(&password)?)?;
    Cmd::new("cosign")
        .args(["public-key", "--key"])
        .arg(keys.private_key.display().to_string())
        .opt("--outfile", keys.public_key.display().to_string())
        .secret_env("COSIGN_PASSWORD", Secret::new(password))
        .read()
        .context("cosign cannot read the environment's key: run `cargo xtask setup`")?;
    // Readable by all, as `cosign generate-key-pair` leaves it (`public-key` writes 0600).
    std::fs::set_permissions(&keys.public_key, std::fs::Permissions::from_mode(0o644))?;
    Ok(keys)
}

/// Serves the fixture vulnerability database (with its Rust-crate advisory) the way a Trivy
/// DB mirror does.
pub fn push_trivy_db(registry: &str) -> Result<String> {
    let db = workspace::root().join("xtask/tests/fixtures/trivy-db-cargo/db.tar.gz");
    let layer = std::fs::read(&db).with_context(|| format!("cannot read {}", db.display()))?;
    let repository = Repository::parse(&format!("{registry}/{TRIVY_DB_PATH}"))?;
    push_database(&repository, "2", &layer)?;
    Ok(format!("{registry}/{TRIVY_DB_PATH}:2"))
}

/// A Trivy database as an OCI artifact: Trivy wants its config type, its layer type and the
/// layer's title.
pub fn push_database(repository: &Repository, tag: &str, layer: &[u8]) -> Result<String> {
    let registry = Registry::anonymous(repository);
    let config = b"{}";
    registry.push_blob(config)?;
    registry.push_blob(layer)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": layout::MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": "application/vnd.aquasec.trivy.config.v1+json",
                   "digest": layout::sha256(config), "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip",
            "digest": layout::sha256(layer), "size": layer.len(),
            "annotations": {"org.opencontainers.image.title": "db.tar.gz"},
        }],
    });
    let bytes = serde_json::to_vec(&manifest)?;
    registry.put_manifest(&repository.tag(tag), &bytes, layout::MANIFEST_MEDIA_TYPE)?;
    Ok(layout::sha256(&bytes))
}

pub fn docker_answers(host: Option<&str>) -> bool {
    docker(host)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.success)
}

/// QEMU for running arm64 images (the build itself cross-compiles), then the engine.
pub fn start_engine() -> Result<Engine> {
    github::step("registering QEMU binfmt for arm64");
    register_binfmt()?;
    github::step("starting the Docker engine");
    start_docker()
}

/// Uses the engine the machine already has; otherwise starts dockerd on the containerd image
/// store, with its socket and runtime files of its own.
fn start_docker() -> Result<Engine> {
    let caller = std::env::var("DOCKER_HOST").ok();
    let machines = || docker_answers(Some(DEFAULT_DOCKER_HOST));
    if uses_callers_engine(caller.as_deref(), &docker_host(), machines) {
        let containerd = Path::new("/run/containerd/containerd.sock")
            .exists()
            .then(|| "/run/containerd/containerd.sock".to_string());
        return Ok(Engine {
            containerd,
            ..Engine::default()
        });
    }
    let run = Path::new(DOCKER_RUN_DIR);
    std::fs::create_dir_all(run)?;
    let host = docker_host();
    if let Some(engine) = adopt_dockerd(run, &host)? {
        return Ok(engine);
    }
    tools::which("dockerd").context("dockerd is not installed: run `cargo xtask setup`")?;
    let data = engine_data_dir();
    std::fs::create_dir_all(&data)?;
    let config = serde_json::json!({
        "features": {"containerd-snapshotter": true},
        "data-root": data,
        "exec-root": run.join("exec"),
        "pidfile": run.join("docker.pid"),
        "hosts": [host],
    });
    let config_path = run.join("daemon.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    let log = run.join("dockerd.log");
    let pid = Cmd::new("dockerd")
        .opt("--config-file", config_path.display().to_string())
        .spawn_logged(&log)?;
    wait_until("dockerd", Duration::from_secs(90), || {
        !alive(pid) || docker_answers(Some(&host))
    })
    .with_context(|| format!("see {}", log.display()))?;
    ensure!(alive(pid), "dockerd exited at start; see {}", log.display());
    Ok(Engine {
        pid: Some(pid),
        host: Some(host),
        containerd: find_containerd(run),
    })
}

/// Docker's default socket: the machine's own engine, when it has one.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Whether the environment builds on an engine that is not the environments' own: the one
/// the caller's `DOCKER_HOST` names, or the machine's. A `DOCKER_HOST` naming the
/// environments' socket (a shell that sourced `env.sh`) is that shared engine, which must be
/// adopted and recorded as in use, never mistaken for the caller's.
fn uses_callers_engine(
    caller: Option<&str>,
    environments: &str,
    machine_answers: impl Fn() -> bool,
) -> bool {
    caller.is_some_and(|host| host != environments) || machine_answers()
}

/// The environments' dockerd, started by another environment (or left by a crashed one):
/// shared if it answers (the last environment to go down stops it), otherwise cleared away.
fn adopt_dockerd(run: &Path, host: &str) -> Result<Option<Engine>> {
    let pid_file = run.join("docker.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
    if let Some(pid) = pid {
        if alive(pid) && docker_answers(Some(host)) {
            eprintln!("    sharing the running dockerd (pid {pid})");
            return Ok(Some(Engine {
                pid: Some(pid),
                host: Some(host.to_string()),
                containerd: find_containerd(run),
            }));
        }
        stop_pid(pid, Duration::from_secs(20));
    }
    let _ = std::fs::remove_file(run.join("docker.sock"));
    let _ = std::fs::remove_file(&pid_file);
    Ok(None)
}

/// The containerd that dockerd runs for itself; `ctr` uses it in a namespace of its own.
fn find_containerd(run: &Path) -> Option<String> {
    walkdir::WalkDir::new(run)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name() == "containerd.sock")
        .map(|e| e.path().display().to_string())
}

fn register_binfmt() -> Result<()> {
    if Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        return Ok(());
    }
    if !Path::new("/proc/sys/fs/binfmt_misc/status").exists() {
        Cmd::new("mount")
            .args([
                "-t",
                "binfmt_misc",
                "binfmt_misc",
                "/proc/sys/fs/binfmt_misc",
            ])
            .read()
            .context("cannot mount binfmt_misc (are you root?)")?;
    }
    Cmd::new("update-binfmts")
        .args(["--enable", "qemu-aarch64"])
        .read()?;
    if !Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        bail!("qemu-aarch64 is not registered: apt-get install qemu-user-static binfmt-support");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_that_sourced_env_sh_shares_the_environments_engine() {
        let ours = docker_host();
        // env.sh exported the shared engine's socket: adopt it (and be recorded as its user).
        assert!(!uses_callers_engine(Some(&ours), &ours, || false));
        // ... unless the machine has an engine of its own, which is used as without env.sh.
        assert!(uses_callers_engine(Some(&ours), &ours, || true));
        // Any other DOCKER_HOST is the caller's engine.
        assert!(uses_callers_engine(
            Some("tcp://10.0.0.1:2376"),
            &ours,
            || false
        ));
        assert!(!uses_callers_engine(None, &ours, || false));
        assert!(uses_callers_engine(None, &ours, || true));
    }

    /// A registry's data directory with one blob and one tag of `repo`.
    fn registry_data(dir: &Path, blob: &str, repo: &str) {
        let v2 = dir.join(REGISTRY_TREE);
        let blob_dir = v2.join("blobs/sha256").join(&blob[..2]).join(blob);
        std::fs::create_dir_all(&blob_dir).unwrap();
        std::fs::write(blob_dir.join("data"), blob).unwrap();
        let tag = v2
            .join("repositories")
            .join(repo)
            .join("_manifests/tags/1/current");
        std::fs::create_dir_all(&tag).unwrap();
        std::fs::write(tag.join("link"), format!("sha256:{blob}")).unwrap();
    }

    #[test]
    fn a_new_registry_starts_from_the_kept_one_linking_blobs_and_copying_tags() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let (seed, first, second) = (
            tmp.path().join("seed"),
            tmp.path().join("a"),
            tmp.path().join("b"),
        );
        // No seed yet: nothing is copied, and the first registry's content is kept.
        seed_registry(&seed, &first);
        assert!(!first.join(REGISTRY_TREE).exists());
        registry_data(&first, "aa11", "base/rust");
        keep_registry_seed(&seed, &first).unwrap();
        assert_eq!(blobs(&seed), blobs(&first));

        seed_registry(&seed, &second);
        assert_eq!(blobs(&second), ["aa11".to_string()].into());
        let inode = |dir: &Path, rel: &str| {
            std::fs::metadata(dir.join(REGISTRY_TREE).join(rel))
                .unwrap()
                .ino()
        };
        let blob = "blobs/sha256/aa/aa11/data";
        assert_eq!(inode(&seed, blob), inode(&second, blob), "blobs are linked");
        let tag = "repositories/base/rust/_manifests/tags/1/current/link";
        assert_ne!(inode(&seed, tag), inode(&second, tag), "tags are copied");
        // A registry rewrites a tag in place: the seed's stays.
        std::fs::write(second.join(REGISTRY_TREE).join(tag), "sha256:other").unwrap();
        let seed_tag = std::fs::read_to_string(seed.join(REGISTRY_TREE).join(tag)).unwrap();
        assert_eq!(seed_tag, "sha256:aa11");

        // Nothing new: the seed stays as it is. A new blob (new stand-ins): it is replaced.
        keep_registry_seed(&seed, &second).unwrap();
        assert_eq!(
            std::fs::read_to_string(seed.join(REGISTRY_TREE).join(tag)).unwrap(),
            "sha256:aa11"
        );
        registry_data(&second, "bb22", "base/runtime");
        keep_registry_seed(&seed, &second).unwrap();
        assert_eq!(
            blobs(&seed),
            ["aa11".to_string(), "bb22".to_string()].into()
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 3, "no staging or old seed left: {left:?}");

        // `env prune`: the seed goes, and the registry started from it keeps its blobs.
        remove_registry_seed(&seed).unwrap();
        assert!(!seed.exists());
        let kept = std::fs::read_to_string(second.join(REGISTRY_TREE).join(blob)).unwrap();
        assert_eq!(kept, "aa11");
        remove_registry_seed(&seed).unwrap();
    }
}
