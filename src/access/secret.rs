//! Secrets: random tokens (stored only as SHA-256) and Argon2id passwords (hashed on blocking
//! threads, at most one per core at a time, so sign-in floods cannot starve uploads).

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore};

use super::{Error, Result};

/// The prefix of API tokens, so scanners and people recognise them.
pub const TOKEN_PREFIX: &str = "fgt_";
/// Longest password accepted (Argon2 is fed the bytes; bound the work).
const MAX_PASSWORD: usize = 1024;
/// Shortest password accepted for accounts.
pub(super) const MIN_PASSWORD: usize = 8;

/// 32 random bytes, base64url without padding (43 characters).
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: SHA-256, hex. Tokens carry 256 bits, so no salt or slow hash.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A password for `fastgate user add` when none is piped in: 20 characters, ~120 bits.
pub fn generate_password() -> SecretString {
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks a new password's length.
pub(super) fn check_new_password(password: &SecretString) -> Result<()> {
    let n = password.expose_secret().chars().count();
    if n < MIN_PASSWORD {
        return Err(Error::Invalid(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    if password.expose_secret().len() > MAX_PASSWORD {
        return Err(Error::Invalid(format!(
            "the password must have at most {MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}

/// OWASP's Argon2id parameters: m = 19456 KiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    #[allow(clippy::unwrap_used)] // constant parameters, valid by construction
    let params = Params::new(19_456, 2, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2id hashing and verification off the async threads.
#[derive(Clone, Debug)]
pub(super) struct Hasher {
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
    /// Argon2id verifications run (tests count them instead of timing them).
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl Hasher {
    pub(super) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(OnceCell::new()),
            verifications: Arc::default(),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`.
    pub(super) async fn hash(&self, password: &SecretString) -> Result<String> {
        let password = password.clone();
        self.blocking(move || {
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            argon2()
                .hash_password_with_salt(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .await?
    }

    /// Does `password` match `stored`? With `None` (no such user) a dummy hash is verified, so
    /// both failures take the same time.
    pub(super) async fn verify(&self, password: &str, stored: Option<String>) -> Result<bool> {
        let known = stored.is_some();
        let stored = match stored {
            Some(s) => s,
            None => self.dummy().await?,
        };
        let password = password.to_owned();
        let verifications = self.verifications.clone();
        let ok = self
            .blocking(move || {
                verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                password.len() <= MAX_PASSWORD
                    && argon2()
                        .verify_password(password.as_bytes(), stored.as_str())
                        .is_ok()
            })
            .await?;
        Ok(ok && known)
    }

    /// Argon2id verifications run so far.
    #[cfg(test)]
    pub(super) fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The hash an unknown user's password is checked against.
    #[cfg(test)]
    pub(super) async fn dummy_hash(&self) -> Result<String> {
        self.dummy().await
    }

    async fn dummy(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| async { self.hash(&SecretString::from(random_token())).await })
            .await
            .cloned()
    }
}
