//! Certificate pages: the public verification page (code, QR link, PDF or credential upload)
//! and the holder's certificates with download, share link and name privacy.
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::code;
use super::handlers;
use super::service::{self, CertificateView, VerificationReport};
use crate::auth::{Admin, CurrentUser, MaybeUser, PageForm, RequireRole};
use crate::error::{AppError, AppResult};
use crate::startup::AppState;
use crate::web::pages::render;
use crate::web::request_lang;

#[derive(Serialize, Default)]
struct VerifyPage {
    code: String,
    surname: String,
    report: Option<VerificationReport>,
    not_found: bool,
    /// The check was of an upload (no code typed).
    uploaded: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct VerifyQuery {
    code: Option<String>,
    surname: Option<String>,
}

fn limited_page(state: &AppState, req: &HttpRequest) -> AppResult<()> {
    let ip = crate::auth::extract::client_ip(req).unwrap_or_default();
    state
        .verify_limiter
        .check(&ip)
        .map_err(|secs| AppError::TooManyRequests {
            retry_after_secs: i64::try_from(secs).unwrap_or(60),
        })
}

/// The verification page: type a code, or upload a PDF or a credential.
#[get("/verify")]
pub async fn verify_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<VerifyQuery>,
) -> AppResult<HttpResponse> {
    if let Some(typed) = query
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let target = code::normalize(typed).unwrap_or_else(|| typed.replace(['/', '?', '#'], ""));
        let mut to = format!("/verify/{}", urlencode(&target));
        if let Some(s) = query
            .surname
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            to.push_str(&format!("?surname={}", urlencode(s)));
        }
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish());
    }
    render(
        &state,
        &req,
        user.0.as_ref(),
        StatusCode::OK,
        "verify.html",
        VerifyPage::default(),
    )
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct SurnameQuery {
    surname: Option<String>,
}

/// A certificate's verification, reached from its QR code or link.
#[get("/verify/{code}")]
pub async fn verify_code_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    path: web::Path<String>,
    query: web::Query<SurnameQuery>,
) -> AppResult<HttpResponse> {
    limited_page(&state, &req)?;
    let surname = query.surname.clone().unwrap_or_default();
    let report = service::verify_code(
        &state.db,
        state.mailer.public_url(),
        &path,
        Some(surname.as_str()).filter(|s| !s.trim().is_empty()),
    )
    .await?;
    let page = VerifyPage {
        code: code::normalize(&path).map_or_else(|| path.to_string(), |c| code::display(&c)),
        surname,
        not_found: report.is_none(),
        report,
        ..Default::default()
    };
    let status = if page.not_found {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    render(&state, &req, user.0.as_ref(), status, "verify.html", page)
}

/// Checks an uploaded PDF or credential from the verification page.
#[post("/verify")]
pub async fn verify_upload_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    limited_page(&state, &req)?;
    let lang = request_lang(&req);
    let outcome = match handlers::upload(&req, payload).await {
        Ok((bytes, json)) => handlers::verify_bytes(&state, &bytes, json).await,
        Err(e) => Err(e),
    };
    let (status, page) = match outcome {
        Ok(report) => (
            StatusCode::OK,
            VerifyPage {
                report: Some(report),
                uploaded: true,
                ..Default::default()
            },
        ),
        Err(AppError::Validation(issues)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            VerifyPage {
                error: Some(
                    issues
                        .iter()
                        .map(|i| i.message.render(lang))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                ..Default::default()
            },
        ),
        Err(AppError::BadRequest(msg)) => (
            StatusCode::BAD_REQUEST,
            VerifyPage {
                error: Some(msg.render(lang)),
                ..Default::default()
            },
        ),
        Err(other) => return Err(other),
    };
    render(&state, &req, user.0.as_ref(), status, "verify.html", page)
}

#[derive(Serialize)]
struct MyCertificatesPage {
    items: Vec<CertificateView>,
    saved: bool,
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

/// Your certificates: download, share link, expiry, who sees your name.
#[get("/certificates")]
pub async fn my_certificates_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    query: web::Query<SavedQuery>,
) -> AppResult<HttpResponse> {
    let items = service::of_user(&state.db, user.id)
        .await?
        .iter()
        .map(|c| service::view(c, state.mailer.public_url()))
        .collect::<AppResult<Vec<_>>>()?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "my_certificates.html",
        MyCertificatesPage {
            items,
            saved: query.saved.is_some(),
        },
    )
}

#[derive(Deserialize)]
struct DisclosureForm {
    name_disclosure: String,
}

/// Saves who sees the holder's name.
#[post("/certificates/{code}/disclosure")]
pub async fn disclosure_submit(
    state: web::Data<AppState>,
    form: PageForm<DisclosureForm>,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let value = form.0.name_disclosure;
    if value != "public" && value != "surname" {
        return Err(AppError::field(
            "name_disclosure",
            "validation.name_disclosure",
        ));
    }
    service::set_disclosure(&state.db, user.id, &path, &value).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/certificates?saved=1"))
        .finish())
}

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(verify_page)
        .service(verify_code_page)
        .service(verify_upload_page)
        .service(my_certificates_page)
        .service(disclosure_submit)
        .service(admin_certificates)
        .service(admin_revoke)
        .service(admin_reissue);
}

#[derive(Serialize)]
struct AdminCertificatesPage {
    items: Vec<CertificateView>,
    total: u64,
    /// Offsets of the previous and next pages, when there are such pages.
    prev_offset: Option<u64>,
    next_offset: Option<u64>,
    notice: Option<String>,
    error: Option<String>,
}

/// Certificates per page of the admin list.
const ADMIN_PAGE_SIZE: u64 = 100;

#[derive(Deserialize)]
struct NoticeQuery {
    done: Option<String>,
    offset: Option<u64>,
}

async fn admin_list(
    state: &AppState,
    req: &HttpRequest,
    admin: &CurrentUser,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    offset: u64,
) -> AppResult<HttpResponse> {
    let (rows, total) =
        service::org_page(&state.db, admin.org_id, None, ADMIN_PAGE_SIZE, offset).await?;
    let items = rows
        .iter()
        .map(|c| service::view(c, state.mailer.public_url()))
        .collect::<AppResult<Vec<_>>>()?;
    render(
        state,
        req,
        Some(admin),
        status,
        "admin_certificates.html",
        AdminCertificatesPage {
            items,
            total,
            prev_offset: (offset > 0).then(|| offset.saturating_sub(ADMIN_PAGE_SIZE)),
            next_offset: (offset + ADMIN_PAGE_SIZE < total).then_some(offset + ADMIN_PAGE_SIZE),
            notice,
            error,
        },
    )
}

/// The organization's certificates, with revocation and reissue (admins).
#[get("/admin/certificates")]
pub async fn admin_certificates(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    query: web::Query<NoticeQuery>,
) -> AppResult<HttpResponse> {
    let lang = request_lang(&req);
    let notice = match query.done.as_deref() {
        Some("revoked") => Some(crate::i18n::t(lang, "admincert.revoked", &[])),
        Some("reissued") => Some(crate::i18n::t(lang, "admincert.reissued", &[])),
        _ => None,
    };
    admin_list(
        &state,
        &req,
        &admin,
        StatusCode::OK,
        notice,
        None,
        crate::pagination::bounds(Some(ADMIN_PAGE_SIZE), query.offset)?.1,
    )
    .await
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    reason: String,
}

/// Revokes a certificate from the admin page.
#[post("/admin/certificates/{code}/revoke")]
pub async fn admin_revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<RevokeForm>,
    admin: RequireRole<Admin>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let reason = form.0.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        let lang = request_lang(&req);
        let error = crate::i18n::t(
            lang,
            "validation.length",
            &[("min", "1".into()), ("max", "500".into())],
        );
        return admin_list(
            &state,
            &req,
            &admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(format!(
                "{}: {error}",
                crate::i18n::t(lang, "admincert.reason", &[])
            )),
            0,
        )
        .await;
    }
    service::revoke(&state.db, admin.org_id, admin.id, &path, &reason).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/certificates?done=revoked"))
        .finish())
}

#[derive(Deserialize)]
struct EmptyForm {}

/// Reissues a certificate with the holder's current name, from the admin page.
#[post("/admin/certificates/{code}/reissue")]
pub async fn admin_reissue(
    state: web::Data<AppState>,
    _form: PageForm<EmptyForm>,
    admin: RequireRole<Admin>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    service::reissue(&state.db, &state.mailer, admin.org_id, admin.id, &path).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/certificates?done=reissued"))
        .finish())
}
