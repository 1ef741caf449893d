//! One file per developer-environment command: `impl flags::<Command> { fn run(self) }`. The
//! release commands are `kube9_release_cli`'s own; `release --local` is here, since it
//! starts the local environment first.

mod bench;
mod chart_sync;
mod ci;
mod doctor;
mod env;
mod release;
mod setup;
mod workflow_sim;

use anyhow::Result;

use crate::flags::{self, Command};

impl flags::Xtask {
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
            Command::Doctor(c) => c.run(),
            Command::Setup(c) => c.run(),
            Command::Env(c) => c.run(),
            Command::Ci(c) => c.run(),
            Command::Bench(c) => c.run(),
            Command::WorkflowSim(c) => c.run(),
            Command::ChartSync(c) => c.run(),
        }
    }
}
