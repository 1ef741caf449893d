//! `release-image`: build, check and scan the image, then publish, sign and verify it, or
//! (a re-run) verify what is published and finish what a failed run left out.

use anyhow::Result;

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::facts;
use kube9_release::plan::image::{self, ImageFacts};
use kube9_release::registry::{Registry, Retry};

impl flags::ReleaseImage {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let image = &self.image;
        let release = inputs::release_version(image.target.version.as_deref(), config)?;
        let release_config = (&release, config);
        let offline = image.output.offline();
        let signer = if self.no_push {
            // Nothing is published, so nothing is signed and no signer is needed.
            None
        } else {
            inputs::signer(&image.sign, release_config, offline)?
        };
        let prerelease = inputs::prerelease(image.github.prerelease, release_config, offline)?;
        let inputs = inputs::image_inputs(&self, prerelease, release_config, signer)?;
        image
            .source
            .check(&inputs.build.source, &image.github, &release)?;
        let facts = if offline || self.no_push {
            ImageFacts::default()
        } else {
            // Asked first: a registry that is down or refuses the token fails before the build.
            let registry = Registry::new(
                inputs.repository.clone(),
                inputs.credentials.as_ref(),
                Retry::default(),
            );
            facts::image(&registry, &release)?
        };
        let plan = image::plan(&inputs, &facts)?;
        let credentials = inputs.credentials.clone();
        super::show_then_run(&image.output, &plan, credentials, config.actions.clone())?;
        Ok(())
    }
}
