//! The JSON line locator. serde keeps no positions, yet every error of the project's file should
//! point at the line to fix, also one found after reading (a rule of OpenVEX broken, a field
//! missing); so the text serde_json accepted is walked once more here as raw values, each of
//! which is a slice of the text that tells where it starts: each JSON path is mapped to the
//! line its value starts on, and each object's keys noted, which serde would skip silently if
//! unknown.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// `path.key`, or `key` at the top: the JSON paths the locator records and errors name.
pub(super) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Where each value of a JSON text starts, by its JSON path (`statements[0].products[1].@id`).
#[derive(Debug, Default)]
pub(super) struct Lines {
    at: HashMap<String, usize>,
    /// The keys of each object, by its path, in the order written.
    keys: HashMap<String, Vec<String>>,
    /// The first key given twice in one object: its path, first and second line. serde_json
    /// keeps the second silently, as Trivy's reader does, so the first would be ignored.
    pub(super) duplicate: Option<(String, usize, usize)>,
}

impl Lines {
    /// Walks a text serde_json has accepted.
    pub(super) fn scan(text: &str) -> Lines {
        let mut lines = Lines::default();
        // Where each line breaks, so that a value's line is a search, not a count from the top.
        let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        if let Ok(value) = serde_json::from_str::<&RawValue>(text) {
            lines.value((text, &breaks), String::new(), value);
        }
        lines
    }

    /// Records where `value` (at `path`, a slice of `text`) starts, and the first key given
    /// twice; then an object's values under `path.key` and an array's under `path[index]`.
    fn value(&mut self, (text, breaks): (&str, &[usize]), path: String, value: &RawValue) {
        let start = value.get().as_ptr() as usize - text.as_ptr() as usize;
        let line = breaks.partition_point(|&b| b < start) + 1;
        if let Some(first) = self.at.insert(path.clone(), line) {
            self.duplicate.get_or_insert((path.clone(), first, line));
        }
        if let Ok(Entries(entries)) = serde_json::from_str(value.get()) {
            for (key, value) in entries {
                self.keys.entry(path.clone()).or_default().push(key.clone());
                self.value((text, breaks), child(&path, &key), value);
            }
        } else if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(value.get()) {
            for (i, item) in items.into_iter().enumerate() {
                self.value((text, breaks), format!("{path}[{i}]"), item);
            }
        }
    }

    /// The line of `path`, or of the nearest value around it: a missing field is shown at the
    /// object that lacks it.
    pub(super) fn line(&self, path: &str) -> usize {
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

    /// The keys of the object at `path`, in the order written.
    pub(super) fn keys(&self, path: &str) -> &[String] {
        self.keys.get(path).map_or(&[], Vec::as_slice)
    }
}

/// An object's entries in the order written, a key given twice kept twice (a map would keep
/// one), each value still raw text.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Entries(Vec::new()))
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Entries<'a> {
    type Value = Self;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self, A::Error> {
        while let Some(entry) = map.next_entry()? {
            self.0.push(entry);
        }
        Ok(self)
    }
}
