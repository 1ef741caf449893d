//! Runs a plan: its steps, in order, and nothing else. What a step learns (a digest, a private
//! directory) is bound to the placeholder later commands carry.

mod chart;
mod image;
mod scan;
mod verify;

pub use chart::{wait_for_image, Patience};
pub use image::check_sizes;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::release::cmd::Cmd;
use crate::release::github::{self, Actions};
use crate::release::layout::Image;
use crate::release::plan::{Mode, Plan, Step, LOGIN_DIR};
use crate::release::registry::{Converged, Credentials, PushReport, Registry, Repository, Retry};
use crate::release::scan::Verdict;

/// How a check of a verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Failed, but only a warning was asked for (`--public-check warn`).
    Warned,
    Failed,
}

/// One finished check of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub status: Status,
    pub detail: String,
}

/// How long a step took, for `cargo xtask bench` and the curious (`--timings`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Timing {
    /// The step's kind (`run:cosign`, `attach-sbom`, ...).
    pub step: String,
    /// What the step does, as the plan says it.
    pub what: String,
    pub seconds: f64,
}

/// What a run leaves behind for the caller.
#[derive(Debug, Default)]
pub struct Outcome {
    pub bindings: BTreeMap<String, String>,
    pub timings: Vec<Timing>,
    pub checks: Vec<Check>,
}

pub struct Executor {
    mode: Mode,
    actions: Option<Actions>,
    credentials: Option<Credentials>,
    bindings: BTreeMap<String, String>,
    /// Registry logins of this run; removed on every way out (the guard's drop).
    login_dir: Option<tempfile::TempDir>,
    image: Option<Image>,
    verdicts: Vec<Verdict>,
    /// The severity the gate judged at, for the record.
    gate: String,
    pushed: PushReport,
    version_tags: Vec<String>,
    floating: Converged,
    chart_pushed: bool,
    /// Whether the workflow should attach GitHub's build provenance (told in the outputs).
    provenance_missing: bool,
    checks: Vec<Check>,
    timings: Vec<Timing>,
}

/// Runs `plan`; credentials reach only the registry client and the commands that carry them.
pub fn execute(
    plan: &Plan,
    credentials: Option<Credentials>,
    actions: Option<Actions>,
) -> Result<Outcome> {
    let mut executor = Executor {
        mode: plan.mode,
        actions,
        credentials,
        bindings: BTreeMap::new(),
        login_dir: None,
        image: None,
        verdicts: Vec::new(),
        gate: String::new(),
        pushed: PushReport::default(),
        version_tags: Vec::new(),
        floating: Converged::default(),
        chart_pushed: false,
        provenance_missing: false,
        checks: Vec::new(),
        timings: Vec::new(),
    };
    executor.run_all(plan)?;
    Ok(Outcome {
        bindings: executor.bindings,
        timings: executor.timings,
        checks: executor.checks,
    })
}

impl Executor {
    fn run_all(&mut self, plan: &Plan) -> Result<()> {
        let total = plan.steps.len();
        for (i, step) in plan.steps.iter().enumerate() {
            github::step(&format!("[{}/{total}] {}", i + 1, first_words(step)));
            let started = Instant::now();
            let result = self.step(step);
            self.timings.push(Timing {
                step: crate::release::plan::step_kind(step),
                what: step.describe(),
                seconds: started.elapsed().as_secs_f64(),
            });
            if let Err(e) = result {
                if self.mode == Mode::StopAtFirstFailure {
                    return Err(e);
                }
                eprintln!("    FAILED: {e:#}");
                self.record(&step.describe(), Status::Failed, &format!("{e:#}"));
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Failed)
            .count();
        if failed > 0 {
            bail!(
                "{failed} of {} checks failed (see above)",
                self.checks.len()
            );
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::Run { what, cmd } => {
                let cmd = self.resolve(cmd)?;
                cmd.run().with_context(|| failure_hint(what))
            }
            Step::Check { what, cmd } => {
                let cmd = self.resolve(cmd)?;
                cmd.read().with_context(|| failure_hint(what))?;
                self.pass(what, "ok");
                Ok(())
            }
            Step::FreshDir { path } => {
                let _ = std::fs::remove_dir_all(path);
                std::fs::create_dir_all(path)
                    .with_context(|| format!("cannot create {}", path.display()))
            }
            Step::CheckBuild { .. }
            | Step::CheckSize { .. }
            | Step::SameBuild { .. }
            | Step::Rescanned { .. }
            | Step::SplitPlatform { .. }
            | Step::CheckDatabase { .. }
            | Step::Gate { .. }
            | Step::PullPublished { .. }
            | Step::PushContent { .. }
            | Step::PushVersionTags { .. }
            | Step::MoveFloatingTags { .. }
            | Step::AttachSbom { .. }
            | Step::VerifyImage { .. }
            | Step::RecordImage { .. } => self.image_step(step),
            Step::WaitForImage { .. }
            | Step::StageChart { .. }
            | Step::NormalizeChart { .. }
            | Step::PushChart { .. }
            | Step::CheckChart { .. }
            | Step::RecordChart { .. } => self.chart_step(step),
            Step::ResolveRelease { .. }
            | Step::CheckSboms { .. }
            | Step::ResolveChart { .. }
            | Step::AnonymousPull { .. }
            | Step::RecordVerification { .. } => self.verify_step(step),
        }
    }

    fn pass(&mut self, what: &str, detail: &str) {
        eprintln!("    ok: {what}");
        self.record(what, Status::Ok, detail);
    }

    fn record(&mut self, what: &str, status: Status, detail: &str) {
        self.checks.push(Check {
            what: what.to_string(),
            status,
            detail: detail.to_string(),
        });
    }

    /// Fills the placeholders a command carries; one that nothing bound is a bug in the plan.
    fn resolve(&mut self, cmd: &Cmd) -> Result<Cmd> {
        let mut cmd = cmd.clone();
        if cmd.to_string().contains(LOGIN_DIR) {
            let dir = self.login_dir()?;
            cmd = cmd.replace(LOGIN_DIR, &dir);
        }
        for (placeholder, value) in &self.bindings {
            cmd = cmd.replace(placeholder, value);
        }
        let shown = cmd.to_string();
        if let Some(start) = shown.find("-digest>") {
            bail!(
                "internal: `{shown}` still holds a placeholder ({})",
                &shown[..start + 8]
            );
        }
        Ok(cmd)
    }

    fn login_dir(&mut self) -> Result<String> {
        if self.login_dir.is_none() {
            // Only this user may read the logins inside.
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::Builder::new()
                .prefix("kube9-login-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .context("cannot make a private directory for registry logins")?;
            self.login_dir = Some(dir);
        }
        let dir = self.login_dir.as_ref().expect("made above");
        Ok(dir.path().display().to_string())
    }

    fn bind(&mut self, placeholder: &str, value: &str) {
        self.bindings
            .insert(placeholder.to_string(), value.to_string());
    }

    fn bound(&self, placeholder: &str) -> Result<String> {
        self.bindings
            .get(placeholder)
            .cloned()
            .with_context(|| format!("internal: nothing has learnt {placeholder} yet"))
    }

    fn registry(&self, repository: &Repository) -> Registry {
        Registry::new(
            repository.clone(),
            self.credentials.as_ref(),
            Retry::default(),
        )
    }

    fn image(&self) -> Result<&Image> {
        self.image
            .as_ref()
            .context("internal: no image was built or read before this step")
    }
}

fn first_words(step: &Step) -> String {
    let text = step.describe();
    match text.char_indices().nth(110) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// What a failed command means for the release, and what to do.
fn failure_hint(what: &str) -> String {
    match what {
        "build" => "the image build failed (its output is above); nothing was pushed".into(),
        "database" => "trivy could not fetch its vulnerability database; nothing was pushed: \
                       point TRIVY_DB_REPOSITORY (or --trivy-db-repository) at a reachable mirror"
            .into(),
        "login" => "the registry refused the login: check the token and its `packages: write` \
                    permission; nothing further was published"
            .into(),
        w if w.starts_with("scan") || w == "report" || w == "sbom" => {
            format!("trivy failed ({w}); nothing was pushed")
        }
        w if w.starts_with("sign") || w.starts_with("attest") => format!(
            "cosign could not {w}: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or the job's \
             `id-token: write`); nothing further was published, and no chart is published for \
             an unsigned image. Re-running the release finishes it"
        ),
        w if w.starts_with("signature") || w.starts_with("SBOM") => format!(
            "{w} does not verify: the release is not what its signer published, or it is \
             checked against the wrong key or identity"
        ),
        other => format!("{other} failed"),
    }
}
