//! argon2id password hashing, off the async workers and with bounded concurrency.
//!
//! Each hash takes ~19 MiB and tens of milliseconds by design (OWASP's argon2id baseline:
//! m=19456 KiB, t=2, p=1). A semaphore sized to the number of cores caps how many run at once, so
//! a burst of logins queues instead of exhausting memory or starving request handling.
use std::sync::Arc;

use anyhow::anyhow;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist so that an
    /// unknown email takes as long as a wrong password.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// Creates a hasher allowing `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> anyhow::Result<PasswordHasher> {
        let random: [u8; 16] = rand::random();
        let dummy_hash = hash_blocking(&hex::encode(random))?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }

    /// Verifies a password against a stored hash; with no hash, verifies against the dummy one
    /// (and answers false) so that timing does not reveal whether the account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let exists = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_string);
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .map_err(AppError::internal)?;
        Ok(exists && matches)
    }
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow!("password hashing failed: {e}"))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(2)?;
        let hash = hasher
            .hash("correct horse")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hasher
            .verify("correct horse", Some(&hash))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        assert!(!hasher
            .verify("wrong horse", Some(&hash))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        assert!(!hasher
            .verify("correct horse", None)
            .await
            .map_err(|e| anyhow!("{e}"))?);
        assert!(!hasher
            .verify("x", Some("not a hash"))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        Ok(())
    }
}
