//! Filename sanitising: whatever a browser or script sends as a file name becomes a name Fast.io
//! accepts (`fastio-api.md` §7.1) and that cannot walk out of its folder or fool a reader.
//!
//! Rules: keep only the last path segment (`../x` → `x`, `a\b` → `b`), drop control and bidi
//! characters, no trailing dot or space, not `.` or `..`, at most [`MAX_NAME_BYTES`] bytes cut on a
//! char boundary while keeping the extension, and an empty result becomes [`FALLBACK_NAME`].

/// The longest name we send upstream, in UTF-8 bytes (Fast.io allows 255 characters; bytes are
/// the stricter and safer reading).
pub const MAX_NAME_BYTES: usize = 255;

/// What a name that sanitises to nothing becomes.
pub const FALLBACK_NAME: &str = "unnamed";

/// The longest extension kept intact when a long name is shortened.
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// Returns a safe version of `raw` following the module rules; never fails.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !is_forbidden(*c)).collect();
    let trimmed = trim_name(&cleaned);
    let bounded = shorten(trimmed);
    let name = trim_name(&bounded);
    if name.is_empty() || name == "." || name == ".." {
        FALLBACK_NAME.to_owned()
    } else {
        name.to_owned()
    }
}

/// Control characters (C0, DEL, C1) and the Unicode bidi controls that can make `exe.pdf` show
/// as something else: never part of a name.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Leading whitespace and trailing dots/whitespace are not allowed upstream (and confuse people).
fn trim_name(name: &str) -> &str {
    name.trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// Cuts `name` to [`MAX_NAME_BYTES`], keeping a short extension, on a char boundary.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let ext = name
        .rfind('.')
        .filter(|&dot| dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION_BYTES)
        .map_or("", |dot| &name[dot..]);
    let stem_budget = MAX_NAME_BYTES - ext.len();
    let stem = &name[..name.len() - ext.len()];
    let mut cut = stem_budget.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_are_dropped_keeping_the_last_segment() {
        assert_eq!(sanitize_filename("../x"), "x");
        assert_eq!(sanitize_filename("a\\b"), "b");
        assert_eq!(sanitize_filename("/etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\report.pdf"), "report.pdf");
    }

    #[test]
    fn dot_names_and_empty_names_become_the_fallback() {
        for raw in ["", ".", "..", "../..", "dir/", "   ", "\u{0}\u{1}", "..."] {
            assert_eq!(sanitize_filename(raw), FALLBACK_NAME, "{raw:?}");
        }
    }

    #[test]
    fn control_and_bidi_characters_are_removed() {
        assert_eq!(sanitize_filename("a\nb\r\tc\u{7f}.txt"), "abc.txt");
        assert_eq!(
            sanitize_filename("invoice\u{202E}fdp.exe"),
            "invoicefdp.exe"
        );
        assert_eq!(sanitize_filename("x\u{2066}y\u{200F}"), "xy");
    }

    #[test]
    fn trailing_dots_and_spaces_are_trimmed() {
        assert_eq!(sanitize_filename("report. . "), "report");
        assert_eq!(sanitize_filename("  notes.txt"), "notes.txt");
    }

    #[test]
    fn ordinary_unicode_names_are_kept() {
        assert_eq!(
            sanitize_filename("Über café 日本.pdf"),
            "Über café 日本.pdf"
        );
        assert_eq!(sanitize_filename(".env"), ".env");
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(300));
        let out = sanitize_filename(&long);
        assert!(out.len() <= MAX_NAME_BYTES, "{}", out.len());
        assert!(out.ends_with("é.pdf"));
        let no_ext = "日".repeat(200);
        let out = sanitize_filename(&no_ext);
        assert!(out.len() <= MAX_NAME_BYTES && out.len() >= MAX_NAME_BYTES - 3);
    }
}
