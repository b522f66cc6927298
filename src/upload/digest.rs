//! SHA-256 digests as the upload path carries them: raw bytes inside, hex for Fast.io's `hash`
//! field and receipts, RFC 9530 `Content-Digest` for chunk PUTs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of some bytes (a chunk or a whole file).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Digest of `bytes` in one go.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Lower-case hex, the form Fast.io's `hash` field and our receipts use.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The RFC 9530 `Content-Digest` header value: `sha-256=:<base64>:`.
    pub fn to_content_digest(&self) -> String {
        format!("sha-256=:{}:", STANDARD.encode(self.0))
    }

    /// Parses a `Content-Digest` header value, picking its `sha-256` member; `None` when absent or
    /// malformed (other algorithms listed beside it are ignored, as RFC 9530 allows).
    pub fn from_content_digest(header: &str) -> Option<Self> {
        header.split(',').find_map(|member| {
            let (alg, value) = member.trim().split_once('=')?;
            if !alg.trim().eq_ignore_ascii_case("sha-256") {
                return None;
            }
            let b64 = value.trim().strip_prefix(':')?.strip_suffix(':')?;
            let raw = STANDARD.decode(b64).ok()?;
            Some(Self(raw.try_into().ok()?))
        })
    }
}

impl std::fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_empty_input_is_the_well_known_value() {
        assert_eq!(
            Sha256Digest::of(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn content_digest_round_trips_and_ignores_other_algorithms() {
        let d = Sha256Digest::of(b"hello");
        let header = format!("sha-512=:AAAA:, {}", d.to_content_digest());
        assert_eq!(Sha256Digest::from_content_digest(&header), Some(d));
        assert_eq!(
            Sha256Digest::from_content_digest("sha-256=:bm9wZQ==:"),
            None
        );
        assert_eq!(Sha256Digest::from_content_digest("garbage"), None);
    }
}
