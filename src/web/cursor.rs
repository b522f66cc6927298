//! The listing cursor the gateway hands out: Fast.io pages come only in 100, 250 or 500 nodes,
//! while our `limit` is anything from 1 to 500, so a position is "this upstream page (by the
//! upstream cursor that fetched it) and this many nodes into it". The cursor also pins what it
//! was made for (workspace, folder, sort, order, upstream page size), so it cannot be replayed
//! against another listing, and it is signed (HMAC-SHA256 over `FASTGATE_SECRET`, like upload
//! tokens) so a tampered cursor is a clean 400 rather than a confusing upstream error.
//!
//! Format: `base64url(json) "." base64url(mac)`, no padding. Opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::web::error::AppError;

/// Domain separation: a cursor MAC can never be mistaken for another signed value's.
const CONTEXT: &[u8] = b"fastgate listing cursor v1\0";

/// A position in one folder listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Workspace id.
    #[serde(rename = "w")]
    pub workspace: String,
    /// Folder id (`root` for the root).
    #[serde(rename = "f")]
    pub folder: String,
    /// Sort key (`name`, `modified`, …).
    #[serde(rename = "s")]
    pub sort: String,
    /// `asc` or `desc`.
    #[serde(rename = "o")]
    pub order: String,
    /// The upstream page size every page of this listing is fetched with.
    #[serde(rename = "p")]
    pub page_size: u32,
    /// The upstream cursor of the page the position is in (`None`: the first page).
    #[serde(rename = "c")]
    pub upstream: Option<String>,
    /// Nodes of that page already given out.
    #[serde(rename = "i")]
    pub offset: u32,
}

/// Signs and checks cursors.
#[derive(Clone)]
pub struct CursorKey {
    secret: SecretSlice<u8>,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey([REDACTED])")
    }
}

impl CursorKey {
    /// A key over `secret` (`Config::secret`).
    pub fn new(secret: SecretSlice<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(CONTEXT);
        mac
    }

    /// The opaque text of `cursor`.
    pub fn encode(&self, cursor: &Cursor) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Reads a cursor a client sent back; anything not signed by us is a 400.
    pub fn decode(&self, text: &str) -> Result<Cursor, AppError> {
        let bad =
            || AppError::BadRequest("cursor is not valid; start again from the first page".into());
        let (body, sig) = text.split_once('.').ok_or_else(bad)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad())?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| bad())?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        serde_json::from_slice(&json).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CursorKey {
        CursorKey::new(SecretSlice::from(vec![byte; 32]))
    }

    fn cursor() -> Cursor {
        Cursor {
            workspace: "ws".into(),
            folder: "root".into(),
            sort: "name".into(),
            order: "asc".into(),
            page_size: 100,
            upstream: Some("abc".into()),
            offset: 7,
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        let k = key(1);
        assert_eq!(k.decode(&k.encode(&cursor())).expect("valid"), cursor());
    }

    #[test]
    fn tampered_or_foreign_cursors_are_refused() {
        let k = key(1);
        let text = k.encode(&cursor());
        assert!(key(2).decode(&text).is_err());
        let (body, sig) = text.split_once('.').expect("two parts");
        let mut json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).expect("b64")).expect("json");
        json["i"] = 0.into();
        let forged = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).expect("json"))
        );
        assert!(k.decode(&forged).is_err());
        for junk in ["", ".", "abc", "a.b", "%%%.%%%"] {
            assert!(
                matches!(k.decode(junk), Err(AppError::BadRequest(_))),
                "{junk}"
            );
        }
    }
}
