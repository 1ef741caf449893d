//! The plan of `rescan`: the published images that are still supported (`latest` and the
//! newest release of each supported minor line), read back and scanned with today's database.
//! Pure: which images exist comes in as data.

use anyhow::Result;
use std::path::PathBuf;

use semver::Version;

use super::image::{database_steps, platform_scan_steps};
use super::{Mode, Plan};
use crate::notify::{GithubIssues, Notify};
use crate::registry::Repository;
use crate::scan::{ScanPlan, ScannedImage, Severity, TrivyDb};
use crate::step::{Bound, PullPublished, RenderVex, Rescanned, Step, Subject};

/// One published version to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: String,
    pub digest: String,
    pub platforms: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RescanInputs {
    pub repository: Repository,
    pub images: Vec<Published>,
    pub db: TrivyDb,
    pub severity: Severity,
    pub out_dir: PathBuf,
    pub github: Option<GithubIssues>,
    /// Today's `security/vex.json` of the checkout, checked: its statements apply to every
    /// supported version (a finding it marks `not_affected` is listed, not reported).
    pub vex: Option<PathBuf>,
    /// Withdrawn releases, with `verify-release`'s words for them: listed as withdrawn,
    /// neither scanned nor reported (no issue is filed for them).
    pub withdrawn: Vec<(String, String)>,
}

/// The versions worth scanning: the supported ones (`supported`) among those not withdrawn.
pub fn supported_not_withdrawn(
    versions: &[Version],
    withdrawn: &[Version],
    minors: usize,
) -> Vec<Version> {
    supported(&crate::version::eligible(versions, withdrawn), minors)
}

/// The versions worth scanning: the newest stable release of each of the `minors` newest
/// minor lines (the newest of all is what `latest` holds).
pub fn supported(versions: &[Version], minors: usize) -> Vec<Version> {
    let mut stable: Vec<Version> = versions
        .iter()
        .filter(|v| v.pre.is_empty())
        .cloned()
        .collect();
    // Newest first: each minor line's releases are then together, its newest first.
    stable.sort_by(|a, b| b.cmp(a));
    stable.dedup_by_key(|v| (v.major, v.minor));
    stable.truncate(minors);
    stable
}

pub fn plan(inputs: &RescanInputs) -> Result<Plan> {
    let mut steps = Vec::from(database_steps(&inputs.db));
    steps.extend(inputs.images.iter().flat_map(|i| image_steps(inputs, i)));
    Plan {
        title: format!("Rescan {} with today's database", inputs.repository),
        notes: inputs
            .images
            .iter()
            .map(|i| format!("image      {} {}", i.version, i.digest))
            .chain(
                inputs.withdrawn.iter().map(|(v, summary)| {
                    format!("withdrawn  {v}: {summary} (not scanned, no issue)")
                }),
            )
            .collect(),
        mode: Mode::StopAtFirstFailure,
        steps,
    }
    .checked()
}

fn image_steps(inputs: &RescanInputs, image: &Published) -> Vec<Step> {
    let dir = inputs.out_dir.join(&image.version);
    let mut steps = vec![Step::PullPublished(PullPublished {
        subject: Subject::new(&inputs.repository, Bound::Given(image.digest.clone())),
        layout: dir.join("oci"),
    })];
    let gate = |p: &str| dir.join(format!("vex-gate-{}.json", crate::text::platform_slug(p)));
    if let Some(source) = &inputs.vex {
        steps.push(Step::RenderVex(RenderVex {
            source: source.clone(),
            index: Bound::Given(image.digest.clone()),
            gates: image
                .platforms
                .iter()
                .map(|p| (p.clone(), gate(p)))
                .collect(),
            attest: None,
        }));
    }
    let mut reports = Vec::new();
    let scanned = ScannedImage {
        repository: inputs.repository.clone(),
        version: image.version.clone(),
    };
    for p in &image.platforms {
        let scan = ScanPlan::new(p, &dir.join("layouts"), &dir, &inputs.db, &scanned)
            .with_vex(inputs.vex.as_ref().map(|_| gate(p)));
        steps.extend(platform_scan_steps(&scan, Some(&image.version), false));
        reports.push(scan.report());
    }
    steps.push(Step::Rescanned(Rescanned {
        version: image.version.clone(),
        severity: inputs.severity,
        reports,
        sarif_dir: inputs.out_dir.join("sarif"),
        notify: Notify {
            image: inputs.repository.to_string(),
            version: image.version.clone(),
            file: inputs.out_dir.join(format!("issue-{}.md", image.version)),
            github: inputs.github.clone(),
        },
    }));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(v: &[&str]) -> Vec<Version> {
        v.iter().map(|s| Version::parse(s).unwrap()).collect()
    }

    #[test]
    fn the_newest_patch_of_each_supported_minor_line() {
        let all = versions(&[
            "1.0.0",
            "1.0.3",
            "1.1.0",
            "1.2.0-rc.1",
            "2.0.0",
            "2.0.1",
            "0.9.0",
        ]);
        let chosen: Vec<String> = supported(&all, 3).iter().map(|v| v.to_string()).collect();
        assert_eq!(chosen, ["2.0.1", "1.1.0", "1.0.3"]);
        assert_eq!(supported(&all, 1)[0].to_string(), "2.0.1");
        assert!(supported(&[], 3).is_empty());
        // A withdrawn release is never scanned: its line's newest other release is.
        let withdrawn = [Version::parse("2.0.1").unwrap()];
        let chosen: Vec<String> = supported_not_withdrawn(&all, &withdrawn, 3)
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(chosen, ["2.0.0", "1.1.0", "1.0.3"]);
    }

    #[test]
    fn each_image_is_read_back_scanned_and_judged() {
        let inputs = RescanInputs {
            repository: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            images: vec![Published {
                version: "1.2.3".into(),
                digest: format!("sha256:{}", "a".repeat(64)),
                platforms: vec!["linux/amd64".into()],
            }],
            db: TrivyDb {
                repository: None,
                cache_dir: "c".into(),
                max_age_hours: Some(72),
            },
            severity: Severity::High,
            out_dir: "out/rescan".into(),
            github: None,
            vex: None,
            withdrawn: vec![("1.2.2".into(), "withdrawn: bad; use 1.2.3".into())],
        };
        assert!(plan(&inputs)
            .unwrap()
            .to_string()
            .contains("withdrawn  1.2.2: withdrawn: bad; use 1.2.3 (not scanned, no issue)"));
        assert_eq!(
            plan(&inputs).unwrap().kinds(),
            [
                "fetch-database",
                "check-database",
                "pull-published",
                "split-platform",
                "scan",
                "convert",
                "convert",
                "rescanned"
            ]
        );
    }
}
