//! JSON API of certificates: the holder's list and files, revocation and reissue, public
//! verification, and the published keys, issuer profiles and status lists.
use actix_web::http::header;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::entities::certificate;
use super::service::{self, CertificateView, VerificationReport};
use crate::auth::{Admin, CurrentUser, RequireRole, Role};
use crate::error::{AppError, AppResult, Msg, Problem};
use crate::pagination::Page;
use crate::startup::AppState;
use crate::web::ApiJson;

/// Largest upload a verifier may send (a certificate PDF is under 200 KB).
pub const MAX_UPLOAD: usize = 2 * 1024 * 1024;

fn public_url(state: &AppState) -> &str {
    state.mailer.public_url()
}

/// A certificate the caller may open: their own, or one of their organization for HR and admins.
async fn readable(
    state: &AppState,
    user: &CurrentUser,
    code: &str,
) -> AppResult<certificate::Model> {
    let c = service::find_in_org(&state.db, user.org_id, code).await?;
    if c.user_id == user.id || user.has(Role::Hr) || user.has(Role::Admin) {
        Ok(c)
    } else {
        Err(AppError::NotFound)
    }
}

fn limited(state: &AppState, req: &HttpRequest) -> AppResult<()> {
    let ip = crate::auth::extract::client_ip(req).unwrap_or_default();
    state
        .verify_limiter
        .check(&ip)
        .map_err(|secs| AppError::TooManyRequests {
            retry_after_secs: i64::try_from(secs).unwrap_or(60),
        })
}

/// Your certificates, newest first, with links to the PDF, the credential and the public
/// verification page.
#[utoipa::path(
    tag = "certificates",
    responses((status = 200, body = Page<CertificateView>), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/me/certificates")]
pub async fn my_certificates(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = service::of_user(&state.db, user.id)
        .await?
        .iter()
        .map(|c| service::view(c, public_url(&state)))
        .collect::<AppResult<Vec<_>>>()?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgCertificatesQuery {
    /// Only valid certificates that expire within this many days (for renewal planning).
    pub expiring_within_days: Option<u32>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u64>,
    /// Certificates to skip (default 0).
    pub offset: Option<u64>,
}

/// The certificates of your organization (HR and admins), newest first, a page at a time.
#[utoipa::path(
    tag = "certificates",
    params(OrgCertificatesQuery),
    responses((status = 200, body = Page<CertificateView>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certificates")]
pub async fn org_certificates(
    state: web::Data<AppState>,
    staff: RequireRole<crate::auth::AdminOrHr>,
    query: web::Query<OrgCertificatesQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = crate::pagination::bounds(query.limit, query.offset)?;
    let (rows, total) = service::org_page(
        &state.db,
        staff.org_id,
        query.expiring_within_days,
        limit,
        offset,
    )
    .await?;
    let items: Vec<CertificateView> = rows
        .iter()
        .map(|c| service::view(c, public_url(&state)))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// Only this department's people. Default: everyone.
    pub department: Option<String>,
}

/// The certificates of your organization (or one department) as a ZIP of the issued PDFs with
/// an `index.csv` (HR and admins). Audited.
#[utoipa::path(
    tag = "certificates",
    params(ExportQuery),
    responses((status = 200, description = "The ZIP", content_type = "application/zip"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certificates/export.zip")]
pub async fn export_certificates(
    state: web::Data<AppState>,
    staff: RequireRole<crate::auth::AdminOrHr>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let department = query
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    // Any certificate still waiting for its PDF gets it first.
    service::render_pending(&state.db, public_url(&state), None).await?;
    let (zip, count) = service::export_zip(&state.db, staff.org_id, department).await?;
    crate::audit::record(
        &state.db,
        crate::audit::AuditEvent {
            org_id: Some(staff.org_id),
            actor_user_id: Some(staff.id),
            action: "certificates.exported",
            target_type: "certificates",
            target_id: department.map(str::to_string),
            after: Some(serde_json::json!({"certificates": count})),
            ..Default::default()
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"certificates.zip\"",
        ))
        .body(zip))
}

/// The certificate's PDF, exactly as issued (its SHA-256 is recorded).
#[utoipa::path(
    tag = "certificates",
    params(("code" = String, Path, description = "Verification code")),
    responses((status = 200, description = "The PDF", content_type = "application/pdf"), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certificates/{code}.pdf")]
pub async fn certificate_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let mut c = readable(&state, &user, &path).await?;
    if c.pdf_sha256.is_empty() {
        // Issued a moment ago and not rendered yet (or left so by a crash): render it now.
        service::render_pending(&state.db, public_url(&state), Some(c.user_id)).await?;
        c = readable(&state, &user, &path).await?;
    }
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"certificate-{}.pdf\"", c.code),
        ))
        .insert_header(("X-Content-SHA256", c.pdf_sha256.clone()))
        .body(c.pdf))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CredentialQuery {
    /// `true`: answer it as a file to save (`certificate-<code>.jwt`, or `.json`).
    pub download: Option<bool>,
    /// `jwt` (default): the compact JWS as text. `json`: the credential as JSON for a wallet, a
    /// W3C `EnvelopedVerifiableCredential` (VC Data Model 2.0) carrying the same signed JWT.
    pub format: Option<String>,
}

/// The signed credential (an Open Badges 3.0 JWT), to keep in a wallet or check offline.
#[utoipa::path(
    tag = "certificates",
    params(("code" = String, Path, description = "Verification code"), CredentialQuery),
    responses((status = 200, description = "The compact JWS", content_type = "text/plain"), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certificates/{code}/credential")]
pub async fn certificate_credential(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<CredentialQuery>,
) -> AppResult<HttpResponse> {
    let json = match query.format.as_deref() {
        None | Some("jwt") => false,
        Some("json") => true,
        Some(_) => return Err(AppError::field("format", "validation.credential_format")),
    };
    let c = readable(&state, &user, &path).await?;
    let mut response = HttpResponse::Ok();
    if query.download == Some(true) {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"certificate-{}.{}\"",
                c.code,
                if json { "json" } else { "jwt" }
            ),
        ));
    }
    if json {
        return Ok(response.json(serde_json::json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": format!("data:application/vc+jwt,{}", c.credential),
            "type": "EnvelopedVerifiableCredential",
        })));
    }
    Ok(response
        .content_type("text/plain; charset=utf-8")
        .body(c.credential))
}

/// Why a certificate is revoked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// Shown to verifiers (1–500 characters).
    pub reason: String,
}

/// Revokes a certificate of your organization (admins; audited). Verifiers see "revoked" with
/// the reason and date at once, and the status list marks it.
#[utoipa::path(
    tag = "certificates",
    params(("code" = String, Path, description = "Verification code")),
    request_body = RevocationRequest,
    responses((status = 200, body = CertificateView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/certificates/{code}/revocation")]
pub async fn revoke_certificate(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    path: web::Path<String>,
    body: ApiJson<RevocationRequest>,
) -> AppResult<HttpResponse> {
    let reason = body.0.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::Validation(vec![crate::error::FieldIssue::new(
            "reason",
            Msg::new("validation.length").arg("min", 1).arg("max", 500),
        )]));
    }
    let c = service::revoke(&state.db, admin.org_id, admin.id, &path, &reason).await?;
    Ok(HttpResponse::Ok().json(service::view(&c, public_url(&state))?))
}

/// Reissues a valid certificate with the holder's current name (admins; audited): the new one
/// supersedes the old, which then verifies as "superseded" with a link to the new one.
#[utoipa::path(
    tag = "certificates",
    params(("code" = String, Path, description = "Verification code")),
    responses((status = 201, body = CertificateView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/certificates/{code}/reissue")]
pub async fn reissue_certificate(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let c = service::reissue(&state.db, &state.mailer, admin.org_id, admin.id, &path).await?;
    Ok(HttpResponse::Created().json(service::view(&c, public_url(&state))?))
}

/// Who sees your name on the public verification page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// `public`, or `surname`: only a verifier who types your surname sees your name.
    pub name_disclosure: String,
}

/// Chooses who sees your name when your certificate is verified.
#[utoipa::path(
    tag = "certificates",
    params(("code" = String, Path, description = "Verification code")),
    request_body = DisclosureRequest,
    responses((status = 200, body = CertificateView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/me/certificates/{code}/disclosure")]
pub async fn set_disclosure(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: ApiJson<DisclosureRequest>,
) -> AppResult<HttpResponse> {
    let value = body.0.name_disclosure;
    if value != "public" && value != "surname" {
        return Err(AppError::field(
            "name_disclosure",
            "validation.name_disclosure",
        ));
    }
    let c = service::set_disclosure(&state.db, user.id, &path, &value).await?;
    Ok(HttpResponse::Ok().json(service::view(&c, public_url(&state))?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VerifyQuery {
    /// The holder's surname, when they show their name only to verifiers who know it.
    pub surname: Option<String>,
}

/// Verifies a certificate by its code (public, no account; rate limited per client): valid,
/// expired, revoked (with reason and date) or superseded, with each check. Unknown codes are 404.
#[utoipa::path(
    tag = "verification",
    params(("code" = String, Path, description = "Verification code, with or without dashes"), VerifyQuery),
    responses((status = 200, body = VerificationReport), (status = 404, body = Problem), (status = 429, body = Problem))
)]
#[get("/api/v1/verify/{code}")]
pub async fn verify_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<VerifyQuery>,
) -> AppResult<HttpResponse> {
    limited(&state, &req)?;
    let report = service::verify_code(
        &state.db,
        public_url(&state),
        &path,
        query.surname.as_deref(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(report))
}

/// Reads an upload: a raw PDF, a form with the field `file` (a PDF or a credential), or JSON
/// `{"credential": "<compact JWS>"}`. Answers the bytes and whether they are JSON.
pub async fn upload(req: &HttpRequest, mut payload: web::Payload) -> AppResult<(Vec<u8>, bool)> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let too_large =
        || AppError::BadRequest(Msg::new("error.upload_too_large").arg("max", MAX_UPLOAD / 1024));
    if content_type.starts_with("multipart/form-data") {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        while let Some(field) = form.next().await {
            let mut field =
                field.map_err(|_| AppError::BadRequest(Msg::new("error.upload_unreadable")))?;
            if field.name() != Some("file") {
                continue;
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|_| AppError::BadRequest(Msg::new("error.upload_unreadable")))?;
                if bytes.len() + chunk.len() > MAX_UPLOAD {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            if bytes.is_empty() {
                break;
            }
            return Ok((bytes, false));
        }
        return Err(AppError::field("file", "validation.upload_missing"));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| too_large())?;
        if bytes.len() + chunk.len() > MAX_UPLOAD {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, content_type.starts_with("application/json")))
}

/// Verifies an uploaded certificate PDF (matched by its SHA-256 and its attached credential) or
/// a credential JWT (signature, issuer key, dates and revocation), saying exactly what passed and
/// what failed. Public, rate limited per client.
#[utoipa::path(
    tag = "verification",
    request_body(content = Object, description = "A PDF (`application/pdf`), a form upload (`multipart/form-data`, field `file`), or `{\"credential\": \"<compact JWS>\"}`"),
    responses((status = 200, body = VerificationReport), (status = 400, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem))
)]
#[post("/api/v1/verify")]
pub async fn verify_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    limited(&state, &req)?;
    let (bytes, json) = upload(&req, payload).await?;
    let report = verify_bytes(&state, &bytes, json).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Verifies uploaded bytes: a PDF, a bare JWT, or JSON holding one.
pub async fn verify_bytes(
    state: &AppState,
    bytes: &[u8],
    json: bool,
) -> AppResult<VerificationReport> {
    if bytes.starts_with(b"%PDF") {
        return service::verify_pdf(&state.db, public_url(state), bytes).await;
    }
    let token = if json {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| AppError::BadRequest(Msg::new("error.body_not_json")))?;
        value["credential"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| AppError::field("credential", "validation.credential"))?
    } else {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| AppError::field("file", "validation.upload_kind"))?
    };
    if token.trim().is_empty() {
        return Err(AppError::field("file", "validation.upload_kind"));
    }
    service::verify_credential(&state.db, public_url(state), &token).await
}

/// The issuers' public keys (JWK set), active and retired, for verifying credentials offline.
#[utoipa::path(tag = "verification", responses((status = 200, description = "A JWK set", body = Object)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let set = super::keys::jwks(&state.db).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(set))
}

/// An issuer's Open Badges profile.
#[utoipa::path(
    tag = "verification",
    params(("id" = i64, Path, description = "Organization id")),
    responses((status = 200, description = "The issuer profile", body = Object), (status = 404, body = Problem))
)]
#[get("/issuers/{id}")]
pub async fn issuer(state: web::Data<AppState>, path: web::Path<i64>) -> AppResult<HttpResponse> {
    use sea_orm::EntityTrait;
    let org = crate::auth::entities::organization::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(super::credential::issuer_profile(
        public_url(&state),
        org.id,
        &org.name,
    )))
}

/// A Bitstring Status List credential (revocation), signed by its issuer, as a JWT.
#[utoipa::path(
    tag = "verification",
    params(("id" = i64, Path, description = "Status list id")),
    responses((status = 200, description = "The signed status list credential", content_type = "application/vc+jwt"), (status = 404, body = Problem))
)]
#[get("/status-lists/{id}")]
pub async fn status_list(
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let jwt =
        service::status_list_credential(&state.db, public_url(&state), path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vc+jwt")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(jwt))
}
