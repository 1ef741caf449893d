//! `cargo xtask workflow-sim`: a GitHub workflow run here by act, against the local
//! environment, with stand-ins for the actions it uses.

use anyhow::Result;

use crate::devenv::workflow_sim;
use crate::flags;

impl flags::WorkflowSim {
    pub fn run(self) -> Result<()> {
        workflow_sim::run(&self)
    }
}
