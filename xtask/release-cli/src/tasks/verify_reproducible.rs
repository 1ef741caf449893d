//! `verify-reproducible`: the same commit built twice, the second time without any cache;
//! the index digests must agree.

use anyhow::Result;

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::plan::build;
use kube9_release::source;

impl flags::VerifyReproducible {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let release = inputs::release_version(self.target.version.as_deref(), config)?;
        let build = inputs::build_inputs(
            &self.target,
            &self.output,
            &self.source,
            &self.build,
            (&release, config),
        )?;
        source::require_clean(&build.source, self.source.allow_dirty)?;
        let plan = build::reproducible(&build)?;
        super::show_then_run(&self.output, &plan, None, None)?;
        Ok(())
    }
}
