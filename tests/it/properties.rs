//! Properties of the parsers of untrusted input, checked on generated values (proptest): the
//! filename sanitiser, the listing cursor, upload tokens, size and duration values, RFC 9530
//! digests and the allowed-type rules. None panics on any input; what should round-trip does;
//! nothing they hand on contains `/`, `\`, NUL or a control character. The same parsers are
//! fuzzed by the targets in `tests/fuzz/`.

use std::time::Duration;

use fastgate::config::{parse_duration, parse_size};
use fastgate::upload::digest::Sha256Digest;
use fastgate::upload::names::{FALLBACK_NAME, MAX_NAME_BYTES, is_forbidden, sanitize_filename};
use fastgate::upload::rules::AllowedTypes;
use fastgate::upload::token::{TokenError, TokenKey, UploadClaims};
use fastgate::web::cursor::{Cursor, CursorKey};
use proptest::prelude::*;
use secrecy::SecretSlice;

fn key(byte: u8) -> SecretSlice<u8> {
    SecretSlice::from(vec![byte; 32])
}

/// Names as hostile as they come: any Unicode, plus the characters that matter most.
fn hostile_name() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "/", "\\", "\0", "\r", "\n", ".", "..", " ", "\u{202E}", "\u{2066}", "\u{200F}", "\u{7f}",
        "\u{85}", "CON", "%2F", "é", "日本", "🙂",
    ]);
    prop::collection::vec(
        prop_oneof![any::<String>(), special.prop_map(str::to_owned)],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn claims() -> impl Strategy<Value = UploadClaims> {
    (
        "[a-zA-Z0-9_-]{1,40}",
        "[a-z0-9]{1,20}",
        any::<String>(),
        any::<String>(),
        any::<u64>(),
        any::<u64>(),
        -1_000_000i64..4_000_000_000i64,
    )
        .prop_map(
            |(session, workspace, folder, name, size, chunk_size, expires)| UploadClaims {
                session,
                workspace,
                folder,
                name,
                size,
                chunk_size,
                expires,
                link: None,
                one_call: false,
            },
        )
}

fn cursor() -> impl Strategy<Value = Cursor> {
    (
        any::<String>(),
        any::<String>(),
        any::<String>(),
        any::<String>(),
        any::<u32>(),
        proptest::option::of(any::<String>()),
        any::<u32>(),
    )
        .prop_map(
            |(workspace, folder, sort, order, page_size, upstream, offset)| Cursor {
                workspace,
                folder,
                sort,
                order,
                page_size,
                upstream,
                offset,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sanitised_names_are_safe_bounded_and_stable(raw in hostile_name()) {
        let name = sanitize_filename(&raw);
        prop_assert!(!name.is_empty() && name != "." && name != "..");
        prop_assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
        prop_assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
        prop_assert!(!name.chars().any(|c| c.is_control() || is_forbidden(c)), "{name:?}");
        prop_assert!(!name.starts_with(char::is_whitespace));
        prop_assert!(!name.ends_with(|c: char| c == '.' || c.is_whitespace()));
        prop_assert_eq!(sanitize_filename(&name), name.clone(), "idempotent");
    }

    #[test]
    fn a_plain_name_is_kept_as_it_is(stem in "[a-zA-Z0-9_-][a-zA-Z0-9 _-]{0,50}[a-zA-Z0-9_-]", ext in "[a-z0-9]{1,8}") {
        let name = format!("{stem}.{ext}");
        prop_assert_eq!(sanitize_filename(&name), name);
    }

    #[test]
    fn only_the_last_path_segment_survives(dirs in prop::collection::vec("[a-z.]{0,6}", 1..5), leaf in "[a-z]{1,10}\\.txt") {
        let raw = format!("{}/{leaf}", dirs.join("\\"));
        prop_assert_eq!(sanitize_filename(&raw), leaf);
    }

    #[test]
    fn cursors_round_trip_and_any_text_decodes_without_panic(c in cursor(), text in any::<String>()) {
        let k = CursorKey::new(key(1));
        let encoded = k.encode(&c);
        prop_assert_eq!(k.decode(&encoded).expect("own cursor"), c.clone());
        prop_assert!(CursorKey::new(key(2)).decode(&encoded).is_err(), "another secret's cursor");
        // Any other text is refused or is a cursor this key signed.
        if let Ok(decoded) = k.decode(&text) {
            prop_assert_eq!(k.encode(&decoded), text);
        }
    }

    #[test]
    fn a_cursor_with_one_character_changed_is_refused(c in cursor(), at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
        let k = CursorKey::new(key(1));
        let encoded = k.encode(&c);
        let i = at.index(encoded.len());
        let mut bytes = encoded.clone().into_bytes();
        let replacement = with.as_bytes()[0];
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let tampered = String::from_utf8(bytes).expect("ascii");
        // base64url without padding: some last-character changes decode to the same bytes.
        if let Ok(decoded) = k.decode(&tampered) {
            prop_assert_eq!(decoded, c);
        }
    }

    #[test]
    fn upload_tokens_verify_only_for_their_session_key_and_time(c in claims(), other in "[a-z]{1,10}", text in any::<String>()) {
        let k = TokenKey::new(key(3));
        let token = k.sign(&c);
        let before = c.expires - 1;
        prop_assert_eq!(k.verify(&token, &c.session, before).expect("valid"), c.clone());
        prop_assert_eq!(k.verify(&token, &c.session, c.expires), Err(TokenError::Expired));
        let elsewhere = format!("{}-{other}", c.session);
        prop_assert!(k.verify(&token, &elsewhere, before).is_err(), "another session");
        prop_assert!(TokenKey::new(key(4)).verify(&token, &c.session, before).is_err(), "another key");
        prop_assert!(k.verify(&text, &c.session, before).is_err() || text == token);
    }

    #[test]
    fn sizes_in_bytes_round_trip_and_any_text_parses_without_panic(n in 1u64.., text in any::<String>()) {
        prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
        if let Ok(bytes) = parse_size(&text) {
            prop_assert_eq!(parse_size(&bytes.to_string()), Ok(bytes));
        }
    }

    #[test]
    fn sizes_with_units_multiply_exactly(n in 1u64..1_000_000, unit in prop::sample::select(vec![
        ("B", 1u64), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
    ])) {
        let (suffix, factor) = unit;
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * factor));
    }

    #[test]
    fn durations_round_trip_in_seconds_and_any_text_parses_without_panic(secs in 1u64..10_000_000_000, text in any::<String>()) {
        prop_assert_eq!(parse_duration(&format!("{secs}s")), Ok(Duration::from_secs(secs)));
        let _ = parse_duration(&text);
    }

    #[test]
    fn content_digests_round_trip_and_any_header_parses_without_panic(bytes in any::<Vec<u8>>(), header in any::<String>()) {
        let d = Sha256Digest::of(&bytes);
        prop_assert_eq!(Sha256Digest::from_content_digest(&d.to_content_digest()), Some(d));
        let listed = format!("sha-512=:AAAA:, {}", d.to_content_digest());
        prop_assert_eq!(Sha256Digest::from_content_digest(&listed), Some(d));
        if let Some(p) = Sha256Digest::from_content_digest(&header) {
            prop_assert_eq!(Sha256Digest::from_content_digest(&p.to_content_digest()), Some(p));
        }
    }

    #[test]
    fn type_rules_parse_print_and_check_without_panic(rules in any::<String>(), name in hostile_name(), head in any::<Vec<u8>>()) {
        if let Ok(types) = rules.parse::<AllowedTypes>() {
            let _ = types.check(&name, &head);
            let printed = types.accept_attribute();
            prop_assert!(!printed.contains(['\0', '\r', '\n']), "{printed:?}");
            if !printed.is_empty() {
                let again: AllowedTypes = printed.parse().expect("printed rules parse");
                prop_assert_eq!(again.accept_attribute(), printed);
            }
        }
    }

    #[test]
    fn an_extension_rule_allows_its_extension_in_any_case(ext in "[a-z0-9]{1,8}", stem in "[a-z]{1,10}") {
        let types: AllowedTypes = format!(".{ext}").parse().expect("an extension rule");
        let (lower, upper, other) = (
            format!("{stem}.{ext}"),
            format!("{stem}.{}", ext.to_uppercase()),
            format!("{stem}.{ext}zzq"),
        );
        prop_assert!(types.check_name(&lower).is_ok(), "{lower}");
        prop_assert!(types.check_name(&upper).is_ok(), "{upper}");
        prop_assert!(types.check_name(&other).is_err(), "{other}");
    }
}

#[test]
fn names_that_sanitise_to_nothing_get_the_fallback() {
    for raw in ["", "...", " . ", "/", "a/", "\u{202E}", "\0\r\n"] {
        assert_eq!(sanitize_filename(raw), FALLBACK_NAME, "{raw:?}");
    }
}
