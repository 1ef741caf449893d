//! `cargo xtask release-image`: build, check and scan the image, then publish, sign and verify
//! it, or (a re-run) verify what is published and finish what a failed run left out.

use anyhow::Result;

use super::inputs::{self, ImageFlags};
use crate::flags;
use crate::release::github::Actions;
use crate::release::plan::image::{self, ImageFacts};
use crate::release::registry::{Registry, Retry};
use crate::release::{facts, source};

impl flags::ReleaseImage {
    pub fn run(self) -> Result<()> {
        let actions = Actions::from_env();
        let release = inputs::release_version(self.target.version.as_deref(), actions.as_ref())?;
        let signer = inputs::signer(&self.sign, actions.as_ref(), self.output.offline())?;
        let inputs = inputs::image_inputs(&self.flags(), &release, actions.as_ref(), signer)?;
        let facts = if self.output.offline() {
            ImageFacts::default()
        } else {
            source::require_clean(&inputs.build.source, self.source.allow_dirty)?;
            self.github.check(&inputs.build.source, &release)?;
            if self.no_push {
                ImageFacts::default()
            } else {
                // Asked first: a registry that is down or refuses the token fails before the build.
                let registry = Registry::new(
                    inputs.repository.clone(),
                    inputs.credentials.as_ref(),
                    Retry::default(),
                );
                facts::image(&registry, &release)?
            }
        };
        let plan = image::plan(&inputs, &facts)?;
        super::show_then_run(&self.output, &plan, inputs.credentials.clone(), actions)?;
        Ok(())
    }

    pub fn flags(&self) -> ImageFlags<'_> {
        ImageFlags {
            target: &self.target,
            output: &self.output,
            source: &self.source,
            build: &self.build,
            scan: &self.scan,
            github: &self.github,
            push: !self.no_push,
        }
    }
}
