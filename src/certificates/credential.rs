//! The signed credential: an Open Badges 3.0 `OpenBadgeCredential` (a W3C Verifiable Credential
//! 2.0) secured as a JWT signed with Ed25519, and its verification with nothing but the issuer's
//! published keys (the server and the offline `talentcert verify` share this code).
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// The W3C Verifiable Credentials 2.0 context (always first).
pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The Open Badges 3.0 context.
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// A competency a certificate attests, at a level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AttestedCompetency {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub level: i32,
}

/// What a certificate says, frozen at issue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CertificateData {
    pub code: String,
    pub holder_name: String,
    pub holder_organization: String,
    pub issuer_org_id: i64,
    pub issuer_name: String,
    pub certification_code: String,
    pub title: String,
    pub title_zh: String,
    pub description: String,
    pub level: i32,
    pub category: String,
    pub category_name: String,
    pub category_name_zh: String,
    pub competencies: Vec<AttestedCompetency>,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The certificate this one replaces (its code), if any.
    pub replaces: Option<String>,
    /// The attempt it rests on reached the certification's "excellent" line: awarded with
    /// distinction. (Absent in certificates issued before distinctions: false.)
    #[serde(default)]
    pub distinction: bool,
}

impl CertificateData {
    /// An example certificate (six competencies, valid two years from `issued_at`), for
    /// benchmarks, fuzzing and tests.
    #[doc(hidden)]
    pub fn example(holder_name: &str, issued_at: DateTime<Utc>) -> CertificateData {
        CertificateData {
            code: "7KQ2M9XD4TRAP".into(),
            holder_name: holder_name.into(),
            holder_organization: "Demo Retail Co.".into(),
            issuer_org_id: 1,
            issuer_name: "talentcert Academy".into(),
            certification_code: "uo-associate".into(),
            title: "User Operation Associate".into(),
            title_zh: "用户运营助理认证".into(),
            description: "Runs member segmentation and retention campaigns.".into(),
            level: 2,
            category: "user-operation".into(),
            category_name: "User operation".into(),
            category_name_zh: "用户运营".into(),
            competencies: (0..6)
                .map(|i| AttestedCompetency {
                    id: format!("uo-{i}"),
                    name: format!("Competency {i}"),
                    name_zh: "用户分层".into(),
                    level: 2,
                })
                .collect(),
            issued_at,
            valid_until: issued_at + chrono::Duration::days(730),
            replaces: None,
            distinction: false,
        }
    }
}

/// Where the credential's URLs point (from `TALENTCERT_PUBLIC_URL`; signed in, so stable).
pub struct Urls<'a> {
    pub public_url: &'a str,
    pub status_list_id: i64,
    pub status_index: i64,
    /// The holder's subject id (`urn:uuid:…`).
    pub subject_id: &'a str,
}

/// The issuer profile document published at `/issuers/{id}`.
pub fn issuer_profile(public_url: &str, org_id: i64, name: &str) -> Value {
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": format!("{public_url}/issuers/{org_id}"),
        "type": ["Profile"],
        "name": name,
        "url": public_url,
    })
}

/// The credential (unsigned).
pub fn build(data: &CertificateData, urls: &Urls) -> Value {
    let base = urls.public_url;
    let alignment: Vec<Value> = data
        .competencies
        .iter()
        .map(|c| {
            json!({
                "type": ["Alignment"],
                "targetCode": c.id,
                "targetName": c.name,
                "targetDescription": format!("Proficiency level {} of 5", c.level),
                "targetFramework": format!("talentcert competency model: {}", data.category_name),
                "targetType": "ext:Competency",
                "targetUrl": format!("{base}/api/v1/job-categories#{}", c.id),
            })
        })
        .collect();
    let results: Vec<Value> = data
        .competencies
        .iter()
        .map(|c| {
            json!({
                "type": ["Result"],
                "resultDescription": format!("{base}/achievements/{}#{}", data.certification_code, c.id),
                "value": c.level.to_string(),
                "alignment": [{
                    "type": ["Alignment"],
                    "targetCode": c.id,
                    "targetName": c.name,
                    "targetUrl": format!("{base}/api/v1/job-categories#{}", c.id),
                }],
            })
        })
        .collect();
    let result_descriptions: Vec<Value> = data
        .competencies
        .iter()
        .map(|c| {
            json!({
                "id": format!("{base}/achievements/{}#{}", data.certification_code, c.id),
                "type": ["ResultDescription"],
                "name": c.name,
                "resultType": "ext:ProficiencyLevel",
                "allowedValue": ["1", "2", "3", "4", "5"],
            })
        })
        .collect();
    let status_list = format!("{base}/status-lists/{}", urls.status_list_id);
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": format!("{base}/verify/{}", data.code),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": data.title,
        "issuer": {
            "id": format!("{base}/issuers/{}", data.issuer_org_id),
            "type": ["Profile"],
            "name": data.issuer_name,
            "url": base,
        },
        "validFrom": data.issued_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "validUntil": data.valid_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "credentialSubject": {
            "id": urls.subject_id,
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": false,
                "identityHash": data.holder_name,
            }],
            "achievement": {
                "id": format!("{base}/achievements/{}", data.certification_code),
                "type": ["Achievement"],
                "achievementType": "Certification",
                "name": data.title,
                "description": data.description,
                "criteria": {
                    "narrative": format!(
                        "Passed the timed certification exam of {} (level {}), graded by talentcert, with the required courses completed.",
                        data.title, data.level
                    ),
                },
                "humanCode": data.certification_code,
                "fieldOfStudy": data.category_name,
                "alignment": alignment,
                "resultDescription": result_descriptions,
            },
            "result": results,
        },
        "credentialStatus": {
            "id": format!("{status_list}#{}", urls.status_index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": urls.status_index.to_string(),
            "statusListCredential": status_list,
        },
    })
}

fn timestamp(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.timestamp())
}

/// Signs a credential as a JWT (Open Badges 3.0 JWT proof): the payload is the credential with
/// `iss`, `jti`, `sub`, `nbf` and `exp` mirroring it.
pub fn sign(
    credential: &Value,
    kid: &str,
    pkcs8_der: &[u8],
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(kid.into());
    let mut payload: Map<String, Value> = credential.as_object().cloned().unwrap_or_default();
    payload.insert("iss".into(), credential["issuer"]["id"].clone());
    payload.insert("jti".into(), credential["id"].clone());
    payload.insert("sub".into(), credential["credentialSubject"]["id"].clone());
    if let Some(nbf) = timestamp(&credential["validFrom"]) {
        payload.insert("nbf".into(), json!(nbf));
    }
    if let Some(exp) = timestamp(&credential["validUntil"]) {
        payload.insert("exp".into(), json!(exp));
    }
    jsonwebtoken::encode(&header, &payload, &EncodingKey::from_ed_der(pkcs8_der))
}

/// One check of a verification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }
}

/// What checking a credential JWT against a key set found.
#[derive(Debug, Clone)]
pub struct CredentialCheck {
    pub checks: Vec<Check>,
    /// The payload, once the signature verified.
    pub credential: Option<Value>,
    pub expired: bool,
}

impl CredentialCheck {
    /// Every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The verification code a credential names (the last segment of its id).
pub fn code_of(credential: &Value) -> Option<String> {
    credential["id"]
        .as_str()
        .and_then(|id| id.rsplit('/').next())
        .map(str::to_string)
}

/// Checks a compact JWS credential with a JWK set: the algorithm (EdDSA only), the key, the
/// signature, the Open Badges shape and JWT claims, and the dates. Revocation is the caller's.
pub fn verify(token: &str, jwks: &Value, now: DateTime<Utc>) -> CredentialCheck {
    let mut checks = Vec::new();
    let fail = |mut checks: Vec<Check>, name: &str, detail: String| {
        checks.push(Check::new(name, false, detail));
        CredentialCheck {
            checks,
            credential: None,
            expired: false,
        }
    };
    let token = token.trim();
    if token.split('.').count() != 3 {
        return fail(
            checks,
            "format",
            "not a compact JWS (three dot-separated parts)".into(),
        );
    }
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => {
            return fail(
                checks,
                "algorithm",
                format!("the header is not acceptable: {e}"),
            )
        }
    };
    if header.alg != Algorithm::EdDSA {
        return fail(
            checks,
            "algorithm",
            format!(
                "{:?} is refused; only EdDSA (Ed25519) is accepted",
                header.alg
            ),
        );
    }
    checks.push(Check::new("algorithm", true, "EdDSA (Ed25519)"));
    let Some(kid) = header.kid.clone() else {
        return fail(checks, "key", "the header names no key (kid)".into());
    };
    let jwk = jwks["keys"].as_array().and_then(|keys| {
        keys.iter()
            .find(|k| k["kid"].as_str() == Some(kid.as_str()))
    });
    let Some(x) = jwk.and_then(|k| {
        (k["kty"] == "OKP" && k["crv"] == "Ed25519")
            .then(|| k["x"].as_str())
            .flatten()
    }) else {
        return fail(
            checks,
            "key",
            format!("no published Ed25519 key has kid {kid}"),
        );
    };
    checks.push(Check::new("key", true, format!("published key {kid}")));
    let key = match DecodingKey::from_ed_components(x) {
        Ok(k) => k,
        Err(e) => {
            return fail(
                checks,
                "key",
                format!("the published key is malformed: {e}"),
            )
        }
    };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let payload = match jsonwebtoken::decode::<Value>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return fail(
                checks,
                "signature",
                format!("the signature does not verify: {e}"),
            )
        }
    };
    checks.push(Check::new("signature", true, "signed by the issuer's key"));
    // The Open Badges 3.0 shape and the JWT claims that mirror it.
    let mut problems = Vec::new();
    if payload["@context"][0] != VC_CONTEXT {
        problems.push("@context does not start with the VC 2.0 context");
    }
    let types = payload["type"].as_array().cloned().unwrap_or_default();
    if !types.contains(&json!("VerifiableCredential"))
        || !types.contains(&json!("OpenBadgeCredential"))
    {
        problems.push("type is not an OpenBadgeCredential");
    }
    let achievement = &payload["credentialSubject"]["achievement"];
    for field in ["id", "type", "name", "description", "criteria"] {
        if achievement[field].is_null() {
            problems.push("the achievement lacks a required field");
            break;
        }
    }
    if payload["iss"] != payload["issuer"]["id"] || payload["iss"].is_null() {
        problems.push("iss does not match issuer.id");
    }
    if payload["jti"] != payload["id"] || payload["jti"].is_null() {
        problems.push("jti does not match id");
    }
    if payload["sub"] != payload["credentialSubject"]["id"] {
        problems.push("sub does not match credentialSubject.id");
    }
    let valid_from = timestamp(&payload["validFrom"]);
    if valid_from.is_none() || payload["nbf"].as_i64() != valid_from {
        problems.push("nbf does not match validFrom");
    }
    let valid_until = timestamp(&payload["validUntil"]);
    if payload["exp"].as_i64() != valid_until {
        problems.push("exp does not match validUntil");
    }
    checks.push(Check::new(
        "claims",
        problems.is_empty(),
        if problems.is_empty() {
            "an Open Badges 3.0 credential; the JWT claims mirror it".to_string()
        } else {
            problems.join("; ")
        },
    ));
    let now_ts = now.timestamp();
    let fmt = |ts: i64| {
        Utc.timestamp_opt(ts, 0)
            .single()
            .map_or_else(|| ts.to_string(), |d| d.format("%Y-%m-%d").to_string())
    };
    let mut expired = false;
    match (valid_from, valid_until) {
        (Some(from), _) if from > now_ts => {
            checks.push(Check::new(
                "dates",
                false,
                format!("not valid before {}", fmt(from)),
            ));
        }
        (Some(_), Some(until)) if until <= now_ts => {
            expired = true;
            checks.push(Check::new(
                "dates",
                false,
                format!("expired on {}", fmt(until)),
            ));
        }
        (Some(from), until) => checks.push(Check::new(
            "dates",
            true,
            match until {
                Some(u) => format!("valid from {} until {}", fmt(from), fmt(u)),
                None => format!("valid from {}", fmt(from)),
            },
        )),
        (None, _) => checks.push(Check::new("dates", false, "validFrom is missing")),
    }
    CredentialCheck {
        checks,
        credential: Some(payload),
        expired,
    }
}

/// Reads bit `index` of a Bitstring Status List's `encodedList` (multibase base64url of the
/// gzipped bits, most significant bit first).
pub fn status_bit(encoded_list: &str, index: usize) -> Option<bool> {
    use base64::Engine;
    use std::io::Read;
    let b64 = encoded_list.strip_prefix('u')?;
    let gz = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()?;
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(16 * 1024 * 1024)
        .read_to_end(&mut bits)
        .ok()?;
    let byte = bits.get(index / 8)?;
    Some(byte & (0x80 >> (index % 8)) != 0)
}

/// Encodes bits as a Bitstring Status List `encodedList`.
pub fn encode_status_list(bits: &[u8]) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(bits);
    let bytes = gz.finish().unwrap_or_default();
    format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The outcome of checking a credential without the issuing server's database: the signature
/// with the published keys, the claims, the dates, and the revocation bit when the status list
/// is at hand (itself checked with the same keys).
pub fn verify_standalone(
    token: &str,
    jwks: &Value,
    status_list: Option<&str>,
    now: DateTime<Utc>,
) -> (String, Vec<Check>) {
    let result = verify(token, jwks, now);
    let mut checks = result.checks.clone();
    let Some(payload) = result.credential.as_ref() else {
        return ("invalid".into(), checks);
    };
    let structural_ok = checks.iter().all(|c| c.passed || c.name == "dates");
    let revoked = match status_list {
        None => {
            checks.push(Check::new(
                "status",
                false,
                "revocation not checked: the status list was not available (offline)",
            ));
            None
        }
        Some(list_jwt) => {
            let list = verify(list_jwt, jwks, now);
            let index = payload["credentialStatus"]["statusListIndex"]
                .as_str()
                .and_then(|i| i.parse::<usize>().ok());
            let same_list = list.credential.as_ref().map(|l| &l["id"])
                == Some(&payload["credentialStatus"]["statusListCredential"]);
            // The list is a BitstringStatusListCredential, not a badge: its signature is what
            // matters (and that its dates hold).
            let signed = list.credential.is_some()
                && list
                    .checks
                    .iter()
                    .filter(|c| c.name != "claims")
                    .all(|c| c.passed);
            let bit = list.credential.as_ref().and_then(|l| {
                l["credentialSubject"]["encodedList"]
                    .as_str()
                    .zip(index)
                    .and_then(|(encoded, i)| status_bit(encoded, i))
            });
            match (signed && same_list, bit) {
                (true, Some(true)) => {
                    checks.push(Check::new(
                        "status",
                        false,
                        "revoked (the issuer's status list marks it)",
                    ));
                    Some(true)
                }
                (true, Some(false)) => {
                    checks.push(Check::new(
                        "status",
                        true,
                        "not revoked (the issuer's signed status list)",
                    ));
                    Some(false)
                }
                _ => {
                    checks.push(Check::new(
                        "status",
                        false,
                        "the status list is not the credential's, not signed by the issuer, or unreadable",
                    ));
                    None
                }
            }
        }
    };
    let status = if !structural_ok {
        "invalid"
    } else if revoked == Some(true) {
        "revoked"
    } else if result.expired {
        "expired"
    } else if checks.iter().any(|c| !c.passed && c.name == "dates") {
        "invalid"
    } else if revoked.is_none() {
        "unchecked"
    } else {
        "valid"
    };
    (status.into(), checks)
}
