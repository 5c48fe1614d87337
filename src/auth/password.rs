//! argon2id password hashing, off the async workers and with bounded concurrency and memory.
//!
//! Each hash takes ~19 MiB and tens of milliseconds by design (OWASP's argon2id baseline:
//! m=19456 KiB, t=2, p=1). A semaphore sized to the number of cores caps how many run at once, so
//! a burst of logins queues instead of exhausting memory or starving request handling. The
//! 19 MiB work areas are allocated once per permit and reused: letting every hash allocate its own
//! left a freed work area behind in each blocking thread's malloc arena (over 1 GiB resident after
//! a thousand sign-ups, measured; see BENCHMARKS.md).
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Work areas for the default parameters, one per permit at most, reused across hashes.
    areas: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A hash of a random password, verified against when the account does not exist so that an
    /// unknown email takes as long as a wrong password.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// Creates a hasher allowing `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> anyhow::Result<PasswordHasher> {
        let random: [u8; 16] = rand::random();
        let mut area = work_area(&Params::default());
        let dummy_hash = hash_with(&hex::encode(random), &mut area)?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            areas: Arc::new(Mutex::new(vec![area])),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Runs `job` on a blocking thread with a work area, under a permit.
    async fn with_area<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let area = self.areas.lock().ok().and_then(|mut pool| pool.pop());
        let (area, out) = tokio::task::spawn_blocking(move || {
            let mut area = area.unwrap_or_else(|| work_area(&Params::default()));
            let out = job(&mut area);
            (area, out)
        })
        .await
        .map_err(AppError::internal)?;
        if let Ok(mut pool) = self.areas.lock() {
            pool.push(area);
        }
        Ok(out)
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_string();
        self.with_area(move |area| hash_with(&password, area))
            .await?
            .map_err(AppError::internal)
    }

    /// Verifies a password against a stored hash; with no hash, verifies against the dummy one
    /// (and answers false) so that timing does not reveal whether the account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AppError> {
        let exists = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_string);
        let password = password.to_string();
        let matches = self
            .with_area(move |area| verify_with(&password, &hash, area))
            .await?;
        Ok(exists && matches)
    }
}

/// A work area for `params` (1 KiB per block).
fn work_area(params: &Params) -> Vec<Block> {
    vec![Block::default(); params.block_count()]
}

/// Hashes with the default argon2id parameters into a PHC string, in `area`.
fn hash_with(password: &str, area: &mut [Block]) -> anyhow::Result<String> {
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, area)
        .map_err(|e| anyhow!("password hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a PHC string, in `area` (a larger one is made for stored hashes
/// with more memory than the default).
fn verify_with(password: &str, stored: &str, area: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = Version::try_from(parsed.version.unwrap_or(0x13)) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut larger;
    let blocks: &mut [Block] = if params.block_count() <= area.len() {
        area
    } else {
        larger = work_area(&params);
        &mut larger[..]
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, blocks)
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
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

    #[tokio::test]
    async fn agrees_with_the_argon2_crates_own_phc_hashing() -> anyhow::Result<()> {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(1)?;
        // A hash made by the crate's allocating path verifies here, and the other way round.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .map_err(|e| anyhow!("{e}"))?
            .to_string();
        assert!(hasher
            .verify("correct horse", Some(&theirs))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        let ours = hasher
            .hash("correct horse")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let parsed = PasswordHash::new(&ours).map_err(|e| anyhow!("{e}"))?;
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());
        // Stored hashes with other parameters (more memory) still verify.
        let heavier = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32768, 2, 1, None).map_err(|e| anyhow!("{e}"))?,
        )
        .hash_password(b"correct horse", &salt)
        .map_err(|e| anyhow!("{e}"))?
        .to_string();
        assert!(hasher
            .verify("correct horse", Some(&heavier))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        assert!(!hasher
            .verify("wrong horse", Some(&heavier))
            .await
            .map_err(|e| anyhow!("{e}"))?);
        Ok(())
    }
}
