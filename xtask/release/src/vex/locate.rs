//! The JSON line locator. serde keeps no positions, yet every error of the project's file should
//! point at the line to fix, also one found after reading (a rule of OpenVEX broken, a field
//! missing); so the text serde_json accepted is scanned once more here, each JSON path mapped
//! to the line its value starts on, and each object's keys noted, which serde would skip
//! silently if unknown.

use std::collections::HashMap;

use serde_json::Value;

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
    /// Scans a text serde_json has accepted.
    pub(super) fn scan(text: &str) -> Lines {
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

    /// Skips whitespace, counting the lines it ends.
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

    /// Records where the value at `path` starts (and the first key given twice), then skips it,
    /// recording an object's values under `path.key` and an array's under `path[index]`.
    fn value(&mut self, path: String) {
        self.skip_space();
        if let Some(first) = self.lines.at.insert(path.clone(), self.line) {
            self.lines
                .duplicate
                .get_or_insert((path.clone(), first, self.line));
        }
        let object = match self.peek() {
            Some(b'{') => true,
            Some(b'[') => false,
            _ => {
                self.token();
                return;
            }
        };
        self.pos += 1;
        let mut index = 0;
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'}' | b']') | None => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => {
                    self.pos += 1;
                    index += 1;
                }
                Some(_) if object => {
                    let key = self.token().as_str().unwrap_or_default().to_string();
                    let keys = self.lines.keys.entry(path.clone()).or_default();
                    keys.push(key.clone());
                    self.skip_space();
                    self.pos += 1; // the colon
                    self.value(child(&path, &key));
                }
                Some(_) => self.value(format!("{path}[{index}]")),
            }
        }
    }

    /// Skips a string, a number, `true`, `false` or `null`, and returns it decoded (a key may
    /// be written with escapes). None holds a line break.
    fn token(&mut self) -> Value {
        let rest = self.text.get(self.pos..).unwrap_or_default();
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let token = stream.next().and_then(Result::ok).unwrap_or_default();
        self.pos += stream.byte_offset().max(1);
        token
    }
}
