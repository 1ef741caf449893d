//! `cargo xtask bench`: build speed, cache effect, arm64 without emulation, image size, publish
//! cost and chart latency, measured on the local environment with the project's real
//! Dockerfile. Times are compared as ratios within one run; the table goes to
//! docs/benchmarks.md.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::devenv::localenv::{self, EnvState};
use crate::flags;
use crate::release::buildx::{BuildPlan, Cache};
use crate::release::cmd::Cmd;
use crate::release::layout::Image;
use crate::release::registry::{Registry, Repository, Retry};
use crate::release::workspace;

type BenchArgs = flags::Bench;

struct Row {
    what: String,
    value: String,
    target: String,
    met: Option<bool>,
    reproduce: String,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// A copy of the build context, so that source changes can be made without touching the checkout.
fn context_copy(dir: &Path) -> Result<PathBuf> {
    let root = workspace::root();
    let ctx = dir.join("context");
    let _ = std::fs::remove_dir_all(&ctx);
    for path in [
        "Dockerfile",
        ".dockerignore",
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "operator",
        "xtask/Cargo.toml",
        "charts",
    ] {
        let to = ctx.join(path);
        std::fs::create_dir_all(to.parent().unwrap())?;
        Cmd::new("cp")
            .arg("-a")
            .arg(root.join(path).display().to_string())
            .arg(to.display().to_string())
            .run()?;
    }
    Ok(ctx)
}

fn plan(ctx: &Path, platforms: &[&str], cache: Cache, out: PathBuf, env: &EnvState) -> BuildPlan {
    let build_args = vec![
        ("VERSION".to_string(), "0.0.0-bench".to_string()),
        ("COMMIT".to_string(), "0".repeat(40)),
    ];
    BuildPlan {
        dockerfile: ctx.join("Dockerfile"),
        context: ctx.to_path_buf(),
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
        build_args,
        build_contexts: env.build_contexts.clone(),
        labels: Vec::new(),
        cache,
        provenance: false,
        output: out,
        docker_host: env.docker_host.clone(),
        source_date_epoch: 1_700_000_000,
    }
}

/// Runs a build quietly; returns seconds and the index digest.
fn timed_build(plan: &BuildPlan) -> Result<(f64, String)> {
    let _ = std::fs::remove_dir_all(&plan.output);
    let start = Instant::now();
    let out = plan.command().output()?;
    let secs = start.elapsed().as_secs_f64();
    if !out.success {
        anyhow::bail!(
            "the build failed:\n{}",
            out.stderr
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok((secs, crate::release::layout::top_digest(&plan.output)?))
}

fn uncompressed_size(
    image: &Image,
    platform: &crate::release::layout::PlatformImage,
) -> Result<u64> {
    let mut total = 0;
    for layer in &platform.layers {
        let bytes = image.blob(&layer.digest)?;
        let mut decoder = flate2::read::GzDecoder::new(bytes.as_slice());
        let mut sink = Vec::new();
        decoder.read_to_end(&mut sink)?;
        total += sink.len() as u64;
    }
    Ok(total)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let env_dir = workspace::root().join("target/kube9-env/bench");
    let env = localenv::up(&env_dir, true)?;
    let result = measure(args, &env);
    localenv::down(&env_dir)?;
    result
}

fn measure(args: &BenchArgs, env: &EnvState) -> Result<()> {
    let work = workspace::root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    let ctx = context_copy(&work)?;
    let mut rows = Vec::new();
    let both = ["linux/amd64", "linux/arm64"];

    eprintln!("cold build, linux/amd64 only, no cache ...");
    let (amd64, _) = timed_build(&plan(
        &ctx,
        &["linux/amd64"],
        Cache::None,
        work.join("cold-amd64"),
        env,
    ))?;
    eprintln!("  {amd64:.0}s\ncold build, linux/arm64 only (cross-compiled), no cache ...");
    let (arm64, _) = timed_build(&plan(
        &ctx,
        &["linux/arm64"],
        Cache::None,
        work.join("cold-arm64"),
        env,
    ))?;
    eprintln!("  {arm64:.0}s\ncold build, both platforms, no cache ...");
    let (cold, cold_digest) =
        timed_build(&plan(&ctx, &both, Cache::None, work.join("cold-both"), env))?;
    eprintln!("  {cold:.0}s");
    // verify-reproducible's second build runs without any cache: a cold build.
    let cold_cmd = |platforms: &str| {
        format!("cargo xtask verify-reproducible --version v0.0.0 --platforms {platforms}")
    };
    rows.push(Row {
        what: "cold build, linux/amd64".into(),
        value: format!("{amd64:.0} s"),
        target: "-".into(),
        met: None,
        reproduce: cold_cmd("linux/amd64"),
    });
    rows.push(Row {
        what: "cold build, linux/arm64 (cross-compiled)".into(),
        value: format!("{arm64:.0} s"),
        target: "-".into(),
        met: None,
        reproduce: cold_cmd("linux/arm64"),
    });
    rows.push(Row {
        what: "arm64 / amd64 cold build time".into(),
        value: format!("{:.2}", arm64 / amd64),
        target: "<= 1.3 (no emulated compiler)".into(),
        met: Some(arm64 / amd64 <= 1.3),
        reproduce: "cargo xtask bench".into(),
    });
    rows.push(Row {
        what: "cold build, both platforms".into(),
        value: format!("{cold:.0} s"),
        target: "-".into(),
        met: None,
        reproduce: cold_cmd("linux/amd64,linux/arm64"),
    });

    let warm: Vec<f64> = (0..args.runs)
        .map(|i| {
            timed_build(&plan(
                &ctx,
                &both,
                Cache::Builder,
                work.join(format!("warm-{i}")),
                env,
            ))
            .map(|r| r.0)
        })
        .collect::<Result<_>>()?;
    let warm = median(warm);
    rows.push(Row {
        what: "warm rebuild, no change / cold".into(),
        value: format!("{:.3} ({warm:.1} s)", warm / cold),
        target: "<= 0.1".into(),
        met: Some(warm / cold <= 0.1),
        reproduce: "cargo xtask release-image --no-push twice".into(),
    });

    let main_rs = ctx.join("operator/src/main.rs");
    let mut source_times = Vec::new();
    for i in 0..args.runs.min(2) {
        // A change no earlier run made, so that BuildKit cannot answer it from its cache.
        let marker = format!(
            "{}-{i}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        );
        std::fs::write(
            &main_rs,
            format!(
                "{}\n// bench change {marker}\n",
                std::fs::read_to_string(&main_rs)?
            ),
        )?;
        source_times.push(
            timed_build(&plan(
                &ctx,
                &both,
                Cache::Builder,
                work.join(format!("src-{i}")),
                env,
            ))?
            .0,
        );
    }
    let source = median(source_times);
    rows.push(Row {
        what: "rebuild after an operator source change / cold".into(),
        value: format!("{:.3} ({source:.0} s)", source / cold),
        target: "<= 0.5 (dependencies from cache)".into(),
        met: Some(source / cold <= 0.5),
        reproduce: "edit operator/src/main.rs, cargo xtask release-image --no-push".into(),
    });

    // Back to the cold build's sources: a chart or README change must not rebuild a layer.
    std::fs::copy(workspace::root().join("operator/src/main.rs"), &main_rs)?;
    std::fs::write(ctx.join("README.md"), "changed\n")?;
    std::fs::write(ctx.join("charts/kube9-operator/values.yaml"), "# changed\n")?;
    let (unrelated, unrelated_digest) = timed_build(&plan(
        &ctx,
        &both,
        Cache::Builder,
        work.join("unrelated"),
        env,
    ))?;
    rows.push(Row {
        what: "rebuild after a chart/README change".into(),
        value: format!(
            "{unrelated:.1} s, digest {}",
            if unrelated_digest == cold_digest {
                "unchanged"
            } else {
                "CHANGED"
            }
        ),
        target: "no layer rebuilt (same digest)".into(),
        met: Some(unrelated_digest == cold_digest),
        reproduce: "edit README.md, cargo xtask release-image --no-push".into(),
    });

    let image = Image::open(&work.join("cold-both"))?;
    for p in &image.platforms {
        let compressed = p.compressed_size() as f64 / 1e6;
        let uncompressed = uncompressed_size(&image, p)? as f64 / 1e6;
        rows.push(Row {
            what: format!("image size, {}", p.platform),
            value: format!("{compressed:.2} MB compressed, {uncompressed:.2} MB uncompressed"),
            target: "< 200 MB (limit), < 20 MB (target)".into(),
            met: Some(compressed < 20.0),
            reproduce: "cargo xtask release-image --no-push (prints the sizes)".into(),
        });
    }

    let repo = Repository::parse(&format!(
        "{}/bench/kube9-operator-{}",
        env.registry.address(),
        std::process::id()
    ))?;
    let registry = Registry::new(repo.clone(), None, Retry::default());
    let tags = vec!["v0.0.0-bench".to_string()];
    let start = Instant::now();
    let first = push(&registry, &image, &tags)?;
    let first_secs = start.elapsed().as_secs_f64();
    let reruns: Vec<(f64, u64)> = (0..args.runs)
        .map(|_| {
            let start = Instant::now();
            let report = push(&registry, &image, &tags)?;
            Ok((start.elapsed().as_secs_f64(), report.bytes_uploaded))
        })
        .collect::<Result<_>>()?;
    let rerun = median(reruns.iter().map(|r| r.0).collect());
    let rerun_bytes: u64 = reruns.iter().map(|r| r.1).sum();
    rows.push(Row {
        what: "publish to the local registry: re-run / first".into(),
        value: format!(
            "{:.3} ({:.3} s / {:.3} s; first uploaded {} bytes, re-runs {rerun_bytes})",
            rerun / first_secs,
            rerun,
            first_secs,
            first.bytes_uploaded
        ),
        target: "re-run uploads 0 bytes and takes <= 0.1".into(),
        met: Some(rerun_bytes == 0 && rerun / first_secs <= 0.1),
        reproduce: "cargo xtask release twice with the same version".into(),
    });

    let latency = chart_latency(env, &image)?;
    rows.push(Row {
        what: "image served -> chart step notices it".into(),
        value: format!("{:.1} s (poll interval 10 s)", latency.as_secs_f64()),
        target: "<= one poll interval".into(),
        met: Some(latency <= Duration::from_secs(10)),
        reproduce: "cargo xtask release-chart while cargo xtask release-image publishes".into(),
    });

    let plans: Vec<f64> = (0..args.runs.max(5))
        .map(|_| {
            let start = Instant::now();
            let exe = std::env::current_exe()?.display().to_string();
            let out = Cmd::new(exe)
                .args(["release", "--dry-run", "--version", "v1.2.3"])
                .env("GITHUB_ACTIONS", "false")
                .output()?;
            anyhow::ensure!(out.success, "dry run failed");
            Ok(start.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Result<_>>()?;
    rows.push(Row {
        what: "`release --dry-run` plan".into(),
        value: format!("{:.0} ms", median(plans)),
        target: "-".into(),
        met: None,
        reproduce: "cargo xtask release --dry-run --version v1.2.3".into(),
    });

    let table = render(&rows, args.runs)?;
    println!("{table}");
    let output = workspace::root().join(&args.output);
    std::fs::write(&output, table).with_context(|| format!("cannot write {}", output.display()))?;
    println!("written to {}", output.display());
    Ok(())
}

/// Starts the chart step against a repository without the image, publishes the image, and
/// measures how long the waiting step takes to see it.
fn chart_latency(env: &EnvState, image: &Image) -> Result<Duration> {
    let repo = format!(
        "{}/bench/latency-{}",
        env.registry.address(),
        std::process::id()
    );
    let out_dir = workspace::root().join("target/bench/chart");
    let charts = format!(
        "oci://{}/bench/charts-{}",
        env.registry.address(),
        std::process::id()
    );
    let mut child = Cmd::new(std::env::current_exe()?.display().to_string())
        .args([
            "release-chart",
            "--version",
            "v0.0.0-bench",
            "--repository",
            &repo,
        ])
        .args(["--chart-repository", &charts, "--no-sign"])
        .opt("--out-dir", out_dir.display().to_string())
        .env("GITHUB_ACTIONS", "false")
        .spawn(Stdio::piped(), Stdio::null())?;
    let stdout = child.stdout.take().expect("piped");
    // Let the step start polling and back off to its full interval before the image appears.
    std::thread::sleep(Duration::from_secs(20));
    let registry = Registry::new(Repository::parse(&repo)?, None, Retry::default());
    push(&registry, image, &["v0.0.0-bench".to_string()])?;
    let published = Instant::now();
    let mut noticed = None;
    for line in BufReader::new(stdout).lines() {
        if line?.contains("is served with") {
            noticed = Some(published.elapsed());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    noticed.context("the chart step never saw the image")
}

fn render(rows: &[Row], runs: usize) -> Result<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let date = Cmd::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .read()?;
    let mut out = format!(
        "# Benchmarks\n\nMeasured by `cargo xtask bench` on {} ({cores} cores, {cpu}), with the \
         project's real Dockerfile on the local environment (dockerd 26 on the containerd image \
         store, BuildKit's docker driver). Times are compared as ratios within this one run on a \
         shared, noisy machine; quick figures are medians of {runs} runs, cold builds are single \
         runs.\n\n| measurement | value | target | met | reproduce with |\n| --- | --- | --- | --- | --- |\n",
        date.trim()
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {met} | `{}` |\n",
            r.what, r.value, r.target, r.reproduce
        ));
    }
    Ok(out)
}

/// Content and tags, the way a release pushes them.
fn push(
    registry: &Registry,
    image: &Image,
    tags: &[String],
) -> Result<crate::release::registry::PushReport> {
    let report = registry.push_content(image)?;
    let index = image.blob(&image.index.digest)?;
    for tag in tags {
        registry.push_version_tag(tag, &image.index.digest, &index)?;
    }
    Ok(report)
}
