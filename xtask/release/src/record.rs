//! What a release step leaves for the next one and for people: `target/release/*.json`.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::scan::Verdict;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRecord {
    pub platform: String,
    pub manifest: String,
    pub compressed_bytes: u64,
}

/// The scan as the gate saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub gate: String,
    pub passed: bool,
    /// Per platform: packages seen (OS, Rust), counts per severity, blocking findings.
    pub platforms: serde_json::Value,
}

impl ScanRecord {
    pub fn new(gate: &str, verdicts: &[Verdict]) -> Self {
        ScanRecord {
            gate: gate.to_string(),
            passed: verdicts.iter().all(Verdict::passed),
            platforms: serde_json::to_value(verdicts).unwrap_or_default(),
        }
    }
}

/// `target/release/image.json`: the image the chart step must find in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub version: String,
    pub repository: String,
    pub digest: String,
    pub commit: String,
    pub tags: Vec<String>,
    pub platforms: Vec<PlatformRecord>,
    pub pushed: bool,
    #[serde(default)]
    pub scan: ScanRecord,
    #[serde(default)]
    pub blobs_uploaded: usize,
    #[serde(default)]
    pub bytes_uploaded: u64,
    /// When this run published the version tags (a re-run that found them has none).
    #[serde(default)]
    pub timeline: Timeline,
    /// The version's latest withdrawal statement, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<crate::withdrawal::Withdrawal>,
}

/// `target/release/chart.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartRecord {
    pub version: String,
    pub chart: String,
    pub chart_digest: String,
    pub image: String,
    pub pushed: bool,
    /// When the image was first served on every platform, and the chart after it.
    #[serde(default)]
    pub timeline: Timeline,
}

pub fn write<T: Serialize>(path: &Path, record: &T) -> Result<()> {
    write_text(path, &(serde_json::to_string_pretty(record)? + "\n"))
}

/// A text file, its directory made first.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// When a release reached each point a user cares about: its version tags published, the
/// image served on every platform, its chart served, the release verified. Each job of a
/// release records its own points, and passes the earlier ones on (job outputs on GitHub).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_served: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_served: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
}

/// Seconds from publishing to each later point, where both are known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    pub image_served: Option<i64>,
    pub chart_served: Option<i64>,
    pub verified: Option<i64>,
}

/// Now, as the timeline records it.
pub fn now() -> String {
    crate::metadata::rfc3339(jiff::Timestamp::now().as_second())
}

impl Timeline {
    /// This timeline's points, with `other`'s where this one has none.
    pub fn or(&self, other: &Timeline) -> Timeline {
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        Timeline {
            published: pick(&self.published, &other.published),
            image_served: pick(&self.image_served, &other.image_served),
            chart_served: pick(&self.chart_served, &other.chart_served),
            verified: pick(&self.verified, &other.verified),
        }
    }

    pub fn durations(&self) -> Durations {
        let at = |t: &Option<String>| -> Option<i64> {
            t.as_deref()?
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_second())
        };
        let since = |t: &Option<String>| Some(at(t)? - at(&self.published)?);
        Durations {
            image_served: since(&self.image_served),
            chart_served: since(&self.chart_served),
            verified: since(&self.verified),
        }
    }

    /// One line: `published → image served 12 s → chart served 40 s → verified 95 s`.
    pub fn summary(&self) -> String {
        let d = self.durations();
        let part = |name: &str, s: Option<i64>| match s {
            Some(s) => format!("{name} {s} s"),
            None => format!("{name} (not known)"),
        };
        if self.published.is_none() {
            return "from publish: not known (the version tags were published by an earlier \
                    run)"
                .into();
        }
        [
            "published".to_string(),
            part("image served on every platform", d.image_served),
            part("chart served", d.chart_served),
            part("verified", d.verified),
        ]
        .join(" → ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_from_publishing_and_earlier_jobs_fill_the_gaps() {
        let job = Timeline {
            verified: Some("2026-01-01T00:01:35Z".into()),
            ..Timeline::default()
        };
        let given = Timeline {
            published: Some("2026-01-01T00:00:00Z".into()),
            image_served: Some("2026-01-01T00:00:12Z".into()),
            chart_served: Some("2026-01-01T00:00:40Z".into()),
            verified: Some("2026-01-01T09:00:00Z".into()),
        };
        let t = job.or(&given);
        assert_eq!(
            t.durations(),
            Durations {
                image_served: Some(12),
                chart_served: Some(40),
                verified: Some(95),
            }
        );
        assert_eq!(
            t.summary(),
            "published → image served on every platform 12 s → chart served 40 s → verified 95 s"
        );
    }

    #[test]
    fn without_the_publish_time_nothing_is_counted() {
        let t = Timeline {
            verified: Some("2026-01-01T00:01:35Z".into()),
            ..Timeline::default()
        };
        assert_eq!(t.durations(), Durations::default());
        assert!(t.summary().contains("earlier run"), "{}", t.summary());
    }
}
