//! A release as one value, computed before anything runs (cargo-dist's model): every step in
//! order, every external command built by its step. `--dry-run` prints it, `--plan-json`
//! writes it, tests inspect it, and the executor runs exactly its steps. Planning is pure:
//! the inputs and the registry's facts come in as data, and every composition (a release of
//! image, chart and checks; `--local`; `--no-push`; a re-run; a rescan) is decided here.

pub mod build;
pub mod chart;
pub mod image;
pub mod local;
pub mod release;
pub mod rescan;
pub mod samples;
pub mod verify;
pub mod withdraw;

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{bail, Result};
use serde::Serialize;
use serde::Serializer;

use crate::actions::Permission;

use crate::step::{Step, Tool};

/// Whether a failed step ends the run (a release) or is recorded and the run goes on (a
/// verification, which reports everything it finds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    StopAtFirstFailure,
    ReportAll,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub title: String,
    /// Facts and decisions worth reading before the steps (tags, labels, warnings).
    pub notes: Vec<String>,
    pub mode: Mode,
    #[serde(serialize_with = "described")]
    pub steps: Vec<Step>,
}

/// Each step as its kind, its typed inputs, `what` (the line the printed plan shows) and
/// its `needs`.
fn described<S: Serializer>(steps: &[Step], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(steps.iter().map(|step| {
        let mut value = serde_json::to_value(step).expect("steps serialise");
        value["what"] = step.describe().into();
        value["needs"] = serde_json::to_value(step.needs()).expect("needs serialise");
        value
    }))
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title)?;
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        writeln!(f, "steps:")?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {:>2}. {}", i + 1, step.describe())?;
        }
        Ok(())
    }
}

impl Plan {
    /// Appends another plan's steps and notes (a release: the image's, then the chart's).
    pub fn then(mut self, next: Plan) -> Plan {
        self.notes.push(String::new());
        self.notes.push(next.title);
        self.notes
            .extend(next.notes.into_iter().map(|n| format!("  {n}")));
        self.steps.extend(next.steps);
        self
    }

    /// Whether a step of this kind is in the plan (for tests and messages).
    pub fn has(&self, kind: &str) -> bool {
        self.steps.iter().any(|s| s.kind() == kind)
    }

    /// The programs and GitHub permissions its steps need together.
    pub fn needs(&self) -> (BTreeSet<Tool>, BTreeSet<Permission>) {
        let needs: Vec<_> = self.steps.iter().map(Step::needs).collect();
        crate::step::union(&needs)
    }

    pub fn kinds(&self) -> Vec<String> {
        self.steps.iter().map(Step::kind).collect()
    }

    /// The plan, once every binding a step reads is written by an earlier step of it: what
    /// would otherwise fail only when the reader runs fails here, naming both steps.
    pub fn checked(self) -> Result<Plan> {
        check_order(&self.steps)?;
        Ok(self)
    }
}

/// Every binding a step reads has a writer before it.
pub fn check_order(steps: &[Step]) -> Result<()> {
    let needs: Vec<_> = steps.iter().map(Step::needs).collect();
    let mut written = std::collections::BTreeSet::new();
    for (i, n) in needs.iter().enumerate() {
        if let Some(what) = n.reads.iter().find(|b| !written.contains(*b)) {
            let reader = format!("step {} ({})", i + 1, steps[i].kind());
            match needs[i..].iter().position(|m| m.writes.contains(what)) {
                Some(j) => bail!(
                    "internal: the plan is out of order: {reader} reads {what}, which only \
                     step {} ({}) after it learns",
                    i + j + 1,
                    steps[i + j].kind()
                ),
                None => bail!(
                    "internal: the plan is incomplete: {reader} reads {what}, which no step \
                     of the plan learns"
                ),
            }
        }
        written.extend(n.writes.iter().copied());
    }
    Ok(())
}

#[cfg(test)]
mod order_tests;
