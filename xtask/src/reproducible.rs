//! `cargo xtask verify-reproducible`: builds the same commit twice, the second time without any
//! cache, and compares the two index digests.

use anyhow::{ensure, Result};

use crate::git;
use crate::image::Cache;
use crate::layout::Image;
use crate::release_image::{release_version, ImageArgs};

pub fn run(args: &ImageArgs) -> Result<(String, String)> {
    let release = release_version(args.version.as_deref(), None)?;
    let source = git::read(&args.source_dir())?;
    git::require_clean(&source, args.allow_dirty)?;
    let plan = args.plan(release, source, None, None)?;
    let mut digests = Vec::new();
    for (run, cache) in [
        ("first", plan.build.cache.clone()),
        ("second, without cache", Cache::None),
    ] {
        let mut build = plan.build.clone();
        build.cache = cache;
        build.output = plan
            .out_dir
            .join(format!("reproducible-{}", digests.len() + 1));
        if build.output.exists() {
            std::fs::remove_dir_all(&build.output)?;
        }
        crate::github::step(&format!("{run} build"));
        build.command().run()?;
        digests.push(Image::open(&build.output)?.index.digest);
    }
    println!("first build:  {}", digests[0]);
    println!("second build: {}", digests[1]);
    ensure!(
        digests[0] == digests[1],
        "the two builds of commit {} differ: the image is not reproducible",
        plan.source.commit
    );
    println!(
        "reproducible: both builds of commit {} gave the same index digest",
        plan.source.commit
    );
    Ok((digests[0].clone(), digests[1].clone()))
}
