//! API access tokens: HS256 JWTs with the algorithm pinned on verification.
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::model::Role;
use crate::error::AppError;

/// The `aud` every access token carries.
pub const AUDIENCE: &str = "talentcert-api";
/// The `iss` of access tokens. Fixed rather than the public URL, so that moving the service to
/// another address does not sign everyone out.
pub const ISSUER: &str = "talentcert";

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The organization id.
    pub org: i64,
    /// The roles when the token was issued (informational: authorisation reads current roles).
    pub roles: Vec<Role>,
    /// The user's token version when issued; a password reset raises it and voids this token.
    pub ver: i32,
    pub exp: i64,
    pub iat: i64,
    /// Not valid before (the issue time). Tokens issued before this claim existed have none; a
    /// token issued in the future is refused by its `iat` as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    pub aud: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl_seconds: i64,
}

impl TokenKeys {
    /// Keys from a shared secret; tokens live `ttl_seconds`.
    pub fn new(secret: &[u8], ttl_seconds: i64) -> TokenKeys {
        TokenKeys::with_issuer(secret, ISSUER, ttl_seconds)
    }

    fn with_issuer(secret: &[u8], issuer: &str, ttl_seconds: i64) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            ttl_seconds,
        }
    }

    /// How long a new token lives, in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Issues a token for a user.
    pub fn issue(
        &self,
        user_id: i64,
        org_id: i64,
        roles: &[Role],
        version: i32,
    ) -> Result<String, AppError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            org: org_id,
            roles: roles.to_vec(),
            ver: version,
            iat: now,
            nbf: Some(now),
            exp: now + self.ttl_seconds,
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(AppError::internal)
    }

    /// Verifies signature, algorithm, expiry, not-before, issue time, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| AppError::Unauthenticated)?;
        // A token cannot have been issued after now (beyond the clock leeway).
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        if claims.iat > Utc::now().timestamp() + leeway {
            return Err(AppError::Unauthenticated);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], 60)
    }

    #[test]
    fn round_trip() -> Result<(), AppError> {
        let k = keys();
        let token = k.issue(5, 2, &[Role::Admin], 0)?;
        let claims = k.verify(&token)?;
        assert_eq!(claims.sub, "5");
        assert_eq!(claims.org, 2);
        assert_eq!(claims.roles, vec![Role::Admin]);
        Ok(())
    }

    #[test]
    fn rejects_alg_none_and_other_secrets() -> Result<(), AppError> {
        let k = keys();
        let token = k.issue(5, 2, &[Role::Admin], 0)?;
        let payload = token.split('.').nth(1).unwrap_or_default();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{header}.{payload}.")).is_err());
        let other = TokenKeys::new(&[8u8; 32], 60);
        assert!(other.verify(&token).is_err());
        let other_issuer = TokenKeys::with_issuer(&[7u8; 32], "elsewhere", 60);
        assert!(other_issuer.verify(&token).is_err());
        Ok(())
    }

    /// Signs claims as given, with the right secret and any algorithm.
    fn sign(alg: Algorithm, claims: &serde_json::Value) -> String {
        encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap_or_default()
    }

    fn claims(now: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": "5", "org": 2, "roles": ["admin"], "ver": 0,
            "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE,
        })
    }

    #[test]
    fn the_right_secret_is_not_enough() {
        let k = keys();
        let now = Utc::now().timestamp();
        assert!(k.verify(&sign(Algorithm::HS256, &claims(now))).is_ok());
        // Another HMAC algorithm with the same secret.
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            assert!(k.verify(&sign(alg, &claims(now))).is_err(), "{alg:?}");
        }
        let mut c = claims(now);
        c["aud"] = "another-service".into();
        assert!(k.verify(&sign(Algorithm::HS256, &c)).is_err(), "audience");
        let mut c = claims(now);
        c["exp"] = (now - 120).into();
        assert!(k.verify(&sign(Algorithm::HS256, &c)).is_err(), "expired");
        let mut c = claims(now);
        c["nbf"] = (now + 600).into();
        assert!(
            k.verify(&sign(Algorithm::HS256, &c)).is_err(),
            "not yet valid"
        );
        // Issued in the future, without nbf.
        let c = claims(now + 600);
        assert!(
            k.verify(&sign(Algorithm::HS256, &c)).is_err(),
            "issued later"
        );
        // Within the clock leeway, both pass.
        let mut c = claims(now + 10);
        c["nbf"] = (now + 10).into();
        assert!(k.verify(&sign(Algorithm::HS256, &c)).is_ok(), "leeway");
        // An older token without nbf is still accepted.
        assert!(k.verify(&sign(Algorithm::HS256, &claims(now - 5))).is_ok());
    }
}
