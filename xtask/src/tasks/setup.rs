//! `cargo xtask setup`: install the tools on Debian 12 (idempotent).

use anyhow::Result;

use crate::devenv::setup;
use crate::flags;

impl flags::Setup {
    pub fn run(self) -> Result<()> {
        for line in setup::run()? {
            println!("{line}");
        }
        Ok(())
    }
}
