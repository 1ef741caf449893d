//! OCI labels and annotations of the image. Pure: every input is data, `created` is the commit
//! time (SOURCE_DATE_EPOCH), never the wall clock, so two builds of one commit agree.

use crate::version::ReleaseVersion;

pub const SOURCE_URL: &str = "https://github.com/alto9/kube9-operator";
/// The licence of the operator, as an SPDX id.
pub const LICENSE: &str = "Apache-2.0";

/// What differs from one build of the image to the next; the rest of its labels are the
/// project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    pub version: String,
    pub revision: String,
    pub created: String,
}

impl ImageMetadata {
    pub fn new(release: &ReleaseVersion, commit: &str, commit_time: i64) -> Self {
        ImageMetadata {
            version: release.plain(),
            revision: commit.into(),
            created: rfc3339(commit_time),
        }
    }

    /// `org.opencontainers.image.*` pairs, in a fixed order.
    pub fn labels(&self) -> Vec<(String, String)> {
        [
            ("title", "kube9-operator"),
            (
                "description",
                "Kubernetes operator that reports cluster status to kube9's tooling",
            ),
            ("version", &self.version),
            ("revision", &self.revision),
            ("created", &self.created),
            ("source", SOURCE_URL),
            ("url", SOURCE_URL),
            ("licenses", LICENSE),
        ]
        .into_iter()
        .map(|(k, v)| (format!("org.opencontainers.image.{k}"), v.to_string()))
        .collect()
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn rfc3339(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| format!("@{epoch}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_is_the_commit_time_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn labels_carry_version_commit_time_and_source() {
        let release = ReleaseVersion::parse("v1.2.3").unwrap();
        let meta = ImageMetadata::new(&release, "abc123", 1_700_000_000);
        let labels = meta.labels();
        let get = |k: &str| {
            labels
                .iter()
                .find(|(key, _)| key == &format!("org.opencontainers.image.{k}"))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("version"), Some("1.2.3"));
        assert_eq!(get("revision"), Some("abc123"));
        assert_eq!(get("created"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(get("source"), Some(SOURCE_URL));
        assert_eq!(labels.len(), 8);
    }
}
