//! `cargo xtask release`: `kube9-release release`, and with `--local` the same release into a
//! local environment that this command starts first (and leaves up, so the result can be
//! pulled; `cargo xtask env down` stops it).

use anyhow::Result;

use crate::flags;
use kube9_devenv::{localenv, setup};

impl flags::ReleaseLocal {
    pub fn run(self) -> Result<()> {
        if !self.local {
            return self.release.run();
        }
        // What needs no network is checked before anything is installed or started.
        self.release.check_local()?;
        let dir = kube9_devenv::local_env_dir();
        let target = if self.release.image.output.offline() {
            // A dry run starts nothing: the environment as it is, or as it would start.
            localenv::planned_target(&dir)?
        } else {
            for line in setup::run()? {
                eprintln!("  {line}");
            }
            localenv::up(&dir, true)?.release_target()?
        };
        self.release.run_local(target)
    }
}

impl flags::WithdrawLocal {
    pub fn run(self) -> Result<()> {
        if !self.local {
            return self.withdraw.run();
        }
        let dir = kube9_devenv::local_env_dir();
        let target = if self.withdraw.output.offline() {
            localenv::planned_target(&dir)?
        } else {
            localenv::up(&dir, true)?.release_target()?
        };
        self.withdraw.run_with(Some(&target))
    }
}
