//! `cargo xtask ci`: the whole suite, what `.ci/run` calls.

use anyhow::Result;

use crate::devenv::ci;
use crate::flags;

impl flags::Ci {
    pub fn run(self) -> Result<()> {
        ci::run(&self)
    }
}
