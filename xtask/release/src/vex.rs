//! The project's OpenVEX statements (`security/vex.json`). Trivy checks nothing in a VEX file:
//! a misspelt justification is shown as given, and a purl that can never match is silently
//! ignored, so a finding stays (or goes) without a word. Here the file is read strictly, every
//! error pointing at its line, and then rewritten into the two documents a release needs: the
//! one it attests to the published image (`for_release`), and the one its gate scans the OCI
//! layout with (`for_gate`).
//!
//! The project's file may hold no statements at all: that means there is nothing to say, and
//! nothing is published. OpenVEX wants at least one statement in a document, which is why an
//! empty file (or one whose statements all concern other releases) publishes no document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::registry::Repository;
use crate::text::{one_line, shown};

/// Where the project keeps its statements, relative to the source root.
pub const VEX_PATH: &str = "security/vex.json";

/// The context of the documents written here; go-vex writes this versioned form.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// What every OpenVEX context starts with (`https://openvex.dev/ns` is valid too).
const NAMESPACE: &str = "https://openvex.dev/ns";

const DOCUMENT_FIELDS: &[&str] = &[
    "@context",
    "@id",
    "author",
    "role",
    "timestamp",
    "last_updated",
    "version",
    "tooling",
    "supplier",
    "statements",
];

const STATEMENT_FIELDS: &[&str] = &[
    "@id",
    "version",
    "vulnerability",
    "timestamp",
    "last_updated",
    "products",
    "status",
    "supplier",
    "status_notes",
    "justification",
    "impact_statement",
    "action_statement",
    "action_statement_timestamp",
];

const VULNERABILITY_FIELDS: &[&str] = &["@id", "name", "description", "aliases"];

const PURL_FORMS: &str = "pkg:oci/<image>?repository_url=<registry>/<path> for the image, \
                          pkg:cargo/<crate>@<version> for one of its crates";

/// What a statement says about its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::NotAffected,
        Status::Affected,
        Status::Fixed,
        Status::UnderInvestigation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether Trivy hides the findings the statement covers: only these two do.
    pub fn suppresses(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }

    fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// Why a product is not affected: OpenVEX's five machine-readable labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

impl Justification {
    pub const ALL: [Justification; 5] = [
        Justification::ComponentNotPresent,
        Justification::VulnerableCodeNotPresent,
        Justification::VulnerableCodeNotInExecutePath,
        Justification::VulnerableCodeCannotBeControlledByAdversary,
        Justification::InlineMitigationsAlreadyExist,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent => "component_not_present",
            Justification::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Justification::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Justification::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Justification::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }

    fn parse(s: &str) -> Option<Justification> {
        Justification::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

/// The labels of a list of values, for an error that says what is allowed.
fn labels(all: impl IntoIterator<Item = &'static str>) -> String {
    all.into_iter().collect::<Vec<_>>().join(", ")
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

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(id) = &self.id {
            m.insert("@id".into(), id.as_str().into());
        }
        m.insert("name".into(), self.name.as_str().into());
        if let Some(description) = &self.description {
            m.insert("description".into(), description.as_str().into());
        }
        if !self.aliases.is_empty() {
            m.insert("aliases".into(), self.aliases.clone().into());
        }
        Value::Object(m)
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
    let value: Value = serde_json::from_str(text).map_err(|e| syntax_error(file, &e))?;
    let checker = Checker {
        file,
        lines: Lines::scan(text),
    };
    checker.document(&value)
}

/// serde_json's message without its position, which is given in front instead.
fn syntax_error(file: &str, e: &serde_json::Error) -> anyhow::Error {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    anyhow!(
        "{file}:{}:{}: not valid JSON: {message}: fix the syntax there",
        e.line(),
        e.column()
    )
}

/// `path.key`, or `key` at the top.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Where each value of a JSON text starts: serde_json keeps no positions in a `Value`, so the
/// text is scanned once more, after serde_json accepted it, and every JSON path
/// (`statements[0].products[1].@id`) mapped to its line.
#[derive(Debug, Default)]
struct Lines {
    at: HashMap<String, usize>,
    /// The first key given twice in one object: its path, first and second line. serde_json
    /// keeps the second silently, as Trivy's reader does, so the first would be ignored.
    duplicate: Option<(String, usize, usize)>,
}

impl Lines {
    fn scan(text: &str) -> Lines {
        let mut scanner = Scanner {
            text,
            pos: 0,
            line: 1,
            lines: Lines::default(),
        };
        scanner.value(String::new());
        scanner.lines
    }

    /// The line of `path`, or of the nearest value around it: a missing field is shown at the
    /// object that lacks it.
    fn line(&self, path: &str) -> usize {
        let mut path = path;
        loop {
            if let Some(line) = self.at.get(path) {
                return *line;
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => return self.at.get("").copied().unwrap_or(1),
            }
        }
    }
}

/// A scanner for text serde_json has accepted: it need not report errors, only never loop.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    lines: Lines,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    fn value(&mut self, path: String) {
        self.skip_space();
        if let Some(first) = self.lines.at.insert(path.clone(), self.line) {
            self.lines
                .duplicate
                .get_or_insert((path.clone(), first, self.line));
        }
        match self.peek() {
            Some(b'{') => self.object(&path),
            Some(b'[') => self.array(&path),
            Some(b'"') => {
                self.string();
            }
            _ => self.scalar(),
        }
    }

    fn object(&mut self, path: &str) {
        self.pos += 1;
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'"') => {
                    let key = self.string();
                    self.skip_space();
                    self.pos += 1; // the colon
                    self.value(child(path, &key));
                }
                Some(b'}') | None => {
                    self.pos += 1;
                    return;
                }
                Some(_) => self.pos += 1, // a comma
            }
        }
    }

    fn array(&mut self, path: &str) {
        self.pos += 1;
        let mut index = 0;
        loop {
            self.skip_space();
            match self.peek() {
                Some(b']') | None => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => {
                    self.pos += 1;
                    index += 1;
                }
                Some(_) => self.value(format!("{path}[{index}]")),
            }
        }
    }

    /// Skips a string and returns it decoded (a key may be written with escapes).
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => break,
                _ => {}
            }
        }
        let end = self.pos.min(self.text.len());
        self.text
            .get(start..end)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    fn scalar(&mut self) {
        self.pos += 1;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b']' | b'}') || b.is_ascii_whitespace() {
                return;
            }
            self.pos += 1;
        }
    }
}

/// How a value that has the wrong type is shown.
fn described(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => format!("`{}`", shown(&other.to_string())),
    }
}

/// An object of the document and its path.
struct Object<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl Object<'_> {
    fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }
}

/// Checks a parsed document against the text it came from, for the lines of its errors.
struct Checker<'a> {
    file: &'a str,
    lines: Lines,
}

impl Checker<'_> {
    fn error(&self, path: &str, message: impl fmt::Display) -> anyhow::Error {
        let line = self.lines.line(path);
        if path.is_empty() {
            anyhow!("{}:{line}: {message}", self.file)
        } else {
            anyhow!("{}:{line}: {}: {message}", self.file, one_line(path))
        }
    }

    fn object<'v>(&self, value: &'v Value, path: String) -> Result<Object<'v>> {
        match value {
            Value::Object(map) => Ok(Object { map, path }),
            other => Err(self.error(&path, format!("{} is not an object", described(other)))),
        }
    }

    /// Refuses a field the object does not know: a misspelt field would be dropped silently.
    fn fields(&self, obj: &Object, allowed: &[&str], what: &str) -> Result<()> {
        let unknown = obj
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .min_by_key(|k| self.lines.line(&obj.path(k)));
        match unknown {
            Some(key) => Err(self.error(
                &obj.path(key),
                format!(
                    "not a field of {what} ({}): remove it, or correct its name",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// An optional string, which must not be empty.
    fn text(&self, obj: &Object, key: &str) -> Result<Option<String>> {
        match obj.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(self.error(&obj.path(key), "is empty: write it, or remove the field"))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(
                &obj.path(key),
                format!("{} is not a string", described(other)),
            )),
        }
    }

    fn required_text(&self, obj: &Object, key: &str, what: &str) -> Result<String> {
        self.text(obj, key)?
            .ok_or_else(|| self.error(&obj.path(key), format!("missing: {what}")))
    }

    fn time(&self, obj: &Object, key: &str) -> Result<Option<String>> {
        let Some(time) = self.text(obj, key)? else {
            return Ok(None);
        };
        match time.parse::<jiff::Timestamp>() {
            Ok(_) => Ok(Some(time)),
            Err(e) => Err(self.error(
                &obj.path(key),
                format!(
                    "`{}` is not an RFC 3339 time ({e}): write it like 2026-01-01T00:00:00Z",
                    shown(&time)
                ),
            )),
        }
    }

    fn version(&self, obj: &Object, key: &str) -> Result<Option<u64>> {
        match obj.map.get(key) {
            None => Ok(None),
            Some(value) => match value.as_u64() {
                Some(v) if v >= 1 => Ok(Some(v)),
                _ => Err(self.error(
                    &obj.path(key),
                    format!(
                        "{} is not a version: a whole number from 1 up, raised on every change",
                        described(value)
                    ),
                )),
            },
        }
    }

    fn array<'v>(&self, obj: &Object<'v>, key: &str) -> Result<Option<&'v Vec<Value>>> {
        match obj.map.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.error(
                &obj.path(key),
                format!("{} is not an array", described(other)),
            )),
        }
    }

    fn document(&self, value: &Value) -> Result<Document> {
        if let Some((path, first, second)) = &self.lines.duplicate {
            bail!(
                "{}:{second}: {}: given twice in one object (first on line {first}): JSON \
                 readers keep only the last, so say it once",
                self.file,
                one_line(path)
            );
        }
        if !value.is_object() {
            return Err(self.error(
                "",
                format!(
                    "the document is {}: an OpenVEX document is one JSON object with @context, \
                     @id, author, timestamp, version and statements",
                    described(value)
                ),
            ));
        }
        let obj = self.object(value, String::new())?;
        self.fields(&obj, DOCUMENT_FIELDS, "an OpenVEX document")?;
        let context = self.required_text(
            &obj,
            "@context",
            &format!("an OpenVEX document says \"@context\": \"{CONTEXT}\" (Trivy refuses a VEX file without it)"),
        )?;
        if context != NAMESPACE && !context.starts_with(&format!("{NAMESPACE}/")) {
            return Err(self.error(
                "@context",
                format!(
                    "`{}` is not an OpenVEX context: write {CONTEXT}",
                    shown(&context)
                ),
            ));
        }
        let id = self.required_text(&obj, "@id", "the IRI that names this document")?;
        let author = self.required_text(&obj, "author", "who makes these statements")?;
        let timestamp = self.time(&obj, "timestamp")?.ok_or_else(|| {
            self.error(
                "timestamp",
                "missing: when the document was written (RFC 3339)",
            )
        })?;
        let version = self.version(&obj, "version")?.ok_or_else(|| {
            self.error(
                "version",
                "missing: a whole number from 1 up, raised on every change",
            )
        })?;
        for key in ["role", "tooling", "supplier"] {
            self.text(&obj, key)?;
        }
        self.time(&obj, "last_updated")?;
        let items = self.array(&obj, "statements")?.ok_or_else(|| {
            self.error(
                "statements",
                "missing: the statements, or [] when there is nothing to say",
            )
        })?;
        let statements = items
            .iter()
            .enumerate()
            .map(|(i, v)| self.statement(v, format!("statements[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        self.no_overlap(&statements)?;
        Ok(Document {
            id,
            author,
            timestamp,
            version,
            statements,
        })
    }

    fn statement(&self, value: &Value, path: String) -> Result<Statement> {
        let obj = self.object(value, path)?;
        self.fields(&obj, STATEMENT_FIELDS, "an OpenVEX statement")?;
        let vulnerability = self.vulnerability(&obj)?;
        let status = self.status(&obj)?;
        let justification = match self.text(&obj, "justification")? {
            None => None,
            Some(j) => Some(Justification::parse(&j).ok_or_else(|| {
                self.error(
                    &obj.path("justification"),
                    format!(
                        "`{}` is not a justification OpenVEX knows ({})",
                        shown(&j),
                        labels(Justification::ALL.map(Justification::as_str))
                    ),
                )
            })?),
        };
        let impact_statement = self.text(&obj, "impact_statement")?;
        let action_statement = self.text(&obj, "action_statement")?;
        let action_statement_timestamp = self.time(&obj, "action_statement_timestamp")?;
        let status_notes = self.text(&obj, "status_notes")?;
        let timestamp = self.time(&obj, "timestamp")?;
        self.time(&obj, "last_updated")?;
        self.version(&obj, "version")?;
        self.text(&obj, "@id")?;
        self.text(&obj, "supplier")?;
        let statement = Statement {
            path: obj.path.clone(),
            line: self.lines.line(&obj.path),
            vulnerability,
            status,
            justification,
            impact_statement,
            action_statement,
            action_statement_timestamp,
            status_notes,
            timestamp,
            products: self.products(&obj)?,
        };
        self.status_rules(&statement)?;
        Ok(statement)
    }

    fn vulnerability(&self, obj: &Object) -> Result<Vulnerability> {
        let path = obj.path("vulnerability");
        let value = obj.map.get("vulnerability").ok_or_else(|| {
            self.error(
                &path,
                "missing: the vulnerability, e.g. {\"name\": \"CVE-2099-0003\"}",
            )
        })?;
        let v = self.object(value, path)?;
        self.fields(&v, VULNERABILITY_FIELDS, "a vulnerability")?;
        let name = self.required_text(
            &v,
            "name",
            "the vulnerability's ID as Trivy reports it, e.g. CVE-2099-0003",
        )?;
        let mut aliases = Vec::new();
        for (i, alias) in self.array(&v, "aliases")?.into_iter().flatten().enumerate() {
            match alias {
                Value::String(s) if !s.trim().is_empty() => aliases.push(s.clone()),
                other => {
                    return Err(self.error(
                        &format!("{}[{i}]", v.path("aliases")),
                        format!("{} is not a vulnerability ID", described(other)),
                    ))
                }
            }
        }
        Ok(Vulnerability {
            name,
            id: self.text(&v, "@id")?,
            description: self.text(&v, "description")?,
            aliases,
        })
    }

    fn status(&self, obj: &Object) -> Result<Status> {
        let known = labels(Status::ALL.map(Status::as_str));
        let status = self.required_text(obj, "status", &format!("one of {known}"))?;
        Status::parse(&status).ok_or_else(|| {
            self.error(
                &obj.path("status"),
                format!(
                    "`{}` is not a status OpenVEX knows ({known})",
                    shown(&status)
                ),
            )
        })
    }

    /// go-vex's rules (stricter than the schema), plus the project's: a not_affected statement
    /// gives the machine-readable reason, an impact_statement alone is not enough.
    fn status_rules(&self, s: &Statement) -> Result<()> {
        let status = s.status.as_str();
        let present = [
            ("justification", s.justification.is_some()),
            ("impact_statement", s.impact_statement.is_some()),
            ("action_statement", s.action_statement.is_some()),
        ];
        let forbidden: &[&str] = match s.status {
            Status::NotAffected => &["action_statement"],
            Status::Affected => &["justification", "impact_statement"],
            Status::Fixed | Status::UnderInvestigation => {
                &["justification", "impact_statement", "action_statement"]
            }
        };
        if let Some((key, _)) = present.iter().find(|(k, p)| *p && forbidden.contains(k)) {
            return Err(self.error(
                &child(&s.path, key),
                format!(
                    "a {status} statement has no {key} (OpenVEX gives a justification or an \
                     impact_statement only to not_affected, an action_statement only to \
                     affected): remove it, or change the status"
                ),
            ));
        }
        if s.status == Status::NotAffected && s.justification.is_none() {
            return Err(self.error(
                &child(&s.path, "justification"),
                format!(
                    "missing: a not_affected statement gives its reason as one of {}; the \
                     project wants this machine-readable reason, an impact_statement alone is \
                     not enough",
                    labels(Justification::ALL.map(Justification::as_str))
                ),
            ));
        }
        if s.status == Status::Affected && s.action_statement.is_none() {
            return Err(self.error(
                &child(&s.path, "action_statement"),
                "missing: an affected statement says in action_statement what to do about it",
            ));
        }
        Ok(())
    }

    fn products(&self, obj: &Object) -> Result<Vec<ProductEntry>> {
        let path = obj.path("products");
        let items = self.array(obj, "products")?.ok_or_else(|| {
            self.error(
                &path,
                format!("missing: Trivy applies a statement only to the products it lists ({PURL_FORMS})"),
            )
        })?;
        if items.is_empty() {
            return Err(self.error(
                &path,
                format!("is empty: Trivy applies a statement only to the products it lists ({PURL_FORMS})"),
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| self.product(v, format!("{path}[{i}]")))
            .collect()
    }

    fn product(&self, value: &Value, path: String) -> Result<ProductEntry> {
        let obj = self.object(value, path)?;
        let product = self.purl(&obj, "a product", &["@id", "identifiers", "subcomponents"])?;
        let subs_path = obj.path("subcomponents");
        let items = self.array(&obj, "subcomponents")?;
        let mut subcomponents = Vec::new();
        for (i, item) in items.into_iter().flatten().enumerate() {
            let sub = self.object(item, format!("{subs_path}[{i}]"))?;
            let located = self.purl(&sub, "a subcomponent", &["@id", "identifiers"])?;
            match located.value {
                Product::Crate(krate) => subcomponents.push(Located {
                    value: krate,
                    path: located.path,
                    line: located.line,
                }),
                Product::Image(_) => {
                    return Err(self.error(
                        &located.path,
                        "is an image: a subcomponent is one of the image's crates, \
                         pkg:cargo/<name>@<version>",
                    ))
                }
            }
        }
        match &product.value {
            Product::Image(_) if subcomponents.is_empty() => Err(self.error(
                &subs_path,
                format!(
                    "{}: an image product lists the crates the statement is about as \
                     subcomponents (pkg:cargo/<name>@<version>): the release gate scans the \
                     image from an OCI layout before it is published, where Trivy sees no image \
                     purl, so a statement about the whole image could not be honoured by the gate",
                    if items.is_some() {
                        "is empty"
                    } else {
                        "missing"
                    }
                ),
            )),
            Product::Crate(_) if items.is_some() => Err(self.error(
                &subs_path,
                "a crate product has no subcomponents: it stands for that crate wherever it is; \
                 remove them, or make the image the product",
            )),
            _ => Ok(ProductEntry {
                product,
                subcomponents,
            }),
        }
    }

    /// The purl of a product or subcomponent: `@id`, or `identifiers.purl`, or both if equal.
    fn purl(&self, obj: &Object, what: &str, allowed: &[&str]) -> Result<Located<Product>> {
        if obj.map.contains_key("hashes") {
            return Err(self.error(
                &obj.path("hashes"),
                "the project names products by purl only (Trivy compares hashes with the purl \
                 string, so they never match): remove it",
            ));
        }
        self.fields(obj, allowed, what)?;
        let mut found = Vec::new();
        if let Some(id) = self.text(obj, "@id")? {
            found.push((id, obj.path("@id")));
        }
        if let Some(value) = obj.map.get("identifiers") {
            let ids = self.object(value, obj.path("identifiers"))?;
            self.fields(
                &ids,
                &["purl"],
                "identifiers (the project names products by purl only)",
            )?;
            let purl = self.required_text(&ids, "purl", &format!("the purl ({PURL_FORMS})"))?;
            found.push((purl, ids.path("purl")));
        }
        let mut parsed = Vec::new();
        for (purl, path) in found {
            let value = parse_purl(&purl).map_err(|e| self.error(&path, e))?;
            parsed.push(Located {
                value,
                line: self.lines.line(&path),
                path,
            });
        }
        match parsed.len() {
            0 => Err(self.error(
                &obj.path("@id"),
                format!("missing: {what} is named by its purl in @id or identifiers.purl ({PURL_FORMS})"),
            )),
            1 => Ok(parsed.remove(0)),
            _ if parsed[0].value == parsed[1].value => Ok(parsed.remove(0)),
            _ => Err(self.error(
                &parsed[1].path,
                format!(
                    "`{}` is not the product of @id `{}`: give one purl, or the same in both",
                    parsed[1].value, parsed[0].value
                ),
            )),
        }
    }

    /// Refuses two statements about the same vulnerability in the same crate where both could
    /// apply: Trivy would keep whichever has the later timestamp, which is easy to get wrong.
    /// Every repository an image is published to is the same image, so the repository does not
    /// tell two image products apart; an unpinned image or a crate product overlaps any digest
    /// and architecture.
    fn no_overlap(&self, statements: &[Statement]) -> Result<()> {
        struct Claim<'a> {
            statement: usize,
            ids: Vec<&'a str>,
            krate: &'a Crate,
            digest: Option<&'a str>,
            arch: Option<&'a str>,
            path: &'a str,
            line: usize,
        }
        let overlap = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
        let mut claims: Vec<Claim> = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            for entry in &s.products {
                let new: Vec<Claim> = match &entry.product.value {
                    Product::Crate(krate) => vec![Claim {
                        statement: i,
                        ids: s.vulnerability.ids(),
                        krate,
                        digest: None,
                        arch: None,
                        path: &entry.product.path,
                        line: entry.product.line,
                    }],
                    Product::Image(image) => entry
                        .subcomponents
                        .iter()
                        .map(|sub| Claim {
                            statement: i,
                            ids: s.vulnerability.ids(),
                            krate: &sub.value,
                            digest: image.digest.as_deref(),
                            arch: image.arch.as_deref(),
                            path: &sub.path,
                            line: sub.line,
                        })
                        .collect(),
                };
                for claim in new {
                    let earlier = claims.iter().find(|c| {
                        c.krate == claim.krate
                            && overlap(c.digest, claim.digest)
                            && overlap(c.arch, claim.arch)
                            && c.ids.iter().any(|id| claim.ids.contains(id))
                    });
                    if let Some(c) = earlier {
                        let id = c
                            .ids
                            .iter()
                            .find(|id| claim.ids.contains(id))
                            .unwrap_or(&"");
                        let message = if c.statement == claim.statement {
                            format!(
                                "this statement already speaks of {id} in {} at {} (line {}): \
                                 remove one of the two",
                                claim.krate, c.path, c.line
                            )
                        } else {
                            format!(
                                "statements[{}] (line {}) already says {} about {id} in {}: \
                                 Trivy would keep whichever statement has the later timestamp (a \
                                 statement without one takes the document's), which is easy to \
                                 get wrong; say it in one statement, or pin the two to different \
                                 releases (@sha256:<index digest>) or architectures (arch=)",
                                c.statement,
                                statements[c.statement].line,
                                statements[c.statement].status.as_str(),
                                claim.krate
                            )
                        };
                        return Err(self.error(claim.path, message));
                    }
                    claims.push(claim);
                }
            }
        }
        Ok(())
    }
}

/// Parses the two purls the project accepts. The message starts with the purl, for the caller
/// to put behind the file, line and path.
fn parse_purl(raw: &str) -> Result<Product> {
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
    let (rest, qualifiers) = match rest.split_once('?') {
        Some((rest, q)) => (rest, Some(q)),
        None => (rest, None),
    };
    let (kind_name, version) = match rest.rsplit_once('@') {
        Some((kind_name, version)) => (kind_name, Some(version)),
        None => (rest, None),
    };
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
    if let Some(v) = version.filter(|v| !is_digest(v)) {
        bail!(
            "`{purl}`: `@{}` is not an image digest: write @sha256:<64 lowercase hex digits> (the \
             image index digest) to speak of one release, or leave it out to speak of every one",
            shown(v)
        );
    }
    let mut q = parse_qualifiers(purl, qualifiers.unwrap_or(""))?;
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
    let repository =
        Repository::parse(&url).map_err(|e| anyhow!("`{purl}`: repository_url: {e}"))?;
    let last = repository.path.rsplit('/').next().unwrap_or_default();
    if name != last {
        bail!(
            "`{purl}` names the image `{}` but its repository is {repository}: Trivy names an \
             image after the last element of its repository, so write pkg:oci/{last}",
            shown(name)
        );
    }
    Ok(ImagePurl {
        name: name.to_string(),
        digest: version.map(str::to_string),
        repository: repository.to_string(),
        arch,
    })
}

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

/// `sha256:<64 lowercase hex>`.
fn is_digest(v: &str) -> bool {
    v.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

/// What the image holds, that the products of the statements are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The repositories the image is published to, as `registry/path`: the release target and
    /// the canonical `ghcr.io/alto9/kube9-operator`. Compared as Trivy writes repository_url.
    pub repositories: Vec<String>,
    pub crates: BTreeSet<Crate>,
}

impl Contents {
    /// The release target and the canonical repository (once if they are the same).
    pub fn new(target: &str, crates: BTreeSet<Crate>) -> Contents {
        let mut repositories = vec![target.to_string()];
        if target != crate::DEFAULT_IMAGE_REPOSITORY {
            repositories.push(crate::DEFAULT_IMAGE_REPOSITORY.to_string());
        }
        Contents {
            repositories,
            crates,
        }
    }
}

/// Refuses a statement about an image or a crate this image does not contain: it could never
/// match, and would say something nobody checked.
pub fn check_products(file: &str, doc: &Document, contents: &Contents) -> Result<()> {
    for s in &doc.statements {
        for entry in &s.products {
            let product = &entry.product;
            match &product.value {
                Product::Image(image) => check_image(file, product, image, contents)?,
                Product::Crate(krate) => {
                    check_crate(file, &product.path, product.line, krate, contents)?
                }
            }
            for sub in &entry.subcomponents {
                check_crate(file, &sub.path, sub.line, &sub.value, contents)?;
            }
        }
    }
    Ok(())
}

fn check_image(
    file: &str,
    at: &Located<Product>,
    image: &ImagePurl,
    contents: &Contents,
) -> Result<()> {
    if contents.repositories.contains(&image.repository) {
        return Ok(());
    }
    bail!(
        "{file}:{}: {}: {image}: the image is published to {}, not {}: write \
         repository_url={}",
        at.line,
        at.path,
        contents.repositories.join(" and "),
        image.repository,
        contents
            .repositories
            .first()
            .map_or(crate::DEFAULT_IMAGE_REPOSITORY, String::as_str)
    )
}

fn check_crate(
    file: &str,
    path: &str,
    line: usize,
    krate: &Crate,
    contents: &Contents,
) -> Result<()> {
    if contents.crates.contains(krate) {
        return Ok(());
    }
    let versions: Vec<&str> = contents
        .crates
        .iter()
        .filter(|c| c.name == krate.name)
        .map(|c| c.version.as_str())
        .collect();
    if versions.is_empty() {
        bail!(
            "{file}:{line}: {path}: {krate}: no crate {} in any Cargo.lock of the source: check \
             the name against Cargo.lock",
            krate.name
        );
    }
    bail!(
        "{file}:{line}: {path}: {krate}: no crate {} {} in any Cargo.lock of the source; it has \
         {}: write that version, or drop the statement if the crate has moved on",
        krate.name,
        krate.version,
        versions.join(", ")
    )
}

/// Every `[[package]]` of every `Cargo.lock` under `root`, outside `target` and `.git`
/// directories: the crates an image is built from are the crates of its lockfile(s).
pub fn crates_in_lockfiles(root: &Path) -> Result<BTreeSet<Crate>> {
    let skipped = |e: &walkdir::DirEntry| {
        e.depth() > 0
            && e.file_type().is_dir()
            && matches!(e.file_name().to_str(), Some("target" | ".git"))
    };
    let mut crates = BTreeSet::new();
    let walk = walkdir::WalkDir::new(root).sort_by_file_name();
    for entry in walk.into_iter().filter_entry(|e| !skipped(e)) {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        if entry.file_type().is_file() && entry.file_name() == "Cargo.lock" {
            let text = fs::read_to_string(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            crates.extend(lockfile_crates(&entry.path().display().to_string(), &text)?);
        }
    }
    Ok(crates)
}

/// The `name` and `version` of each `[[package]]` block. Cargo writes these as plain quoted
/// strings on their own lines, which is all that is read: no TOML parser needed.
fn lockfile_crates(file: &str, text: &str) -> Result<Vec<Crate>> {
    struct Block {
        line: usize,
        name: Option<String>,
        version: Option<String>,
    }
    let finish = |block: Block| match (block.name, block.version) {
        (Some(name), Some(version)) => Ok(Crate { name, version }),
        _ => Err(anyhow!(
            "{file}:{}: a [[package]] without a name or a version: is this a Cargo.lock that \
             cargo wrote? let cargo write it again",
            block.line
        )),
    };
    let mut crates = Vec::new();
    let mut block: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            if let Some(done) = block.take() {
                crates.push(finish(done)?);
            }
            if line == "[[package]]" {
                block = Some(Block {
                    line: n + 1,
                    name: None,
                    version: None,
                });
            }
        } else if let Some(current) = &mut block {
            if let Some(name) = toml_string(line, "name") {
                current.name = Some(name);
            } else if let Some(version) = toml_string(line, "version") {
                current.version = Some(version);
            }
        }
    }
    if let Some(done) = block {
        crates.push(finish(done)?);
    }
    Ok(crates)
}

/// The value of `key = "value"`.
fn toml_string(line: &str, key: &str) -> Option<String> {
    let value = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    Some(value.strip_prefix('"')?.strip_suffix('"')?.to_string())
}

/// The document a release attests to its image: the statements that apply to this release,
/// under the release's `id`, dated `timestamp` (the commit's time, so that two runs of one
/// release write the same bytes). Crate statements always apply; an image statement applies
/// when it names no digest or this `index_digest`. Its image becomes
/// `pkg:oci/<name>?repository_url=<target>` (arch kept), so that `trivy image --vex oci` matches
/// wherever the image was published. The digest is left out: the attestation is already bound
/// to the digest it is attached to, and a purl with the index digest would not match when an
/// admin scans a platform manifest's digest. `None` when nothing applies (OpenVEX wants at
/// least one statement).
pub fn for_release(
    doc: &Document,
    target: &str,
    index_digest: &str,
    id: &str,
    timestamp: &str,
) -> Option<Value> {
    let published = |image: &ImagePurl| ImagePurl {
        name: target.rsplit('/').next().unwrap_or(target).to_string(),
        digest: None,
        repository: target.to_string(),
        arch: image.arch.clone(),
    };
    let statements = doc.statements.iter().filter_map(|s| {
        let products: Vec<Value> = s
            .products
            .iter()
            .filter_map(|entry| match &entry.product.value {
                Product::Crate(krate) => Some(json!({ "@id": krate.to_string() })),
                Product::Image(image) if image.in_release(index_digest) => {
                    let subcomponents: Vec<Value> = entry
                        .subcomponents
                        .iter()
                        .map(|c| json!({ "@id": c.value.to_string() }))
                        .collect();
                    Some(json!({
                        "@id": published(image).to_string(),
                        "subcomponents": subcomponents,
                    }))
                }
                Product::Image(_) => None,
            })
            .collect();
        (!products.is_empty()).then(|| statement_json(doc, s, products))
    });
    document_json(id, &doc.author, timestamp, statements.collect())
}

/// The document the release gate scans the OCI layout of one `platform` (`linux/arm64`) with.
/// There Trivy sees no image purl, only the crates, so each image statement that applies (no
/// digest or this `index_digest`, no arch or this platform's) becomes a statement about its
/// subcomponent crates; crate statements are kept. It carries the source document's `@id` and
/// timestamp, and is never published. `None` when nothing applies.
pub fn for_gate(doc: &Document, index_digest: &str, platform: &str) -> Option<Value> {
    let arch = platform.split('/').nth(1);
    let statements = doc.statements.iter().filter_map(|s| {
        let mut crates: Vec<&Crate> = Vec::new();
        for entry in &s.products {
            let applying: Vec<&Crate> = match &entry.product.value {
                Product::Crate(krate) => vec![krate],
                Product::Image(image)
                    if image.in_release(index_digest)
                        && image.arch.as_deref().is_none_or(|a| Some(a) == arch) =>
                {
                    entry.subcomponents.iter().map(|c| &c.value).collect()
                }
                Product::Image(_) => Vec::new(),
            };
            for krate in applying {
                if !crates.contains(&krate) {
                    crates.push(krate);
                }
            }
        }
        let products: Vec<Value> = crates
            .iter()
            .map(|c| json!({ "@id": c.to_string() }))
            .collect();
        (!products.is_empty()).then(|| statement_json(doc, s, products))
    });
    document_json(&doc.id, &doc.author, &doc.timestamp, statements.collect())
}

fn document_json(id: &str, author: &str, timestamp: &str, statements: Vec<Value>) -> Option<Value> {
    (!statements.is_empty()).then(|| {
        json!({
            "@context": CONTEXT,
            "@id": id,
            "author": author,
            "timestamp": timestamp,
            "version": 1,
            "statements": statements,
        })
    })
}

/// A statement written again with new products. A statement without a timestamp gets the
/// source document's, which is the time it was made; in a new document it would otherwise take
/// the new document's. Its `@id`, `version`, `last_updated` and `supplier` describe it in the
/// source file and are not carried over.
fn statement_json(doc: &Document, s: &Statement, products: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("vulnerability".into(), s.vulnerability.to_json());
    let timestamp = s.timestamp.as_deref().unwrap_or(&doc.timestamp);
    m.insert("timestamp".into(), timestamp.into());
    m.insert("products".into(), products.into());
    m.insert("status".into(), s.status.as_str().into());
    if let Some(j) = s.justification {
        m.insert("justification".into(), j.as_str().into());
    }
    let texts = [
        ("impact_statement", &s.impact_statement),
        ("action_statement", &s.action_statement),
        ("action_statement_timestamp", &s.action_statement_timestamp),
        ("status_notes", &s.status_notes),
    ];
    for (key, value) in texts {
        if let Some(value) = value {
            m.insert(key.into(), value.as_str().into());
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests;
