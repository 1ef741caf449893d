//! Cold builds compared in rounds, one right after the other (the previous release build, the
//! current one, the current one without cargo-auditable, one platform alone), where their time
//! goes, and what the builder's cache saves afterwards.

use anyhow::Result;

use kube9_release::buildx::Cache;
use kube9_release::layout::Image;

use super::builds::{self, Build, Builder, Dockerfile, BOTH};
use super::report::{median, Row};
use super::{push_row, ratio_text};

/// Every cold build of the run.
#[derive(Default)]
pub struct Cold {
    pub previous: Vec<Build>,
    pub both: Vec<Build>,
    pub no_auditable: Vec<Build>,
    pub amd64: Vec<Build>,
    /// Built once, right after the last amd64 build.
    pub arm64: Vec<Build>,
}

impl Cold {
    pub fn image(&self) -> Result<Image> {
        Image::open(&self.both[0].output)
    }

    pub fn previous_image(&self) -> Result<Image> {
        Image::open(&self.previous[0].output)
    }
}

pub fn measure(
    b: &Builder,
    pairs: usize,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<Cold> {
    // Crates downloaded and base images pulled once, before anything is timed: the first pair
    // must not pay for them.
    eprintln!("warm-up build (fills the cargo registry cache mount):");
    b.warm("warm-up")?;
    let cold_build = |file, platforms: &[&str], name: String| {
        b.build(&b.plan(file, platforms, Cache::None, &name))
    };
    let mut cold = Cold::default();
    // Each round builds the things compared one right after the other.
    for i in 0..pairs.max(1) {
        eprintln!("cold builds, round {} of {pairs}:", i + 1);
        for (builds, file, platforms, name) in [
            (&mut cold.previous, Dockerfile::Previous, BOTH, "previous"),
            (&mut cold.both, Dockerfile::Current, BOTH, "both"),
            (
                &mut cold.no_auditable,
                Dockerfile::NoAuditable,
                BOTH,
                "no-auditable",
            ),
            (
                &mut cold.amd64,
                Dockerfile::Current,
                &["linux/amd64"],
                "amd64",
            ),
        ] {
            builds.push(cold_build(file, platforms, format!("{name}-{i}"))?);
        }
    }
    cold.arm64.push(cold_build(
        Dockerfile::Current,
        &["linux/arm64"],
        "arm64".into(),
    )?);
    comparisons(&cold, rows);
    timings(&cold, rows);
    breakdown(&cold, rows, notes);
    Ok(cold)
}

/// The median of pair ratios `a[i] / b[i]`, and each pair's figure.
fn pair_ratios(a: &[Build], b: &[Build]) -> (f64, String) {
    let (ratios, each): (Vec<f64>, Vec<String>) = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a.secs / b.secs, ratio_text(a.secs / b.secs, a.secs, b.secs)))
        .unzip();
    let median = median(ratios);
    (
        median,
        format!("median {median:.2}; pairs: {}", each.join(", ")),
    )
}

fn comparisons(cold: &Cold, rows: &mut Vec<Row>) {
    for (what, other, most) in [
        (
            "cold build of both platforms: current / previous release build",
            &cold.previous,
            Some(0.8),
        ),
        (
            "cold build of both platforms: with / without cargo-auditable",
            &cold.no_auditable,
            None,
        ),
        (
            "cold build: both platforms / linux/amd64 alone",
            &cold.amd64,
            Some(1.6),
        ),
    ] {
        let (ratio, text) = pair_ratios(&cold.both, other);
        let row = Row::new(what, text, "cargo xtask bench");
        push_row(
            rows,
            match most {
                Some(most) => row.goal(format!("<= {most}"), ratio <= most),
                None => row,
            },
        );
    }
}

/// Each kind of cold build's time, arm64 against amd64, and whether every cold build of both
/// platforms gave one digest.
fn timings(cold: &Cold, rows: &mut Vec<Row>) {
    let cold_cmd = |platforms: &str| {
        format!("cargo xtask verify-reproducible --version v0.0.0 --platforms {platforms}")
    };
    let kinds: [(&str, &[Build], String); 5] = [
        (
            "both platforms",
            &cold.both,
            cold_cmd("linux/amd64,linux/arm64"),
        ),
        (
            "both platforms, previous release build",
            &cold.previous,
            "cargo xtask bench".into(),
        ),
        (
            "both platforms, without cargo-auditable",
            &cold.no_auditable,
            "cargo xtask bench".into(),
        ),
        ("linux/amd64", &cold.amd64, cold_cmd("linux/amd64")),
        (
            "linux/arm64 (cross-compiled)",
            &cold.arm64,
            cold_cmd("linux/arm64"),
        ),
    ];
    for (what, builds, reproduce) in kinds {
        let secs = median(builds.iter().map(|b| b.secs).collect());
        push_row(
            rows,
            Row::new(
                format!("cold build, {what}"),
                format!("{secs:.0} s"),
                reproduce,
            ),
        );
    }
    // The arm64 build ran right after the last amd64 one: that is its pair.
    let last_amd64 = cold.amd64.last().map_or(f64::NAN, |b| b.secs);
    let arm64 = cold.arm64.last().map_or(f64::NAN, |b| b.secs);
    let ratio = arm64 / last_amd64;
    push_row(
        rows,
        Row::new(
            "arm64 / amd64 cold build time",
            ratio_text(ratio, arm64, last_amd64),
            "cargo xtask bench",
        )
        .goal("<= 1.3 (no emulated compiler)", ratio <= 1.3),
    );
    let same: Vec<&Build> = cold.both.iter().collect();
    push_row(rows, reproducibility(&same));
}

/// Whether cold builds of one commit gave one digest: a question only two builds or more can
/// answer, so one build is reported as not measured, never as met.
fn reproducibility(builds: &[&Build]) -> Row {
    let row = |value: String| {
        Row::new(
            "index digest of every cold build of both platforms",
            value,
            "cargo xtask verify-reproducible --version v0.0.0",
        )
    };
    let target = "reproducible (one digest)";
    if builds.len() < 2 {
        return row(format!(
            "{} build: needs two to compare (run with --pairs 2 or more)",
            builds.len()
        ))
        .not_measured(target);
    }
    let reproducible = builds::same_digest(builds);
    row(format!(
        "{} builds: {}",
        builds.len(),
        if reproducible {
            "one digest"
        } else {
            "DIFFERENT digests"
        }
    ))
    .goal(target, reproducible)
}

/// One row per phase: both platforms in one build, and each platform alone.
fn breakdown(cold: &Cold, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let phase_median = |builds: &[Build], phase: &str| {
        let secs: Vec<f64> = builds
            .iter()
            .filter_map(|b| builds::phases(&b.steps).get(phase).copied())
            .collect();
        if secs.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0} s", median(secs))
        }
    };
    for (phase, _) in builds::PHASES {
        let value = format!(
            "both: {}; amd64 alone: {}; arm64 alone: {}",
            phase_median(&cold.both, phase),
            phase_median(&cold.amd64, phase),
            phase_median(&cold.arm64, phase)
        );
        push_row(
            rows,
            Row::new(
                format!("cold build time in: {phase}"),
                value,
                "cargo xtask bench (BuildKit step times)",
            ),
        );
    }
    notes.push(
        "Step times are BuildKit's own, read from its plain progress output; steps of different \
         stages run at the same time (cargo-auditable's install beside the toolchain's), so they \
         add up to more than the build's wall time. \"Dependencies\" and \"operator crate\" are \
         one cargo invocation for every platform of the build: the host side (proc macros, \
         build scripts) is compiled once; each target's crates and its link are compiled once \
         per target."
            .to_string(),
    );
}

/// Warm rebuilds on the builder's cache: no change, an operator source change, a chart and
/// README change.
pub fn incremental(b: &Builder, runs: usize, cold: &Cold, rows: &mut Vec<Row>) -> Result<()> {
    let cold_secs = median(cold.both.iter().map(|b| b.secs).collect());
    let mut warm = Vec::new();
    for i in 0..runs.max(1) {
        warm.push(b.warm(&format!("warm-{i}"))?.secs);
    }
    let warm = median(warm);
    push_row(
        rows,
        Row::new(
            "warm rebuild, no change / cold",
            format!("{:.3} ({warm:.1} s)", warm / cold_secs),
            "cargo xtask release-image --no-push twice",
        )
        .goal("<= 0.1", warm / cold_secs <= 0.1),
    );
    let source = source_change(b, runs)?;
    push_row(
        rows,
        Row::new(
            "rebuild after an operator source change / cold",
            format!("{:.3} ({source:.0} s)", source / cold_secs),
            "edit operator/src/main.rs, cargo xtask release-image --no-push",
        )
        .goal(
            "<= 0.5 (dependencies from cache)",
            source / cold_secs <= 0.5,
        ),
    );
    unrelated_change(b, cold, rows)
}

fn source_change(b: &Builder, runs: usize) -> Result<f64> {
    let main_rs = b.context.join("operator/src/main.rs");
    let original = std::fs::read_to_string(&main_rs)?;
    let mut times = Vec::new();
    for i in 0..runs.clamp(1, 2) {
        // A change no earlier run made, so that BuildKit cannot answer it from its cache.
        let marker = format!("{}-{i}", super::run_id());
        std::fs::write(&main_rs, format!("{original}\n// bench change {marker}\n"))?;
        times.push(b.warm(&format!("src-{i}"))?.secs);
    }
    std::fs::write(&main_rs, original)?;
    Ok(median(times))
}

/// Back to the cold build's sources: a chart or README change must not rebuild a layer.
fn unrelated_change(b: &Builder, cold: &Cold, rows: &mut Vec<Row>) -> Result<()> {
    std::fs::write(b.context.join("README.md"), "changed\n")?;
    std::fs::write(
        b.context.join("charts/kube9-operator/values.yaml"),
        "# changed\n",
    )?;
    let build = b.warm("unrelated")?;
    let same = build.digest == cold.both[0].digest;
    push_row(
        rows,
        Row::new(
            "rebuild after a chart/README change",
            format!(
                "{:.1} s, digest {}",
                build.secs,
                if same { "unchanged" } else { "CHANGED" }
            ),
            "edit README.md, cargo xtask release-image --no-push",
        )
        .goal("no layer rebuilt (same digest)", same),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::report::render_rows;
    use super::*;

    fn build(digest: &str) -> Build {
        Build {
            secs: 1.0,
            digest: digest.into(),
            output: "out".into(),
            steps: Vec::new(),
        }
    }

    #[test]
    fn one_build_cannot_show_reproducibility() {
        let one = build("sha256:a");
        let row = reproducibility(&[&one]);
        assert_eq!(row.met, None);
        assert!(row.value.contains("needs two"), "{}", row.value);
        let table = render_rows(&[row]);
        assert!(table.contains("| not measured |"), "{table}");
        assert!(!table.contains("| yes |"), "{table}");
    }

    #[test]
    fn two_builds_are_judged_by_their_digests() {
        let (a, b, c) = (build("sha256:a"), build("sha256:a"), build("sha256:c"));
        let same = reproducibility(&[&a, &b]);
        assert_eq!(
            (same.met, same.value.as_str()),
            (Some(true), "2 builds: one digest")
        );
        let different = reproducibility(&[&a, &b, &c]);
        assert_eq!(different.met, Some(false));
        assert!(render_rows(&[different]).contains("| NO |"));
    }
}
