//! Typed reading of the fields of one JSON object. Each reader refuses a value of the wrong type
//! (or an empty string) with an error at the value's line, so the OpenVEX rules built on them
//! never see a value they did not expect.

use std::fmt;

use anyhow::{anyhow, Result};
use serde_json::{Map, Value};

use super::locate::{child, Lines};
use crate::text::{one_line, shown};

/// How a value that has the wrong type is shown.
pub(super) fn described(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => format!("`{}`", shown(&other.to_string())),
    }
}

/// An object of the document and its path.
pub(super) struct Object<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
}

impl Object<'_> {
    /// The path of one of its fields, for the line of an error about it.
    pub(super) fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }
}

/// Checks a parsed document against the text it came from, for the lines of its errors.
pub(super) struct Checker<'a> {
    /// The name errors show.
    pub(super) file: &'a str,
    pub(super) lines: Lines,
}

impl<'a> Checker<'a> {
    /// A checker of the text `lines` were scanned from, its errors shown as `file`.
    pub(super) fn new(file: &'a str, lines: Lines) -> Checker<'a> {
        Checker { file, lines }
    }

    /// `file:line: path: message`, the line being that of `path` (or of what holds it).
    pub(super) fn error(&self, path: &str, message: impl fmt::Display) -> anyhow::Error {
        let line = self.lines.line(path);
        if path.is_empty() {
            anyhow!("{}:{line}: {message}", self.file)
        } else {
            anyhow!("{}:{line}: {}: {message}", self.file, one_line(path))
        }
    }

    /// `value` as an object at `path`, for its fields to be read.
    pub(super) fn object<'v>(&self, value: &'v Value, path: String) -> Result<Object<'v>> {
        match value {
            Value::Object(map) => Ok(Object { map, path }),
            other => Err(self.error(&path, format!("{} is not an object", described(other)))),
        }
    }

    /// Refuses a field the object does not know: a misspelt field would be dropped silently.
    pub(super) fn fields(&self, obj: &Object, allowed: &[&str], what: &str) -> Result<()> {
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
    pub(super) fn text(&self, obj: &Object, key: &str) -> Result<Option<String>> {
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

    /// A string that must be given; `what` says what to write.
    pub(super) fn required_text(&self, obj: &Object, key: &str, what: &str) -> Result<String> {
        self.text(obj, key)?
            .ok_or_else(|| self.error(&obj.path(key), format!("missing: {what}")))
    }

    /// An optional RFC 3339 time, kept as written so that the documents written from it say
    /// the same.
    pub(super) fn time(&self, obj: &Object, key: &str) -> Result<Option<String>> {
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

    /// An optional document or statement version: OpenVEX counts them from 1.
    pub(super) fn version(&self, obj: &Object, key: &str) -> Result<Option<u64>> {
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

    /// An optional array.
    pub(super) fn array<'v>(&self, obj: &Object<'v>, key: &str) -> Result<Option<&'v Vec<Value>>> {
        match obj.map.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.error(
                &obj.path(key),
                format!("{} is not an array", described(other)),
            )),
        }
    }
}
