//! What Artifact Hub reads about the chart, the image and the repositories, generated from the
//! release's own data (the published digest, its platforms, CHANGELOG.md), never copied by hand.
//! Pure: every input is data.
//!
//! Three places, each read by a different part of Artifact Hub (`artifacthub/hub`):
//! - the chart's `Chart.yaml` annotations (`artifacthub.io/*`): every value is a string, and
//!   the structured ones are YAML inside that string, read with Go's `gopkg.in/yaml.v3`
//!   (`artifacthub.io/changes` with `gopkg.in/yaml.v2`); so
//!   they are written here by a YAML serializer, never by formatting strings, because a
//!   change's description may hold `: `, quotes or `#`;
//! - the image index annotations (`io.artifacthub.package.*`);
//! - `artifacthub-repo.yml`, pushed as the `artifacthub.io` tag of each repository.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::changelog::Change;
use crate::layout::{sha256, MANIFEST_MEDIA_TYPE};

/// The image's name in the chart's `artifacthub.io/images`.
pub const IMAGE_NAME: &str = "kube9-operator";
/// What a readme URL looks like, for the errors that ask for one.
const README_EXAMPLE: &str =
    "https://raw.githubusercontent.com/alto9/kube9-operator/v1.2.3/README.md";
/// The README Artifact Hub shows for the image, at the released tag (main's would describe
/// another version). It fetches this URL and renders it, so it must serve raw markdown, not
/// GitHub's HTML page.
pub fn readme_url(tag: &str) -> String {
    format!("https://raw.githubusercontent.com/alto9/kube9-operator/{tag}/README.md")
}
pub const KEYWORDS: &[&str] = &["kubernetes", "operator", "kube9"];

/// The repository metadata file at the checkout's root.
pub const REPO_METADATA_PATH: &str = "artifacthub-repo.yml";
/// The tag Artifact Hub pulls the repository metadata from, in the chart's and the image's
/// repositories (`internal/repo/manager.go`: `artifacthubTag`).
pub const TAG: &str = "artifacthub.io";
/// The config media type Artifact Hub's documentation pushes with (it does not check it).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.artifacthub.config.v1+yaml";
/// The media type of the layer that holds `artifacthub-repo.yml`: the one Artifact Hub looks
/// for (`MetadataLayerMediaType`).
pub const LAYER_MEDIA_TYPE: &str =
    "application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml";

/// Everything the chart's Artifact Hub annotations are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartListing {
    /// The image the chart deploys, `repo:tag@sha256:<index digest>`.
    pub image: String,
    /// The index's platforms, `linux/amd64`.
    pub platforms: Vec<String>,
    /// An SPDX id, `Apache-2.0`.
    pub license: String,
    pub source: String,
    pub documentation: String,
    /// Artifact Hub shows the link named `support` as its "report an issue" link.
    pub support: String,
    pub prerelease: bool,
    /// The release's changes from CHANGELOG.md; `None` with `--skip-changelog`, which leaves
    /// `artifacthub.io/changes` out.
    pub changes: Option<Vec<Change>>,
}

#[derive(Serialize)]
struct ImageItem<'a> {
    name: &'a str,
    image: &'a str,
    platforms: &'a [String],
}

#[derive(Serialize)]
struct Link<'a> {
    name: &'a str,
    url: &'a str,
}

/// One `artifacthub.io/changes` item; Artifact Hub requires the description.
#[derive(Serialize)]
struct ChangeItem<'a> {
    kind: &'static str,
    description: &'a str,
}

impl ChartListing {
    /// This project's listing of the chart deploying `image` (`repo:tag[@digest]`).
    pub fn project(
        image: &str,
        platforms: &[String],
        prerelease: bool,
        changes: Option<Vec<Change>>,
    ) -> ChartListing {
        let source = crate::metadata::SOURCE_URL;
        ChartListing {
            image: image.to_string(),
            platforms: platforms.to_vec(),
            license: crate::metadata::LICENSE.to_string(),
            source: source.to_string(),
            documentation: format!("{source}#readme"),
            support: format!("{source}/issues"),
            prerelease,
            changes,
        }
    }

    /// The `artifacthub.io/*` annotations, in a fixed order, each value the string Chart.yaml
    /// must hold.
    pub fn chart_annotations(&self) -> Result<Vec<(String, String)>> {
        let mut out = vec![
            (chart_key("images"), self.images()?),
            (chart_key("license"), self.license()?),
            (chart_key("links"), self.links()?),
            // Artifact Hub reads the booleans with Go's `strconv.ParseBool`.
            (chart_key("prerelease"), self.prerelease.to_string()),
        ];
        if let Some(changes) = &self.changes {
            out.push((chart_key("changes"), changes_value(changes)?));
        }
        out.push((
            chart_key("containsSecurityUpdates"),
            self.contains_security_updates().to_string(),
        ));
        Ok(out)
    }

    /// The annotations as lines to put under `annotations:` in Chart.yaml: each key indented
    /// two spaces, its value a literal block (`|`) when it spans lines, else a double-quoted
    /// scalar (Helm reads annotations as strings: a bare `false` would be refused). Every line
    /// ends with `\n`.
    pub fn chart_annotations_yaml(&self) -> Result<String> {
        let annotations = self.chart_annotations()?;
        let block = serde_saphyr::to_string(&AnnotationBlock(&annotations))
            .context("cannot write the chart's annotations as YAML")?;
        Ok(block
            .lines()
            .map(|line| match line {
                "" => "\n".to_string(),
                line => format!("  {line}\n"),
            })
            .collect())
    }

    fn contains_security_updates(&self) -> bool {
        self.changes
            .as_deref()
            .is_some_and(crate::changelog::has_security)
    }

    fn images(&self) -> Result<String> {
        let field = chart_key("images");
        if self.image.trim().is_empty() {
            bail!("{field} is empty: pass the published image as repo:tag@sha256:<index digest>");
        }
        if self.image.contains(char::is_whitespace) {
            bail!(
                "{field}: `{}` is not an image reference: pass repo:tag@sha256:<index digest>",
                crate::text::shown(&self.image)
            );
        }
        if self.platforms.is_empty() || self.platforms.iter().any(|p| p.trim().is_empty()) {
            bail!(
                "{field} has an empty platform list or platform: pass the platforms of the \
                 published index, such as linux/amd64"
            );
        }
        yaml(
            &field,
            &[ImageItem {
                name: IMAGE_NAME,
                image: &self.image,
                platforms: &self.platforms,
            }],
        )
    }

    fn license(&self) -> Result<String> {
        license(&chart_key("license"), "chart", &self.license)
    }

    fn links(&self) -> Result<String> {
        let field = chart_key("links");
        let links = [
            ("source", &self.source),
            ("documentation", &self.documentation),
            ("support", &self.support),
        ];
        for (name, url) in links {
            if url.trim().is_empty() {
                bail!("{field} is empty: the `{name}` link has no URL; pass its https:// URL");
            }
        }
        let links: Vec<Link> = links.iter().map(|(name, url)| Link { name, url }).collect();
        yaml(&field, &links)
    }
}

fn chart_key(name: &str) -> String {
    format!("artifacthub.io/{name}")
}

fn changes_value(changes: &[Change]) -> Result<String> {
    let field = chart_key("changes");
    if changes.is_empty() {
        bail!(
            "{field} is empty: list the release's changes from CHANGELOG.md, or leave the \
             annotation out with --skip-changelog"
        );
    }
    if let Some((i, c)) = changes
        .iter()
        .enumerate()
        .find(|(_, c)| c.text.trim().is_empty())
    {
        bail!(
            "{field} is empty: change {} ({}) has no description; write it in CHANGELOG.md",
            i + 1,
            c.kind.artifacthub()
        );
    }
    let items: Vec<ChangeItem> = changes
        .iter()
        .map(|c| ChangeItem {
            kind: c.kind.artifacthub(),
            description: &c.text,
        })
        .collect();
    yaml(&field, &items)
}

/// A YAML value for an annotation. Every scalar stays on one line (plain or quoted, as the
/// serializer decides): the default would fold a long description into a `>` block, which
/// Go's YAML readers read back with their own folding rules.
fn yaml<T: Serialize>(field: &str, value: &T) -> Result<String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options)
        .with_context(|| format!("cannot write {field} as YAML"))
}

/// The annotations as a YAML mapping in their order: multi-line values as literal blocks,
/// the rest double-quoted.
struct AnnotationBlock<'a>(&'a [(String, String)]);

impl Serialize for AnnotationBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            if value.contains('\n') {
                map.serialize_entry(key, &serde_saphyr::LitStr(value))?;
            } else {
                map.serialize_entry(key, &serde_saphyr::DoubleQuoted(value))?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Maintainer<'a> {
    name: &'a str,
    email: &'a str,
}

/// The `io.artifacthub.package.*` annotations of the image index, in a fixed order.
///
/// Artifact Hub reads an OCI index's annotations alone when the index has any of its three
/// required keys (`org.opencontainers.image.created`, `org.opencontainers.image.description`,
/// `io.artifacthub.package.readme-url`), and then nothing from the platform images: so the
/// index must carry these beside `metadata::ImageMetadata::labels` (which holds `created` and
/// `description`). It also takes `created` as the version's digest: a new build is re-indexed
/// because its commit time differs.
///
/// `maintainers` are (name, email): Artifact Hub keeps only maintainers with an email
/// (`internal/pkg/manager.go`), so a URL is refused here rather than listed as an address.
/// The image index annotations of this project's release `tag`: the readme at that tag,
/// licence, keywords, the owners of its `artifacthub-repo.yml` as maintainers, and whether it
/// is a pre-release (without it, Artifact Hub lists an image as stable).
pub fn project_image_annotations(tag: &str, prerelease: bool) -> Vec<(String, String)> {
    let repo = RepoMetadata::parse(REPO_METADATA_PATH, PROJECT_REPO_METADATA)
        .expect("artifacthub-repo.yml is checked by its unit test");
    let maintainers: Vec<(String, String)> = repo
        .owners
        .iter()
        .map(|o| (o.name.clone(), o.email.clone()))
        .collect();
    let mut annotations = image_annotations(
        &readme_url(tag),
        crate::metadata::LICENSE,
        &maintainers,
        KEYWORDS,
    )
    .expect("the project's annotations are complete");
    annotations.push((
        "io.artifacthub.package.prerelease".into(),
        prerelease.to_string(),
    ));
    annotations
}

/// The project's `artifacthub-repo.yml`, as this tool was built with it.
pub const PROJECT_REPO_METADATA: &str =
    include_str!(concat!(env!("OUT_DIR"), "/artifacthub-repo.yml"));

pub fn image_annotations(
    readme_url: &str,
    license: &str,
    maintainers: &[(String, String)],
    keywords: &[&str],
) -> Result<Vec<(String, String)>> {
    let key = |name: &str| format!("io.artifacthub.package.{name}");
    Ok(vec![
        (key("readme-url"), readme(&key("readme-url"), readme_url)?),
        (
            key("license"),
            self::license(&key("license"), "image", license)?,
        ),
        (
            key("maintainers"),
            maintainers_json(&key("maintainers"), maintainers)?,
        ),
        (key("keywords"), keywords_list(&key("keywords"), keywords)?),
    ])
}

fn readme(field: &str, url: &str) -> Result<String> {
    if url.trim().is_empty() {
        bail!("{field} is empty: pass the URL of the raw README, such as {README_EXAMPLE}");
    }
    if !url.starts_with("https://") || url.contains(char::is_whitespace) {
        bail!(
            "{field}: `{}` is not an https:// URL: pass the URL of the raw README, such as \
             {README_EXAMPLE}",
            crate::text::shown(url)
        );
    }
    if url.starts_with("https://github.com/") {
        bail!(
            "{field}: `{}` is GitHub's HTML page, and Artifact Hub renders what the URL serves: \
             pass the raw file, such as {README_EXAMPLE}",
            crate::text::shown(url)
        );
    }
    Ok(url.to_string())
}

/// `whose` (the chart's or the image's) SPDX license id.
fn license(field: &str, whose: &str, license: &str) -> Result<String> {
    if license.trim().is_empty() {
        bail!("{field} is empty: pass the {whose}'s SPDX license id, such as Apache-2.0");
    }
    Ok(license.to_string())
}

fn maintainers_json(field: &str, maintainers: &[(String, String)]) -> Result<String> {
    if maintainers.is_empty() {
        bail!("{field} is empty: pass at least one maintainer's name and email");
    }
    let mut list = Vec::new();
    for (i, (name, email)) in maintainers.iter().enumerate() {
        let n = i + 1;
        if name.trim().is_empty() {
            bail!("{field} is empty: maintainer {n} has no name; pass one");
        }
        if email.trim().is_empty() {
            bail!("{field} is empty: maintainer {n} ({name}) has no email; pass one");
        }
        if !email.contains('@') || email.contains("://") {
            bail!(
                "{field}: maintainer {n} ({name}) has `{}`, not an email, and Artifact Hub drops \
                 a maintainer without one: pass an email, such as a users.noreply.github.com \
                 address",
                crate::text::shown(email)
            );
        }
        list.push(Maintainer { name, email });
    }
    serde_json::to_string(&list).with_context(|| format!("cannot write {field} as JSON"))
}

/// Comma-separated: Artifact Hub splits on `,` and trims each keyword.
fn keywords_list(field: &str, keywords: &[&str]) -> Result<String> {
    if keywords.is_empty() {
        bail!("{field} is empty: pass at least one keyword");
    }
    for k in keywords {
        if k.trim().is_empty() || k.contains(',') {
            bail!(
                "{field}: `{}` is not a keyword: pass non-empty keywords without commas",
                crate::text::shown(k)
            );
        }
    }
    Ok(keywords
        .iter()
        .map(|k| k.trim())
        .collect::<Vec<_>>()
        .join(","))
}

/// `artifacthub-repo.yml`: who owns the repositories on Artifact Hub (`owners`, for the
/// ownership claim) and, once it is listed there, its id (`repositoryID`, for the verified
/// publisher mark). The keys of Artifact Hub's `hub.RepositoryMetadata`, and no others: an
/// unknown key is most likely a misspelt one, which Artifact Hub would ignore silently.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoMetadata {
    #[serde(rename = "repositoryID", default)]
    pub repository_id: Option<String>,
    #[serde(default)]
    pub owners: Vec<Owner>,
    /// Packages Artifact Hub should not index; none here, but a key it knows.
    #[serde(default)]
    pub ignore: Vec<Ignore>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    #[serde(default)]
    pub name: String,
    /// The email of the Artifact Hub account that claims the repository.
    #[serde(default)]
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    #[serde(default)]
    pub name: String,
    /// A regular expression; without it every version is ignored.
    #[serde(default)]
    pub version: Option<String>,
}

impl RepoMetadata {
    /// Parses and checks `artifacthub-repo.yml` as Artifact Hub will, before it is pushed.
    pub fn parse(file: &str, text: &str) -> Result<RepoMetadata> {
        let md: RepoMetadata = serde_saphyr::from_str(text).map_err(|e| {
            // The first line says where and what; the rest is a snippet of the file.
            let e = e.to_string();
            let what = e.lines().next().unwrap_or_default();
            anyhow::anyhow!(
                "{file} is not valid repository metadata: {}: the file holds `repositoryID` \
                 (optional), `owners` (a list of `name` and `email`) and `ignore`",
                crate::text::one_line(what.strip_prefix("error: ").unwrap_or(what))
            )
        })?;
        if let Some(id) = &md.repository_id {
            if !is_uuid(id) {
                bail!(
                    "{file}: repositoryID `{}` is an invalid repository id (Artifact Hub refuses \
                     the file: \"invalid metadata: invalid repository id\"): copy the UUID that \
                     artifacthub.io shows for the repository, or leave repositoryID out",
                    crate::text::shown(id)
                );
            }
        }
        if md.owners.is_empty() {
            bail!(
                "{file}: owners is empty: list the Artifact Hub account that claims the \
                 repository, with its `name` and `email`"
            );
        }
        for (i, owner) in md.owners.iter().enumerate() {
            let n = i + 1;
            if owner.name.trim().is_empty() {
                bail!("{file}: owner {n} has no name: give its `name`");
            }
            if owner.email.trim().is_empty() {
                bail!(
                    "{file}: owner {n} ({}) has no email: give the email of its Artifact Hub \
                     account",
                    crate::text::shown(&owner.name)
                );
            }
        }
        if let Some(n) = md.ignore.iter().position(|i| i.name.trim().is_empty()) {
            bail!(
                "{file}: ignore entry {} has no name: give the package's exact name",
                n + 1
            );
        }
        Ok(md)
    }
}

/// `8-4-4-4-12` hexadecimal digits, the form artifacthub.io shows.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The OCI image manifest that carries `artifacthub-repo.yml` (`yml`, its exact bytes), as
/// `oras push <repo>:artifacthub.io --config /dev/null:<CONFIG_MEDIA_TYPE>
/// artifacthub-repo.yml:<LAYER_MEDIA_TYPE>` makes it: the config is the empty blob, the one
/// layer is the file. Returns the manifest's bytes and the config's (empty); the layer's are
/// `yml` itself. The same file always gives the same bytes, so a re-run pushes nothing new.
pub fn manifest(yml: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let config: Vec<u8> = Vec::new();
    let descriptor = |media_type: &str, bytes: &[u8]| OciDescriptor {
        media_type: media_type.to_string(),
        digest: sha256(bytes),
        size: bytes.len() as i64,
        ..OciDescriptor::default()
    };
    let title = (
        "org.opencontainers.image.title".to_string(),
        REPO_METADATA_PATH.to_string(),
    );
    let manifest = OciImageManifest {
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: descriptor(CONFIG_MEDIA_TYPE, &config),
        layers: vec![OciDescriptor {
            annotations: Some(BTreeMap::from([title])),
            ..descriptor(LAYER_MEDIA_TYPE, yml)
        }],
        ..OciImageManifest::default()
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest of strings and numbers");
    (bytes, config)
}

#[cfg(test)]
mod tests;
