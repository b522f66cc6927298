//! Any text as a listing cursor: decoding never panics, and whatever decodes re-encodes to a
//! cursor that decodes to the same position (only signed cursors decode at all).
#![no_main]

use fastgate::web::cursor::CursorKey;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretSlice;

fuzz_target!(|text: &str| {
    let key = CursorKey::new(SecretSlice::from(b"fuzzing-secret-0123456789abcdef".to_vec()));
    if let Ok(cursor) = key.decode(text) {
        let again = key.decode(&key.encode(&cursor)).expect("a re-encoded cursor decodes");
        assert_eq!(again, cursor);
    }
});
