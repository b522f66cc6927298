//! Any text as an upload token: verification never panics and never accepts an unsigned one.
#![no_main]

use fastgate::upload::token::TokenKey;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretSlice;

fuzz_target!(|text: &str| {
    let key = TokenKey::new(SecretSlice::from(b"fuzzing-secret-0123456789abcdef".to_vec()));
    let other = TokenKey::new(SecretSlice::from(b"another-secret-0123456789abcdef".to_vec()));
    let mine = key.verify(text, "session-1", 0);
    let theirs = other.verify(text, "session-1", 0);
    assert!(
        !(mine.is_ok() && theirs.is_ok()),
        "one token verified under two keys: {text:?}"
    );
});
