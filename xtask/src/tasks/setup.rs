//! `cargo xtask setup`: install the tools on Debian 12 (idempotent).

use anyhow::Result;

use crate::flags;
use kube9_devenv::setup;

impl flags::Setup {
    pub fn run(self) -> Result<()> {
        for line in setup::run()? {
            println!("{line}");
        }
        Ok(())
    }
}
