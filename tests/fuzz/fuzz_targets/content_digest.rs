//! Any text as an RFC 9530 `Content-Digest` header: parsing never panics, and a parsed
//! SHA-256 prints back to a header that parses to the same digest.
#![no_main]

use fastgate::upload::digest::Sha256Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|header: &str| {
    if let Some(d) = Sha256Digest::from_content_digest(header) {
        assert_eq!(Sha256Digest::from_content_digest(&d.to_content_digest()), Some(d));
    }
});
