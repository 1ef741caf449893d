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
}

/// `target/release/chart.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartRecord {
    pub version: String,
    pub chart: String,
    pub chart_digest: String,
    pub image: String,
    pub pushed: bool,
}

pub fn write<T: Serialize>(path: &Path, record: &T) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = serde_json::to_string_pretty(record)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not valid", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
