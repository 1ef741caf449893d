//! The project's OpenVEX statements (`security/vex.json`). Trivy checks nothing in a VEX file:
//! a misspelt justification is shown as given, and a purl that can never match is silently
//! ignored, so a finding stays (or goes) without a word. Here the file is read strictly, every
//! error pointing at its line, and then rewritten into the two documents a release needs: the
//! one it attests to the published image (`for_release`), and the one its gate scans the OCI
//! layout with (`for_gate`).
//!
//! OpenVEX's schema wants one statement or more in a document, so a project with nothing to say
//! keeps no file (and an empty `statements` is refused, as the schema refuses it); a release to
//! which no statement applies publishes no document, and a platform to which none applies is
//! scanned without one.
//!
//! This module holds the types of a checked document and the entry points; the work is done
//! by its submodules, which share nothing but these types:
//!
//! - `raw`: the document as serde reads it, a value of the wrong type refused;
//! - `locate`: where each value of the JSON text starts, for the line of an error;
//! - `rules`: the OpenVEX rules of the document, its statements and their status;
//! - `products`: a statement's products and subcomponents, each named by one purl;
//! - `overlap`: the refusal of two statements that could both apply to one finding;
//! - `purl`: the two purls the project accepts, an image's and a crate's;
//! - `contents`: what the image holds, that products are checked against;
//! - `render`: the documents a release attests and its gate scans with.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::Value;

mod contents;
mod locate;
mod overlap;
mod products;
mod purl;
mod raw;
mod render;
mod rules;

pub use contents::{check_products, crates_in_lockfiles, Contents};
pub use render::{for_gate, for_release};

use locate::Lines;
use rules::{without_position, Checker};

/// Where the project keeps its statements, relative to the source root.
pub const VEX_PATH: &str = "security/vex.json";

/// The context of the documents written here; go-vex writes this versioned form.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// What a statement says about its products; shown and parsed as OpenVEX labels it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

/// Why a product is not affected: OpenVEX's five machine-readable labels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

/// A validated document, with what is needed to write its statements again. Its statements may
/// be none: the project then has nothing to say, and publishes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub author: String,
    /// RFC 3339, as written.
    pub timestamp: String,
    pub version: u64,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `statements[<index>]`, and the line it starts on, for later errors.
    pub path: String,
    pub line: usize,
    pub vulnerability: Vulnerability,
    pub status: Status,
    pub justification: Option<Justification>,
    pub impact_statement: Option<String>,
    pub action_statement: Option<String>,
    pub action_statement_timestamp: Option<String>,
    pub status_notes: Option<String>,
    /// RFC 3339, as written; `None` means the document's.
    pub timestamp: Option<String>,
    pub products: Vec<ProductEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vulnerability {
    pub name: String,
    pub id: Option<String>,
    pub description: Option<String>,
    pub aliases: Vec<String>,
}

impl Vulnerability {
    /// Every string Trivy compares with the ID of a finding: the name, `@id` and the aliases.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids = vec![self.name.as_str()];
        ids.extend(self.id.as_deref());
        ids.extend(self.aliases.iter().map(String::as_str));
        ids
    }
}

/// A value of the document and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    /// The JSON path of the purl, e.g. `statements[0].products[1].@id`.
    pub path: String,
    pub line: usize,
}

/// One product of a statement: the image (with the crates of it the statement is about) or a
/// crate wherever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductEntry {
    pub product: Located<Product>,
    /// Always empty for a crate, never for an image.
    pub subcomponents: Vec<Located<Crate>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product {
    Image(ImagePurl),
    Crate(Crate),
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Product::Image(image) => image.fmt(f),
            Product::Crate(krate) => krate.fmt(f),
        }
    }
}

/// `pkg:oci/<name>[@sha256:<hex>]?[arch=<arch>&]repository_url=<registry>/<path>`: the purl
/// Trivy gives an image it pulled from a registry, less the parts it would not match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePurl {
    pub name: String,
    /// The image index digest: the statement then speaks of that release only.
    pub digest: Option<String>,
    /// `registry/path`, decoded.
    pub repository: String,
    pub arch: Option<String>,
}

impl ImagePurl {
    /// Whether the statement speaks of the release with this index digest.
    fn in_release(&self, index_digest: &str) -> bool {
        self.digest.as_deref().is_none_or(|d| d == index_digest)
    }
}

/// Written as Trivy writes it: qualifiers sorted, `/` in the repository encoded.
impl fmt::Display for ImagePurl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:oci/{}", self.name)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        f.write_str("?")?;
        if let Some(arch) = &self.arch {
            write!(f, "arch={arch}&")?;
        }
        write!(f, "repository_url={}", self.repository.replace('/', "%2F"))
    }
}

/// A crate at one version, as Cargo.lock has it; shown as its purl `pkg:cargo/<name>@<version>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Crate {
    pub name: String,
    pub version: String,
}

impl fmt::Display for Crate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:cargo/{}@{}", self.name, self.version)
    }
}

/// Reads `root/security/vex.json`; a source without one has nothing to say (`None`).
pub fn read(root: &Path) -> Result<Option<Document>> {
    let path = root.join(VEX_PATH);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse(VEX_PATH, &text).map(Some)
}

/// Parses and checks a document; `file` is the name errors show. Every error names the line
/// and the JSON path of the value to fix.
pub fn parse(file: &str, text: &str) -> Result<Document> {
    // The position serde_json gives, in front.
    let value: Value = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "{file}:{}:{}: not valid JSON: {}: fix the syntax there",
            e.line(),
            e.column(),
            without_position(&e)
        )
    })?;
    let lines = Lines::scan(text);
    Checker { file, lines }.document(&value, text)
}

#[cfg(test)]
mod tests;
