//! `release-chart`: publish the chart once the registry serves its image.

use anyhow::Result;

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::facts;
use kube9_release::plan::chart::{self, ChartFacts, ChartInputs};
use kube9_release::record::{self, ImageRecord};
use kube9_release::registry::{Registry, Retry};

impl flags::ReleaseChart {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let release = inputs::release_version(self.target.version.as_deref(), config)?;
        let release_config = (&release, config);
        let offline = self.output.offline();
        let prerelease = inputs::prerelease(self.github.prerelease, release_config, offline)?;
        let flag = self.image_digest.clone().filter(|d| !d.is_empty());
        let signer = inputs::signer(&self.sign, release_config, offline)?;
        let chart_flags = (&self.target, &self.output, &self.source);
        let mut inputs = inputs::chart_inputs(
            &self.chart,
            chart_flags,
            prerelease,
            release_config,
            flag,
            signer,
        )?;
        // The chart is staged from the working tree: uncommitted changes would be published
        // as if they were the commit.
        self.source.check(&inputs.source, &self.github, &release)?;
        let facts = if self.output.offline() {
            ChartFacts::default()
        } else {
            if inputs.expected_digest.is_none() {
                inputs.expected_digest = recorded_digest(&inputs)?;
            }
            chart_facts(&inputs)?
        };
        let plan = chart::plan(&inputs, &facts)?;
        let credentials = inputs.credentials.clone();
        super::show_then_run(&self.output, &plan, credentials, config.actions.clone())?;
        Ok(())
    }
}

/// The digest image.json records for this version and repository, when the image step ran
/// in this checkout.
fn recorded_digest(inputs: &ChartInputs) -> Result<Option<String>> {
    let recorded: Option<ImageRecord> = record::read(&inputs.out_dir.join("image.json"))?;
    Ok(recorded
        .filter(|r| {
            r.pushed
                && r.version == inputs.release.plain()
                && r.repository == inputs.image.to_string()
        })
        .map(|r| r.digest))
}

pub fn chart_facts(inputs: &ChartInputs) -> Result<ChartFacts> {
    let charts = Registry::new(
        inputs.helm().chart_repository(),
        inputs.credentials.as_ref(),
        Retry::default(),
    );
    facts::chart(&charts, &inputs.release.plain())
}
