//! `release-image`: build, check and scan the image, then publish, sign and verify it, or
//! (a re-run) verify what is published and finish what a failed run left out.

use anyhow::Result;

use super::inputs::{self, ImageFlags};
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
        let offline = image.output.offline();
        let signer = if self.no_push {
            // Nothing is published, so nothing is signed and no signer is needed.
            None
        } else {
            inputs::signer(&image.sign, (&release, config), offline)?
        };
        let prerelease = inputs::prerelease(image.github.prerelease, (&release, config), offline)?;
        let flags = ImageFlags {
            image,
            push: !self.no_push,
            hold_floating: self.hold_floating_tags,
            provenance_attested: !self.provenance_attested.trim().is_empty(),
            prerelease,
        };
        let inputs = inputs::image_inputs(&flags, &release, config, signer)?;
        image.check_source(&inputs.build.source, &release)?;
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
