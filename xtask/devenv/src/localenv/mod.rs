//! The local release environment: a Docker engine able to build both platforms, two local
//! registries (one open, one behind a login), QEMU binfmt, the Trivy database served from the
//! registry like a mirror, stand-ins for the public base images, and a cosign key pair. Every
//! service listens on 127.0.0.1 only, on ports chosen free at start; `down` stops what `up`
//! started, and a crashed earlier run is cleaned up by the next one.

mod cosign_key;
mod services;
mod standins;
mod users;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use kube9_release::buildx::external_bases;
pub use services::{alive, http_status, push_database};

use super::disk;
use kube9_release::github;
use kube9_release::plan::local::LocalTarget;
use kube9_release::secret::Secret;
use kube9_release::sign::Signer;
use kube9_release::{record, tools};

pub const AUTH_USER: &str = "kube9-test";
pub const TRIVY_DB_PATH: &str = "aquasec/trivy-db";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Service {
    pub pid: u32,
    pub port: u16,
}

impl Service {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// `127.0.0.1:PORT`.
impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.address())
    }
}

/// The key pair the environment signs with; the private key and its password stay in files
/// readable by root only, and reach cosign through its environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CosignKeys {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub password: PathBuf,
}

/// What `up` started: `env.json` in the environment's directory, the one description of a
/// local environment. `env.sh` points at it (`KUBE9_ENV`), the tests and the workflow
/// simulation read it, and `down` stops exactly what it lists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnvState {
    pub dir: PathBuf,
    /// Set when this environment started dockerd (and so must stop it).
    pub dockerd_pid: Option<u32>,
    pub docker_host: Option<String>,
    pub containerd_address: Option<String>,
    pub registry: Service,
    /// The registry behind a login: `auth_user`, and the password in `auth_password_file`.
    pub auth_registry: Service,
    pub auth_user: String,
    pub auth_password_file: PathBuf,
    pub trivy_db_repository: String,
    /// The stand-ins for the public base images, in the registry.
    pub standins: standins::Standins,
    /// `--build-context` values that serve the project Dockerfile's base images from them.
    pub build_contexts: Vec<String>,
    pub cosign: CosignKeys,
}

impl EnvState {
    /// Where the engine's layers go, when this environment started the engine.
    pub fn engine_data_dir(&self) -> Option<PathBuf> {
        self.dockerd_pid.map(|_| services::engine_data_dir())
    }

    /// The environment's own Trivy cache, apart from a real release's.
    pub fn trivy_cache_dir(&self) -> PathBuf {
        self.dir.join("trivy-cache")
    }

    /// What a shell (`env.sh`), the tests and tools need to find the environment: its
    /// description, its engine, its tools.
    pub fn exports(&self) -> Vec<(String, String)> {
        let state = (ENV_VAR.into(), state_file(&self.dir).display().to_string());
        let host = self.docker_host.clone().map(|h| ("DOCKER_HOST".into(), h));
        let path = (
            "PATH".into(),
            tools::search_path().to_string_lossy().into_owned(),
        );
        std::iter::once(state).chain(host).chain([path]).collect()
    }

    /// The environment `KUBE9_ENV` names (set by `env.sh` and `cargo xtask ci`).
    pub fn from_env() -> Result<EnvState> {
        let path = std::env::var_os(ENV_VAR).with_context(|| {
            format!(
                "{ENV_VAR} is not set: the local environment is not up; run the suite with \
                 `cargo xtask ci`, or `cargo xtask env up` and then \
                 `source target/kube9-env/local/env.sh` before `cargo test`"
            )
        })?;
        let path = PathBuf::from(path);
        record::read(&path)?
            .with_context(|| format!("{} is gone: run `cargo xtask env up`", path.display()))
    }

    pub fn auth_password(&self) -> String {
        read_private(&self.auth_password_file)
    }

    /// The private key's PEM text.
    pub fn cosign_key(&self) -> String {
        read_private(&self.cosign.private_key)
    }

    pub fn cosign_password(&self) -> String {
        read_private(&self.cosign.password)
    }

    /// Where a local release publishes, and with what it builds, scans and signs.
    pub fn release_target(&self) -> Result<LocalTarget> {
        Ok(LocalTarget {
            registry: self.registry.address(),
            trivy_db_repository: self.trivy_db_repository.clone(),
            trivy_cache_dir: self.trivy_cache_dir(),
            build_contexts: self.build_contexts.clone(),
            docker_host: self.docker_host.clone(),
            signer: Some(Signer::Key {
                key: Secret::new(crate::read_text(&self.cosign.private_key)?),
                password: Secret::new(crate::read_text(&self.cosign.password)?),
                from: self.cosign.private_key.display().to_string(),
            }),
        })
    }
}

/// The variable that names a running environment's `env.json`.
pub const ENV_VAR: &str = "KUBE9_ENV";

/// A file of the environment's that only root reads; an environment without it is broken.
fn read_private(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `cargo xtask env up`",
            path.display()
        )
    })
}

/// What a local release would use: the running environment's, or (for a dry run before it
/// is up) where it will be, with the ports it chooses at start shown as `<port>`.
pub fn planned_target(dir: &Path) -> Result<LocalTarget> {
    if let Some(state) = running(dir)? {
        return state.release_target();
    }
    let registry = "127.0.0.1:<port>".to_string();
    let standins = standins::Standins::planned(&registry);
    Ok(LocalTarget {
        trivy_db_repository: format!("{registry}/{TRIVY_DB_PATH}:2"),
        trivy_cache_dir: dir.join("trivy-cache"),
        build_contexts: standins.build_contexts(&standins::project_dockerfile()?)?,
        docker_host: Some(services::docker_host()),
        signer: Some(Signer::Key {
            key: Secret::new(""),
            password: Secret::new(""),
            from: dir.join("cosign.key").display().to_string(),
        }),
        registry,
    })
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("env.json")
}

fn write_state(state: &EnvState) -> Result<()> {
    std::fs::write(state_file(&state.dir), serde_json::to_vec_pretty(state)?)?;
    Ok(())
}

pub fn read_state(dir: &Path) -> Result<Option<EnvState>> {
    record::read(&state_file(dir))
}

/// Whether an environment in `dir` finished starting and still runs.
pub fn running(dir: &Path) -> Result<Option<EnvState>> {
    let Some(state) = read_state(dir)? else {
        return Ok(None);
    };
    // env.sh is written last: without it, an earlier `up` stopped half-way.
    let complete = dir.join("env.sh").exists()
        && alive(state.registry.pid)
        && alive(state.auth_registry.pid)
        && state.dockerd_pid.is_none_or(alive);
    Ok(complete.then_some(state))
}

/// The engine of a running local (or CI) environment, for `doctor`.
pub fn running_docker_host() -> Option<String> {
    [super::local_env_dir(), super::ci_env_dir()]
        .iter()
        .filter_map(|d| running(d).ok().flatten())
        .find_map(|s| s.docker_host)
}

/// Starts the environment in `dir` (or reuses a live one there); without `docker`, only the
/// registries and the Trivy database (for machines without an engine: `ci --skip docker`).
pub fn up(dir: &Path, docker: bool) -> Result<EnvState> {
    if let Some(state) = running(dir)? {
        eprintln!("the environment in {} is already up", dir.display());
        return Ok(state);
    }
    if read_state(dir)?.is_some() {
        eprintln!(
            "cleaning up a previous environment in {} that is no longer running",
            dir.display()
        );
        down(dir)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let engine = if docker {
        services::start_engine()?
    } else {
        services::Engine::default()
    };
    let mut state = EnvState {
        dir: dir.clone(),
        dockerd_pid: engine.pid,
        docker_host: engine.host.clone(),
        containerd_address: engine.containerd,
        auth_user: AUTH_USER.into(),
        auth_password_file: dir.join("auth-password"),
        ..EnvState::default()
    };
    if state.dockerd_pid.is_some() {
        users::add(&services::run_dir(), &dir)?;
    }
    // Written as it goes, so that `down` can stop whatever started even if a later step fails.
    if let Err(e) = start_services(&mut state, engine.host.is_some()) {
        let _ = down(&dir);
        return Err(e);
    }
    let exports: String = state
        .exports()
        .iter()
        .map(|(k, v)| format!("export {k}='{v}'\n"))
        .collect();
    std::fs::write(dir.join("env.sh"), exports)?;
    Ok(state)
}

fn start_services(state: &mut EnvState, own_engine: bool) -> Result<()> {
    github::step("starting the registries");
    let registry_data = state.dir.join("registry").join("data");
    if own_engine {
        services::seed_registry(&services::registry_seed(), &registry_data);
    }
    state.registry = services::start_registry(&state.dir, "registry", None)?;
    write_state(state)?;
    state.auth_registry = services::start_auth_registry(&state.dir, &state.auth_password_file)?;
    write_state(state)?;
    github::step("serving the Trivy database from the registry");
    state.trivy_db_repository = services::push_trivy_db(&state.registry.address())?;
    github::step("a cosign key pair for signing");
    state.cosign = services::cosign_keys(&state.dir)?;
    // Stand-ins only for the engine started here: one the machine already had (a laptop,
    // a runner) can pull the real base images.
    if own_engine {
        let host = state.docker_host.as_deref();
        disk::bound_build_cache(host)?;
        state.standins = standins::ensure(host, &state.registry.address())?;
        // Only the next `env up`'s speed depends on it (the seed and the registry must share
        // a file system for the links).
        if let Err(e) = services::keep_registry_seed(&services::registry_seed(), &registry_data) {
            eprintln!("note: the registry's content is not kept for the next environment: {e:#}");
        }
        state.build_contexts = state
            .standins
            .build_contexts(&standins::project_dockerfile()?)?;
    }
    write_state(state)
}

/// Stops what `up` started in `dir`.
pub fn down(dir: &Path) -> Result<()> {
    let Some(state) = read_state(dir)? else {
        return Ok(());
    };
    for pid in [state.registry.pid, state.auth_registry.pid] {
        if pid != 0 {
            services::stop_pid(pid, std::time::Duration::from_secs(5));
        }
    }
    if let Some(pid) = state.dockerd_pid {
        stop_engine_unless_used(dir, pid);
    }
    std::fs::remove_file(state_file(dir))?;
    Ok(())
}

/// The environments' engine is shared: it stops with the last live environment that uses it.
fn stop_engine_unless_used(dir: &Path, pid: u32) {
    let run = services::run_dir();
    users::remove(&run, dir);
    let live = |other: &Path| running(other).ok().flatten().is_some();
    let others = users::others(&run, dir, &live);
    if let Some(other) = others.first() {
        eprintln!(
            "the Docker engine stays up: the environment in {} uses it",
            other.display()
        );
        return;
    }
    services::stop_pid(pid, std::time::Duration::from_secs(30));
}

/// `cargo xtask env prune`: the engine's build cache emptied, and the registry seed removed
/// (it only grows: a new seed is a copy of a registry that started from the old one); says
/// what that freed. The next `env up` pushes the stand-ins in full and keeps a new seed.
pub fn prune(dir: &Path) -> Result<()> {
    let state = running(dir)?.context("the environment is not up: cargo xtask env up")?;
    let host = state.docker_host.as_deref();
    let before = disk::free_bytes(dir)?;
    let cache = disk::build_cache_bytes(host)?;
    disk::prune_build_cache(host)?;
    services::remove_registry_seed(&services::registry_seed())?;
    let after = disk::free_bytes(dir)?;
    println!(
        "build cache of {} emptied, registry seed removed; free space {} -> {}",
        disk::show(cache),
        disk::show(before),
        disk::show(after)
    );
    Ok(())
}

/// Whether the registry serves the database as `repository:tag` names it.
fn database_served(reference: &str) -> bool {
    let digest = |(repository, tag): (&str, &str)| {
        let repository = kube9_release::registry::Repository::parse(repository).ok()?;
        let registry = kube9_release::registry::Registry::anonymous(&repository);
        registry.digest_of(tag).ok().flatten()
    };
    reference.rsplit_once(':').and_then(digest).is_some()
}

/// `cargo xtask env status`: what the environment holds, and whether each service answers.
pub fn print(dir: &Path) -> Result<()> {
    let state = read_state(dir)?.context("the environment is not up: cargo xtask env up")?;
    let registry = state.registry.address();
    let auth = state.auth_registry.address();
    let docker_answers = state
        .docker_host
        .as_deref()
        .is_none_or(|host| services::docker_answers(Some(host)));
    let rows = [
        (
            "registry",
            registry.clone(),
            http_status(&registry, "/v2/") == Some(200),
        ),
        (
            "auth registry",
            format!(
                "{auth} (user {AUTH_USER}, password in {})",
                state.auth_password_file.display()
            ),
            http_status(&auth, "/v2/") == Some(401),
        ),
        (
            "trivy database",
            state.trivy_db_repository.clone(),
            database_served(&state.trivy_db_repository),
        ),
        (
            "docker",
            state
                .docker_host
                .clone()
                .unwrap_or_else(|| "the machine's own engine".into()),
            docker_answers,
        ),
    ];
    for (name, what, ok) in &rows {
        let mark = if *ok { "ok" } else { "NOT ANSWERING" };
        println!("{name:<15} {mark:<14} {what}");
    }
    let down: Vec<&str> = rows.iter().filter(|r| !r.2).map(|r| r.0).collect();
    println!(
        "cosign key      {} (public: {})",
        state.cosign.private_key.display(),
        state.cosign.public_key.display()
    );
    println!(
        "\nfor `cargo test` in this shell:  source {}",
        dir.join("env.sh").display()
    );
    anyhow::ensure!(
        down.is_empty(),
        "{} of the environment in {} do not answer: restart it with `cargo xtask env down && \
         cargo xtask env up`",
        down.join(", "),
        dir.display()
    );
    Ok(())
}
