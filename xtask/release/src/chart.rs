//! The Helm chart: staging a stamped copy (the source tree is never touched), and the helm
//! commands that lint, package, push and pull it back.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::artifacthub::ChartListing;
use crate::buildx::DEFAULT_PLATFORMS;
use crate::changelog::Change;
use crate::cmd::Cmd;
use crate::registry::Repository;

pub const CHART_NAME: &str = "kube9-operator";
/// The files rendered from `<name>.j2` beside them in the chart.
pub const STAMPED: &[&str] = &["Chart.yaml", "values.yaml"];

/// Everything the chart's templates are rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartData {
    pub chart_version: String,
    pub app_version: String,
    pub prerelease: bool,
    pub image_repository: String,
    pub image_tag: String,
    pub image_digest: String,
    /// `repository:tag[@digest]`, for the chart's annotations.
    pub image_reference: String,
    /// The lines under `annotations:` in Chart.yaml: what Artifact Hub lists.
    pub annotations: String,
}

impl ChartData {
    /// The values a checkout carries: no tag (appVersion is used) and no digest.
    pub fn development(operator_version: &str, repository: &str) -> Self {
        let image_reference = format!("{repository}:{operator_version}");
        let platforms: Vec<String> = DEFAULT_PLATFORMS.iter().map(|p| p.to_string()).collect();
        let listing = ChartListing::project(&image_reference, &platforms, false, None);
        ChartData {
            chart_version: operator_version.to_string(),
            app_version: operator_version.to_string(),
            prerelease: false,
            image_repository: repository.to_string(),
            image_tag: String::new(),
            image_digest: String::new(),
            image_reference,
            annotations: listing
                .chart_annotations_yaml()
                .expect("the project's own listing is complete"),
        }
    }

    /// A release pins the image by its tag and the published index digest; Artifact Hub
    /// lists its platforms and (unless the changelog was skipped) its changes.
    pub fn release(
        version: &str,
        prerelease: bool,
        (repository, tag, digest): (&str, &str, &str),
        platforms: &[String],
        changes: Option<Vec<Change>>,
    ) -> Result<Self> {
        let image_reference = format!("{repository}:{tag}@{digest}");
        let listing = ChartListing::project(&image_reference, platforms, prerelease, changes);
        Ok(ChartData {
            chart_version: version.to_string(),
            app_version: version.to_string(),
            prerelease,
            image_repository: repository.to_string(),
            image_tag: tag.to_string(),
            image_digest: digest.to_string(),
            annotations: listing
                .chart_annotations_yaml()
                .context("the chart's Artifact Hub annotations")?,
            image_reference,
        })
    }
}

pub fn render(template: &str, data: &ChartData) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.render_str(template, data)
        .context("cannot render the chart template")
}

/// Renders each stamped file of `chart` from its `.j2` template into `dest`.
pub fn write_stamped(chart: &Path, dest: &Path, data: &ChartData) -> Result<()> {
    for name in STAMPED {
        let template_path = chart.join(format!("{name}.j2"));
        let template = fs::read_to_string(&template_path)
            .with_context(|| format!("cannot read {}", template_path.display()))?;
        fs::write(dest.join(name), render(&template, data)?)?;
    }
    Ok(())
}

/// Copies the chart to `dest` and stamps it; returns the staged chart's directory. Every
/// staged file gets the commit's time (`epoch`): Helm 4's `helm package` fixes the archive's
/// order and ownership but keeps each file's time, so with these times one commit gives one
/// chart archive.
pub fn stage(chart: &Path, dest: &Path, data: &ChartData, epoch: i64) -> Result<PathBuf> {
    let staged = dest.join(CHART_NAME);
    if staged.exists() {
        fs::remove_dir_all(&staged)?;
    }
    for entry in walkdir::WalkDir::new(chart).sort_by_file_name() {
        let entry = entry?;
        let relative = entry.path().strip_prefix(chart)?;
        let target = staged.join(relative);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target)?;
        } else if entry.file_type().is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    write_stamped(chart, &staged, data)?;
    set_times(&staged, epoch)?;
    Ok(staged)
}

/// Sets the modification time of `path` and, for a directory, of everything under it.
pub fn set_times(path: &Path, epoch: i64) -> Result<()> {
    let time = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(epoch).context("a commit before 1970")?);
    for entry in walkdir::WalkDir::new(path) {
        let entry = entry?;
        let file = fs::File::open(entry.path())
            .with_context(|| format!("cannot open {}", entry.path().display()))?;
        file.set_modified(time)
            .with_context(|| format!("cannot set the time of {}", entry.path().display()))?;
    }
    Ok(())
}

/// The helm commands of one chart release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelmPlan {
    pub staged: PathBuf,
    pub package_dir: PathBuf,
    pub version: String,
    /// Where charts are pushed (`oci://ghcr.io/alto9/charts`); the chart lands in its child
    /// named after the chart.
    pub repository: Repository,
    pub plain_http: bool,
}

impl HelmPlan {
    /// helm with its registry login kept in the run's private directory `login_dir`.
    fn helm(&self, login_dir: &str) -> Cmd {
        Cmd::new("helm").env("HELM_REGISTRY_CONFIG", format!("{login_dir}/registry.json"))
    }

    /// The OCI repository the chart itself lands in.
    pub fn chart_repository(&self) -> Repository {
        self.repository.child(CHART_NAME)
    }

    pub fn package_file(&self) -> PathBuf {
        self.package_dir
            .join(format!("{CHART_NAME}-{}.tgz", self.version))
    }

    pub fn lint(&self) -> Cmd {
        Cmd::new("helm")
            .args(["lint", "--strict"])
            .arg(self.staged.display().to_string())
    }

    pub fn package(&self) -> Cmd {
        Cmd::new("helm")
            .arg("package")
            .arg(self.staged.display().to_string())
            .opt("--destination", self.package_dir.display().to_string())
    }

    pub fn push(&self, login_dir: &str) -> Cmd {
        self.helm(login_dir)
            .arg("push")
            .arg(self.package_file().display().to_string())
            .arg(self.repository.oci_url())
            .args(self.plain_http.then_some("--plain-http"))
    }

    pub fn pull(&self, dest: &Path, login_dir: &str) -> Cmd {
        self.helm(login_dir)
            .arg("pull")
            .arg(self.chart_repository().oci_url())
            .opt("--version", &self.version)
            .opt("--destination", dest.display().to_string())
            .args(self.plain_http.then_some("--plain-http"))
    }
}

/// The chart archive a pushed chart manifest carries.
pub fn chart_layer(manifest: &[u8]) -> Option<String> {
    let m: oci_client::manifest::OciImageManifest = serde_json::from_slice(manifest).ok()?;
    m.layers
        .into_iter()
        .find(|l| l.media_type == CHART_LAYER_MEDIA_TYPE)
        .map(|l| l.digest)
}

pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The image a packaged chart deploys by default, read from its `values.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ChartImage {
    pub repository: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub digest: String,
}

/// Reads `<chart>/values.yaml` out of a chart archive.
pub fn packaged_image(archive: &[u8]) -> Result<ChartImage> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Values {
        image: ChartImage,
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.path()?.ends_with(format!("{CHART_NAME}/values.yaml")) {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            let values: Values =
                serde_saphyr::from_str(&text).context("the chart's values.yaml is not valid")?;
            return Ok(values.image);
        }
    }
    anyhow::bail!("the chart archive holds no {CHART_NAME}/values.yaml")
}

/// `helm template` of a packaged chart, for checking what it deploys.
pub fn template(chart: &Path) -> Cmd {
    Cmd::new("helm")
        .args(["template", "kube9"])
        .arg(chart.display().to_string())
}

/// The operator image a rendered chart deploys.
pub fn rendered_images(manifests: &str) -> Vec<String> {
    manifests
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(|i| i.trim_matches('"').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../charts")
            .join(CHART_NAME)
    }

    #[test]
    fn committed_files_are_the_development_render() {
        let chart = chart_dir();
        let data = ChartData::development(
            crate::workspace::operator_version(),
            crate::DEFAULT_IMAGE_REPOSITORY,
        );
        for name in STAMPED {
            let template = fs::read_to_string(chart.join(format!("{name}.j2"))).unwrap();
            let committed = fs::read_to_string(chart.join(name)).unwrap();
            assert_eq!(
                committed,
                render(&template, &data).unwrap(),
                "charts/{CHART_NAME}/{name} differs from its template: run `cargo xtask chart-sync`"
            );
        }
    }

    #[test]
    fn release_stamps_version_and_digest_and_keeps_comments() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let data = ChartData::release(
            "1.2.3",
            false,
            ("ghcr.io/alto9/kube9-operator", "1.2.3", &digest),
            &["linux/amd64".into(), "linux/arm64".into()],
            None,
        )
        .unwrap();
        let dest = std::env::temp_dir().join(format!("kube9-stage-{}", std::process::id()));
        let staged = stage(&chart_dir(), &dest, &data, 1_700_000_000).unwrap();
        let values = fs::read_to_string(staged.join("values.yaml")).unwrap();
        assert!(values.contains("  tag: \"1.2.3\"\n"), "{values}");
        assert!(values.contains(&format!("  digest: \"{digest}\"\n")));
        assert!(values.contains("# Image index digest (sha256:...)."));
        let chart = fs::read_to_string(staged.join("Chart.yaml")).unwrap();
        assert!(
            chart.contains("\nversion: 1.2.3\n") && chart.contains("\nappVersion: \"1.2.3\"\n")
        );
        // The source is untouched.
        let source = fs::read_to_string(chart_dir().join("values.yaml")).unwrap();
        assert!(source.contains("  digest: \"\"\n"));
        fs::remove_dir_all(dest).unwrap();
    }

    #[test]
    fn prerelease_chart_is_marked() {
        let data = ChartData::release(
            "1.0.0-beta.1",
            true,
            ("r/x", "1.0.0-beta.1", "sha256:0"),
            &["linux/amd64".into()],
            None,
        )
        .unwrap();
        let template = fs::read_to_string(chart_dir().join("Chart.yaml.j2")).unwrap();
        let chart = render(&template, &data).unwrap();
        assert!(chart.contains("version: 1.0.0-beta.1\n"));
        assert!(chart.contains("artifacthub.io/prerelease: \"true\""));
    }

    #[test]
    fn helm_commands_keep_the_login_in_a_private_dir() {
        let plan = HelmPlan {
            staged: "s/kube9-operator".into(),
            package_dir: "p".into(),
            version: "1.2.3".into(),
            repository: Repository::parse("oci://ghcr.io/alto9/charts").unwrap(),
            plain_http: false,
        };
        assert_eq!(
            plan.push("<login-dir>").to_string(),
            "HELM_REGISTRY_CONFIG=<login-dir>/registry.json helm push p/kube9-operator-1.2.3.tgz oci://ghcr.io/alto9/charts"
        );
        // Packaging and linting need no login and see no registry configuration.
        assert!(plan.package().env.is_empty() && plan.lint().env.is_empty());
        assert_eq!(
            plan.chart_repository().to_string(),
            "ghcr.io/alto9/charts/kube9-operator"
        );
    }

    #[test]
    fn the_chart_layer_is_found_among_the_manifests_layers() {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "sha256:c", "size": 1},
            "layers": [
                {"mediaType": "application/vnd.cncf.helm.chart.provenance.v1.prov", "digest": "sha256:p", "size": 1},
                {"mediaType": CHART_LAYER_MEDIA_TYPE, "digest": "sha256:t", "size": 1}
            ]
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        assert_eq!(chart_layer(&bytes).as_deref(), Some("sha256:t"));
        assert_eq!(chart_layer(b"{}"), None);
    }

    #[test]
    fn finds_the_rendered_image() {
        let manifests = "kind: Deployment\n        - name: operator\n          image: \"r/x:1.2.3@sha256:ab\"\n";
        assert_eq!(rendered_images(manifests), ["r/x:1.2.3@sha256:ab"]);
    }
}
