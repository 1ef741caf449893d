//! The release page: what an admin needs from a GitHub release (the image and chart by digest,
//! the install command, the commands that verify them, the SBOMs, the scan, how long the
//! release took), written as one marked section of the release's body, so that a re-run
//! replaces it instead of adding a second one. Pure.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::record::{ScanRecord, Timeline};

pub const BEGIN: &str =
    "<!-- kube9-release:begin (written by the release workflow; a re-run replaces it) -->";
pub const END: &str = "<!-- kube9-release:end -->";

const TEMPLATE: &str = include_str!("notes/release-notes.md.j2");

/// Everything the section says.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePage {
    pub version: String,
    /// `ghcr.io/alto9/kube9-operator`.
    pub image: String,
    pub index: String,
    /// `(os/arch, manifest digest)` of each platform.
    pub platforms: Vec<(String, String)>,
    /// `oci://ghcr.io/alto9/charts/kube9-operator`.
    pub chart: String,
    pub chart_digest: String,
    /// `helm install ...`, pinned to the version.
    pub install: String,
    /// The commands that check the signatures, the provenance and the SBOMs.
    pub verify: Vec<String>,
    /// The admin's own scan, applying the statements attached to the image.
    pub scan_command: String,
    pub scan: Option<ScanRecord>,
    pub timeline: Timeline,
    /// This version's CHANGELOG.md entry, as markdown (none with `--skip-changelog`).
    pub changes: Option<String>,
    /// The verifiers the release was checked with, their versions and results.
    pub verifiers: Vec<crate::verifiers::VerifierResult>,
    /// Checks the verification left out on request: named, so the page never implies them.
    pub skipped: Vec<String>,
    /// `withdrawn: <reason>; use <replacement>`: the banner at the top of the section.
    pub withdrawn: Option<String>,
}

/// The marked section, markdown.
pub fn render(page: &ReleasePage) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let scan = page.scan.as_ref().map(scan_rows).unwrap_or_default();
    let body = env
        .render_str(
            TEMPLATE,
            minijinja::context! {
                page => page,
                scan_rows => scan,
                verifier_rows => page.verifiers.iter().map(|v| (v.verifier.clone(), v.version.clone(), v.checks, v.result())).collect::<Vec<_>>(),
                timings => page.timeline.summary(),
            },
        )
        .context("cannot render the release page")?;
    Ok(format!("{BEGIN}\n{}\n{END}", body.trim()))
}

/// One row per platform: packages, findings per severity, what VEX suppressed.
fn scan_rows(scan: &ScanRecord) -> Vec<serde_json::Value> {
    let platforms = scan.platforms.as_array().cloned().unwrap_or_default();
    platforms
        .iter()
        .map(|p| {
            let counts = p["counts"].as_object().cloned().unwrap_or_default();
            let findings: Vec<String> = counts
                .iter()
                .map(|(severity, n)| format!("{severity} {n}"))
                .collect();
            let suppressed: Vec<String> = p["suppressed"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{} ({}: {})",
                        s["finding"]["id"].as_str().unwrap_or_default(),
                        s["status"].as_str().unwrap_or_default(),
                        s["justification"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            serde_json::json!({
                "platform": p["platform"].as_str().unwrap_or_default(),
                "os_packages": p["os_packages"].as_u64().unwrap_or_default(),
                "rust_packages": p["rust_packages"].as_u64().unwrap_or_default(),
                "findings": or_none(findings.join(", ")),
                "suppressed": or_none(suppressed.join(", ")),
            })
        })
        .collect()
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// The body with its marked section replaced by `section`, or `section` added at the end.
pub fn replace_section(body: &str, section: &str) -> String {
    if let (Some(start), Some(end)) = (body.find(BEGIN), body.find(END)) {
        if start < end {
            let after = &body[end + END.len()..];
            return format!("{}{section}{after}", &body[..start]);
        }
    }
    let body = body.trim_end();
    if body.is_empty() {
        section.to_string()
    } else {
        format!("{body}\n\n{section}")
    }
}

#[cfg(test)]
mod tests;
