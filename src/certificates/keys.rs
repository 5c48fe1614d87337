//! Issuers' Ed25519 signing keys: created at first use (insert-if-absent, so instances agree),
//! kept in the database, published as a JWK set; a rotation retires the active key and keeps it
//! published so earlier credentials still verify.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Statement,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::entities::signing_key;

/// The public JWK of an Ed25519 public key, with its RFC 7638 thumbprint as `kid`.
pub fn public_jwk(public: &[u8; 32]) -> Value {
    let x = URL_SAFE_NO_PAD.encode(public);
    // RFC 7638: the required members in lexicographic order, no spaces.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"})
}

/// A new key: PKCS#8 DER of the private key and the public JWK.
pub(crate) fn generate() -> Result<(Vec<u8>, Value), DbErr> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| DbErr::Custom(format!("encoding a new signing key: {e}")))?;
    Ok((
        der.as_bytes().to_vec(),
        public_jwk(&key.verifying_key().to_bytes()),
    ))
}

/// The issuer's active key, created when it has none. Safe inside a transaction and across
/// instances: the insert does nothing when another one won.
pub async fn active<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
) -> Result<signing_key::Model, DbErr> {
    if let Some(key) = find_active(conn, org_id).await? {
        return Ok(key);
    }
    let (der, jwk) = generate()?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO signing_keys (org_id, kid, private_key, public_jwk, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id) WHERE retired_at IS NULL DO NOTHING"
        }
        _ => {
            "INSERT INTO signing_keys (org_id, kid, private_key, public_jwk, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id) WHERE retired_at IS NULL DO NOTHING"
        }
    };
    let inserted = conn
        .execute(Statement::from_sql_and_values(
            backend,
            sql,
            [
                org_id.into(),
                kid.clone().into(),
                der.into(),
                jwk.into(),
                Utc::now().into(),
            ],
        ))
        .await?;
    if inserted.rows_affected() == 1 {
        crate::audit::record(
            conn,
            crate::audit::AuditEvent {
                org_id: Some(org_id),
                action: "signing_key.created",
                target_type: "signing_key",
                target_id: Some(kid),
                ..Default::default()
            },
        )
        .await?;
    }
    find_active(conn, org_id)
        .await?
        .ok_or_else(|| DbErr::Custom("no signing key after creating one".into()))
}

/// The issuer's active key, if it has one.
pub async fn find_active<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
) -> Result<Option<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .filter(signing_key::Column::OrgId.eq(org_id))
        .filter(signing_key::Column::RetiredAt.is_null())
        .one(conn)
        .await
}

/// Retires the issuer's active key; the next signature creates a new one. The retired key stays
/// published. Answers the retired key's `kid`.
pub async fn rotate<C: ConnectionTrait>(conn: &C, org_id: i64) -> Result<Option<String>, DbErr> {
    let Some(key) = find_active(conn, org_id).await? else {
        return Ok(None);
    };
    let kid = key.kid.clone();
    let mut active: signing_key::ActiveModel = key.into();
    active.retired_at = Set(Some(Utc::now()));
    active.update(conn).await?;
    Ok(Some(kid))
}

/// Every public key, active and retired, as a JWK set.
pub async fn jwks<C: ConnectionTrait>(conn: &C) -> Result<Value, DbErr> {
    let keys: Vec<Value> = signing_key::Entity::find()
        .order_by_asc(signing_key::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|k| k.public_jwk)
        .collect();
    Ok(json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let jwk = public_jwk(&x.try_into().unwrap());
        assert_eq!(jwk["kid"], "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_generated_key_signs_what_its_jwk_verifies() {
        let (der, jwk) = generate().unwrap();
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        let token = jsonwebtoken::encode(
            &header,
            &json!({"sub": "x"}),
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap();
        let key =
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    }
}
