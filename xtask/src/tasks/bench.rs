//! `cargo xtask bench`: measured build, cache, publish and size figures.

use anyhow::Result;

use crate::devenv::bench;
use crate::flags;

impl flags::Bench {
    pub fn run(self) -> Result<()> {
        bench::run(&self)
    }
}
