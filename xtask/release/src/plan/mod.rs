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
#[cfg(test)]
pub(crate) mod testing;
pub mod verify;
pub mod withdraw;

use std::fmt;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use crate::step::Step;

/// Whether a failed step ends the run (a release) or is recorded and the run goes on (a
/// verification, which reports everything it finds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    StopAtFirstFailure,
    ReportAll,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub title: String,
    /// Facts and decisions worth reading before the steps (tags, labels, warnings).
    pub notes: Vec<String>,
    pub mode: Mode,
    pub steps: Vec<Step>,
}

/// Each step as its kind, its typed inputs, and `what`: the line the printed plan shows.
impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|step| {
                let mut value = serde_json::to_value(step).expect("steps serialise");
                value["what"] = step.describe().into();
                value
            })
            .collect();
        let mut plan = s.serialize_struct("Plan", 4)?;
        plan.serialize_field("title", &self.title)?;
        plan.serialize_field("notes", &self.notes)?;
        plan.serialize_field("mode", &self.mode)?;
        plan.serialize_field("steps", &steps)?;
        plan.end()
    }
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

    pub fn kinds(&self) -> Vec<String> {
        self.steps.iter().map(Step::kind).collect()
    }
}
