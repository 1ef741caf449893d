//! Building the image into an OCI layout, and checking what was built.

use std::path::PathBuf;

use anyhow::{ensure, Result};
use serde::Serialize;

use super::needs::{Binding, Needs, Tool};
use super::{Action, Cx};
use crate::buildx::BuildPlan;
use crate::layout::{self, Image};

/// One `docker buildx build` of every platform into an OCI layout.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    pub plan: BuildPlan,
}

impl Action for Build {
    fn needs(&self) -> Needs {
        Needs::new().writes([Binding::Built]).tools([Tool::Docker])
    }

    fn describe(&self) -> String {
        format!("build: {}", self.plan.command())
    }

    fn hint(&self) -> String {
        "the image build failed (its output is above); nothing was pushed".into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let started = jiff::Timestamp::now();
        self.plan.command().run()?;
        cx.bindings.built = Some(crate::provenance::BuildTimes {
            started,
            finished: jiff::Timestamp::now(),
        });
        Ok(())
    }
}

/// Opens the built layout, which must hold exactly `platforms`; learns the image, its index
/// digest and each platform's manifest digest.
#[derive(Debug, Clone, Serialize)]
pub struct CheckBuild {
    pub layout: PathBuf,
    pub platforms: Vec<String>,
}

impl Action for CheckBuild {
    fn needs(&self) -> Needs {
        Needs::new().writes([Binding::Image, Binding::Index, Binding::Platforms])
    }

    fn describe(&self) -> String {
        format!(
            "check the build: {} holds {}",
            self.layout.display(),
            self.platforms.join(", ")
        )
    }

    fn hint(&self) -> String {
        "the build did not produce the image the release needs; nothing was pushed".into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let image = Image::open(&self.layout)?;
        let mut built = image.platform_names();
        built.sort();
        let mut wanted = self.platforms.clone();
        wanted.sort();
        ensure!(
            built == wanted,
            "the build produced {built:?}, not the requested {wanted:?}"
        );
        println!("built {} ({})", image.index.digest, built.join(", "));
        for p in &image.platforms {
            println!(
                "  {:<14} {:>8.2} MB compressed",
                p.platform,
                p.compressed_size() as f64 / 1e6
            );
        }
        cx.bindings.learn_image(image);
        Ok(())
    }
}

/// Every platform's compressed size within the budget.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSize {
    pub budget: u64,
}

impl Action for CheckSize {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Image])
    }

    fn describe(&self) -> String {
        format!(
            "check sizes: every platform at most {} MB compressed",
            self.budget / 1_000_000
        )
    }

    fn hint(&self) -> String {
        "the image failed its checks, so nothing was pushed: make it smaller, or raise \
         --size-budget-mb"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        check_sizes(cx.bindings.image()?, self.budget)
    }
}

pub fn check_sizes(image: &Image, budget: u64) -> Result<()> {
    let over: Vec<String> = image
        .platforms
        .iter()
        .filter(|p| p.compressed_size() > budget)
        .map(|p| {
            format!(
                "{} is {:.1} MB compressed, over the {} MB budget",
                p.platform,
                p.compressed_size() as f64 / 1e6,
                budget / 1_000_000
            )
        })
        .collect();
    ensure!(over.is_empty(), "{}", over.join("; "));
    Ok(())
}

/// Two builds of one commit gave the same index digest.
#[derive(Debug, Clone, Serialize)]
pub struct SameBuild {
    pub first: PathBuf,
    pub second: PathBuf,
}

impl Action for SameBuild {
    fn needs(&self) -> Needs {
        Needs::new()
    }

    fn describe(&self) -> String {
        format!(
            "compare: {} and {} hold the same index digest",
            self.first.display(),
            self.second.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the image is not reproducible: compare the layouts in {} and {} (a timestamp or a \
             path that reached a layer)",
            self.first.display(),
            self.second.display()
        )
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        let a = layout::top_digest(&self.first)?;
        let b = layout::top_digest(&self.second)?;
        println!("first build:  {a}\nsecond build: {b}");
        ensure!(a == b, "the two builds differ ({a} and {b})");
        println!("reproducible: both builds gave the same index digest");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::PlatformImage;
    use oci_client::manifest::{ImageIndexEntry, OciDescriptor};

    fn platform(name: &str, layer_bytes: i64) -> PlatformImage {
        let entry = ImageIndexEntry {
            media_type: String::new(),
            digest: String::new(),
            size: 500,
            platform: None,
            annotations: None,
            artifact_type: None,
        };
        PlatformImage {
            platform: name.into(),
            manifest: entry,
            config: OciDescriptor {
                size: 1_000,
                ..Default::default()
            },
            layers: vec![OciDescriptor {
                size: layer_bytes,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn every_platform_over_the_budget_is_named() {
        let image = Image {
            root: "l".into(),
            index: platform("x", 0).manifest,
            platforms: vec![
                platform("linux/amd64", 2_500_000),
                platform("linux/arm64", 900_000),
            ],
            attestations: Vec::new(),
        };
        // manifest + config + layers: what a pull transfers.
        assert_eq!(image.platforms[1].compressed_size(), 901_500);
        let err = check_sizes(&image, 1_000_000).unwrap_err().to_string();
        assert!(
            err.contains("linux/amd64 is 2.5 MB compressed, over the 1 MB budget"),
            "{err}"
        );
        assert!(!err.contains("linux/arm64"), "{err}");
        assert!(check_sizes(&image, 3_000_000).is_ok());
    }
}
