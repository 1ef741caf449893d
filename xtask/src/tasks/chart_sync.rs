//! `cargo xtask chart-sync`: the chart's Chart.yaml and values.yaml, rendered from their
//! templates for development (no tag, no digest).

use anyhow::Result;

use crate::flags;
use kube9_release::chart::{self, ChartData};
use kube9_release::{workspace, DEFAULT_IMAGE_REPOSITORY};

impl flags::ChartSync {
    pub fn run(self) -> Result<()> {
        let dir = workspace::root().join("charts").join(chart::CHART_NAME);
        let data = ChartData::development(workspace::operator_version(), DEFAULT_IMAGE_REPOSITORY);
        chart::write_stamped(&dir, &dir, &data)?;
        println!(
            "rendered {} from their templates",
            chart::STAMPED.join(" and ")
        );
        Ok(())
    }
}
