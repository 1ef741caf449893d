//! Artifact Hub's rules, ported from its own source, to check what a registry serves the way
//! Artifact Hub's tracker reads it: the image index (and, without metadata there, the platform
//! image), the chart pulled back from its OCI repository, and the `artifacthub.io` tag of each
//! repository. It is a port of their code, not a restatement of what our release writes: each
//! rule cites the file and function it comes from, and says what Artifact Hub then does, in
//! its own words where the source has an error message.
//!
//! Read at these commits (the versions `artifacthub/hub`'s go.mod pins, where it pins them):
//! - `artifacthub/hub` 0d8b1c0b9f6b660a815e5481059ce900cd245588 (2026-05-12):
//!   `internal/tracker/source/container/container.go`, `internal/tracker/source/helm/helm.go`,
//!   `internal/tracker/source/helpers.go`, `internal/pkg/metadata.go`, `internal/pkg/manager.go`,
//!   `internal/repo/manager.go`, `internal/tracker/tracker.go`, `internal/tracker/helpers.go`,
//!   `internal/oci/oci.go`, `internal/hub/{pkg,repo}.go`;
//! - `google/go-containerregistry` v0.21.2: `pkg/name` (`ParseReference`);
//! - `Masterminds/semver` v3.4.0: `version.go` (`NewVersion`);
//! - `helm/helm` v3.20.0: `pkg/chart/{chart,metadata,dependency}.go` (`Chart.Validate`);
//! - `satori/go.uuid` v1.2.0: `codec.go` (`FromString`).
//!
//! Not ported, because they need the network or Artifact Hub's own state: fetching the readme
//! and logo URLs (only their form is checked), the cosign signature lookup, the container
//! repository's tag list (set by hand in Artifact Hub's control panel), the verified-publisher
//! match of `repositoryID` and the ownership claim's email match. Go's YAML 1.1 resolution of
//! unquoted Chart.yaml annotation values (`yes`) is left to Helm itself, which loads the chart.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;
use serde_json::Value;

/// What Artifact Hub does with an artefact that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The version is not listed (its preparation or registration returns an error).
    Refused,
    /// Listed, and the repository's page shows a tracking error.
    Warned,
    /// Listed, and the value is silently dropped or replaced.
    Ignored,
    /// Listed as something it is not (the value Artifact Hub derives disagrees with the
    /// version).
    Misleads,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The Artifact Hub source file and function the rule comes from.
    pub source: &'static str,
    pub effect: Effect,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({}): {}", self.effect, self.source, self.message)
    }
}

/// What Artifact Hub would list for a version, as far as these rules derive it.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    pub name: String,
    pub version: String,
    pub prerelease: bool,
    pub license: String,
    /// `(name, email)`, after Artifact Hub dropped those without an email.
    pub maintainers: Vec<(String, String)>,
    /// `os/arch` of each image of the index.
    pub platforms: Vec<String>,
    /// The chart's `artifacthub.io/images`: `(name, image, platforms)`.
    pub images: Vec<(String, String, Vec<String>)>,
    pub links: Vec<(String, String)>,
    pub changes: usize,
    pub contains_security_updates: bool,
}

#[derive(Default)]
struct Found(Vec<Violation>);

impl Found {
    fn add(&mut self, source: &'static str, effect: Effect, message: impl Into<String>) {
        self.0.push(Violation {
            source,
            effect,
            message: message.into(),
        });
    }
}

// --- Media types and keys, as Artifact Hub and go-containerregistry spell them --------------

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `internal/repo/manager.go`: `MetadataLayerMediaType`.
pub const METADATA_LAYER: &str =
    "application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml";
/// `internal/repo/manager.go`: `artifacthubTag`.
pub const METADATA_TAG: &str = "artifacthub.io";
/// `internal/tracker/source/helm/helm.go`: `ChartContentLayerMediaType`, the legacy one, and
/// `ChartProvenanceLayerMediaType`.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const LEGACY_CHART_LAYER: &str = "application/tar+gzip";
pub const PROVENANCE_LAYER: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

const CREATED: &str = "org.opencontainers.image.created";
const DESCRIPTION: &str = "org.opencontainers.image.description";
const README_URL: &str = "io.artifacthub.package.readme-url";

/// Fetches a manifest by digest: `(Content-Type, bytes)`.
pub type FetchManifest<'a> = &'a dyn Fn(&str) -> Option<(String, Vec<u8>)>;
/// Fetches a blob by digest.
pub type FetchBlob<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

// --- Container images: internal/tracker/source/container/container.go -----------------------

/// The image `repository:tag` as the registry serves it: `content_type` and `manifest` are the
/// answer to `GET /v2/<repository>/manifests/<tag>`.
pub struct ServedImage<'a> {
    /// `registry/path/name`, without `oci://`.
    pub repository: &'a str,
    pub tag: &'a str,
    pub content_type: &'a str,
    pub manifest: &'a [u8],
}

/// `container.go`: `requiredMetadata`.
const REQUIRED_IMAGE_METADATA: [&str; 3] = [CREATED, DESCRIPTION, README_URL];

/// `container.go`: `containsSomeMetadata`.
fn contains_some_metadata(m: &BTreeMap<String, String>) -> bool {
    REQUIRED_IMAGE_METADATA.iter().any(|k| m.contains_key(*k))
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `container.go`: `getMetadata` with `getMetadataFromIndex`, `getSupportedPlatforms` and
/// `getMetadataFromImage`. Returns the metadata map and the index's platforms.
fn image_metadata(
    served: &ServedImage,
    fetch_manifest: FetchManifest,
    fetch_blob: FetchBlob,
    found: &mut Found,
) -> Option<(BTreeMap<String, String>, Vec<String>)> {
    const SRC: &str = "container.go getMetadata";
    let doc: Value = match serde_json::from_slice(served.manifest) {
        Ok(v) => v,
        Err(e) => {
            found.add(SRC, Effect::Refused, format!("error getting metadata: {e}"));
            return None;
        }
    };
    // `desc.ImageIndex()` works only when the registry serves an index media type (the
    // descriptor's type is the response's Content-Type).
    let is_index = served.content_type == OCI_INDEX || served.content_type == DOCKER_LIST;
    let mut platforms = Vec::new();
    let mut children: Vec<(String, String, String)> = Vec::new(); // (os, arch, digest)
    let mut md = None;
    if is_index {
        // getSupportedPlatforms: children with a platform whose architecture is not
        // "unknown" (attestation manifests are skipped). (getMetadata then joins them onto
        // a slice made with their length, so the listing's platforms start with as many
        // empty strings; that is Artifact Hub's to fix, and left out here.)
        for m in doc["manifests"].as_array().into_iter().flatten() {
            let p = &m["platform"];
            if p.is_object() && p["architecture"] != "unknown" {
                let os = p["os"].as_str().unwrap_or_default().to_string();
                let arch = p["architecture"].as_str().unwrap_or_default().to_string();
                platforms.push(format!("{os}/{arch}"));
                children.push((
                    os,
                    arch,
                    m["digest"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        // getMetadataFromIndex: only an index whose own `mediaType` field says it is an OCI
        // index, and only when it carries one of the required keys; then the index alone.
        let annotations = string_map(&doc["annotations"]);
        if doc["mediaType"] == OCI_INDEX && contains_some_metadata(&annotations) {
            md = Some(annotations);
        }
    }
    let md = match md {
        Some(md) => md,
        None => {
            // The platform image. getMetadata means linux/amd64 (`defaultPlatform`) unless
            // the index lacks it, but tests that with `slices.Contains` on pointers, which
            // never finds `&defaultPlatform`: so it is always the index's first supported
            // platform, and linux/amd64 only when the index lists none.
            let manifest = if is_index {
                let Some((_, _, digest)) = children.first() else {
                    found.add(
                        SRC,
                        Effect::Refused,
                        "error getting metadata: no child with platform linux/amd64 in index",
                    );
                    return None;
                };
                match fetch_manifest(digest) {
                    Some((_, m)) => m,
                    None => {
                        found.add(
                            SRC,
                            Effect::Refused,
                            format!("error getting metadata: {digest} not found"),
                        );
                        return None;
                    }
                }
            } else {
                served.manifest.to_vec()
            };
            let manifest: Value = serde_json::from_slice(&manifest).unwrap_or(Value::Null);
            let media_type = manifest["mediaType"].as_str().unwrap_or_default();
            let labels = || {
                let config = manifest["config"]["digest"]
                    .as_str()
                    .and_then(fetch_blob)
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .unwrap_or(Value::Null);
                string_map(&config["config"]["Labels"])
            };
            // getMetadataFromImage switches on the manifest's own `mediaType` field.
            if media_type == OCI_MANIFEST || media_type.is_empty() {
                let annotations = string_map(&manifest["annotations"]);
                if contains_some_metadata(&annotations) {
                    annotations
                } else {
                    labels()
                }
            } else if media_type == DOCKER_MANIFEST {
                labels()
            } else {
                found.add(
                    "container.go getMetadataFromImage",
                    Effect::Refused,
                    "error getting metadata: image media type not supported",
                );
                return None;
            }
        }
    };
    Some((md, platforms))
}

/// `container.go`: `PreparePackage` (and `pkg/manager.go`: `Register` for what it keeps).
pub fn check_image(
    served: &ServedImage,
    fetch_manifest: FetchManifest,
    fetch_blob: FetchBlob,
) -> (Listing, Vec<Violation>) {
    const SRC: &str = "container.go PreparePackage";
    let mut found = Found::default();
    let mut listing = Listing {
        name: base_name(served.repository),
        version: served.tag.to_string(),
        ..Listing::default()
    };
    let Some((md, platforms)) = image_metadata(served, fetch_manifest, fetch_blob, &mut found)
    else {
        return (listing, found.0);
    };
    listing.platforms = platforms;
    for key in REQUIRED_IMAGE_METADATA {
        if !md.contains_key(key) {
            found.add(
                SRC,
                Effect::Refused,
                format!("required metadata field not provided: {key}"),
            );
        }
    }
    if let Some(v) = md.get(CREATED) {
        if let Err(e) = parse_rfc3339(v) {
            found.add(SRC, Effect::Refused, e);
        }
    }
    // The readme is fetched with Go's HTTP client: the URL must parse and be http(s). (The
    // fetch itself, which must answer 200, is not made here.)
    if let Some(v) = md.get(README_URL) {
        if let Err(e) = fetchable_url(v) {
            found.add(
                SRC,
                Effect::Refused,
                format!("error getting readme file content: {e}"),
            );
        }
    }
    if let Some(v) = md.get("io.artifacthub.package.category") {
        if let Err(e) = package_category(v) {
            found.add(SRC, Effect::Refused, e);
        }
    }
    if let Some(v) = md.get("io.artifacthub.package.logo-url") {
        if let Err(e) = fetchable_url(v) {
            found.add(
                SRC,
                Effect::Refused,
                format!("error downloading logo image: {e}"),
            );
        }
    }
    listing.license = md
        .get("io.artifacthub.package.license")
        .cloned()
        .unwrap_or_default();
    if let Some(v) = md.get("io.artifacthub.package.maintainers") {
        match json_maintainers(v) {
            Ok(maintainers) => {
                listing.maintainers = registered_maintainers(maintainers, &mut found)
            }
            Err(()) => found.add(
                SRC,
                Effect::Refused,
                "invalid annotation: invalid maintainers value",
            ),
        }
    }
    for (key, name, flag) in [
        (
            "io.artifacthub.package.contains-security-updates",
            "containsSecurityUpdates",
            &mut listing.contains_security_updates,
        ),
        (
            "io.artifacthub.package.prerelease",
            "prerelease",
            &mut listing.prerelease,
        ),
        (
            "io.artifacthub.package.deprecated",
            "deprecated",
            &mut false,
        ),
    ] {
        if let Some(v) = md.get(key) {
            match parse_bool(v) {
                Some(b) => *flag = b,
                None => found.add(
                    SRC,
                    Effect::Refused,
                    format!("invalid annotation: invalid {name} value"),
                ),
            }
        }
    }
    for (key, name) in [
        ("org.opencontainers.image.documentation", "documentation"),
        ("org.opencontainers.image.source", "source"),
    ] {
        if let Some(v) = md.get(key) {
            listing.links.push((name.to_string(), v.clone()));
        }
    }
    if listing.name.is_empty() {
        found.add(
            "pkg/manager.go Register",
            Effect::Refused,
            "invalid input: name not provided",
        );
    }
    prerelease_agrees(
        &listing,
        &mut found,
        "io.artifacthub.package.prerelease",
        SRC,
    );
    (listing, found.0)
}

/// The listing's pre-release flag comes only from the annotation (`container.go`
/// `PreparePackage`, `helm.go` `EnrichPackageFromAnnotations`), never from the version: a
/// semver pre-release without it is listed, and announced to subscribers, as stable.
/// (A version Artifact Hub refuses is not listed at all, so it is not checked.)
fn prerelease_agrees(listing: &Listing, found: &mut Found, key: &str, src: &'static str) {
    if found.0.iter().any(|v| v.effect == Effect::Refused) {
        return;
    }
    let semver_pre = semver_prerelease(&listing.version);
    if semver_pre && !listing.prerelease {
        found.add(
            src,
            Effect::Misleads,
            format!(
                "{} {} is a semver pre-release, but without {key} \"true\" Artifact Hub lists it as stable",
                listing.name, listing.version
            ),
        );
    } else if !semver_pre && listing.prerelease && semver(&listing.version).is_ok() {
        found.add(
            src,
            Effect::Misleads,
            format!(
                "{} {} is a release, but {key} \"true\" makes Artifact Hub list it as a pre-release",
                listing.name, listing.version
            ),
        );
    }
}

/// Go's `encoding/json` into `[]*hub.Maintainer`: an array (or null) of objects (or null),
/// keys matched case-insensitively, each known field a string or null.
fn json_maintainers(v: &str) -> Result<Vec<Option<(String, String)>>, ()> {
    let value: Value = serde_json::from_str(v).map_err(|_| ())?;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(()),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Null => Ok(None),
            Value::Object(o) => {
                let mut name = String::new();
                let mut email = String::new();
                for (k, v) in o {
                    let slot = match k.to_lowercase().as_str() {
                        "name" => &mut name,
                        "email" => &mut email,
                        "maintainer_id" => &mut String::new(),
                        _ => continue,
                    };
                    match v {
                        Value::String(s) => *slot = s,
                        Value::Null => {}
                        _ => return Err(()),
                    }
                }
                Ok(Some((name, email)))
            }
            _ => Err(()),
        })
        .collect()
}

/// `pkg/manager.go` `Register`: a maintainer without an email is dropped, one without a name
/// is shown under its email. (A null entry makes `Register` dereference nil.)
fn registered_maintainers(
    maintainers: Vec<Option<(String, String)>>,
    found: &mut Found,
) -> Vec<(String, String)> {
    const SRC: &str = "pkg/manager.go Register";
    let mut kept = Vec::new();
    for (i, m) in maintainers.into_iter().enumerate() {
        let n = i + 1;
        let Some((name, email)) = m else {
            found.add(
                SRC,
                Effect::Refused,
                format!("maintainer {n} is null: Register dereferences it and the tracker recovers from the panic"),
            );
            continue;
        };
        if email.is_empty() {
            found.add(
                SRC,
                Effect::Ignored,
                format!("maintainer {n} ({name}) has no email: Register drops it"),
            );
            continue;
        }
        if name.is_empty() {
            found.add(
                SRC,
                Effect::Ignored,
                format!("maintainer {n} ({email}) has no name: Register shows its email instead"),
            );
            kept.push((email.clone(), email));
            continue;
        }
        kept.push((name, email));
    }
    kept
}

// --- Helm charts in OCI repositories: internal/tracker/source/helm/helm.go ------------------

/// The chart `repository:tag` as the registry serves it.
pub struct ServedChart<'a> {
    /// `registry/path/name`, without `oci://`; its last element is the chart's name.
    pub repository: &'a str,
    pub tag: &'a str,
    pub manifest: &'a [u8],
}

/// `helm.go`: `getCharts` (OCI), `preparePackage`, `LoadChartArchive`, `chartHasProvenanceFile`,
/// `EnrichPackageFromChart` and `EnrichPackageFromAnnotations`; `pkg/manager.go` `Register`.
pub fn check_chart(
    served: &ServedChart,
    fetch_manifest: FetchManifest,
    fetch_blob: FetchBlob,
) -> (Listing, Vec<Violation>) {
    let mut found = Found::default();
    let mut listing = Listing {
        name: base_name(served.repository),
        ..Listing::default()
    };
    // getCharts: the OCI tag list, `_` read back as `+`, only semver tags kept
    // (`oci.TagsGetter.Tags` with onlySemver and restorePlusSign).
    let version = served.tag.replacen('_', "+", 1);
    let sv = match semver(&version) {
        Ok(sv) => sv,
        Err(e) => {
            found.add(
                "oci/oci.go TagsGetter.Tags",
                Effect::Ignored,
                format!(
                    "tag {} is not semver ({e}): Artifact Hub never lists it",
                    served.tag
                ),
            );
            return (listing, found.0);
        }
    };
    listing.version = sv;
    const SRC: &str = "helm.go preparePackage";
    let url = format!("oci://{}:{}", served.repository, served.tag);
    // LoadChartArchive: the first layer of the chart media type (the legacy one otherwise),
    // found walking the artefact's graph (`oci.Puller.PullLayer`).
    let layer =
        pull_layer(served.manifest, CHART_LAYER, fetch_manifest, fetch_blob).or_else(|| {
            pull_layer(
                served.manifest,
                LEGACY_CHART_LAYER,
                fetch_manifest,
                fetch_blob,
            )
        });
    let Some(archive) = layer else {
        found.add(
            SRC,
            Effect::Refused,
            format!("error loading chart ({url}): layer not found"),
        );
        return (listing, found.0);
    };
    let chart_yaml = match chart_yaml(&archive) {
        Ok(text) => text,
        Err(e) => {
            found.add(
                SRC,
                Effect::Refused,
                format!("error loading chart ({url}): {e}"),
            );
            return (listing, found.0);
        }
    };
    let md: ChartMetadata = match serde_saphyr::from_str(&chart_yaml) {
        Ok(md) => md,
        Err(e) => {
            found.add(
                SRC,
                Effect::Refused,
                format!(
                    "error loading chart ({url}): {}",
                    first_line(&e.to_string())
                ),
            );
            return (listing, found.0);
        }
    };
    if let Err(e) = validate_chart(&md) {
        found.add(SRC, Effect::Refused, format!("invalid metadata: {e}"));
        return (listing, found.0);
    }
    // chartHasProvenanceFile: a provenance layer must hold a PGP signature.
    if let Some(prov) = pull_layer(
        served.manifest,
        PROVENANCE_LAYER,
        fetch_manifest,
        fetch_blob,
    ) {
        if !String::from_utf8_lossy(&prov).contains("PGP SIGNATURE") {
            found.add(
                "helm.go chartHasProvenanceFile",
                Effect::Warned,
                format!(
                    "error checking provenance file: invalid provenance file (package: {} version: {})",
                    md.name, md.version
                ),
            );
        }
    }
    // EnrichPackageFromChart: Chart.yaml's maintainers without an email are dropped.
    let mut maintainers: Vec<Option<(String, String)>> = Vec::new();
    for (i, m) in md.maintainers.iter().enumerate() {
        if m.email.is_empty() {
            found.add(
                "helm.go EnrichPackageFromChart",
                Effect::Ignored,
                format!(
                    "Chart.yaml maintainer {} ({}) has no email: it is not listed",
                    i + 1,
                    m.name
                ),
            );
        } else {
            maintainers.push(Some((m.name.clone(), m.email.clone())));
        }
    }
    for s in &md.sources {
        listing.links.push(("source".into(), s.clone()));
    }
    let annotations: BTreeMap<String, String> = md
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    if let Err(e) = enrich_from_annotations(&annotations, &mut listing, &mut maintainers) {
        for message in e {
            found.add(
                SRC,
                Effect::Refused,
                format!("error enriching package from annotations: {message}"),
            );
        }
    }
    listing.maintainers = registered_maintainers(maintainers, &mut found);
    if let Some(alt) = annotations.get("artifacthub.io/alternativeName") {
        if !alt.is_empty() && !listing.name.contains(alt.as_str()) && !alt.contains(&listing.name) {
            found.add(
                "pkg/manager.go Register",
                Effect::Refused,
                "invalid input: invalid alternative name (must be a subset or superset of the name)",
            );
        }
    }
    prerelease_agrees(
        &listing,
        &mut found,
        "artifacthub.io/prerelease",
        "helm.go EnrichPackageFromAnnotations",
    );
    (listing, found.0)
}

/// `oci.go` `findLayerInDescriptor`: the first layer of `media_type`, looking through an
/// index's children.
fn pull_layer(
    manifest: &[u8],
    media_type: &str,
    fetch_manifest: FetchManifest,
    fetch_blob: FetchBlob,
) -> Option<Vec<u8>> {
    let doc: Value = serde_json::from_slice(manifest).ok()?;
    if let Some(children) = doc["manifests"].as_array().filter(|c| !c.is_empty()) {
        return children.iter().find_map(|child| {
            let (_, bytes) = fetch_manifest(child["digest"].as_str()?)?;
            pull_layer(&bytes, media_type, fetch_manifest, fetch_blob)
        });
    }
    let layer = doc["layers"]
        .as_array()?
        .iter()
        .find(|l| l["mediaType"] == media_type)?;
    fetch_blob(layer["digest"].as_str()?)
}

/// `Chart.yaml` of a chart archive, as Helm's loader finds it (the file at the top directory).
fn chart_yaml(archive: &[u8]) -> Result<String, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "Chart.yaml" {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| e.to_string())?;
            return Ok(text);
        }
    }
    // helm's loader: `chart.metadata is required` when no Chart.yaml was loaded.
    Err("validation: chart.metadata is required".into())
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ChartMetadata {
    #[serde(deserialize_with = "go_string")]
    api_version: String,
    #[serde(deserialize_with = "go_string")]
    name: String,
    #[serde(deserialize_with = "go_string")]
    version: String,
    #[serde(rename = "type", deserialize_with = "go_string")]
    kind: String,
    sources: Vec<String>,
    maintainers: Vec<ChartMaintainer>,
    dependencies: Vec<Option<ChartDependency>>,
    annotations: BTreeMap<String, StrictString>,
}

/// Helm reads Chart.yaml's annotations into `map[string]string` through JSON: a value that is
/// not a string (a bare `true` or `5`) fails to load the chart.
#[derive(Clone)]
struct StrictString(String);

impl<'de> Deserialize<'de> for StrictString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StrictString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string (json: cannot unmarshal into Go struct field Metadata.annotations of type string)")
            }
            fn visit_str<E>(self, v: &str) -> Result<StrictString, E> {
                Ok(StrictString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChartMaintainer {
    #[serde(deserialize_with = "go_string")]
    name: String,
    #[serde(deserialize_with = "go_string")]
    email: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChartDependency {
    #[serde(deserialize_with = "go_string")]
    name: String,
    #[serde(deserialize_with = "go_string")]
    alias: String,
}

/// Helm v3.20.0 `pkg/chart`: `Chart.Validate` → `Metadata.Validate` and
/// `Dependency.Validate`, in their order (`ValidationError` prefixes "validation: ").
fn validate_chart(md: &ChartMetadata) -> Result<(), String> {
    let err = |m: String| Err(format!("validation: {m}"));
    if md.api_version.is_empty() {
        return err("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return err("chart.metadata.name is required".into());
    }
    if md.name.contains('/') || md.name == "." || md.name == ".." {
        return err(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return err("chart.metadata.version is required".into());
    }
    if semver(&md.version).is_err() {
        return err(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !["", "application", "library"].contains(&md.kind.as_str()) {
        return err("chart.metadata.type must be application or library".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for d in &md.dependencies {
        let Some(d) = d else {
            return err("dependencies must not contain empty or null nodes".into());
        };
        let alias_ok = d
            .alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !d.alias.is_empty() && !alias_ok {
            return err(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !names.insert(key.clone()) {
            return err(format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

/// `helm.go` `EnrichPackageFromAnnotations`: each annotation it knows, decoded as it decodes
/// it (yaml.v3 for the structured ones, yaml.v2 for changes, `strconv.ParseBool` for flags).
/// Returns every error, as its multierror collects them.
fn enrich_from_annotations(
    a: &BTreeMap<String, String>,
    listing: &mut Listing,
    maintainers: &mut Vec<Option<(String, String)>>,
) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let invalid = |what: &str| format!("invalid annotation: invalid {what} value");
    if let Some(v) = a.get("artifacthub.io/category") {
        if let Err(e) = package_category(v) {
            errs.push(e);
        }
    }
    if let Some(v) = a.get("artifacthub.io/changes") {
        match parse_changes(v) {
            Ok(n) => listing.changes = n,
            Err(e) => errs.push(e),
        }
    }
    for (key, what) in [
        ("artifacthub.io/crds", "crds"),
        ("artifacthub.io/crdsExamples", "crdsExamples"),
    ] {
        if let Some(v) = a.get(key) {
            if go_yaml::<Option<Vec<serde::de::IgnoredAny>>>(v).is_err() {
                errs.push(invalid(what));
            }
        }
    }
    if let Some(v) = a.get("artifacthub.io/images") {
        match go_yaml::<Option<Vec<Option<ContainerImage>>>>(v) {
            Err(_) => errs.push(invalid("images")),
            Ok(images) => {
                // pkg/metadata.go ValidateContainersImages (kind Helm: the common check only).
                let mut ok = true;
                for image in images.iter().flatten() {
                    match image {
                        None => {
                            ok = false;
                            errs.push("invalid annotation: null image entry (ValidateContainersImages dereferences it)".into());
                        }
                        Some(i) => {
                            if let Err(e) = parse_reference(&i.image) {
                                ok = false;
                                errs.push(format!(
                                    "invalid annotation: invalid image reference: {e}"
                                ));
                            }
                        }
                    }
                }
                if ok {
                    listing.images = images
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|i| (i.name, i.image, i.platforms))
                        .collect();
                }
            }
        }
    }
    if let Some(v) = a.get("artifacthub.io/license") {
        if !v.is_empty() {
            listing.license = v.clone();
        }
    }
    if let Some(v) = a.get("artifacthub.io/links") {
        match go_yaml::<Option<Vec<Option<Link>>>>(v) {
            Err(_) => errs.push(invalid("links")),
            Ok(links) => {
                for link in links.into_iter().flatten().flatten() {
                    match listing.links.iter_mut().find(|(_, url)| *url == link.url) {
                        Some(existing) => existing.0 = link.name,
                        None => listing.links.push((link.name, link.url)),
                    }
                }
            }
        }
    }
    if let Some(v) = a.get("artifacthub.io/maintainers") {
        match go_yaml::<Option<Vec<Option<ChartMaintainer>>>>(v) {
            Err(_) => errs.push(invalid("maintainers")),
            Ok(list) => {
                for m in list.into_iter().flatten().flatten() {
                    match maintainers
                        .iter_mut()
                        .flatten()
                        .find(|(_, email)| *email == m.email)
                    {
                        Some(existing) => existing.0 = m.name,
                        None => maintainers.push(Some((m.name, m.email))),
                    }
                }
            }
        }
    }
    let mut ignored = false;
    for (key, what, flag) in [
        ("artifacthub.io/operator", "operator", &mut ignored),
        (
            "artifacthub.io/prerelease",
            "prerelease",
            &mut listing.prerelease,
        ),
        (
            "artifacthub.io/containsSecurityUpdates",
            "containsSecurityUpdates",
            &mut listing.contains_security_updates,
        ),
    ] {
        if let Some(v) = a.get(key) {
            match parse_bool(v) {
                Some(b) => *flag = b,
                None => errs.push(invalid(what)),
            }
        }
    }
    if let Some(v) = a.get("artifacthub.io/operatorCapabilities") {
        let valid = [
            "basic install",
            "seamless upgrades",
            "full lifecycle",
            "deep insights",
            "auto pilot",
        ];
        if !valid.contains(&v.to_lowercase().as_str()) {
            errs.push("invalid annotation: invalid operator capabilities value".into());
        }
    }
    if let Some(v) = a.get("artifacthub.io/recommendations") {
        if go_yaml::<Option<Vec<Option<Recommendation>>>>(v).is_err() {
            errs.push(invalid("recommendations"));
        }
    }
    if let Some(v) = a.get("artifacthub.io/screenshots") {
        if go_yaml::<Option<Vec<Option<Screenshot>>>>(v).is_err() {
            errs.push(invalid("screenshots"));
        }
    }
    if let Some(v) = a.get("artifacthub.io/signKey") {
        match go_yaml::<Option<SignKey>>(v) {
            Err(_) => errs.push("invalid annotation: invalid sign key value".into()),
            Ok(None) => errs.push(
                "invalid annotation: empty sign key (EnrichPackageFromAnnotations dereferences it)"
                    .into(),
            ),
            Ok(Some(k)) if k.url.is_empty() => {
                errs.push("invalid annotation: sign key url not provided".into())
            }
            Ok(Some(_)) => {}
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ContainerImage {
    #[serde(deserialize_with = "go_string")]
    name: String,
    #[serde(deserialize_with = "go_string")]
    image: String,
    #[allow(dead_code)]
    whitelisted: bool,
    platforms: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Link {
    #[serde(deserialize_with = "go_string")]
    name: String,
    #[serde(deserialize_with = "go_string")]
    url: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Recommendation {
    #[allow(dead_code)]
    #[serde(deserialize_with = "go_string")]
    url: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Screenshot {
    #[allow(dead_code)]
    #[serde(deserialize_with = "go_string")]
    title: String,
    #[allow(dead_code)]
    #[serde(deserialize_with = "go_string")]
    url: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignKey {
    #[allow(dead_code)]
    #[serde(deserialize_with = "go_string")]
    fingerprint: String,
    #[serde(deserialize_with = "go_string")]
    url: String,
}

/// `hub.Change` read by yaml.v2, whose default key is the lowercased field name.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Change {
    #[serde(deserialize_with = "go_string")]
    kind: String,
    #[serde(deserialize_with = "go_string")]
    description: String,
    links: Vec<Option<Link>>,
}

/// `tracker/source/helpers.go` `ParseChangesAnnotation` with `pkg/metadata.go`
/// `ValidateChange`: a list of changes, or else a list of descriptions; each change of a
/// known kind (case-insensitive) with a description, each of its links with name and url.
fn parse_changes(v: &str) -> Result<usize, String> {
    let changes: Vec<Option<Change>> = match go_yaml::<Option<Vec<Option<Change>>>>(v) {
        Ok(c) => c.unwrap_or_default(),
        Err(_) => match go_yaml::<Option<Vec<Option<GoString>>>>(v) {
            Ok(d) => d
                .unwrap_or_default()
                .into_iter()
                .map(|d| {
                    Some(Change {
                        description: d.map(|d| d.0).unwrap_or_default(),
                        ..Change::default()
                    })
                })
                .collect(),
            Err(_) => {
                return Err("invalid changes annotation. Please use quotes on strings that include any of the following characters: {}:[],&*#?|-<>=!%@".into())
            }
        },
    };
    const KINDS: [&str; 6] = [
        "added",
        "changed",
        "deprecated",
        "removed",
        "fixed",
        "security",
    ];
    for change in &changes {
        let Some(change) = change else {
            return Err("invalid change entry".into());
        };
        let mut errs = Vec::new();
        if !change.kind.is_empty() && !KINDS.contains(&change.kind.to_lowercase().as_str()) {
            errs.push(format!("invalid change: invalid kind: {}", change.kind));
        }
        if change.description.is_empty() {
            errs.push("invalid change: description not provided".to_string());
        }
        for link in change.links.iter().flatten() {
            if link.name.is_empty() {
                errs.push("invalid change: link name not provided".into());
            }
            if link.url.is_empty() {
                errs.push("invalid change: link url not provided".into());
            }
        }
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
    }
    Ok(changes.len())
}

// --- Repository metadata: internal/repo/manager.go and internal/tracker -----------------------

/// `hub.RepositoryMetadata`, read by yaml.v2 (unknown keys ignored).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct RepositoryMetadata {
    #[serde(rename = "repositoryID", deserialize_with = "go_string")]
    pub repository_id: String,
    pub owners: Vec<Option<Owner>>,
    pub ignore: Vec<Option<IgnoreEntry>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct Owner {
    #[serde(deserialize_with = "go_string")]
    pub name: String,
    #[serde(deserialize_with = "go_string")]
    pub email: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct IgnoreEntry {
    #[serde(deserialize_with = "go_string")]
    pub name: String,
    #[serde(deserialize_with = "go_string")]
    pub version: String,
}

/// `repo/manager.go` `GetMetadata` for an OCI repository: `manifest` is what the registry
/// serves at `<repository>:artifacthub.io` (`None` when the tag is absent), and `package` the
/// `(name, version)` this repository publishes, checked against the ignore list
/// (`tracker/helpers.go` `shouldIgnorePackage`).
pub fn check_repository_metadata(
    manifest: Option<&[u8]>,
    fetch_manifest: FetchManifest,
    fetch_blob: FetchBlob,
    package: (&str, &str),
) -> (Option<RepositoryMetadata>, Vec<Violation>) {
    const SRC: &str = "repo/manager.go GetMetadata";
    let mut found = Found::default();
    // PullLayer of MetadataLayerMediaType; ErrArtifactNotFound and ErrLayerNotFound become
    // ErrMetadataNotFound, which the tracker ignores silently (no verified publisher, no
    // ownership claim, no ignore list).
    let data = manifest.and_then(|m| pull_layer(m, METADATA_LAYER, fetch_manifest, fetch_blob));
    let Some(data) = data else {
        found.add(
            SRC,
            Effect::Ignored,
            format!("metadata not found: no {METADATA_TAG} tag with a {METADATA_LAYER} layer"),
        );
        return (None, found.0);
    };
    let text = String::from_utf8_lossy(&data);
    let md: Option<RepositoryMetadata> = match serde_saphyr::from_str(&text) {
        Ok(md) => md,
        Err(e) => {
            found.add(
                "tracker/tracker.go Run",
                Effect::Warned,
                format!(
                    "error getting repository metadata: error unmarshaling repository metadata file: {}",
                    first_line(&e.to_string())
                ),
            );
            return (None, found.0);
        }
    };
    let Some(md) = md else {
        found.add(
            "tracker/tracker.go Run",
            Effect::Warned,
            "error getting repository metadata: error unmarshaling repository metadata file: <nil>",
        );
        return (None, found.0);
    };
    if !md.repository_id.is_empty() && satori_uuid(&md.repository_id).is_err() {
        found.add(
            "tracker/tracker.go Run",
            Effect::Warned,
            "error getting repository metadata: invalid metadata: invalid repository id",
        );
        return (None, found.0);
    }
    // repo/manager.go ClaimOwnership matches the claiming user's email against the owners'.
    for (i, owner) in md.owners.iter().enumerate() {
        match owner {
            Some(o) if !o.email.is_empty() => {}
            _ => found.add(
                "repo/manager.go ClaimOwnership",
                Effect::Ignored,
                format!(
                    "owner {} has no email: no account can claim the repository through it",
                    i + 1
                ),
            ),
        }
    }
    // tracker/helpers.go shouldIgnorePackage / matchesEntry: exact name, version regexp
    // (an empty one matches every version; an invalid one matches none).
    let (name, version) = package;
    for entry in md.ignore.iter().flatten() {
        if entry.name == name {
            let matches = version.is_empty()
                || regex::Regex::new(&entry.version).is_ok_and(|re| re.is_match(version));
            if matches {
                found.add(
                    "tracker/helpers.go shouldIgnorePackage",
                    Effect::Ignored,
                    format!("the ignore entry for {name} matches version {version}: Artifact Hub does not index it"),
                );
            }
        }
    }
    (Some(md), found.0)
}

// --- Shared parsers ------------------------------------------------------------------------

/// `path.Base` of the repository URL: the package's name.
fn base_name(repository: &str) -> String {
    repository
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// yaml.v3 (and v2) decode any scalar into a Go string field; a sequence or mapping there is
/// an error.
fn go_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<GoString>::deserialize(d)?
        .map(|s| s.0)
        .unwrap_or_default())
}

struct GoString(String);

impl<'de> Deserialize<'de> for GoString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E>(self, v: &str) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<GoString, E> {
                Ok(GoString(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML value as Go's yaml.v2 and yaml.v3 decode it into a typed value (unknown keys
/// ignored, a missing key the zero value, an empty document the zero value).
fn go_yaml<T: serde::de::DeserializeOwned + Default>(v: &str) -> Result<T, String> {
    if v.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str(v).map_err(|e| e.to_string())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `hub/pkg.go` `PackageCategoryFromName`.
fn package_category(v: &str) -> Result<(), String> {
    const NAMES: [&str; 9] = [
        "skip-prediction",
        "ai-machine-learning",
        "database",
        "integration-delivery",
        "monitoring-logging",
        "networking",
        "security",
        "storage",
        "streaming-messaging",
    ];
    if NAMES.contains(&v) {
        Ok(())
    } else {
        Err("invalid category name".into())
    }
}

/// What Go's HTTP client needs to make the request: a URL that parses, with an http(s)
/// scheme and a host.
fn fetchable_url(v: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(v).map_err(|e| format!("parse {v:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("unsupported protocol scheme {:?}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("http: no Host in request URL {v:?}"));
    }
    Ok(())
}

/// Go's `time.Parse(time.RFC3339, v)`: `2006-01-02T15:04:05[.frac](Z|±hh:mm)`, each field in
/// range.
fn parse_rfc3339(v: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse"
        ))
    };
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = v.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return bad();
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return bad();
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day == 0
        || day > days[month as usize - 1]
        || hour > 23
        || min > 59
        || sec > 59
    {
        return Err(format!("parsing time {v:?}: value out of range"));
    }
    let mut rest = &v[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return bad();
        }
        rest = &frac[n..];
    }
    let zone_ok = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':'
            && rest[1..3]
                .bytes()
                .chain(rest[4..6].bytes())
                .all(|c| c.is_ascii_digit())
            && rest[1..3].parse::<u32>().is_ok_and(|h| h < 24)
            && rest[4..6].parse::<u32>().is_ok_and(|m| m < 60));
    if zone_ok {
        Ok(())
    } else {
        bad()
    }
}

/// Masterminds/semver v3.4.0 `NewVersion` (`semVerRegex`: a leading `v`, minor and patch
/// optional). Returns the version as its `String()` writes it.
pub fn semver(v: &str) -> Result<String, String> {
    let re = regex::Regex::new(concat!(
        r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?",
        r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?",
        r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
    ))
    .unwrap();
    let c = re.captures(v).ok_or("invalid semantic version")?;
    let n = |i: usize| {
        c.get(i)
            .map_or(Ok(0), |m| m.as_str().parse::<u64>())
            .map_err(|e| format!("error parsing version segment: {e}"))
    };
    let mut out = format!("{}.{}.{}", n(1)?, n(2)?, n(3)?);
    if let Some(pre) = c.get(4) {
        out.push('-');
        out.push_str(pre.as_str());
    }
    if let Some(meta) = c.get(5) {
        out.push('+');
        out.push_str(meta.as_str());
    }
    Ok(out)
}

fn semver_prerelease(v: &str) -> bool {
    semver(v).is_ok_and(|s| s.split('+').next().unwrap_or_default().contains('-'))
}

/// go-containerregistry v0.21.2 `name.ParseReference` with default options: a tag reference,
/// else a digest reference.
pub fn parse_reference(s: &str) -> Result<(), String> {
    if new_tag(s).is_ok() || new_digest(s).is_ok() {
        return Ok(());
    }
    Err(format!("could not parse reference: {s}"))
}

/// `name.NewTag`.
fn new_tag(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split(':').collect();
    let mut base = name.to_string();
    if parts.len() > 1 && !parts[parts.len() - 1].contains('/') {
        base = parts[..parts.len() - 1].join(":");
        let tag = parts[parts.len() - 1];
        if tag.is_empty() {
            return Err(format!("{name} must specify a tag name after the colon"));
        }
        check_element(
            "tag",
            tag,
            "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            1,
            128,
        )?;
    }
    new_repository(&base)
}

/// `name.NewDigest`.
fn new_digest(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('@').collect();
    if parts.len() != 2 {
        return Err(format!("a digest must contain exactly one '@' separator (e.g. registry/repository@digest) saw: {name}"));
    }
    let Some(hex) = parts[1].strip_prefix("sha256:") else {
        return Err(format!("unsupported digest algorithm: {}", parts[1]));
    };
    // go-digest `Canonical.Validate`: 64 lowercase hex digits.
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("invalid checksum digest".into());
    }
    let mut base = parts[0].to_string();
    if new_tag(&base).is_ok() {
        // `tag.Repository.Name()`: the tag's repository without its tag.
        let p: Vec<&str> = base.split(':').collect();
        if p.len() > 1 && !p[p.len() - 1].contains('/') {
            base = p[..p.len() - 1].join(":");
        }
    }
    new_repository(&base)
}

/// `name.NewRepository` with `checkRegistry`.
fn new_repository(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a repository name must be specified".into());
    }
    let mut repo = name;
    if let Some((first, rest)) = name.split_once('/') {
        if first.contains('.') || first.contains(':') {
            check_registry(first)?;
            repo = rest;
        }
    }
    check_element(
        "repository",
        repo,
        "abcdefghijklmnopqrstuvwxyz0123456789_-./",
        2,
        255,
    )
}

/// `checkRegistry`: `url.Parse("//" + name)` must give `name` back as its host: no userinfo,
/// path, query or fragment, only characters Go allows in a host, and a numeric port.
fn check_registry(name: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "registries must be valid RFC 3986 URI authorities: {name}"
        ))
    };
    if name.contains(['@', '?', '#', '/']) {
        return bad();
    }
    let host_ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]<>\"%".contains(&b));
    let port_ok = match name.rsplit_once(':') {
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => true, // bare IPv6
        Some((_, port)) => port.bytes().all(|b| b.is_ascii_digit()),
        None => true,
    };
    if host_ok && port_ok {
        Ok(())
    } else {
        bad()
    }
}

/// `checkElement`.
fn check_element(
    what: &str,
    element: &str,
    allowed: &str,
    min: usize,
    max: usize,
) -> Result<(), String> {
    let n = element.chars().count();
    if n < min || n > max {
        return Err(format!(
            "{what} must be between {min} and {max} characters in length: {element}"
        ));
    }
    if element.chars().any(|c| !allowed.contains(c)) {
        return Err(format!(
            "{what} can only contain the characters `{allowed}`: {element}"
        ));
    }
    Ok(())
}

/// satori/go.uuid v1.2.0 `FromString`: 32 hex digits, the canonical 8-4-4-4-12 form, either
/// in braces, or after `urn:uuid:`.
fn satori_uuid(s: &str) -> Result<(), String> {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    let canonical = |t: &str| {
        let b = t.as_bytes();
        b.len() == 36
            && b[8] == b'-'
            && b[13] == b'-'
            && b[18] == b'-'
            && b[23] == b'-'
            && hex(&t.replace('-', ""))
            && t.matches('-').count() == 4
    };
    let plain = |t: &str| (t.len() == 32 && hex(t)) || (t.len() == 36 && canonical(t));
    let ok = match s.len() {
        32 => hex(s),
        36 => canonical(s),
        38 => s.starts_with('{') && s.ends_with('}') && plain(&s[1..37]),
        41 | 45 => s.starts_with("urn:uuid:") && plain(&s[9..]),
        _ => return Err(format!("uuid: incorrect UUID length: {s}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("uuid: incorrect UUID format {s}"))
    }
}
