//! Pages every role shares: sign-in, sign-out, the language switch, the home page per role, and
//! the admin overview.
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{safe_next, Chrome, LANG_COOKIE};
use crate::audit::entity as audit_entity;
use crate::auth::extract::{client_ip, AuthVia, SESSION_COOKIE};
use crate::auth::service::{self, UserFilter};
use crate::auth::{Admin, CurrentUser, MaybeUser, PageForm, RequireRole, Role};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::startup::AppState;

/// Renders a page with its chrome, setting the visitor's CSRF cookie when needed.
pub fn render<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    user: Option<&CurrentUser>,
    status: actix_web::http::StatusCode,
    template: &str,
    page: T,
) -> AppResult<HttpResponse> {
    #[derive(Serialize)]
    struct Ctx<T> {
        chrome: Chrome,
        page: T,
    }
    let (chrome, cookie) = Chrome::new(req, user);
    let html = state.templates.render(template, &Ctx { chrome, page })?;
    let mut builder = HttpResponse::build(status);
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    Ok(builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Serialize, Default)]
struct LoginPage {
    next: String,
    email: String,
    error: Option<String>,
    /// A message key to show above the form, e.g. after a password change.
    notice: Option<&'static str>,
}

/// The sign-in page.
#[get("/login")]
pub async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<LoginQuery>,
) -> AppResult<HttpResponse> {
    let next = safe_next(query.next.as_deref());
    if user.0.is_some() {
        return Ok(redirect(&next));
    }
    let notice = match query.notice.as_deref() {
        Some("password_changed") => Some("login.notice.password_changed"),
        _ => None,
    };
    let page = LoginPage {
        next,
        notice,
        ..Default::default()
    };
    render(
        &state,
        &req,
        None,
        actix_web::http::StatusCode::OK,
        "login.html",
        page,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Signs in from the page: starts a session and sets its cookie.
#[post("/login")]
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<LoginForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let ip = client_ip(&req);
    match service::authenticate(
        &state.db,
        &state.hasher,
        &form.email,
        &form.password,
        ip.as_deref(),
        state.settings.login_throttle,
    )
    .await
    {
        Ok(principal) => {
            let session = service::create_session(
                &state.db,
                principal.id,
                state.settings.session_idle_minutes,
            )
            .await?;
            let cookie = Cookie::build(SESSION_COOKIE, session.token)
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies())
                .same_site(SameSite::Lax)
                .finish();
            let lang_cookie = Cookie::build(LANG_COOKIE, principal.language.tag().to_string())
                .path("/")
                .same_site(SameSite::Lax)
                .max_age(time::Duration::days(365))
                .finish();
            Ok(HttpResponse::SeeOther()
                .cookie(cookie)
                .cookie(lang_cookie)
                .insert_header((header::LOCATION, next))
                .finish())
        }
        Err(err @ (AppError::InvalidCredentials | AppError::TooManyRequests { .. })) => {
            let lang = super::request_lang(&req);
            let page = LoginPage {
                next,
                email: form.email,
                error: Some(err.problem(lang).detail),
                notice: None,
            };
            let mut response = render(
                &state,
                &req,
                None,
                actix_web::ResponseError::status_code(&err),
                "login.html",
                page,
            )?;
            if let AppError::TooManyRequests { retry_after_secs } = err {
                if let Ok(value) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Ok(response)
        }
        Err(other) => Err(other),
    }
}

/// An empty form: only its CSRF token matters.
#[derive(Deserialize)]
struct EmptyForm {}

/// Signs out: ends the session and clears its cookie.
#[post("/logout")]
pub async fn logout_submit(
    state: web::Data<AppState>,
    _form: PageForm<EmptyForm>,
    user: MaybeUser,
) -> AppResult<HttpResponse> {
    if let Some(CurrentUser {
        principal,
        via: AuthVia::Session { session_id, .. },
    }) = user.0
    {
        service::end_session(&state.db, &session_id, principal.id, principal.org_id).await?;
    }
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    Ok(HttpResponse::SeeOther()
        .cookie(removal)
        .insert_header((header::LOCATION, "/login"))
        .finish())
}

#[derive(Deserialize)]
struct LanguageForm {
    lang: String,
    next: Option<String>,
}

/// The language switch: remembers the choice in a cookie, and as the preference of a signed-in user.
#[post("/language")]
pub async fn switch_language(
    state: web::Data<AppState>,
    form: PageForm<LanguageForm>,
    user: MaybeUser,
) -> AppResult<HttpResponse> {
    let lang = Lang::from_tag(&form.0.lang)
        .ok_or_else(|| AppError::field("lang", "validation.language"))?;
    if let Some(user) = &user.0 {
        service::update_profile(&state.db, user.id, None, Some(lang)).await?;
    }
    let cookie = Cookie::build(LANG_COOKIE, lang.tag().to_string())
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .finish();
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, safe_next(form.0.next.as_deref())))
        .finish())
}

#[derive(Serialize)]
struct RoleCount {
    role: Role,
    count: u64,
}

#[derive(Serialize)]
struct HomePage {
    roles: Vec<Role>,
    is_platform: bool,
    people: Option<Vec<RoleCount>>,
    /// Courses started and not finished, most recent first.
    in_progress: Vec<crate::catalog::service::LearningItem>,
    /// Certifications the person can start now, or has an attempt open in.
    ready: Vec<crate::assessment::exam::CertificationView>,
    certificates: Vec<crate::certificates::service::CertificateView>,
}

/// The home page: a section for each role the person holds.
#[get("/")]
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let people = if user.has(Role::Admin) || user.has(Role::Hr) {
        let mut counts = Vec::new();
        for role in Role::ALL {
            let filter = UserFilter {
                role: Some(role),
                limit: 1,
                ..Default::default()
            };
            let (_, count) = service::list_users(&state.db, user.org_id, &filter).await?;
            counts.push(RoleCount { role, count });
        }
        Some(counts)
    } else {
        None
    };
    let viewer = crate::catalog::service::Viewer::of(&user, state.platform_org_id);
    let in_progress = crate::catalog::service::my_learning(&state.db, &viewer)
        .await?
        .into_iter()
        .filter(|i| i.enrolment.completed_at.is_none())
        .take(6)
        .collect();
    let ready = crate::assessment::exam::list_certifications(&state.db, &viewer)
        .await?
        .into_iter()
        .filter(|c| c.open_attempt_id.is_some() || (c.can_start && c.status != "passed"))
        .take(6)
        .collect();
    let certificates = crate::certificates::service::of_user(&state.db, user.id)
        .await?
        .iter()
        .filter(|c| c.status == "valid")
        .map(|c| crate::certificates::service::view(c, state.mailer.public_url()))
        .collect::<AppResult<Vec<_>>>()?;
    let page = HomePage {
        roles: user.roles.clone(),
        is_platform: user.org_is_platform,
        people,
        in_progress,
        ready,
        certificates,
    };
    render(
        &state,
        &req,
        Some(&user),
        actix_web::http::StatusCode::OK,
        "home.html",
        page,
    )
}

#[derive(Serialize)]
struct AdminUserRow {
    id: i64,
    display_name: String,
    email: String,
    roles: Vec<Role>,
    status: String,
}

#[derive(Serialize)]
struct AdminAuditRow {
    action: String,
    actor: Option<String>,
    target: String,
    ip: Option<String>,
    created_at: String,
}

#[derive(Serialize)]
struct AdminPage {
    users: Vec<AdminUserRow>,
    total_users: u64,
    audit: Vec<AdminAuditRow>,
    audit_total: u64,
    audit_action: Option<String>,
    audit_actions: Vec<&'static str>,
    audit_page: u64,
    audit_pages: u64,
    all_roles: Vec<Role>,
    notice: Option<String>,
    error: Option<String>,
}

/// Audit entries a page of the admin overview shows.
const AUDIT_PAGE: u64 = 20;

#[derive(Deserialize, Default)]
struct AuditPageQuery {
    action: Option<String>,
    audit_page: Option<u64>,
}

#[derive(Deserialize)]
struct AdminQuery {
    done: Option<String>,
}

/// The admin overview: the organization's people and its latest audit entries.
#[get("/admin")]
pub async fn admin_overview(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    query: web::Query<AdminQuery>,
) -> AppResult<HttpResponse> {
    let lang = crate::web::request_lang(&req);
    let notice = query
        .done
        .as_deref()
        .filter(|d| ["invited", "roles", "status"].contains(d))
        .map(|d| crate::i18n::t(lang, &format!("admin.done.{d}"), &[]));
    admin_page(
        &state,
        &req,
        &admin,
        actix_web::http::StatusCode::OK,
        notice,
        None,
    )
    .await
}

async fn admin_page(
    state: &AppState,
    req: &HttpRequest,
    admin: &CurrentUser,
    status: actix_web::http::StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let filter = UserFilter {
        limit: 100,
        ..Default::default()
    };
    let (users, total_users) = service::list_users(&state.db, admin.org_id, &filter).await?;
    // The audit log: filtered by action and paged (`?action=…&audit_page=N`, 20 a page).
    let wanted: AuditPageQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let action = wanted
        .action
        .filter(|a| crate::audit::ACTIONS.contains(&a.as_str()));
    let audit_page = wanted.audit_page.unwrap_or(0).min(100_000);
    let audit_filter = crate::audit::service::AuditFilter {
        action: action.clone(),
        limit: AUDIT_PAGE,
        offset: audit_page * AUDIT_PAGE,
        ..Default::default()
    };
    let (entries, audit_total) =
        crate::audit::service::list(&state.db, admin.org_id, &audit_filter).await?;
    let actor_name = |id: Option<i64>| {
        id.map(|id| {
            users
                .iter()
                .find(|u| u.user.id == id)
                .map_or_else(|| format!("#{id}"), |u| u.user.display_name.clone())
        })
    };
    let audit = entries
        .into_iter()
        .map(|e: audit_entity::Model| AdminAuditRow {
            actor: actor_name(e.actor_user_id),
            action: e.action,
            target: format!("{} {}", e.target_type, e.target_id.unwrap_or_default()),
            ip: e.ip,
            created_at: e.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        })
        .collect();
    let page = AdminPage {
        users: users
            .into_iter()
            .map(|u| AdminUserRow {
                id: u.user.id,
                display_name: u.user.display_name,
                email: u.user.email,
                roles: u.roles,
                status: u.user.status,
            })
            .collect(),
        total_users,
        audit,
        audit_total,
        audit_action: action,
        audit_actions: crate::audit::ACTIONS.to_vec(),
        audit_page,
        audit_pages: audit_total.div_ceil(AUDIT_PAGE).max(1),
        all_roles: Role::ALL.to_vec(),
        notice,
        error,
    };
    render(state, req, Some(admin), status, "admin.html", page)
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    display_name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Invites a person from the admin page.
#[post("/admin/invitations")]
pub async fn admin_invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: crate::auth::PageForm<Vec<(String, String)>>,
    admin: RequireRole<Admin>,
) -> AppResult<HttpResponse> {
    use crate::auth::model::{parse_language, parse_roles, DisplayName, Email};
    let lang = crate::web::request_lang(&req);
    let fields = form.0;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let f = InviteForm {
        email: get("email"),
        display_name: get("display_name"),
        language: get("language"),
        roles: fields
            .iter()
            .filter(|(n, _)| n == "roles")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let requested = if f.roles.is_empty() {
        vec!["learner".to_string()]
    } else {
        f.roles
    };
    let parsed = (|| -> Result<_, crate::error::FieldIssue> {
        Ok(crate::auth::onboarding::Invitee {
            email: Email::parse("email", &f.email)?,
            display_name: DisplayName::parse("display_name", &f.display_name)?,
            language: if f.language.is_empty() {
                None
            } else {
                Some(parse_language("language", &f.language)?)
            },
            roles: parse_roles("roles", &requested)?,
        })
    })();
    let outcome = match parsed {
        Ok(invitee) => crate::auth::onboarding::invite(
            &state.db,
            &state.mailer,
            &admin.principal,
            &admin.actor(&req),
            invitee,
            state.settings.invitation_days,
        )
        .await
        .map(|_| ()),
        Err(issue) => Err(AppError::Validation(vec![issue])),
    };
    match outcome {
        Ok(()) => {
            state.mail_wake.notify_one();
            Ok(redirect("/admin?done=invited"))
        }
        Err(AppError::Validation(issues)) => {
            let error = issues
                .iter()
                .map(|i| i.message.render(lang))
                .collect::<Vec<_>>()
                .join(" ");
            admin_page(
                &state,
                &req,
                &admin,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(error),
            )
            .await
        }
        Err(AppError::Conflict(msg)) => {
            admin_page(
                &state,
                &req,
                &admin,
                actix_web::http::StatusCode::CONFLICT,
                None,
                Some(msg.render(lang)),
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// Changes a person's roles from the admin page.
#[post("/admin/users/{id}/roles")]
pub async fn admin_roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: crate::auth::PageForm<Vec<(String, String)>>,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let lang = crate::web::request_lang(&req);
    let requested: Vec<String> = form
        .0
        .iter()
        .filter(|(n, _)| n == "roles")
        .map(|(_, v)| v.clone())
        .collect();
    let outcome = match crate::auth::model::parse_roles("roles", &requested) {
        Ok(roles) => service::set_roles(&state.db, &admin.actor(&req), path.into_inner(), roles)
            .await
            .map(|_| ()),
        Err(issue) => Err(AppError::Validation(vec![issue])),
    };
    match outcome {
        Ok(()) => Ok(redirect("/admin?done=roles")),
        Err(AppError::Validation(issues)) => {
            let error = issues
                .iter()
                .map(|i| i.message.render(lang))
                .collect::<Vec<_>>()
                .join(" ");
            admin_page(
                &state,
                &req,
                &admin,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(error),
            )
            .await
        }
        Err(AppError::Conflict(msg)) => {
            admin_page(
                &state,
                &req,
                &admin,
                actix_web::http::StatusCode::CONFLICT,
                None,
                Some(msg.render(lang)),
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

/// Deactivates or reactivates a person from the admin page (deactivation ends their sessions).
#[post("/admin/users/{id}/status")]
pub async fn admin_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: crate::auth::PageForm<StatusForm>,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let lang = crate::web::request_lang(&req);
    let status = match form.0.status.as_str() {
        "deactivated" => crate::auth::model::UserStatus::Deactivated,
        "active" => crate::auth::model::UserStatus::Active,
        _ => return Err(AppError::field("status", "validation.status")),
    };
    let changes = service::UserChanges {
        display_name: None,
        language: None,
        status: Some(status),
    };
    match service::update_user(&state.db, &admin.actor(&req), path.into_inner(), changes).await {
        Ok(_) => Ok(redirect("/admin?done=status")),
        Err(AppError::Conflict(msg)) | Err(AppError::BadRequest(msg)) => {
            admin_page(
                &state,
                &req,
                &admin,
                actix_web::http::StatusCode::CONFLICT,
                None,
                Some(msg.render(lang)),
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// Registers the shared pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page)
        .service(login_submit)
        .service(logout_submit)
        .service(switch_language)
        .service(home)
        .service(admin_overview)
        .service(admin_invite)
        .service(admin_roles)
        .service(admin_status)
        .service(admin_outbox)
        .service(admin_outbox_retry)
        .service(super::assets::stylesheet)
        .service(super::assets::favicon)
        .service(super::assets::exam_script)
        .service(super::assets::study_script)
        .service(super::assets::forms_script);
}

#[derive(Serialize)]
struct OutboxRow {
    id: i64,
    kind: String,
    to: String,
    subject: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    when: String,
    retryable: bool,
}

#[derive(Serialize)]
struct OutboxPage {
    counts: Vec<(String, u64)>,
    rows: Vec<OutboxRow>,
    status: Option<String>,
    smtp_configured: bool,
}

#[derive(Deserialize)]
struct OutboxPageQuery {
    status: Option<String>,
}

/// The email outbox: what is queued, sent and dead, with the last error and a retry button.
#[get("/admin/outbox")]
pub async fn admin_outbox(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    query: web::Query<OutboxPageQuery>,
) -> AppResult<HttpResponse> {
    use crate::notify::service::{self as outbox, OutboxFilter, STATUSES};
    let status = query
        .status
        .clone()
        .filter(|s| STATUSES.contains(&s.as_str()));
    let filter = OutboxFilter {
        status: status.clone(),
        limit: 100,
        offset: 0,
    };
    let (rows, _) = outbox::list(&state.db, Some(admin.org_id), &filter).await?;
    let counts = outbox::counts(&state.db, Some(admin.org_id)).await?;
    let page = OutboxPage {
        counts,
        rows: rows
            .into_iter()
            .map(|m| OutboxRow {
                retryable: m.status == "dead" || m.status == "queued",
                id: m.id,
                kind: m.kind,
                to: m.to_address,
                subject: m.subject,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                when: m
                    .sent_at
                    .unwrap_or(m.created_at)
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string(),
            })
            .collect(),
        status,
        smtp_configured: state.settings.smtp_url.is_some(),
    };
    render(
        &state,
        &req,
        Some(&admin.user),
        actix_web::http::StatusCode::OK,
        "admin_outbox.html",
        page,
    )
}

/// Retries a message from the outbox page.
#[post("/admin/outbox/{id}/retry")]
pub async fn admin_outbox_retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    _form: PageForm<EmptyForm>,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    crate::notify::service::retry(&state.db, &admin.actor(&req), path.into_inner()).await?;
    state.mail_wake.notify_one();
    Ok(redirect("/admin/outbox"))
}
