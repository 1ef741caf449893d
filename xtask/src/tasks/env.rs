//! `cargo xtask env up|down|status|prune`: the local environment, e.g. for `cargo test`.

use anyhow::Result;

use crate::flags::{self, EnvAction};
use kube9_devenv::{self as devenv, localenv};

impl flags::Env {
    pub fn run(self) -> Result<()> {
        let dir = devenv::local_env_dir();
        match self.action {
            EnvAction::Up => {
                localenv::up(&dir, true)?;
                localenv::print(&dir)
            }
            EnvAction::Down => localenv::down(&dir),
            EnvAction::Status => localenv::print(&dir),
            EnvAction::Prune => localenv::prune(&dir),
        }
    }
}
