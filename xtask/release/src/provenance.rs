//! The release's own build provenance (off GitHub, where no attestation service signs it): an
//! in-toto Statement v1 with an SLSA Provenance v1 predicate, in a DSSE envelope signed with
//! the release's key. cosign 2.x `attest --type slsaprovenance1` wraps the predicate in a
//! Statement v0.1, which in-toto's reference validator refuses for a v1 predicate, and cosign
//! has no way to attest a statement of the caller's own on an image; so the statement is
//! written here, its DSSE pre-authentication encoding signed with `cosign sign-blob`, and the
//! envelope attached with `cosign attach attestation`, where `cosign verify-attestation`
//! finds and checks it like any other. Pure.

use base64::Engine;
use serde_json::{json, Value};

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// When this run built the image; a re-run that builds nothing knows no such times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildTimes {
    pub started: jiff::Timestamp,
    pub finished: jiff::Timestamp,
}

/// The statement about `subject` (a repository) at `digest` (`sha256:<hex>`), with the
/// predicate's run metadata set to this build's own times.
pub fn statement(
    subject: &str,
    digest: &str,
    predicate: &Value,
    times: Option<&BuildTimes>,
) -> Value {
    let mut predicate = predicate.clone();
    if let Some(t) = times {
        predicate["runDetails"]["metadata"] = json!({
            "startedOn": t.started.to_string(),
            "finishedOn": t.finished.to_string(),
        });
    }
    json!({
        "_type": STATEMENT_V1,
        "subject": [{
            "name": subject,
            "digest": {"sha256": digest.trim_start_matches("sha256:")},
        }],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": predicate,
    })
}

/// DSSE's pre-authentication encoding of `payload`: what the signature covers.
pub fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The envelope of `payload` with one signature (`sig`, base64, as `cosign sign-blob` prints
/// it).
pub fn envelope(payload: &[u8], sig: &str) -> Value {
    json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": base64::engine::general_purpose::STANDARD.encode(payload),
        "signatures": [{"keyid": "", "sig": sig.trim()}],
    })
}

/// A digest-pinned base image as a resolved dependency, or `None` for a reference without a
/// digest (nothing to pin it by). `served_by` is a `--build-context` that substituted it (the
/// local environment serves its stand-ins so), which is then what was really used.
pub fn base_image(from: &str, served_by: Option<&str>) -> Option<Value> {
    let (name, digest) = from.split_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    let uri = docker_purl(name);
    Some(match served_by {
        None => json!({"name": from, "uri": uri, "digest": {"sha256": hex}}),
        Some(source) => json!({
            "name": from,
            "uri": source,
            "annotations": {"substitutes": uri, "substitutesDigest": digest},
        }),
    })
}

/// `pkg:docker/<name>@<tag>`, Docker Hub's `docker.io/library/` left out as purls do.
fn docker_purl(name: &str) -> String {
    let name = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    match name.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
        Some((repo, tag)) => format!("pkg:docker/{repo}@{tag}"),
        None => format!("pkg:docker/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_is_v1_about_the_index_with_this_builds_times() {
        let predicate =
            json!({"buildDefinition": {}, "runDetails": {"builder": {"id": "https://x"}}});
        let times = BuildTimes {
            started: "2026-12-06T10:00:00Z".parse().unwrap(),
            finished: "2026-12-06T10:03:30Z".parse().unwrap(),
        };
        let s = statement("ghcr.io/a/b", "sha256:ab12", &predicate, Some(&times));
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(s["subject"][0]["digest"]["sha256"], "ab12");
        let meta = &s["predicate"]["runDetails"]["metadata"];
        assert_eq!(meta["startedOn"], "2026-12-06T10:00:00Z");
        assert_eq!(meta["finishedOn"], "2026-12-06T10:03:30Z");
        assert_eq!(s["predicate"]["runDetails"]["builder"]["id"], "https://x");
        let rerun = statement("ghcr.io/a/b", "sha256:ab12", &predicate, None);
        assert!(rerun["predicate"]["runDetails"].get("metadata").is_none());
    }

    #[test]
    fn the_pre_authentication_encoding_is_dsse_v1() {
        assert_eq!(
            pae(b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
        let e = envelope(b"{}", "c2ln\n");
        assert_eq!(e["payload"], "e30=");
        assert_eq!(e["signatures"][0]["sig"], "c2ln");
    }

    #[test]
    fn a_pinned_base_image_is_a_dependency_and_a_substituted_one_says_what_served_it() {
        let from = "docker.io/library/rust:1.95.0-slim-bookworm@sha256:d748";
        assert_eq!(
            base_image(from, None).unwrap(),
            json!({"name": from, "uri": "pkg:docker/rust@1.95.0-slim-bookworm",
                   "digest": {"sha256": "d748"}})
        );
        let gcr = "gcr.io/distroless/static-debian12:nonroot@sha256:d093";
        assert_eq!(
            base_image(gcr, None).unwrap()["uri"],
            "pkg:docker/gcr.io/distroless/static-debian12@nonroot"
        );
        let local = base_image(from, Some("docker-image://127.0.0.1:5000/base/rust:1")).unwrap();
        assert_eq!(local["uri"], "docker-image://127.0.0.1:5000/base/rust:1");
        assert_eq!(
            local["annotations"]["substitutes"],
            "pkg:docker/rust@1.95.0-slim-bookworm"
        );
        assert!(local.get("digest").is_none());
        assert!(base_image("docker.io/library/rust:1", None).is_none());
    }
}
