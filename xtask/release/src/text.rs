//! Text that came from a user or a tool, made safe to echo: control characters (a newline,
//! an escape sequence) and characters that print nothing or reorder what follows (U+202E,
//! U+200B, U+FEFF, U+00A0, ...) are shown escaped, so that an error stays one line, nothing it
//! quotes can drive the terminal, and `v1.2.3-<U+202E>rc1` cannot pass for another version.

/// Whether `c` must be shown escaped: Unicode's control (Cc), format (Cf), line and paragraph
/// separator (Zl, Zp) characters, every space but the ASCII one (Zs), and the Hangul fillers,
/// which are letters that print as nothing. Format characters include the bidirectional
/// overrides and isolates (U+202A-202E, U+2066-2069) and the zero-width ones (U+200B-200F,
/// U+2060-2064, U+FEFF).
///
/// The table is Unicode 16.0's general categories (std exposes none); the categories of
/// existing characters never change, and a new format character would be rare.
pub fn disguises(c: char) -> bool {
    const RANGES: &[(u32, u32)] = &[
        // Cc (C0, DEL, C1) and U+00A0 NO-BREAK SPACE (Zs).
        (0x00, 0x1f),
        (0x7f, 0xa0),
        (0xad, 0xad), // SOFT HYPHEN
        (0x600, 0x605),
        (0x61c, 0x61c), // ARABIC LETTER MARK
        (0x6dd, 0x6dd),
        (0x70f, 0x70f),
        (0x890, 0x891),
        (0x8e2, 0x8e2),
        (0x115f, 0x1160), // Hangul fillers (Lo, invisible)
        (0x1680, 0x1680), // OGHAM SPACE MARK
        (0x180e, 0x180e), // MONGOLIAN VOWEL SEPARATOR
        // Spaces U+2000-200A, zero-width U+200B-200D, LRM and RLM U+200E-200F.
        (0x2000, 0x200f),
        // LINE and PARAGRAPH SEPARATOR, the embeddings and overrides U+202A-202E, and
        // NARROW NO-BREAK SPACE U+202F.
        (0x2028, 0x202f),
        // MEDIUM MATHEMATICAL SPACE, WORD JOINER, invisible operators.
        (0x205f, 0x2064),
        // The isolates U+2066-2069 and the deprecated format characters after them.
        (0x2066, 0x206f),
        (0x3000, 0x3000), // IDEOGRAPHIC SPACE
        (0x3164, 0x3164), // HANGUL FILLER
        (0xfeff, 0xfeff), // ZERO WIDTH NO-BREAK SPACE (the BOM)
        (0xffa0, 0xffa0), // HALFWIDTH HANGUL FILLER
        (0xfff9, 0xfffb), // interlinear annotation
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f), // tag characters
    ];
    let c = c as u32;
    RANGES.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

fn escaped(c: char) -> String {
    match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c if disguises(c) => format!("\\u{{{:x}}}", c as u32),
        c => c.into(),
    }
}

/// `s` with every character that `disguises` escaped (`\n`, `\u{1b}`, `\u{202e}`), and cut
/// after 200 characters.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(200).map(escaped).collect();
    if s.chars().nth(200).is_some() {
        out.push_str("...");
    }
    out
}

/// A whole message, one line: like `shown`, without the cut.
pub fn one_line(s: &str) -> String {
    s.chars().map(escaped).collect()
}

/// A platform as it appears in file names and categories: `linux/arm64` is `linux-arm64`.
pub fn platform_slug(platform: &str) -> String {
    platform.replace('/', "-")
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

    #[test]
    fn invisible_and_reordering_characters_are_shown_escaped() {
        assert_eq!(shown("v1.2.3-\u{202e}rc1"), "v1.2.3-\\u{202e}rc1");
        assert_eq!(
            one_line("a\u{200b}b\u{2028}c\u{2029}d\u{feff}e\u{a0}f\u{2066}g\u{2069}"),
            "a\\u{200b}b\\u{2028}c\\u{2029}d\\u{feff}e\\u{a0}f\\u{2066}g\\u{2069}"
        );
        for c in (0x202a..=0x202e)
            .chain(0x2066..=0x2069)
            .chain(0x200b..=0x200f)
            .chain([
                0x2028, 0x2029, 0xfeff, 0xa0, 0xad, 0x3000, 0x2060, 0x61c, 0xe0041, 0x85,
            ])
        {
            let c = char::from_u32(c).unwrap();
            assert!(disguises(c), "U+{:04X} must be escaped", c as u32);
            assert_eq!(one_line(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
        // What prints as itself stays: letters of every script, marks, symbols, the space.
        for s in [
            "v1.2.3-rc.1",
            "Grüße",
            "日本語",
            "עברית",
            "é",
            "😀",
            "a b",
            "~!@#$%^&*()",
        ] {
            assert_eq!(one_line(s), s);
            assert!(!s.chars().any(disguises), "{s}");
        }
    }
}
