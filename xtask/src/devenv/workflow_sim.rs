//! Runs the GitHub workflows here with act (host mode), against the local environment.

use anyhow::{bail, Result};

use crate::flags;

pub fn run(_args: &flags::WorkflowSim) -> Result<()> {
    bail!("workflow simulation is not written yet")
}
