//! Any text as a file name: the sanitised name is never empty, never `.` or `..`, at most
//! 255 bytes, and holds no slash, backslash, NUL or control character.
#![no_main]

use fastgate::upload::names::{MAX_NAME_BYTES, sanitize_filename};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let name = sanitize_filename(raw);
    assert!(!name.is_empty() && name != "." && name != "..");
    assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
    assert!(!name.contains(['/', '\\', '\0']), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert_eq!(sanitize_filename(&name), name, "sanitising is idempotent");
});
