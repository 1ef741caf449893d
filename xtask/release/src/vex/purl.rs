//! The two purls the project accepts: `pkg:oci/<image>?repository_url=<registry>/<path>` for the
//! image and `pkg:cargo/<crate>@<version>` for one of its crates. A purl Trivy would never give
//! a package matches nothing, silently, so anything Trivy's purls lack is refused here.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use super::{Crate, ImagePurl, Product};
use crate::layout::check_digest;
use crate::registry::Repository;
use crate::text::shown;

/// The accepted forms, for the errors that ask for a purl.
pub(super) const PURL_FORMS: &str =
    "pkg:oci/<image>?repository_url=<registry>/<path> for the image, \
                          pkg:cargo/<crate>@<version> for one of its crates";

/// Parses the two purls the project accepts. The message starts with the purl, for the caller
/// to put behind the file, line and path.
pub(super) fn parse_purl(raw: &str) -> Result<Product> {
    let purl = shown(raw);
    let Some(rest) = raw.strip_prefix("pkg:") else {
        bail!("`{purl}` is not a purl: the project names products by purl ({PURL_FORMS})");
    };
    if let Some((_, subpath)) = rest.split_once('#') {
        bail!(
            "`{purl}` has a subpath (#{}): Trivy's purls have none, so it would match nothing; \
             remove it",
            shown(subpath)
        );
    }
    let (rest, qualifiers) = rest
        .split_once('?')
        .map_or((rest, None), |(r, q)| (r, Some(q)));
    let (kind_name, version) = rest
        .rsplit_once('@')
        .map_or((rest, None), |(k, v)| (k, Some(v)));
    match kind_name.split_once('/') {
        Some(("oci", name)) => image_purl(&purl, name, version, qualifiers).map(Product::Image),
        Some(("cargo", name)) => crate_purl(&purl, name, version, qualifiers).map(Product::Crate),
        Some((kind, _)) => bail!(
            "`{purl}` is a purl of type {}: the project accepts two kinds, {PURL_FORMS}",
            shown(kind)
        ),
        None => bail!("`{purl}` is not a purl: the project names products by purl ({PURL_FORMS})"),
    }
}

/// `pkg:oci/<name>[@<digest>]?<qualifiers>`: `name` the last element of the repository, the
/// version (if any) the index digest of one release.
fn image_purl(
    purl: &str,
    name: &str,
    version: Option<&str>,
    qualifiers: Option<&str>,
) -> Result<ImagePurl> {
    if name.contains('/') {
        bail!(
            "`{purl}` has a namespace: an image purl is pkg:oci/<name>, the last element of its \
             repository, and the repository goes in repository_url"
        );
    }
    if let Some(v) = version.filter(|v| check_digest(v).is_err()) {
        bail!(
            "`{purl}`: `@{}` is not an image digest: write @sha256:<64 lowercase hex digits> (the \
             image index digest) to speak of one release, or leave it out to speak of every one",
            shown(v)
        );
    }
    let (url, arch) = image_qualifiers(purl, name, qualifiers.unwrap_or(""))?;
    Ok(ImagePurl {
        name: name.to_string(),
        digest: version.map(str::to_string),
        repository: image_repository(purl, name, &url)?,
        arch,
    })
}

/// The `repository_url` and `arch` of an image purl, the only qualifiers Trivy gives one
/// (besides the tag, which it leaves out of the purl it matches).
fn image_qualifiers(purl: &str, name: &str, raw: &str) -> Result<(String, Option<String>)> {
    let mut q = parse_qualifiers(purl, raw)?;
    if q.contains_key("tag") {
        bail!(
            "`{purl}` has a tag qualifier: Trivy's image purl never carries one, so the statement \
             would match nothing; remove it (pin a release by @sha256:<index digest> instead)"
        );
    }
    let Some(url) = q.remove("repository_url") else {
        bail!(
            "`{purl}` has no repository_url: add ?repository_url=<registry>/<path> (e.g. \
             ?repository_url={}); without it the statement would match an image named `{}` \
             from any registry",
            crate::DEFAULT_IMAGE_REPOSITORY,
            shown(name)
        );
    };
    let arch = q.remove("arch");
    if let Some(key) = q.keys().next() {
        bail!(
            "`{purl}` has the qualifier {}: Trivy's image purl has only arch and repository_url, \
             so the statement would match nothing; remove it",
            shown(key)
        );
    }
    if let Some(a) = arch.as_deref().filter(|a| {
        !a.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }) {
        bail!(
            "`{purl}`: `{}` is not an architecture such as amd64 or arm64",
            shown(a)
        );
    }
    Ok((url, arch))
}

/// The repository of `repository_url`, whose last element must be the image's name: Trivy
/// names an image so, and a purl with another name would match nothing.
fn image_repository(purl: &str, name: &str, url: &str) -> Result<String> {
    let repository =
        Repository::parse(url).map_err(|e| anyhow!("`{purl}`: repository_url: {e}"))?;
    let last = repository.name();
    if name != last {
        bail!(
            "`{purl}` names the image `{}` but its repository is {repository}: Trivy names an \
             image after the last element of its repository, so write pkg:oci/{last}",
            shown(name)
        );
    }
    Ok(repository.to_string())
}

/// `pkg:cargo/<name>@<version>`, as Trivy gives a crate of a Cargo.lock: no namespace, no
/// qualifiers, and the version the lockfile's.
fn crate_purl(
    purl: &str,
    name: &str,
    version: Option<&str>,
    qualifiers: Option<&str>,
) -> Result<Crate> {
    if name.contains('/') {
        bail!("`{purl}` has a namespace: a crate purl is pkg:cargo/<crate>@<version>");
    }
    let valid_name = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if name.is_empty() || !name.bytes().all(valid_name) {
        bail!(
            "`{purl}`: `{}` is not a crate name (letters, digits, - and _)",
            shown(name)
        );
    }
    let Some(version) = version else {
        bail!(
            "`{purl}` has no version: write pkg:cargo/{name}@<version>, the version in \
             Cargo.lock, so that the statement says which build it is about"
        );
    };
    if let Err(e) = semver::Version::parse(version) {
        bail!(
            "`{purl}`: `{}` is not a crate version ({e}): write the version in Cargo.lock, e.g. \
             1.0.0",
            shown(version)
        );
    }
    if let Some(q) = qualifiers {
        bail!(
            "`{purl}` has qualifiers (?{}): Trivy's cargo purls have none, so the statement would \
             silently match nothing; remove them",
            shown(q)
        );
    }
    Ok(Crate {
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// `key=value&...`, values percent-decoded (`%2F` is `/`, as go-vex compares them).
fn parse_qualifiers(purl: &str, raw: &str) -> Result<BTreeMap<String, String>> {
    let mut qualifiers = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            bail!(
                "`{purl}`: the qualifier `{}` has no value: write key=value",
                shown(pair)
            );
        };
        let value = percent_decoded(value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                anyhow!(
                "`{purl}`: the qualifier {} has no value or a bad %-escape: write key=value, with \
                 %2F for a /",
                shown(key)
            )
            })?;
        if qualifiers.insert(key.to_string(), value).is_some() {
            bail!(
                "`{purl}` gives the qualifier {} twice: keep one",
                shown(key)
            );
        }
    }
    Ok(qualifiers)
}

/// `s` with its `%XX` escapes decoded; `None` if one is bad or the result is not UTF-8.
fn percent_decoded(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail
                .get(..2)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}
