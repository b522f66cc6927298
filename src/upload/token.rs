//! Signed upload capabilities: the JS upload path keeps no state on the gateway, so the browser
//! carries a token that says "this Fast.io session uploads this file, of this size, into this
//! folder, until then" (for a one-call upload, "this gateway id"), signed with `FASTGATE_SECRET` so any replica can check it.
//!
//! Format: `base64url(json claims) "." base64url(HMAC-SHA256(claims part))`, no padding. The MAC
//! is checked in constant time before the claims are parsed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What an upload token grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadClaims {
    /// The Fast.io upload session id the token belongs to.
    #[serde(rename = "s")]
    pub session: String,
    /// Workspace id the file goes to.
    #[serde(rename = "w")]
    pub workspace: String,
    /// Folder id the file goes to.
    #[serde(rename = "f")]
    pub folder: String,
    /// The sanitised file name.
    #[serde(rename = "n")]
    pub name: String,
    /// The declared size in bytes.
    #[serde(rename = "z")]
    pub size: u64,
    /// The chunk size the gateway chose at creation, so every replica cuts the file the same way.
    #[serde(rename = "c", default)]
    pub chunk_size: u64,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// The upload-request link the file is sent through, if any (tokens without it, such as
    /// those signed before links existed, still verify).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkClaims>,
    /// A one-call upload ([`super::one_call`]): `session` is the gateway's own id, and no Fast.io
    /// session exists until the only chunk goes up in one single call.
    #[serde(rename = "o", default, skip_serializing_if = "is_false")]
    pub one_call: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What an upload token sent through an upload-request link also carries: the submission the
/// file counts in (its quota was reserved at create) and the link's own types, which chunk 1's
/// bytes are checked against on top of the gateway's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The link's id.
    #[serde(rename = "i")]
    pub id: i64,
    /// The submission's id.
    #[serde(rename = "s")]
    pub submission: i64,
    /// The link's allowed types (the `FASTGATE_ALLOWED_TYPES` syntax), if it narrows them.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub types: Option<String>,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not two base64url parts, or the claims are not ours.
    #[error("the upload token is malformed")]
    Malformed,
    /// The MAC does not match: forged, altered, or signed with another secret.
    #[error("the upload token's signature is not valid")]
    BadSignature,
    /// Past its expiry.
    #[error("the upload token has expired")]
    Expired,
    /// Valid, but for another upload session.
    #[error("the upload token belongs to another upload")]
    WrongSession,
}

/// The key that signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKey {
    secret: SecretSlice<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([REDACTED])")
    }
}

impl TokenKey {
    /// A key over `secret` (config guarantees ≥ 32 bytes).
    pub fn new(secret: SecretSlice<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        HmacSha256::new_from_slice(self.secret.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// Signs `claims` (an [`UploadClaims`], or another capability of the same format) into a
    /// compact token.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Checks `token` for upload `session` at time `now` (Unix seconds), returning its claims.
    /// Order: shape, signature (constant time), expiry, session.
    pub fn verify(&self, token: &str, session: &str, now: i64) -> Result<UploadClaims, TokenError> {
        let claims: UploadClaims = self.open(token)?;
        if now >= claims.expires {
            return Err(TokenError::Expired);
        }
        if claims.session != session {
            return Err(TokenError::WrongSession);
        }
        Ok(claims)
    }

    /// Checks `token`'s shape and signature (constant time) and parses its claims as `T`; the
    /// caller checks what `T` means (expiry, …). A token of another claims type is
    /// [`TokenError::Malformed`].
    pub fn open<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let (body, sig) = token.trim().split_once('.').ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }

    /// [`Self::verify`] against the current clock.
    pub fn verify_now(&self, token: &str, session: &str) -> Result<UploadClaims, TokenError> {
        self.verify(token, session, chrono::Utc::now().timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        TokenKey::new(SecretSlice::from(vec![byte; 32]))
    }

    fn claims() -> UploadClaims {
        UploadClaims {
            session: "5qil2jrne7553u3poqdud3kdsu4bc".into(),
            workspace: "4687730903718774523".into(),
            folder: "root".into(),
            name: "report <1>.pdf".into(),
            size: 10_485_760,
            chunk_size: 8_388_608,
            expires: 2_000,
            link: None,
            one_call: false,
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let token = key(7).sign(&claims());
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
        assert_eq!(
            key(7).verify(&token, &claims().session, 1_000),
            Ok(claims())
        );
    }

    #[test]
    fn another_key_gives_bad_signature() {
        let token = key(7).sign(&claims());
        assert_eq!(
            key(8).verify(&token, &claims().session, 1_000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn altered_claims_give_bad_signature() {
        let token = key(7).sign(&claims());
        let (_, sig) = token.split_once('.').expect("two parts");
        let mut bigger = claims();
        bigger.size = u64::MAX;
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bigger).expect("json"));
        let forged = format!("{forged_body}.{sig}");
        assert_eq!(
            key(7).verify(&forged, &claims().session, 1_000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn expiry_and_session_are_enforced() {
        let token = key(7).sign(&claims());
        assert_eq!(
            key(7).verify(&token, &claims().session, 2_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            key(7).verify(&token, "other", 1_000),
            Err(TokenError::WrongSession)
        );
    }

    #[test]
    fn link_claims_round_trip_and_old_tokens_still_verify() {
        let mut linked = claims();
        linked.link = Some(LinkClaims {
            id: 4,
            submission: 9,
            types: Some(".pdf".into()),
        });
        let token = key(7).sign(&linked);
        assert_eq!(key(7).verify(&token, &linked.session, 1_000), Ok(linked));
        // A token signed before links existed has no `l` field.
        let old = serde_json::json!({"s": "5qil2jrne7553u3poqdud3kdsu4bc", "w": "ws", "f": "root",
            "n": "a.txt", "z": 3, "c": 3, "e": 2_000});
        let token = key(7).sign(&old);
        let verified = key(7).verify(&token, "5qil2jrne7553u3poqdud3kdsu4bc", 1_000);
        assert_eq!(verified.map(|c| c.link), Ok(None));
    }

    #[test]
    fn garbage_is_malformed() {
        for t in ["", "abc", "a.b.c", "!!.??", "e30.%%"] {
            assert_eq!(
                key(7).verify(t, "s", 0),
                Err(TokenError::Malformed),
                "{t:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        assert_eq!(format!("{:?}", key(7)), "TokenKey([REDACTED])");
    }
}
