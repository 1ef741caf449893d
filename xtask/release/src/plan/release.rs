//! The plan of `release`: the image's steps, the chart's, then what a user checks, as one
//! plan that stops at the first failure. Pure.

use std::path::PathBuf;

use anyhow::Result;

use super::chart::{self, ChartFacts, ChartInputs};
use super::image::{self, ImageFacts, ImageInputs};
use super::verify::{self, PublicCheck, VerifyInputs};
use super::Plan;
use crate::sign::{Signer, Verifier};
use crate::step::{DerivePublicKey, Step};

/// Everything `release` is asked to do.
#[derive(Debug, Clone)]
pub struct ReleaseInputs {
    pub image: ImageInputs,
    pub chart: ChartInputs,
    pub public_check: PublicCheck,
    /// `owner/name` of the repository whose release workflow signs keylessly.
    pub github_repository: String,
}

/// What the registries hold before planning.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFacts {
    pub image: ImageFacts,
    pub chart: ChartFacts,
}

pub fn plan(inputs: &ReleaseInputs, facts: &ReleaseFacts) -> Result<Plan> {
    let image = &inputs.image;
    let mut plan =
        image::plan(image, &facts.image)?.then(chart::plan(&inputs.chart, &facts.chart)?);
    lint_chart_before_publishing(&mut plan);
    let (key_step, verifier) = verifier(inputs);
    plan.steps.extend(key_step);
    let verify_inputs = VerifyInputs {
        release: image.build.release.clone(),
        image: image.repository.clone(),
        charts: inputs.chart.charts.clone(),
        platforms: image.build.platforms.clone(),
        verifier,
        signatures: image.signer.is_some(),
        github_repository: inputs.github_repository.clone(),
        github_token: None,
        public_check: inputs.public_check,
        out_dir: image.build.out_dir.clone(),
        credentials: image.credentials.clone(),
        // One machine runs every platform: its own natively, the others under QEMU (an
        // image without the operator's binary has nothing to run).
        run_platforms: if image.require_rust {
            image.build.platforms.clone()
        } else {
            Vec::new()
        },
        native_only: false,
        // The engine that built it: a local release's is the environment's.
        docker_host: image.build.docker_host.clone(),
        // This run's own steps record the timeline and the scan.
        given: Default::default(),
        scan: None,
        prerelease: image.build.prerelease,
        checkout: image.build.source.dir.clone(),
        changes: image.changes.clone(),
        provenance: image.provenance,
    };
    let verify = verify::plan(&verify_inputs)?;
    plan.notes.push(String::new());
    plan.notes.push(verify.title);
    plan.notes.extend(verify::skipped_notes(&verify_inputs));
    plan.steps.extend(verify.steps);
    plan.checked()
}

/// A chart that helm refuses stops the release before anything is published: the chart's
/// staging and `helm lint --strict` move ahead of the image's first push (the index digest it
/// is stamped with is known once the build is checked). A re-run with nothing to push keeps
/// them where they are.
fn lint_chart_before_publishing(plan: &mut Plan) {
    let Some(push) = plan.steps.iter().position(|s| s.kind() == "push-content") else {
        return;
    };
    let (checks, rest): (Vec<Step>, Vec<Step>) = plan
        .steps
        .split_off(push)
        .into_iter()
        .partition(|s| matches!(s, Step::StageChart(_) | Step::LintChart(_)));
    plan.steps.extend(checks);
    plan.steps.extend(rest);
}

/// How the release's own signatures are checked: with the public half of the signing key
/// (derived into the output directory first), or as the release workflow's keyless identity.
fn verifier(inputs: &ReleaseInputs) -> (Option<Step>, Verifier) {
    let image = &inputs.image;
    match &image.signer {
        Some(Signer::Key { key, password, .. }) => {
            let public_key: PathBuf = image.build.out_dir.join("cosign.pub");
            let step = Step::DerivePublicKey(DerivePublicKey {
                key: key.clone(),
                password: password.clone(),
                out: public_key.clone(),
            });
            (Some(step), Verifier::Key { public_key })
        }
        _ => (
            None,
            Verifier::release_workflow(&inputs.github_repository, &image.build.release.tag()),
        ),
    }
}

#[cfg(test)]
mod tests;
