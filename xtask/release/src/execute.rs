//! Runs a plan: its steps, in order, and nothing else. What steps learn travels in the run's
//! `Bindings`; a failed step's error ends with the step's own hint.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::github::{self, Actions};
use crate::plan::{Mode, Plan};
use crate::registry::Credentials;
use crate::step::{shorten, Bindings, Cx, Status, Step};

/// One executed step and how long it took (`--timings`, what `cargo xtask bench` reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// The step's kind (`sign`, `attach-sbom`, ...).
    pub step: String,
    /// What the step does, as the plan says it.
    pub what: String,
    pub seconds: f64,
    #[serde(default = "passed")]
    pub ok: bool,
}

fn passed() -> bool {
    true
}

/// What a run leaves behind for the caller.
#[derive(Debug, Default)]
pub struct Outcome {
    pub bindings: Bindings,
    /// Every step that ran, in order.
    pub executed: Vec<Timing>,
}

/// Who performs a step: the real one runs it; a recorder (for tests) only notes it.
pub trait Runner {
    fn perform(&mut self, step: &Step, cx: &mut Cx) -> Result<()>;
}

/// Runs each step for real.
pub struct Real;

impl Runner for Real {
    fn perform(&mut self, step: &Step, cx: &mut Cx) -> Result<()> {
        step.action().run(cx)
    }
}

/// Notes each step instead of running it, and fails the `fail_at`-th (from 0) if asked:
/// a plan's execution order, seen without any tool.
#[derive(Debug, Default)]
pub struct Recorder {
    pub fail_at: Option<usize>,
    pub performed: Vec<String>,
}

impl Runner for Recorder {
    fn perform(&mut self, step: &Step, _: &mut Cx) -> Result<()> {
        let n = self.performed.len();
        self.performed.push(step.kind());
        if self.fail_at == Some(n) {
            bail!("recorded failure");
        }
        Ok(())
    }
}

/// Runs `plan`; credentials reach only the registry client and the commands that carry them.
pub fn execute(
    plan: &Plan,
    credentials: Option<Credentials>,
    actions: Option<Actions>,
) -> Result<Outcome> {
    execute_with(plan, Cx::new(credentials, actions), &mut Real)
}

pub fn execute_with(plan: &Plan, mut cx: Cx, runner: &mut dyn Runner) -> Result<Outcome> {
    let total = plan.steps.len();
    let mut executed = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let what = step.describe();
        github::step(&format!("[{}/{total}] {}", i + 1, shorten(&what, 110)));
        let started = Instant::now();
        let checks_before = cx.bindings.checks.len();
        let result = runner.perform(step, &mut cx).with_context(|| step.hint());
        executed.push(Timing {
            step: step.kind(),
            what: what.clone(),
            seconds: started.elapsed().as_secs_f64(),
            ok: result.is_ok(),
        });
        if let Err(e) = result {
            if plan.mode == Mode::StopAtFirstFailure {
                return Err(e);
            }
            // One line: the cause may quote a tool's output, which must not start a line.
            eprintln!("    FAILED: {}", crate::text::one_line(&format!("{e:#}")));
            cx.record(&what, Status::Failed, &format!("{e:#}"));
        }
        let checker = step.action().checker();
        for check in &mut cx.bindings.checks[checks_before..] {
            check.by = check.by.or(checker);
        }
    }
    let checks = &cx.bindings.checks;
    let failed = checks.iter().filter(|c| c.status == Status::Failed).count();
    // A check skipped on request did not run: it is named in the report, not counted here.
    let ran = checks
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .count();
    if failed > 0 {
        bail!("{failed} of {ran} checks failed (see above)");
    }
    Ok(Outcome {
        bindings: cx.bindings,
        executed,
    })
}
