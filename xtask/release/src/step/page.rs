//! The release page's section, written once the release is verified: a file beside the
//! verification report, and on GitHub the `notes` output the release-page job publishes.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::needs::{Binding, Needs};
use super::{Action, Bound, Cx, Status};
use crate::notes::{self, ReleasePage};
use crate::record::ScanRecord;
use crate::registry::Repository;
use crate::sign::{AttestationType, Cosign, Verifier};

/// Everything the section says that is known before the run; the digests, the timeline and
/// (in one local run) the scan come from the bindings.
#[derive(Debug, Clone, Serialize)]
pub struct WriteReleaseNotes {
    pub path: PathBuf,
    pub version: String,
    pub image: Repository,
    /// The chart's own repository (`ghcr.io/alto9/charts/kube9-operator`).
    pub chart: Repository,
    pub image_cosign: Cosign,
    pub chart_cosign: Cosign,
    pub verifier: Verifier,
    /// `owner/name`, for `gh attestation verify` (keyless releases).
    pub github_repository: String,
    pub source_ref: String,
    /// With a key, the provenance is the workflow's Sigstore bundle, verified with this
    /// trusted root (see `VerifyProvenance`).
    pub bundle_root: Option<PathBuf>,
    /// The image job's scan, when another job ran it.
    pub scan: Option<ScanRecord>,
    /// This version's CHANGELOG.md entry, as markdown.
    pub changes: Option<String>,
}

impl WriteReleaseNotes {
    fn page(&self, cx: &Cx) -> Result<ReleasePage> {
        let b = &cx.bindings;
        let index = b.digest(&Bound::Index)?;
        let chart_digest = b.digest(&Bound::Chart)?;
        let at = |digest: &str| format!("{}@{digest}", self.image);
        let signature = |digest: &str| self.image_cosign.verify(&self.verifier, &at(digest), None);
        let attestation = |kind, digest: &str| {
            let cosign = &self.image_cosign;
            cosign.verify_attestation(&self.verifier, kind, &at(digest), None)
        };
        let mut verify = vec![signature(&index), self.provenance(&at(&index))];
        // Each platform manifest is what a node pulls: its signature, and its SBOM (which
        // `verify-attestation` prints).
        for digest in b.platforms.values() {
            verify.push(signature(digest));
            verify.push(attestation(AttestationType::CycloneDx, digest));
        }
        if b.vex_attested {
            verify.push(attestation(AttestationType::OpenVex, &index));
        }
        let chart_ref = format!("{}@{chart_digest}", self.chart);
        verify.push(self.chart_cosign.verify(&self.verifier, &chart_ref, None));
        let scan = self
            .scan
            .as_ref()
            .or(b.scan.as_ref())
            .or(b.recorded_scan.as_ref());
        Ok(ReleasePage {
            withdrawn: b
                .withdrawal
                .as_ref()
                .filter(|w| w.withdrawn)
                .map(crate::withdrawal::Withdrawal::summary),
            version: self.version.clone(),
            image: self.image.to_string(),
            index,
            platforms: b.platforms.clone().into_iter().collect(),
            chart: self.chart.oci_url(),
            chart_digest,
            install: self.install(),
            verify: verify.iter().map(|c| c.to_string()).collect(),
            scan_command: format!(
                "trivy image --vex oci --show-suppressed {}:{}",
                self.image, self.version
            ),
            scan: scan.cloned(),
            timeline: b.timeline.clone(),
            changes: self.changes.clone(),
            verifiers: b.verifiers.clone(),
            skipped: b
                .checks
                .iter()
                .filter(|c| c.status == Status::Skipped)
                .map(|c| c.what.clone())
                .collect(),
        })
    }

    fn provenance(&self, target: &str) -> crate::cmd::Cmd {
        super::verify::provenance_check(
            &self.image_cosign,
            &self.verifier,
            target,
            (&self.github_repository, &self.source_ref),
            None,
            self.bundle_root.as_deref(),
        )
    }

    fn install(&self) -> String {
        let plain_http = if self.chart.is_loopback() {
            " --plain-http"
        } else {
            ""
        };
        format!(
            "helm install kube9-operator {} --version {}{plain_http}",
            self.chart.oci_url(),
            self.version,
        )
    }
}

impl Action for WriteReleaseNotes {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads([Binding::Index, Binding::Chart])
            .reads_if_known([
                Binding::Platforms,
                Binding::VexAttested,
                Binding::Scan,
                Binding::RecordedScan,
                Binding::Verifiers,
            ])
    }

    fn describe(&self) -> String {
        format!(
            "release page: {} (and the `notes` output the release-page job publishes)",
            self.path.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be written; the release itself is verified",
            self.path.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        if cx.bindings.any_check_failed() {
            println!("release page: not written, a check failed");
            return Ok(());
        }
        let section = notes::render(&self.page(cx)?)?;
        crate::record::write_text(&self.path, &section)?;
        if let Some(actions) = cx.actions() {
            actions.set_multiline_output("notes", &section)?;
        }
        println!("release page: {}", self.path.display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(verifier: Verifier, chart: &str) -> WriteReleaseNotes {
        let image = Repository::parse("ghcr.io/alto9/kube9-operator").unwrap();
        let chart = Repository::parse(chart).unwrap();
        WriteReleaseNotes {
            path: "out/release-notes.md".into(),
            version: "1.2.3".into(),
            image_cosign: Cosign::for_repository(&image, false),
            chart_cosign: Cosign::for_repository(&chart, false),
            image,
            chart,
            verifier,
            github_repository: "alto9/kube9-operator".into(),
            source_ref: "refs/tags/v1.2.3".into(),
            bundle_root: None,
            scan: None,
            changes: None,
        }
    }

    #[test]
    fn a_keyless_release_page_names_the_workflow_identity_and_github_attestations() {
        let s = step(
            Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
            "ghcr.io/alto9/charts/kube9-operator",
        );
        let provenance = s
            .provenance("ghcr.io/alto9/kube9-operator@sha256:0")
            .to_string();
        assert_eq!(
            provenance,
            "gh attestation verify oci://ghcr.io/alto9/kube9-operator@sha256:0 --repo \
             alto9/kube9-operator --signer-workflow \
             alto9/kube9-operator/.github/workflows/release.yml --source-ref refs/tags/v1.2.3"
        );
        assert_eq!(
            s.install(),
            "helm install kube9-operator oci://ghcr.io/alto9/charts/kube9-operator --version 1.2.3"
        );
    }

    #[test]
    fn a_page_written_by_a_run_that_scanned_nothing_shows_the_recorded_scan() {
        let s = step(
            Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            "127.0.0.1:5000/charts/kube9-operator",
        );
        let mut cx = Cx::new(None, None);
        cx.bindings.index = Some("sha256:1".into());
        cx.bindings.chart = Some(crate::step::ChartPublished {
            digest: "sha256:2".into(),
            pushed: false,
        });
        assert_eq!(s.page(&cx).unwrap().scan, None, "nothing known: none shown");
        let recorded = ScanRecord {
            gate: "CRITICAL".into(),
            passed: true,
            platforms: serde_json::json!([]),
        };
        cx.bindings.recorded_scan = Some(recorded.clone());
        assert_eq!(s.page(&cx).unwrap().scan, Some(recorded));
    }

    #[test]
    fn a_local_release_page_installs_over_plain_http_with_the_key() {
        let s = step(
            Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            "127.0.0.1:5000/charts/kube9-operator",
        );
        assert!(s.install().ends_with("--version 1.2.3 --plain-http"));
        let provenance = s.provenance("r@sha256:0").to_string();
        assert!(
            provenance.contains("--type slsaprovenance1")
                && provenance.contains("--key cosign.pub")
        );
    }
}
