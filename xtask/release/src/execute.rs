//! Runs a plan: its steps, in order, and nothing else. What steps learn travels in the run's
//! `Bindings`; a failed step's error ends with the step's own hint.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::actions::Actions;
use crate::credentials::Credentials;
use crate::github;
use crate::plan::{Mode, Plan};
use crate::step::{shorten, Binding, Bindings, Cx, Step};
use crate::verifiers::Status;

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

/// Notes each step instead of running it, and fails the `fail_at`-th (from 0) if asked:
/// a plan's execution order, seen without any tool.
#[derive(Debug, Default)]
pub struct Recorder {
    pub fail_at: Option<usize>,
    pub performed: Vec<String>,
}

impl Recorder {
    /// What `execute_with` performs each step with, in place of running it.
    pub fn perform(&mut self) -> impl FnMut(&Step, &mut Cx) -> Result<()> + '_ {
        |step: &Step, _: &mut Cx| {
            let n = self.performed.len();
            self.performed.push(step.kind());
            if self.fail_at == Some(n) {
                bail!("recorded failure");
            }
            Ok(())
        }
    }
}

/// Runs `plan`; credentials reach only the registry client and the commands that carry them.
pub fn execute(
    plan: &Plan,
    credentials: Option<Credentials>,
    actions: Option<Actions>,
) -> Result<Outcome> {
    let cx = Cx::new(credentials, actions);
    execute_with(plan, cx, |step, cx| step.action().run(cx))
}

/// Runs `plan`, each step performed by `perform`: run, or (in tests) recorded.
pub fn execute_with(
    plan: &Plan,
    mut cx: Cx,
    mut perform: impl FnMut(&Step, &mut Cx) -> Result<()>,
) -> Result<Outcome> {
    crate::plan::check_order(&plan.steps)?;
    let total = plan.steps.len();
    let mut executed = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let what = step.describe();
        github::step(&format!("[{}/{total}] {}", i + 1, shorten(&what, 110)));
        let started = Instant::now();
        let checks_before = cx.bindings.checks.len();
        let known_before = cx.bindings.known();
        let result = perform(step, &mut cx)
            .and_then(|()| wrote_only_what_it_declares(step, &known_before, &cx.bindings))
            .with_context(|| step.hint());
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

/// A step that learnt something it did not declare would let a later reader pass the plan
/// check by luck: refused, so that the declarations stay true.
fn wrote_only_what_it_declares(
    step: &Step,
    before: &BTreeSet<Binding>,
    after: &Bindings,
) -> Result<()> {
    let declared = step.needs().writes;
    let undeclared: Vec<String> = after
        .known()
        .difference(before)
        .filter(|b| !declared.contains(b))
        .map(|b| b.to_string())
        .collect();
    if !undeclared.is_empty() {
        bail!(
            "internal: step {} learnt {} but does not declare it (its `needs`)",
            step.kind(),
            undeclared.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_that_learns_what_it_does_not_declare_is_stopped() {
        let step = Step::CheckSize(crate::step::CheckSize { budget: 1 });
        let before = BTreeSet::new();
        let mut after = Bindings::default();
        wrote_only_what_it_declares(&step, &before, &after).unwrap();
        after.index = Some("sha256:1".into());
        let err = wrote_only_what_it_declares(&step, &before, &after).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal: step check-size learnt the index digest but does not declare it (its `needs`)"
        );
    }
}
