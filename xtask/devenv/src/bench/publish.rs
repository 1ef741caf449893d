//! What a release costs after the build: image sizes, pushing (first and re-run), how soon the
//! chart step sees a published image, and planning a release.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::localenv::EnvState;
use crate::read_text;
use kube9_release::cmd::Cmd;
use kube9_release::execute::Timing;
use kube9_release::layout::{Image, PlatformImage};
use kube9_release::registry::{PushReport, Registry, Repository, Retry};
use kube9_release::secret::Secret;
use kube9_release::workspace;

use super::report::{median, Row};
use super::{push_row, run_id};

const VERSION: &str = "v0.0.0-bench";

/// Each platform's size, beside the previous release build's.
pub fn sizes(image: &Image, previous: &Image, rows: &mut Vec<Row>) -> Result<()> {
    for p in &image.platforms {
        let compressed = p.compressed_size() as f64 / 1e6;
        let uncompressed = uncompressed_size(image, p)? as f64 / 1e6;
        let before = previous.platform(&p.platform)?;
        push_row(
            rows,
            Row::new(
                format!("image size, {}", p.platform),
                format!(
                    "{compressed:.2} MB compressed, {uncompressed:.2} MB uncompressed (previous \
                     release build: {:.2} MB, {:.2} MB)",
                    before.compressed_size() as f64 / 1e6,
                    uncompressed_size(previous, before)? as f64 / 1e6
                ),
                "cargo xtask release-image --no-push (prints the sizes)",
            )
            .goal("< 200 MB (limit), < 20 MB (target)", compressed < 20.0),
        );
    }
    Ok(())
}

fn uncompressed_size(image: &Image, platform: &PlatformImage) -> Result<u64> {
    let mut total = 0;
    for layer in &platform.layers {
        let bytes = image.blob(&layer.digest)?;
        let mut decoder = flate2::read::GzDecoder::new(bytes.as_slice());
        total += std::io::copy(&mut decoder.by_ref(), &mut std::io::sink())?;
    }
    Ok(total)
}

/// Publishing the image to the environment's registry, then the chart step's wait for it.
pub fn measure(env: &EnvState, image: &Image, runs: usize, rows: &mut Vec<Row>) -> Result<()> {
    let repo = Repository::parse(&format!(
        "{}/bench/kube9-operator-{}",
        env.registry.address(),
        run_id()
    ))?;
    let registry = Registry::new(repo, None, Retry::default());
    let start = Instant::now();
    let first = push(&registry, image)?;
    let first_secs = start.elapsed().as_secs_f64();
    let mut reruns = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let report = push(&registry, image)?;
        reruns.push((start.elapsed().as_secs_f64(), report.bytes_uploaded));
    }
    let rerun = median(reruns.iter().map(|r| r.0).collect());
    let rerun_bytes: u64 = reruns.iter().map(|r| r.1).sum();
    let ratio = rerun / first_secs;
    push_row(
        rows,
        Row::new(
            "publish to the local registry: re-run / first",
            format!(
                "{ratio:.3} ({rerun:.3} s / {first_secs:.3} s; first uploaded {} bytes, re-runs \
                 {rerun_bytes})",
                first.bytes_uploaded
            ),
            "cargo xtask release twice with the same version",
        )
        .goal(
            "re-run uploads 0 bytes and takes <= 0.1",
            rerun_bytes == 0 && ratio <= 0.1,
        ),
    );
    let latency = chart_latency(env, image)?;
    push_row(
        rows,
        Row::new(
            "image pushed -> chart step notices it",
            format!(
                "{:.1} s after the push started (the push took {:.1} s; poll interval 10 s)",
                latency.noticed.as_secs_f64(),
                latency.pushed.as_secs_f64()
            ),
            "cargo xtask release-chart while cargo xtask release-image publishes",
        )
        .goal(
            "<= one poll interval after the push",
            latency.noticed <= latency.pushed + Duration::from_secs(10),
        ),
    );
    Ok(())
}

/// Content and the version tag, the way a release pushes them.
fn push(registry: &Registry, image: &Image) -> Result<PushReport> {
    let report = registry.push_content(image)?;
    let index = image.blob(&image.index.digest)?;
    registry.push_version_tag(VERSION, &image.index.digest, &index)?;
    Ok(report)
}

/// Starts the chart step against a repository without the image, publishes the image, and
/// measures how long the waiting step takes to see it.
fn chart_latency(env: &EnvState, image: &Image) -> Result<Latency> {
    let id = run_id();
    let repo = format!("{}/bench/latency-{id}", env.registry.address());
    let charts = format!("oci://{}/bench/charts-{id}", env.registry.address());
    let out_dir = workspace::root().join("target/bench/chart");
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut child = Cmd::new(super::xtask_exe()?)
        .args(["release-chart", "--version", VERSION, "--repository", &repo])
        .args(["--chart-repository", &charts, "--no-sign", "--allow-dirty"])
        .opt("--out-dir", out_dir.display().to_string())
        .env("GITHUB_ACTIONS", "false")
        .spawn(Stdio::piped(), Stdio::null())?;
    let stdout = child.stdout.take().context("the chart step's output")?;
    // Let the step start polling and back off to its full interval (it looks 0, 1, 3, 7, 15,
    // 25 s after its start), then publish between two looks.
    std::thread::sleep(Duration::from_secs(20));
    let registry = Registry::new(Repository::parse(&repo)?, None, Retry::default());
    let pushing = Instant::now();
    push(&registry, image)?;
    let pushed = pushing.elapsed();
    let mut noticed = None;
    for line in BufReader::new(stdout).lines() {
        if line?.contains("is served with") {
            noticed = Some(pushing.elapsed());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let noticed = noticed.context("the chart step never saw the image")?;
    Ok(Latency { pushed, noticed })
}

/// From the start of the push: when it ended, and when the chart step said it saw the image
/// (the tag is the push's last write, so the step may notice it before the push returns).
struct Latency {
    pushed: Duration,
    noticed: Duration,
}

/// A signed release of the checkout's commit into the environment's registry (its build warm
/// from the bench's), and what signing and SBOMs took of it, from the release's own timings.
pub fn signing(env: &EnvState, work: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let timings_file = work.join("release-timings.json");
    let repo = format!("{}/bench/signed-{}", env.registry.address(), run_id());
    let mut cmd = Cmd::new(super::xtask_exe()?)
        .arg("release-image")
        .opt("--version", "v0.0.1-bench")
        .opt("--repository", &repo)
        .args(["--allow-dirty", "--allow-stale-db"])
        .opt("--trivy-db-repository", &env.trivy_db_repository)
        .opt(
            "--trivy-cache-dir",
            work.join("trivy-cache").display().to_string(),
        )
        .opt("--out-dir", work.join("release").display().to_string())
        .opt("--timings", timings_file.display().to_string())
        .env("GITHUB_ACTIONS", "false")
        .env("KUBE9_BUILD_CONTEXTS", env.build_contexts.join(" "))
        .secret_env(
            "COSIGN_PRIVATE_KEY",
            Secret::new(read_text(&env.cosign.private_key)?),
        )
        .secret_env(
            "COSIGN_PASSWORD",
            Secret::new(read_text(&env.cosign.password)?),
        );
    if let Some(host) = &env.docker_host {
        cmd = cmd.env("DOCKER_HOST", host);
    }
    eprintln!("a signed release-image run:");
    let out = cmd.output()?;
    anyhow::ensure!(out.success, "the signed release failed:\n{}", out.stderr);
    let timings: Vec<Timing> = serde_json::from_str(&read_text(&timings_file)?)?;
    push_row(rows, signing_row(&timings));
    Ok(())
}

/// The step kinds that run cosign to sign or attest.
const COSIGN_STEPS: &[&str] = &["sign", "attest", "attest-vex"];

fn signing_row(timings: &[Timing]) -> Row {
    let sum = |f: &dyn Fn(&Timing) -> bool| -> f64 {
        timings.iter().filter(|t| f(t)).map(|t| t.seconds).sum()
    };
    let total = sum(&|_| true);
    let cosign = sum(&|t| COSIGN_STEPS.contains(&t.step.as_str()));
    let convert = sum(&|t| t.step == "convert" && t.what.starts_with("sbom:"));
    let attach = sum(&|t| t.step == "attach-sbom");
    let added = cosign + convert + attach;
    Row::new(
        "signing and SBOMs in one release-image run",
        format!(
            "{added:.1} s of {total:.1} s ({:.0} %): cosign sign and attest {cosign:.1} s, SBOM \
             conversion {convert:.1} s, SBOM referrers {attach:.1} s",
            100.0 * added / total
        ),
        "cargo xtask release-image --timings FILE",
    )
}

/// Planning a release, the whole of what `--dry-run` does.
pub fn dry_run(runs: usize) -> Result<Row> {
    let mut times = Vec::new();
    for _ in 0..runs.max(5) {
        let start = Instant::now();
        let exe = super::xtask_exe()?;
        Cmd::new(exe)
            .args([
                "release",
                "--dry-run",
                "--version",
                "v0.1.0-rc.1",
                "--allow-dirty",
            ])
            .env("GITHUB_ACTIONS", "false")
            .read()
            .context("the release plan failed")?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let ms = median(times);
    Ok(Row::new(
        "`release --dry-run` plan (process start to exit)",
        format!("{ms:.0} ms"),
        "cargo xtask release --dry-run --version v0.1.0-rc.1",
    )
    .goal("< 50 ms", ms < 50.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(step: &str, what: &str, seconds: f64) -> Timing {
        Timing {
            step: step.into(),
            what: what.into(),
            seconds,
            ok: true,
        }
    }

    #[test]
    fn the_signing_row_adds_the_cosign_sbom_and_referrer_steps_by_kind() {
        let timings = [
            timing("build", "docker buildx build", 10.0),
            timing("sign", "cosign sign", 1.0),
            timing("attest", "cosign attest", 0.5),
            timing("attest-vex", "cosign attest --type openvex", 0.25),
            timing("convert", "sbom: trivy convert", 0.5),
            timing("convert", "report: trivy convert", 2.0),
            timing("attach-sbom", "referrer", 0.75),
        ];
        let row = signing_row(&timings);
        assert!(
            row.value.starts_with(
                "3.0 s of 15.0 s (20 %): cosign sign and attest 1.8 s, SBOM conversion 0.5 s, \
                 SBOM referrers 0.8 s"
            ),
            "{}",
            row.value
        );
    }
}
