//! Any text as a size (`FASTGATE_MAX_FILE_SIZE`) or a duration (`FASTGATE_SESSION_IDLE`…):
//! parsing never panics or overflows; a parsed size printed in bytes parses back to itself.
#![no_main]

use fastgate::config::{parse_duration, parse_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(bytes) = parse_size(text) {
        assert_eq!(parse_size(&bytes.to_string()), Ok(bytes));
    }
    if let Ok(d) = parse_duration(text) {
        let secs = d.as_secs();
        if d.subsec_nanos() == 0 {
            assert_eq!(parse_duration(&format!("{secs}s")), Ok(d));
        }
    }
});
