//! Text that came from a user or a tool, made safe to echo: control characters (a newline,
//! an escape sequence) are shown escaped, so that an error stays one line and nothing it
//! quotes can drive the terminal.

/// `s` with every control character escaped (`\n`, `\u{1b}`), and cut after 200 characters.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == 200 {
            out.push_str("...");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A whole message, one line: like `shown`, without the cut.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => format!("{}", c.escape_default()),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(shown("v1\n2"), "v1\\n2");
        assert_eq!(shown("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(shown("ünïcode ok"), "ünïcode ok");
        assert_eq!(shown(&"a".repeat(300)).len(), 203);
        assert_eq!(one_line("first\nsecond\t\u{7}"), "first\\nsecond\\t\\u{7}");
    }
}
