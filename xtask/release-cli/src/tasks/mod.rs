//! One file per command: `impl flags::<Command> { pub fn run(self) -> Result<()> }`. Each
//! gathers its inputs and the registry's facts, plans, then prints or runs the plan.

mod check_repo;
mod inputs;
mod release;
mod release_chart;
mod release_image;
mod release_notes;
mod rescan;
mod verify_release;
mod verify_reproducible;
mod withdraw;

use std::io::Write;

use anyhow::{Context, Result};

use crate::flags::{self, Command};
use kube9_release::actions::Actions;
use kube9_release::credentials::Credentials;
use kube9_release::execute::{self, Outcome};
use kube9_release::plan::Plan;

impl flags::Kube9Release {
    pub fn run(self) -> Result<()> {
        match self.command {
            Command::ReleaseImage(c) => c.run(),
            Command::ReleaseChart(c) => c.run(),
            Command::Release(c) => c.run(),
            Command::VerifyRelease(c) => c.run(),
            Command::VerifyReproducible(c) => c.run(),
            Command::Rescan(c) => c.run(),
            Command::ReleaseNotes(c) => c.run(),
            Command::CheckRepo(c) => c.run(),
            Command::Withdraw(c) => c.run(),
        }
    }
}

impl flags::Output {
    /// Whether the plan is only shown: nothing runs and no network is touched.
    pub fn offline(&self) -> bool {
        self.dry_run || self.plan_json.is_some()
    }

    /// Prints the plan, or writes it as JSON; `true` when that is all that was asked.
    pub fn show(&self, plan: &Plan) -> Result<bool> {
        if let Some(path) = &self.plan_json {
            let mut json = serde_json::to_string_pretty(plan)?;
            json.push('\n');
            if path.as_os_str() == "-" {
                std::io::stdout().write_all(json.as_bytes())?;
            } else {
                std::fs::write(path, json)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            return Ok(true);
        }
        print!("{plan}");
        Ok(self.dry_run)
    }
}

/// Shows the plan, then (unless only showing was asked) runs it.
fn show_then_run(
    output: &flags::Output,
    plan: &Plan,
    credentials: Option<Credentials>,
    actions: Option<Actions>,
) -> Result<Option<Outcome>> {
    if output.show(plan)? {
        return Ok(None);
    }
    println!();
    let outcome = execute::execute(plan, credentials, actions)?;
    if let Some(path) = &output.timings {
        let json = serde_json::to_vec_pretty(&outcome.executed)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Some(outcome))
}
