//! The OpenVEX rules of a document and its statements, checked once serde has read it
//! (`raw`): which fields each object may have, which it must, and what each status allows.
//! go-vex's rules (stricter than the schema) are kept, and the project's own: a not_affected
//! statement gives its machine-readable reason.

use std::fmt;

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;
use strum::VariantNames;

use super::locate::{child, Lines};
use super::raw::{
    described, fields_of, List, Obj, Opt, RawDocument, RawStatement, RawVulnerability,
};
use super::{Document, Justification, Statement, Status, Vulnerability, CONTEXT};
use crate::text::{one_line, shown};

/// What every OpenVEX context starts with (`https://openvex.dev/ns` is valid too).
const NAMESPACE: &str = "https://openvex.dev/ns";

/// Checks a document against the text it came from, for the lines of its errors.
pub(super) struct Checker<'a> {
    /// The name errors show.
    pub(super) file: &'a str,
    pub(super) lines: Lines,
}

impl Checker<'_> {
    /// `file:line: path: message`, the line being that of `path` (or of what holds it).
    pub(super) fn error(&self, path: &str, message: impl fmt::Display) -> anyhow::Error {
        let line = self.lines.line(path);
        if path.is_empty() {
            anyhow!("{}:{line}: {message}", self.file)
        } else {
            anyhow!("{}:{line}: {}: {message}", self.file, one_line(path))
        }
    }

    /// The whole document: read by serde once its shape is known to be right, then its own
    /// fields, each statement, and the statements together.
    pub(super) fn document(&self, value: &Value, text: &str) -> Result<Document> {
        self.no_duplicate()?;
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
        let raw: RawDocument = self.read(text)?;
        self.fields::<RawDocument>("", "an OpenVEX document")?;
        self.context(raw.context.value())?;
        Ok(Document {
            id: self.required(raw.id, "@id", "the IRI that names this document")?,
            author: self.required(raw.author, "author", "who makes these statements")?,
            timestamp: self.required(
                raw.timestamp,
                "timestamp",
                "when the document was written (RFC 3339)",
            )?,
            version: self.required(
                raw.version,
                "version",
                "a whole number from 1 up, raised on every change",
            )?,
            statements: self.statements(raw.statements)?,
        })
    }

    /// The text read by serde, a value of the wrong type refused at its line.
    fn read<T: DeserializeOwned>(&self, text: &str) -> Result<T> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e
                .path()
                .iter()
                .fold(String::new(), |path, segment| match segment {
                    Segment::Seq { index } => format!("{path}[{index}]"),
                    Segment::Map { key } | Segment::Enum { variant: key } => child(&path, key),
                    Segment::Unknown => path,
                });
            self.error(&path, without_position(e.inner()))
        })
    }

    /// Refuses a key given twice in one object, which JSON readers take without a word.
    fn no_duplicate(&self) -> Result<()> {
        if let Some((path, first, second)) = &self.lines.duplicate {
            bail!(
                "{}:{second}: {}: given twice in one object (first on line {first}): JSON \
                 readers keep only the last, so say it once",
                self.file,
                one_line(path)
            );
        }
        Ok(())
    }

    /// Refuses a field the object at `path` (read as `T`, which `what` names) does not know:
    /// serde would drop a misspelt field silently.
    pub(super) fn fields<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<()> {
        let allowed = fields_of::<T>();
        let keys = self.lines.keys(path);
        if let Some(key) = keys.iter().find(|k| !allowed.contains(&k.as_str())) {
            return Err(self.error(
                &child(path, key),
                format!(
                    "not a field of {what} ({}): remove it, or correct its name",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// A field that must be given, at `path`, converted (a `Text` into its `String`); `what`
    /// says what to write.
    pub(super) fn required<T, U: From<T>>(
        &self,
        field: Opt<T>,
        path: &str,
        what: &str,
    ) -> Result<U> {
        field
            .value()
            .ok_or_else(|| self.error(path, format!("missing: {what}")))
    }

    /// Trivy refuses a VEX file without an OpenVEX `@context`.
    fn context(&self, context: Option<String>) -> Result<()> {
        let context = context.ok_or_else(|| {
            self.error(
                "@context",
                format!(
                    "missing: an OpenVEX document says \"@context\": \"{CONTEXT}\" (Trivy \
                     refuses a VEX file without it)"
                ),
            )
        })?;
        if context != NAMESPACE && !context.starts_with(&format!("{NAMESPACE}/")) {
            return Err(self.error(
                "@context",
                format!(
                    "`{}` is not an OpenVEX context: write {CONTEXT}",
                    shown(&context)
                ),
            ));
        }
        Ok(())
    }

    /// The statements, each checked, and then none overlapping another.
    fn statements(&self, raw: Opt<List<Obj<RawStatement>>>) -> Result<Vec<Statement>> {
        let List(items) = self.required(
            raw,
            "statements",
            "a document holds one statement or more (OpenVEX's schema); with nothing to say, \
             keep no document",
        )?;
        if items.is_empty() {
            return Err(self.error(
                "statements",
                "empty: OpenVEX's schema requires one statement or more (minItems 1), so \
                 scanners and validators refuse this document; with nothing to say, remove the \
                 file (a release without it publishes no VEX)",
            ));
        }
        let statements = items
            .into_iter()
            .enumerate()
            .map(|(i, Obj(s))| self.statement(s, format!("statements[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        self.no_overlap(&statements)?;
        Ok(statements)
    }

    /// One statement, its status rules checked once its fields are read.
    fn statement(&self, raw: RawStatement, path: String) -> Result<Statement> {
        self.fields::<RawStatement>(&path, "an OpenVEX statement")?;
        let vulnerability = self.vulnerability(raw.vulnerability, &path)?;
        let status = self.required(
            raw.status,
            &child(&path, "status"),
            &format!("one of {}", Status::VARIANTS.join(", ")),
        )?;
        let statement = Statement {
            line: self.lines.line(&path),
            vulnerability,
            status,
            justification: raw.justification.0,
            impact_statement: raw.impact_statement.value(),
            action_statement: raw.action_statement.value(),
            action_statement_timestamp: raw.action_statement_timestamp.value(),
            status_notes: raw.status_notes.value(),
            timestamp: raw.timestamp.value(),
            products: self.products(raw.products, &path)?,
            path,
        };
        self.status_rules(&statement)?;
        Ok(statement)
    }

    /// The vulnerability a statement is about: its name is what Trivy matches findings by.
    fn vulnerability(
        &self,
        raw: Opt<Obj<RawVulnerability>>,
        statement: &str,
    ) -> Result<Vulnerability> {
        let path = child(statement, "vulnerability");
        let Obj(v) = self.required(
            raw,
            &path,
            "the vulnerability, e.g. {\"name\": \"CVE-2099-0003\"}",
        )?;
        self.fields::<RawVulnerability>(&path, "a vulnerability")?;
        let aliases = v.aliases.0.map_or_else(Vec::new, |List(aliases)| aliases);
        Ok(Vulnerability {
            name: self.required(
                v.name,
                &child(&path, "name"),
                "the vulnerability's ID as Trivy reports it, e.g. CVE-2099-0003",
            )?,
            id: v.id.value(),
            description: v.description.value(),
            aliases: aliases.into_iter().map(|a| a.0).collect(),
        })
    }

    /// go-vex's rules (stricter than the schema), plus the project's: a not_affected statement
    /// gives the machine-readable reason, an impact_statement alone is not enough. First the
    /// fields a status does not allow, then those it needs.
    fn status_rules(&self, s: &Statement) -> Result<()> {
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
                    "a {} statement has no {key} (OpenVEX gives a justification or an \
                     impact_statement only to not_affected, an action_statement only to \
                     affected): remove it, or change the status",
                    s.status
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
                    Justification::VARIANTS.join(", ")
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
}

/// serde_json's message without its position, which the error gives in front instead.
pub(super) fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rsplit_once(" at line ") {
        Some((m, _)) => m.to_string(),
        None => message,
    }
}
