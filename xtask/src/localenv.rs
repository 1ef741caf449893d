//! The local release environment: a Docker engine able to build both platforms, two local
//! registries (one open, one behind a login), QEMU binfmt, the Trivy database served from the
//! registry like a mirror, and stand-ins for the public base images. Every service listens on
//! 127.0.0.1 only, on ports chosen free at start; `down` stops what `up` started, and a crashed
//! earlier run is cleaned up by the next one.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::cmd::{Cmd, Secret};
use crate::github;

/// Machine-wide state that outlives a run: Docker's data (layer cache, stand-in images).
const MACHINE_DIR: &str = "/var/lib/kube9-env";
/// The managed dockerd's runtime files; one dockerd per machine.
const DOCKER_RUN_DIR: &str = "/run/kube9-env";

pub const RUST_STANDIN: &str = "kube9-env/rust:1.95.0-slim-bookworm";
pub const RUNTIME_STANDIN: &str = "kube9-env/static-debian12:nonroot";
pub const TRIVY_DB_PATH: &str = "aquasec/trivy-db";
pub const AUTH_USER: &str = "kube9-test";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Service {
    pub pid: u32,
    pub port: u16,
}

impl Service {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// What `up` started; `env.json` in the run directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvState {
    pub dir: PathBuf,
    /// Set when this environment started dockerd (and so must stop it).
    pub dockerd_pid: Option<u32>,
    pub docker_host: Option<String>,
    pub containerd_address: Option<String>,
    pub registry: Service,
    pub auth_registry: Service,
    pub auth_password_file: PathBuf,
    pub trivy_db_repository: String,
    /// Build arguments overriding the Dockerfile's public base images, when they cannot be pulled.
    pub base_image_args: Vec<String>,
    pub path_prepend: Vec<PathBuf>,
}

impl EnvState {
    /// `KEY=value` pairs the tests and tools read.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("KUBE9_TEST_REGISTRY".into(), self.registry.address()),
            (
                "KUBE9_TEST_AUTH_REGISTRY".into(),
                self.auth_registry.address(),
            ),
            ("KUBE9_TEST_AUTH_USER".into(), AUTH_USER.into()),
            (
                "KUBE9_TEST_AUTH_PASSWORD_FILE".into(),
                self.auth_password_file.display().to_string(),
            ),
            (
                "KUBE9_TEST_TRIVY_DB_REPOSITORY".into(),
                self.trivy_db_repository.clone(),
            ),
            (
                "KUBE9_TEST_BUILD_ARGS".into(),
                self.base_image_args.join(" "),
            ),
            (
                "KUBE9_TEST_TRIVY_CACHE".into(),
                self.dir.join("trivy-cache").display().to_string(),
            ),
        ];
        if let Some(host) = &self.docker_host {
            vars.push(("DOCKER_HOST".into(), host.clone()));
        }
        if let Some(addr) = &self.containerd_address {
            vars.push(("KUBE9_TEST_CONTAINERD_ADDRESS".into(), addr.clone()));
        }
        let mut path: Vec<String> = self
            .path_prepend
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        vars.push(("PATH".into(), path.join(":")));
        vars
    }
}

pub fn state_file(dir: &Path) -> PathBuf {
    dir.join("env.json")
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn stop_pid(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let start = Instant::now();
    while alive(pid) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid) {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A minimal HTTP GET, enough to learn whether a registry answers and with which status.
pub fn http_status(address: &str, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&address.parse().ok()?, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
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

fn spawn_logged(program: &str, args: &[String], log: &Path) -> Result<u32> {
    let out = std::fs::File::create(log)?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {program}: run `cargo xtask setup`"))?;
    Ok(child.id())
}

/// Starts a registry on a free loopback port; with `htpasswd`, it requires a login.
fn start_registry(dir: &Path, name: &str, htpasswd: Option<&Path>) -> Result<Service> {
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
        let pid = spawn_logged(
            "docker-registry",
            &["serve".into(), config_path.display().to_string()],
            &root.join("log"),
        )?;
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

fn docker_answers(host: Option<&str>) -> bool {
    let mut cmd = Cmd::new("docker").args(["info", "--format", "{{.ServerVersion}}"]);
    if let Some(h) = host {
        cmd = cmd.env("DOCKER_HOST", h);
    }
    cmd.output().is_ok_and(|o| o.success)
}

/// Uses the engine the machine already has; otherwise starts dockerd on the containerd image
/// store, with its socket and runtime files of its own.
fn start_docker() -> Result<(Option<u32>, Option<String>, Option<String>)> {
    if std::env::var_os("DOCKER_HOST").is_some() || docker_answers(None) {
        let containerd = Path::new("/run/containerd/containerd.sock")
            .exists()
            .then(|| "/run/containerd/containerd.sock".to_string());
        return Ok((None, None, containerd));
    }
    let run = Path::new(DOCKER_RUN_DIR);
    std::fs::create_dir_all(run)?;
    let socket = run.join("docker.sock");
    let host = format!("unix://{}", socket.display());
    let pid_file = run.join("docker.pid");
    // A dockerd left by a crashed run: reuse it if it answers, otherwise clear it away.
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        if alive(pid) && docker_answers(Some(&host)) {
            // Left by a crashed run: adopt it, so that this run's `down` stops it.
            eprintln!("    adopting the running dockerd (pid {pid})");
            return Ok((Some(pid), Some(host), find_containerd(run)));
        }
        stop_pid(pid, Duration::from_secs(20));
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    which("dockerd").context("dockerd is not installed: run `cargo xtask setup`")?;
    let data = Path::new(MACHINE_DIR).join("docker");
    std::fs::create_dir_all(&data)?;
    let config = serde_json::json!({
        "features": {"containerd-snapshotter": true},
        "data-root": data,
        "exec-root": run.join("exec"),
        "pidfile": pid_file,
        "hosts": [host],
    });
    let config_path = run.join("daemon.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    let pid = spawn_logged(
        "dockerd",
        &["--config-file".into(), config_path.display().to_string()],
        &run.join("dockerd.log"),
    )?;
    wait_until("dockerd", Duration::from_secs(90), || {
        !alive(pid) || docker_answers(Some(&host))
    })
    .with_context(|| format!("see {}", run.join("dockerd.log").display()))?;
    if !alive(pid) {
        bail!(
            "dockerd exited at start; see {}",
            run.join("dockerd.log").display()
        );
    }
    Ok((Some(pid), Some(host), find_containerd(run)))
}

/// The containerd that dockerd runs for itself; `ctr` uses it in a namespace of its own.
fn find_containerd(run: &Path) -> Option<String> {
    walkdir::WalkDir::new(run)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name() == "containerd.sock")
        .map(|e| e.path().display().to_string())
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// QEMU user emulation for running arm64 images (the build itself cross-compiles).
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

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The registry that requires a login; its password stays in a file readable by root only.
fn start_auth_registry(dir: &Path) -> Result<(Service, PathBuf)> {
    let password = Secret::new(random_hex(16)?);
    let password_file = dir.join("auth-password");
    std::fs::write(&password_file, password.expose())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))?;
    let htpasswd = Cmd::new("htpasswd")
        .args(["-B", "-i", "-n", AUTH_USER])
        .stdin_secret(password)
        .read()
        .context("htpasswd failed: apt-get install apache2-utils")?;
    let htpasswd_file = dir.join("htpasswd");
    std::fs::write(&htpasswd_file, htpasswd.trim())?;
    Ok((
        start_registry(dir, "auth-registry", Some(&htpasswd_file))?,
        password_file,
    ))
}

pub fn docker(state_host: Option<&str>) -> Cmd {
    let cmd = Cmd::new("docker");
    match state_host {
        Some(h) => cmd.env("DOCKER_HOST", h),
        None => cmd,
    }
}

/// Stand-ins for the Dockerfile's public base images, built from this machine: a Debian root
/// file system from debootstrap plus the machine's own Rust toolchain (like `rust:slim`), and a
/// distroless-like runtime base (CA certificates, a nonroot user, nothing else).
fn ensure_standins(host: Option<&str>, registry: &str) -> Result<Vec<String>> {
    let exists = |image: &str| {
        docker(host)
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.success)
    };
    let rootfs = Path::new(MACHINE_DIR).join("rootfs/bookworm");
    let have_images = exists(RUST_STANDIN) && exists(RUNTIME_STANDIN);
    if !have_images && !rootfs.join("usr/bin/gcc").exists() {
        github::step("debootstrap of a Debian 12 root file system for the base image stand-ins");
        let _ = std::fs::remove_dir_all(&rootfs);
        let mirror = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("URIs:"))
                    .map(|u| u.trim().to_string())
            })
            .unwrap_or_else(|| "http://deb.debian.org/debian".into());
        Cmd::new("debootstrap")
            .args([
                "--variant=minbase",
                "--include=ca-certificates,gcc,libc6-dev",
                "bookworm",
            ])
            .arg(rootfs.display().to_string())
            .arg(mirror)
            .run()
            .context("debootstrap failed")?;
    }
    // The machine's trust store: egress here may pass a TLS-inspecting proxy with its own CA.
    let host_ca = std::fs::read("/etc/ssl/certs/ca-certificates.crt")
        .context("no CA bundle on this machine")?;
    if !exists(RUST_STANDIN) {
        github::step(
            "importing the Rust builder stand-in (debootstrap + this machine's toolchain)",
        );
        let toolchain = rust_toolchain()?;
        let stage = Path::new(MACHINE_DIR).join("stage-rust");
        let _ = std::fs::remove_dir_all(&stage);
        Cmd::new("cp")
            .args(["-al"])
            .arg(rootfs.display().to_string())
            .arg(stage.display().to_string())
            .run()?;
        let dest = stage.join("usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu");
        std::fs::create_dir_all(&dest)?;
        for part in ["bin", "lib", "libexec", "etc"] {
            if toolchain.join(part).exists() {
                Cmd::new("cp")
                    .arg("-a")
                    .arg(toolchain.join(part).display().to_string())
                    .arg(dest.display().to_string())
                    .run()?;
            }
        }
        let cargo_bin = stage.join("usr/local/cargo/bin");
        std::fs::create_dir_all(&cargo_bin)?;
        let rustup = which("rustup").context("rustup is needed to build the Rust stand-in")?;
        std::fs::copy(rustup, cargo_bin.join("rustup"))?;
        for proxy in ["cargo", "rustc", "rustdoc"] {
            std::os::unix::fs::symlink("rustup", cargo_bin.join(proxy))?;
        }
        std::fs::write(
            stage.join("usr/local/rustup/settings.toml"),
            "version = \"12\"\ndefault_toolchain = \"1.95.0-x86_64-unknown-linux-gnu\"\nprofile = \"minimal\"\n",
        )?;
        std::fs::remove_file(stage.join("etc/ssl/certs/ca-certificates.crt"))?;
        std::fs::write(stage.join("etc/ssl/certs/ca-certificates.crt"), &host_ca)?;
        let import = format!(
            "tar -C {} -c . | docker import --change 'ENV RUSTUP_HOME=/usr/local/rustup' --change 'ENV CARGO_HOME=/usr/local/cargo' --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - {RUST_STANDIN}",
            stage.display()
        );
        let mut sh = Cmd::new("sh").args(["-c", &import]);
        if let Some(h) = host {
            sh = sh.env("DOCKER_HOST", h);
        }
        sh.run().context("cannot import the Rust stand-in")?;
        std::fs::remove_dir_all(&stage)?;
    }
    if !exists(RUNTIME_STANDIN) {
        github::step("building the distroless stand-in");
        let ctx = Path::new(MACHINE_DIR).join("stage-static");
        let _ = std::fs::remove_dir_all(&ctx);
        let root = ctx.join("root");
        for d in ["etc/ssl/certs", "tmp", "home/nonroot", "usr/lib"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), &host_ca)?;
        std::fs::copy(
            rootfs.join("usr/lib/os-release"),
            root.join("usr/lib/os-release"),
        )?;
        std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release"))?;
        std::fs::copy(
            rootfs.join("etc/debian_version"),
            root.join("etc/debian_version"),
        )?;
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
        )?;
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
        )?;
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY --chown=0:0 root/ /\n",
        )?;
        docker(host)
            .args([
                "buildx",
                "build",
                "--platform",
                "linux/amd64,linux/arm64",
                "--provenance=false",
            ])
            .opt(
                "--output",
                format!("type=image,name={RUNTIME_STANDIN},oci-mediatypes=true"),
            )
            .arg(ctx.display().to_string())
            .run()
            .context("cannot build the distroless stand-in")?;
        std::fs::remove_dir_all(&ctx)?;
    }
    let mut args = Vec::new();
    for (image, arg) in [
        (RUST_STANDIN, "RUST_IMAGE"),
        (RUNTIME_STANDIN, "RUNTIME_IMAGE"),
    ] {
        let target = format!("{registry}/{}", image.replace("kube9-env/", "base/"));
        docker(host).args(["tag", image, &target]).read()?;
        docker(host)
            .args(["push", "--quiet", &target])
            .read()
            .with_context(|| format!("cannot push {target}"))?;
        args.push(format!("{arg}={target}"));
    }
    Ok(args)
}

fn rust_toolchain() -> Result<PathBuf> {
    let sysroot = Cmd::new("rustc").args(["--print", "sysroot"]).read()?;
    let path = PathBuf::from(sysroot.trim());
    let version = Cmd::new("rustc").arg("--version").read()?;
    if !version.starts_with("rustc 1.95.") {
        eprintln!(
            "warning: the stand-in is labelled 1.95.0 but carries {}",
            version.trim()
        );
    }
    Ok(path)
}

/// Serves the fixture vulnerability database the way a Trivy DB mirror does.
fn push_trivy_db(registry: &str) -> Result<String> {
    let db = crate::workspace::root().join("xtask/tests/fixtures/trivy-db/db.tar.gz");
    let layer = std::fs::read(&db).with_context(|| format!("cannot read {}", db.display()))?;
    let repository = crate::registry::Repository::parse(&format!("{registry}/{TRIVY_DB_PATH}"))?;
    let reference = format!("{registry}/{TRIVY_DB_PATH}:2");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(crate::registry::push_artifact(
        &repository,
        "2",
        "application/vnd.aquasec.trivy.config.v1+json",
        b"{}",
        "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip",
        &layer,
        "db.tar.gz",
    ))?;
    Ok(reference)
}

/// Starts the environment in `dir` (or reuses a live one there); without `docker`, only the
/// registries and the Trivy database (for machines without an engine: `ci --skip docker`).
pub fn up(dir: &Path, docker: bool) -> Result<EnvState> {
    if let Some(state) = read_state(dir)? {
        // env.sh is written last: without it, an earlier `up` stopped half-way.
        if dir.join("env.sh").exists()
            && alive(state.registry.pid)
            && alive(state.auth_registry.pid)
            && state.dockerd_pid.is_none_or(alive)
        {
            eprintln!("the environment in {} is already up", dir.display());
            return Ok(state);
        }
        eprintln!(
            "cleaning up a previous environment in {} that is no longer running",
            dir.display()
        );
        down(dir)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let (dockerd_pid, docker_host, containerd_address) = if docker {
        github::step("registering QEMU binfmt for arm64");
        register_binfmt()?;
        github::step("starting the Docker engine");
        start_docker()?
    } else {
        (None, None, None)
    };
    let mut state = EnvState {
        dir: dir.clone(),
        dockerd_pid,
        docker_host: docker_host.clone(),
        containerd_address,
        registry: Service { pid: 0, port: 0 },
        auth_registry: Service { pid: 0, port: 0 },
        auth_password_file: dir.join("auth-password"),
        trivy_db_repository: String::new(),
        base_image_args: Vec::new(),
        path_prepend: crate::setup::tool_paths(),
    };
    // Write as we go, so that `down` can stop whatever started even if a later step fails.
    let result = (|| -> Result<()> {
        github::step("starting the registries");
        state.registry = start_registry(&dir, "registry", None)?;
        write_state(&state)?;
        let (auth, password_file) = start_auth_registry(&dir)?;
        state.auth_registry = auth;
        state.auth_password_file = password_file;
        write_state(&state)?;
        github::step("serving the Trivy database from the registry");
        state.trivy_db_repository = push_trivy_db(&state.registry.address())?;
        // Stand-ins only for the engine started here: one the machine already had (a laptop,
        // a runner) can pull the real base images.
        if docker_host.is_some() {
            state.base_image_args =
                ensure_standins(docker_host.as_deref(), &state.registry.address())?;
        }
        write_state(&state)
    })();
    if let Err(e) = result {
        let _ = down(&dir);
        return Err(e);
    }
    std::fs::write(
        dir.join("env.sh"),
        state
            .vars()
            .iter()
            .map(|(k, v)| format!("export {k}='{v}'\n"))
            .collect::<String>(),
    )?;
    Ok(state)
}

fn write_state(state: &EnvState) -> Result<()> {
    std::fs::write(state_file(&state.dir), serde_json::to_vec_pretty(state)?)?;
    Ok(())
}

pub fn read_state(dir: &Path) -> Result<Option<EnvState>> {
    crate::record::read(&state_file(dir))
}

/// Stops what `up` started in `dir`.
pub fn down(dir: &Path) -> Result<()> {
    let Some(state) = read_state(dir)? else {
        return Ok(());
    };
    for pid in [state.registry.pid, state.auth_registry.pid] {
        if pid != 0 {
            stop_pid(pid, Duration::from_secs(5));
        }
    }
    if let Some(pid) = state.dockerd_pid {
        stop_pid(pid, Duration::from_secs(30));
    }
    std::fs::remove_file(state_file(dir))?;
    Ok(())
}
