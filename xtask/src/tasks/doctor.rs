//! `cargo xtask doctor`: the tools found, their versions, what is missing and the fix.

use anyhow::Result;

use crate::flags;
use kube9_devenv::doctor;

impl flags::Doctor {
    pub fn run(self) -> Result<()> {
        doctor::run()
    }
}
