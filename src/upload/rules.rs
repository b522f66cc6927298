//! Which file types may be uploaded (`FASTGATE_ALLOWED_TYPES`), decided from the name *and* the
//! leading bytes before the first byte goes upstream, so a renamed executable does not pass as a
//! PDF.
//!
//! A rule is an extension (`.pdf`), a MIME type (`text/csv`) or a MIME wildcard (`image/*`). A
//! file passes when its extension is allowed (directly or through the MIME types it implies) and,
//! when the leading bytes identify a type, that type is allowed too. A file whose extension names
//! a type with a known signature (`.png`) but whose bytes show none is refused.

use std::fmt;
use std::str::FromStr;

/// How many leading bytes [`AllowedTypes::check`] wants to see (fewer for a shorter file).
pub const SNIFF_LEN: usize = 8192;

/// The configured set of allowed types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedTypes {
    /// Every type is allowed (the default).
    Any,
    /// Only files matching one of these rules.
    Only(Vec<TypeRule>),
    /// Only files every one of these rule lists allows (a link's types within the gateway's;
    /// see [`AllowedTypes::and`]).
    Each(Vec<Vec<TypeRule>>),
}

/// One allowed-type rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeRule {
    /// `.pdf` (stored lower-case, without the dot).
    Extension(String),
    /// `application/pdf` (lower-case).
    Mime(String),
    /// `image/*` (the top-level type, lower-case).
    MimeWildcard(String),
}

/// Why a file was refused; its Display is the message shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TypeRejected {
    /// The name's extension (or its absence) is not allowed.
    #[error("files of type “{extension}” are not accepted here")]
    Extension {
        /// The extension found, or `(none)`.
        extension: String,
    },
    /// The content was identified as a type that is not allowed.
    #[error("the content of this file looks like {detected}, which is not accepted here")]
    Content {
        /// The MIME type the leading bytes show.
        detected: String,
    },
    /// The extension promises a type with a signature, and the bytes do not carry it.
    #[error("the content of this file does not match its “.{extension}” extension")]
    Mismatch {
        /// The extension whose signature was missing.
        extension: String,
    },
}

/// A rule list that could not be parsed; its Display says which entry is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("“{entry}” is neither an extension like .pdf nor a MIME type like image/png or image/*")]
pub struct RuleParseError {
    /// The offending entry as written.
    pub entry: String,
}

impl FromStr for AllowedTypes {
    type Err = RuleParseError;

    /// Parses `.pdf,image/*,text/csv`; empty or `*` means [`AllowedTypes::Any`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let entries: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() || entries.iter().any(|e| *e == "*" || *e == "*/*") {
            return Ok(Self::Any);
        }
        entries
            .into_iter()
            .map(TypeRule::parse)
            .collect::<Result<_, _>>()
            .map(Self::Only)
    }
}

impl TypeRule {
    fn parse(entry: &str) -> Result<Self, RuleParseError> {
        let lower = entry.to_ascii_lowercase();
        let token_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        };
        let bad = || RuleParseError {
            entry: entry.to_owned(),
        };
        if let Some(ext) = lower.strip_prefix('.') {
            return token_ok(ext)
                .then(|| Self::Extension(ext.to_owned()))
                .ok_or_else(bad);
        }
        let (top, sub) = lower.split_once('/').ok_or_else(bad)?;
        match sub {
            "*" if token_ok(top) => Ok(Self::MimeWildcard(top.to_owned())),
            _ if token_ok(top) && token_ok(sub) => Ok(Self::Mime(lower.clone())),
            _ => Err(bad()),
        }
    }

    /// Does this rule allow a type known by its extension and the MIME types it implies?
    fn allows(&self, ext: &str, mimes: &[String]) -> bool {
        match self {
            Self::Extension(e) => {
                e == ext || {
                    let implied = implied_mimes(e);
                    mimes.iter().any(|m| implied.contains(m))
                }
            }
            Self::Mime(m) => mimes.iter().any(|x| x == m),
            Self::MimeWildcard(top) => mimes
                .iter()
                .any(|m| m.split_once('/').is_some_and(|(t, _)| t == top)),
        }
    }
}

impl TypeRule {
    /// Does this (outer) rule allow every file `inner` names?
    fn covers(&self, inner: &TypeRule) -> bool {
        match inner {
            Self::Extension(e) => self.allows(e, &implied_mimes(e)),
            Self::Mime(m) => match self {
                Self::Extension(_) => false,
                other => other.allows("", std::slice::from_ref(m)),
            },
            Self::MimeWildcard(top) => matches!(self, Self::MimeWildcard(t) if t == top),
        }
    }
}

impl fmt::Display for TypeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Extension(e) => write!(f, ".{e}"),
            Self::Mime(m) => f.write_str(m),
            Self::MimeWildcard(t) => write!(f, "{t}/*"),
        }
    }
}

impl AllowedTypes {
    /// Decides whether a file named `name` (already sanitised) whose content starts with `head`
    /// (up to [`SNIFF_LEN`] bytes; all of it for a shorter file) may be uploaded.
    pub fn check(&self, name: &str, head: &[u8]) -> Result<(), TypeRejected> {
        self.lists()
            .iter()
            .try_for_each(|rules| check_rules(rules, name, head))
    }

    /// The half of [`Self::check`] that needs no content: is `name`'s extension allowed? Used
    /// when an upload is announced, before any byte exists; [`Self::check`] follows on the first
    /// bytes.
    pub fn check_name(&self, name: &str) -> Result<(), TypeRejected> {
        self.lists()
            .iter()
            .try_for_each(|rules| check_name_rules(rules, name))
    }

    /// Files both `self` and `other` allow (the gateway's types and a link's).
    pub fn and(self, other: AllowedTypes) -> AllowedTypes {
        let mut lists: Vec<Vec<TypeRule>> = self.lists().into_iter().cloned().collect();
        lists.extend(other.lists().into_iter().cloned());
        match lists.len() {
            0 => Self::Any,
            1 => Self::Only(lists.remove(0)),
            _ => Self::Each(lists),
        }
    }

    /// Whether every rule of `self` is one `outer` allows too (a link's types must be within the
    /// gateway's); the first rule that is not, otherwise. Anything is within [`Self::Any`];
    /// [`Self::Any`] is within nothing narrower.
    pub fn within(&self, outer: &AllowedTypes) -> Result<(), String> {
        let outer = outer.lists();
        if outer.is_empty() {
            return Ok(());
        }
        let inner = self.lists();
        let Some(rules) = inner.last() else {
            return Err("*".to_owned());
        };
        for rule in rules.iter() {
            let covered = outer.iter().all(|list| list.iter().any(|o| o.covers(rule)));
            if !covered {
                return Err(rule.to_string());
            }
        }
        Ok(())
    }

    /// The rule lists a file must each pass (none for [`Self::Any`]).
    fn lists(&self) -> Vec<&Vec<TypeRule>> {
        match self {
            Self::Any => Vec::new(),
            Self::Only(rules) => vec![rules],
            Self::Each(lists) => lists.iter().collect(),
        }
    }

    /// The rules as an HTML `accept` attribute value (`.pdf,image/*`); empty for [`Self::Any`].
    pub fn accept_attribute(&self) -> String {
        // The narrowest list is the last one (a link's, within the gateway's).
        self.lists().last().map_or_else(String::new, |rules| {
            rules
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

/// [`AllowedTypes::check`] against one rule list.
fn check_rules(rules: &[TypeRule], name: &str, head: &[u8]) -> Result<(), TypeRejected> {
    check_name_rules(rules, name)?;
    let ext = extension_of(name);
    match infer::get(head) {
        Some(found) => {
            let detected = vec![found.mime_type().to_owned()];
            if rules.iter().any(|r| r.allows(found.extension(), &detected)) {
                Ok(())
            } else {
                Err(TypeRejected::Content {
                    detected: found.mime_type().to_owned(),
                })
            }
        }
        None if !ext.is_empty() && infer::is_supported(&ext) => {
            Err(TypeRejected::Mismatch { extension: ext })
        }
        None => Ok(()),
    }
}

/// [`AllowedTypes::check_name`] against one rule list.
fn check_name_rules(rules: &[TypeRule], name: &str) -> Result<(), TypeRejected> {
    let ext = extension_of(name);
    let mimes = implied_mimes(&ext);
    if rules.iter().any(|r| r.allows(&ext, &mimes)) {
        return Ok(());
    }
    let extension = if ext.is_empty() {
        "(none)".to_owned()
    } else {
        format!(".{ext}")
    };
    Err(TypeRejected::Extension { extension })
}

/// The lower-case extension of `name` without the dot, or empty.
fn extension_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The MIME types an extension implies (lower-case), by the `mime_guess` table.
fn implied_mimes(ext: &str) -> Vec<String> {
    mime_guess::from_ext(ext)
        .iter()
        .map(|m| m.essence_str().to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
    const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";

    fn rules(s: &str) -> AllowedTypes {
        s.parse().expect("valid rules")
    }

    #[test]
    fn empty_or_star_means_any_type() {
        assert_eq!(rules(""), AllowedTypes::Any);
        assert_eq!(rules("*"), AllowedTypes::Any);
        assert!(AllowedTypes::Any.check("x.exe", EXE).is_ok());
    }

    #[test]
    fn parsing_accepts_extensions_mimes_and_wildcards_and_names_bad_entries() {
        assert_eq!(
            rules(" .PDF , image/* ,text/csv"),
            AllowedTypes::Only(vec![
                TypeRule::Extension("pdf".into()),
                TypeRule::MimeWildcard("image".into()),
                TypeRule::Mime("text/csv".into()),
            ])
        );
        let err = "pdf".parse::<AllowedTypes>().expect_err("bare word");
        assert_eq!(err.entry, "pdf");
        assert!("image/".parse::<AllowedTypes>().is_err());
        assert!("./x".parse::<AllowedTypes>().is_err());
    }

    #[test]
    fn extension_rules_allow_matching_names_and_content() {
        let r = rules(".pdf");
        assert!(r.check("report.PDF", PDF).is_ok());
        assert!(matches!(
            r.check("report.txt", b"hi"),
            Err(TypeRejected::Extension { .. })
        ));
        assert!(matches!(
            r.check("README", b"hi"),
            Err(TypeRejected::Extension { .. })
        ));
    }

    #[test]
    fn a_renamed_executable_is_refused_by_its_leading_bytes() {
        let err = rules(".pdf")
            .check("invoice.pdf", EXE)
            .expect_err("exe content");
        assert!(matches!(err, TypeRejected::Content { .. }), "{err:?}");
        assert!(err.to_string().contains("not accepted"));
    }

    #[test]
    fn mime_wildcards_match_by_top_level_type() {
        let r = rules("image/*");
        assert!(r.check("photo.png", PNG).is_ok());
        assert!(
            r.check("photo.jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF\0")
                .is_ok()
        );
        assert!(r.check("doc.pdf", PDF).is_err());
    }

    #[test]
    fn a_known_signature_missing_from_the_bytes_is_a_mismatch() {
        let err = rules("image/*")
            .check("photo.png", b"just text")
            .expect_err("no magic");
        assert_eq!(
            err,
            TypeRejected::Mismatch {
                extension: "png".into()
            }
        );
    }

    #[test]
    fn text_types_without_a_signature_pass_on_their_extension() {
        let r = rules(".csv,text/plain");
        assert!(r.check("a.csv", b"a,b\n1,2\n").is_ok());
        assert!(r.check("notes.txt", b"hello").is_ok());
    }

    #[test]
    fn jpg_and_jpeg_are_the_same_type() {
        assert!(
            rules(".jpg")
                .check("x.jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF\0")
                .is_ok()
        );
    }

    #[test]
    fn a_links_types_are_checked_together_with_the_gateways() {
        let both = rules(".pdf,image/*").and(rules(".png"));
        assert!(both.check("a.png", PNG).is_ok());
        assert!(
            both.check("a.pdf", PDF).is_err(),
            "the link's list refuses it"
        );
        assert!(both.check_name("a.jpeg").is_err());
        assert_eq!(both.accept_attribute(), ".png");
        assert_eq!(AllowedTypes::Any.and(rules(".pdf")), rules(".pdf"));
        assert_eq!(rules(".pdf").and(AllowedTypes::Any), rules(".pdf"));
    }

    #[test]
    fn a_links_types_must_lie_within_the_gateways() {
        let gateway = rules(".pdf,image/*");
        assert_eq!(rules(".png,image/jpeg,.pdf").within(&gateway), Ok(()));
        assert_eq!(rules("image/*").within(&gateway), Ok(()));
        assert_eq!(
            rules("application/pdf").within(&gateway),
            Err("application/pdf".into())
        );
        assert_eq!(rules(".zip").within(&gateway), Err(".zip".into()));
        assert_eq!(AllowedTypes::Any.within(&gateway), Err("*".into()));
        assert_eq!(rules(".zip").within(&AllowedTypes::Any), Ok(()));
    }

    #[test]
    fn accept_attribute_lists_the_rules() {
        assert_eq!(rules(".pdf,image/*").accept_attribute(), ".pdf,image/*");
        assert_eq!(AllowedTypes::Any.accept_attribute(), "");
    }
}
