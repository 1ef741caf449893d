//! Stand-ins for the Dockerfile's public base images, built from this machine (no public
//! registry is reachable here): a Debian root file system from debootstrap plus the machine's
//! own Rust toolchain (like `rust:slim`), and a distroless-like runtime base (CA certificates,
//! a nonroot user, nothing else). They are served from the local registry, and a build uses
//! them through `--build-context <public image>=docker-image://<stand-in>`, so the Dockerfile
//! keeps naming the public images.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::services::MACHINE_DIR;
use crate::{cp, debian, docker};
use kube9_release::buildx::external_bases;
use kube9_release::cmd::Cmd;
use kube9_release::{github, tools, workspace};

const RUST_STANDIN: &str = "kube9-env/rust:1.95.0-slim-bookworm";
const RUNTIME_STANDIN: &str = "kube9-env/static-debian12:nonroot";

/// Where the stand-ins are served from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Standins {
    pub rust: String,
    pub runtime: String,
}

impl Standins {
    /// Where `ensure` will push them in `registry`.
    pub fn planned(registry: &str) -> Standins {
        let at = |image: &str| format!("{registry}/{}", image.replace("kube9-env/", "base/"));
        Standins {
            rust: at(RUST_STANDIN),
            runtime: at(RUNTIME_STANDIN),
        }
    }

    /// The stand-in for a public base image, by what the image is.
    fn for_image(&self, image: &str) -> Option<&str> {
        let name = image.split(['@', ':']).next().unwrap_or(image);
        if name.ends_with("/rust") {
            Some(&self.rust)
        } else if name.contains("/distroless/static") {
            Some(&self.runtime)
        } else {
            None
        }
    }

    /// `--build-context` values for every external `FROM` of a Dockerfile.
    pub fn build_contexts(&self, dockerfile: &str) -> Result<Vec<String>> {
        let mut contexts = Vec::new();
        for image in external_bases(dockerfile) {
            let Some(standin) = self.for_image(&image) else {
                bail!("the local environment has no stand-in for {image}: add one in devenv/localenv/standins.rs");
            };
            let context = format!("{image}=docker-image://{standin}");
            if !contexts.contains(&context) {
                contexts.push(context);
            }
        }
        Ok(contexts)
    }
}

/// The project's Dockerfile.
pub fn project_dockerfile() -> Result<String> {
    crate::read_text(&workspace::root().join("Dockerfile"))
}

/// Builds what is missing and pushes both stand-ins to `registry`.
pub fn ensure(host: Option<&str>, registry: &str) -> Result<Standins> {
    let exists = |image: &str| {
        docker(host)
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.success)
    };
    let rootfs = Path::new(MACHINE_DIR).join("rootfs/bookworm");
    let have_images = exists(RUST_STANDIN) && exists(RUNTIME_STANDIN);
    if !have_images && !rootfs.join("usr/bin/gcc").exists() {
        debootstrap(&rootfs)?;
    }
    // The machine's trust store: egress here may pass a TLS-inspecting proxy with its own CA.
    let host_ca = std::fs::read("/etc/ssl/certs/ca-certificates.crt")
        .context("no CA bundle on this machine")?;
    if !exists(RUST_STANDIN) {
        import_rust(host, &rootfs, &host_ca)?;
    }
    if !exists(RUNTIME_STANDIN) {
        build_runtime(host, &rootfs, &host_ca)?;
    }
    let planned = Standins::planned(registry);
    for (image, target) in [
        (RUST_STANDIN, &planned.rust),
        (RUNTIME_STANDIN, &planned.runtime),
    ] {
        docker(host).args(["tag", image, target]).read()?;
        docker(host)
            .args(["push", "--quiet", target])
            .read()
            .with_context(|| format!("cannot push {target}"))?;
    }
    Ok(planned)
}

fn debootstrap(rootfs: &Path) -> Result<()> {
    github::step("debootstrap of a Debian 12 root file system for the base image stand-ins");
    let _ = std::fs::remove_dir_all(rootfs);
    let mirror = debian::mirror().unwrap_or_else(|| "http://deb.debian.org/debian".into());
    Cmd::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=ca-certificates,gcc,libc6-dev",
            "bookworm",
        ])
        .arg(rootfs.display().to_string())
        .arg(mirror)
        .run()
        .context("debootstrap failed")
}

/// The Debian root file system with this machine's toolchain, imported as an image.
fn import_rust(host: Option<&str>, rootfs: &Path, host_ca: &[u8]) -> Result<()> {
    github::step("importing the Rust builder stand-in (debootstrap + this machine's toolchain)");
    let toolchain = rust_toolchain()?;
    let stage = Path::new(MACHINE_DIR).join("stage-rust");
    let _ = std::fs::remove_dir_all(&stage);
    cp("-al", rootfs, &stage).run()?;
    let dest = stage.join("usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu");
    std::fs::create_dir_all(&dest)?;
    for part in ["bin", "lib", "libexec", "etc"] {
        if toolchain.join(part).exists() {
            cp("-a", &toolchain.join(part), &dest).run()?;
        }
    }
    let cargo_bin = stage.join("usr/local/cargo/bin");
    std::fs::create_dir_all(&cargo_bin)?;
    let rustup = tools::which("rustup").context("rustup is needed to build the Rust stand-in")?;
    std::fs::copy(rustup, cargo_bin.join("rustup"))?;
    for proxy in ["cargo", "rustc", "rustdoc"] {
        std::os::unix::fs::symlink("rustup", cargo_bin.join(proxy))?;
    }
    std::fs::write(
        stage.join("usr/local/rustup/settings.toml"),
        "version = \"12\"\ndefault_toolchain = \"1.95.0-x86_64-unknown-linux-gnu\"\nprofile = \"minimal\"\n",
    )?;
    std::fs::remove_file(stage.join("etc/ssl/certs/ca-certificates.crt"))?;
    std::fs::write(stage.join("etc/ssl/certs/ca-certificates.crt"), host_ca)?;
    let archive = Path::new(MACHINE_DIR).join("stage-rust.tar");
    Cmd::new("tar")
        .opt("--directory", stage.display().to_string())
        .opt("--file", archive.display().to_string())
        .args(["--create", "."])
        .run()?;
    docker(host)
        .arg("import")
        .opt("--change", "ENV RUSTUP_HOME=/usr/local/rustup")
        .opt("--change", "ENV CARGO_HOME=/usr/local/cargo")
        .opt(
            "--change",
            "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .arg(archive.display().to_string())
        .arg(RUST_STANDIN)
        .run()
        .context("cannot import the Rust stand-in")?;
    std::fs::remove_file(&archive)?;
    std::fs::remove_dir_all(&stage)?;
    Ok(())
}

/// A distroless-like base for both platforms: files only, so no emulation is needed.
fn build_runtime(host: Option<&str>, rootfs: &Path, host_ca: &[u8]) -> Result<()> {
    github::step("building the distroless stand-in");
    let ctx = Path::new(MACHINE_DIR).join("stage-static");
    let _ = std::fs::remove_dir_all(&ctx);
    let root = ctx.join("root");
    for d in ["etc/ssl/certs", "tmp", "home/nonroot", "usr/lib"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), host_ca)?;
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
    Ok(())
}

fn rust_toolchain() -> Result<PathBuf> {
    let sysroot = Cmd::new("rustc").args(["--print", "sysroot"]).read()?;
    let version = Cmd::new("rustc").arg("--version").read()?;
    if !version.starts_with("rustc 1.95.") {
        eprintln!(
            "warning: the stand-in is labelled 1.95.0 but carries {}",
            version.trim()
        );
    }
    Ok(PathBuf::from(sysroot.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_external_images_get_a_context() {
        let dockerfile = "ARG X=1\nFROM --platform=$BUILDPLATFORM docker.io/library/rust:1.95.0-slim-bookworm@sha256:ab AS toolchain\nFROM toolchain AS build\nFROM scratch AS empty\nFROM gcr.io/distroless/static-debian12:nonroot@sha256:cd\nCOPY --from=build /x /x\n";
        assert_eq!(
            external_bases(dockerfile),
            [
                "docker.io/library/rust:1.95.0-slim-bookworm@sha256:ab",
                "gcr.io/distroless/static-debian12:nonroot@sha256:cd"
            ]
        );
        let standins = Standins {
            rust: "127.0.0.1:5000/base/rust:1".into(),
            runtime: "127.0.0.1:5000/base/static:nonroot".into(),
        };
        assert_eq!(
            standins.build_contexts(dockerfile).unwrap(),
            [
                "docker.io/library/rust:1.95.0-slim-bookworm@sha256:ab=docker-image://127.0.0.1:5000/base/rust:1",
                "gcr.io/distroless/static-debian12:nonroot@sha256:cd=docker-image://127.0.0.1:5000/base/static:nonroot"
            ]
        );
        assert!(standins
            .build_contexts("FROM docker.io/library/alpine:3@sha256:ef\n")
            .is_err());
    }
}
