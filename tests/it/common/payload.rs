//! The one source of test bytes and their hashes. Bytes are deterministic (xorshift64 from a
//! seed), so a failure reproduces, and never zero, so no payload starts like a known file type
//! by accident (the type checks sniff the first bytes); every seed gives different bytes.

use sha2::{Digest, Sha256};

/// `len` pseudo-random bytes for `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 24) as u8).max(1)
        })
        .collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;
