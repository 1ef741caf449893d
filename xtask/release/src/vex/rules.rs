//! The OpenVEX rules of a document and its statements: which fields each object may have, which
//! it must, and what each status allows. go-vex's rules (stricter than the schema) are kept, and
//! the project's own: a not_affected statement gives its machine-readable reason.

use anyhow::{bail, Result};
use serde_json::Value;

use super::fields::{described, Checker, Object};
use super::locate::child;
use super::{Document, Justification, Statement, Status, Vulnerability, CONTEXT};
use crate::text::{one_line, shown};

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

/// The labels of a list of values, for an error that says what is allowed.
fn labels(all: impl IntoIterator<Item = &'static str>) -> String {
    all.into_iter().collect::<Vec<_>>().join(", ")
}

impl Checker<'_> {
    /// The whole document: its own fields, then each statement, then the statements together.
    pub(super) fn document(&self, value: &Value) -> Result<Document> {
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
        let obj = self.object(value, String::new())?;
        self.fields(&obj, DOCUMENT_FIELDS, "an OpenVEX document")?;
        self.context(&obj)?;
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
        Ok(Document {
            id,
            author,
            timestamp,
            version,
            statements: self.statements(&obj)?,
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

    /// Trivy refuses a VEX file without an OpenVEX `@context`, so it is checked first.
    fn context(&self, obj: &Object) -> Result<()> {
        let context = self.required_text(
            obj,
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
        Ok(())
    }

    /// The statements, each checked, and then none overlapping another.
    fn statements(&self, obj: &Object) -> Result<Vec<Statement>> {
        let items = self.array(obj, "statements")?.ok_or_else(|| {
            self.error(
                "statements",
                "missing: a document holds one statement or more (OpenVEX's schema); with \
                 nothing to say, keep no document",
            )
        })?;
        if items.is_empty() {
            return Err(self.error(
                "statements",
                "empty: OpenVEX's schema requires one statement or more (minItems 1), so \
                 scanners and validators refuse this document; with nothing to say, remove the \
                 file (a release without it publishes no VEX)",
            ));
        }
        let statements = items
            .iter()
            .enumerate()
            .map(|(i, v)| self.statement(v, format!("statements[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        self.no_overlap(&statements)?;
        Ok(statements)
    }

    /// One statement, its status rules checked once its fields are read.
    fn statement(&self, value: &Value, path: String) -> Result<Statement> {
        let obj = self.object(value, path)?;
        self.fields(&obj, STATEMENT_FIELDS, "an OpenVEX statement")?;
        let vulnerability = self.vulnerability(&obj)?;
        let status = self.status(&obj)?;
        let justification = self.justification(&obj)?;
        let impact_statement = self.text(&obj, "impact_statement")?;
        let action_statement = self.text(&obj, "action_statement")?;
        let action_statement_timestamp = self.time(&obj, "action_statement_timestamp")?;
        let status_notes = self.text(&obj, "status_notes")?;
        let timestamp = self.time(&obj, "timestamp")?;
        // Not carried over, but still checked: a wrong value here is a mistake in the file.
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

    /// The vulnerability a statement is about: its name is what Trivy matches findings by.
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
        Ok(Vulnerability {
            name,
            aliases: self.aliases(&v)?,
            id: self.text(&v, "@id")?,
            description: self.text(&v, "description")?,
        })
    }

    /// The other IDs of the vulnerability: Trivy matches a finding by any of them, so each must
    /// be a non-empty string.
    fn aliases(&self, v: &Object) -> Result<Vec<String>> {
        let mut aliases = Vec::new();
        for (i, alias) in self.array(v, "aliases")?.into_iter().flatten().enumerate() {
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
        Ok(aliases)
    }

    /// One of OpenVEX's four statuses.
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

    /// One of OpenVEX's labels: Trivy shows any other as given, without a word.
    fn justification(&self, obj: &Object) -> Result<Option<Justification>> {
        let Some(j) = self.text(obj, "justification")? else {
            return Ok(None);
        };
        Justification::parse(&j).map(Some).ok_or_else(|| {
            self.error(
                &obj.path("justification"),
                format!(
                    "`{}` is not a justification OpenVEX knows ({})",
                    shown(&j),
                    labels(Justification::ALL.map(Justification::as_str))
                ),
            )
        })
    }

    /// go-vex's rules (stricter than the schema), plus the project's: a not_affected statement
    /// gives the machine-readable reason, an impact_statement alone is not enough.
    fn status_rules(&self, s: &Statement) -> Result<()> {
        self.forbidden_by_status(s)?;
        self.required_by_status(s)
    }

    /// The fields a status does not allow.
    fn forbidden_by_status(&self, s: &Statement) -> Result<()> {
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
        match present.iter().find(|(k, p)| *p && forbidden.contains(k)) {
            Some((key, _)) => Err(self.error(
                &child(&s.path, key),
                format!(
                    "a {} statement has no {key} (OpenVEX gives a justification or an \
                     impact_statement only to not_affected, an action_statement only to \
                     affected): remove it, or change the status",
                    s.status.as_str()
                ),
            )),
            None => Ok(()),
        }
    }

    /// The fields a status needs: the reason of not_affected, the action of affected.
    fn required_by_status(&self, s: &Statement) -> Result<()> {
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
}
