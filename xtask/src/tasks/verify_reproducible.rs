//! `cargo xtask verify-reproducible`: the same commit built twice, the second time without
//! any cache; the index digests must agree.

use anyhow::Result;

use super::inputs;
use crate::flags;
use crate::release::plan::build;
use crate::release::source;

impl flags::VerifyReproducible {
    pub fn run(self) -> Result<()> {
        let release = inputs::release_version(self.target.version.as_deref(), None)?;
        let build = inputs::build_inputs(
            &self.target,
            &self.output,
            &self.source,
            &self.build,
            &release,
        )?;
        if !self.output.offline() {
            source::require_clean(&build.source, self.source.allow_dirty)?;
        }
        let plan = build::reproducible(&build);
        super::show_then_run(&self.output, &plan, None, None)?;
        Ok(())
    }
}
