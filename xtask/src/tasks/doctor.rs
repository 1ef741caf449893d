//! `cargo xtask doctor`: the tools found, their versions, what is missing and the fix.

use anyhow::Result;

use crate::devenv::doctor;
use crate::flags;

impl flags::Doctor {
    pub fn run(self) -> Result<()> {
        doctor::run()
    }
}
