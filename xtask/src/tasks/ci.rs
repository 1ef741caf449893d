//! `cargo xtask ci`: the whole suite, what `.ci/run` calls.

use anyhow::Result;

use crate::flags;
use kube9_devenv::ci;

impl flags::Ci {
    pub fn run(self) -> Result<()> {
        ci::run(&self.skip, self.no_install)
    }
}
