//! `cargo xtask bench`: measured build, cache, publish and size figures.

use anyhow::Result;

use crate::flags;
use kube9_devenv::bench;

impl flags::Bench {
    pub fn run(self) -> Result<()> {
        bench::run(&bench::Options {
            runs: self.runs,
            pairs: self.pairs,
            baseline: self.baseline,
            output: self.output,
        })
    }
}
