//! Pages reached from emailed links: accepting an invitation, resetting a password.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::pages::render;
use super::request_lang;
use crate::auth::extract::{client_ip, SESSION_COOKIE};
use crate::auth::model::{Email, Password};
use crate::auth::onboarding::{self, INVITATION, PASSWORD_RESET};
use crate::auth::onboarding_handlers::start_password_reset;
use crate::auth::service;
use crate::auth::PageForm;
use crate::error::{AppError, AppResult};
use crate::startup::AppState;

/// What the account page shows.
#[derive(Serialize, Default)]
struct AccountPage {
    /// invitation | reset_request | reset_sent | reset_confirm | token_problem
    mode: &'static str,
    email: String,
    display_name: String,
    error: Option<String>,
}

fn page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    page: AccountPage,
) -> AppResult<HttpResponse> {
    render(state, req, None, status, "account.html", page)
}

/// Shows a token's problem (unknown, used, expired) as a page rather than an error document.
fn token_problem(state: &AppState, req: &HttpRequest, err: AppError) -> AppResult<HttpResponse> {
    match err {
        AppError::Validation(issues) => {
            let lang = request_lang(req);
            let error = issues.first().map(|i| i.message.render(lang));
            page(
                state,
                req,
                StatusCode::GONE,
                AccountPage {
                    mode: "token_problem",
                    error,
                    ..Default::default()
                },
            )
        }
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn check_new_password(form: &NewPasswordForm, req: &HttpRequest) -> Result<Password, String> {
    let lang = request_lang(req);
    if form.password != form.password_confirm {
        return Err(crate::i18n::t(lang, "validation.password_mismatch", &[]));
    }
    Password::parse("password", &form.password).map_err(|issue| issue.message.render(lang))
}

/// The page an invitation link opens.
#[get("/invitations/{token}")]
pub async fn invitation_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    match onboarding::open_token(&state.db, &path, INVITATION).await {
        Ok((_, user)) => page(
            &state,
            &req,
            StatusCode::OK,
            AccountPage {
                mode: "invitation",
                email: user.email,
                display_name: user.display_name,
                ..Default::default()
            },
        ),
        Err(err) => token_problem(&state, &req, err),
    }
}

/// Accepts an invitation from its page: sets the password and signs the person in.
#[post("/invitations/{token}")]
pub async fn invitation_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: PageForm<NewPasswordForm>,
) -> AppResult<HttpResponse> {
    let (_, user) = match onboarding::open_token(&state.db, &path, INVITATION).await {
        Ok(found) => found,
        Err(err) => return token_problem(&state, &req, err),
    };
    let password = match check_new_password(&form.0, &req) {
        Ok(p) => p,
        Err(error) => {
            let view = AccountPage {
                mode: "invitation",
                email: user.email,
                display_name: user.display_name,
                error: Some(error),
            };
            return page(&state, &req, StatusCode::UNPROCESSABLE_ENTITY, view);
        }
    };
    let principal = match onboarding::accept_invitation(
        &state.db,
        &state.hasher,
        &path,
        &password,
        client_ip(&req),
    )
    .await
    {
        Ok(p) => p,
        Err(err) => return token_problem(&state, &req, err),
    };
    let session =
        service::create_session(&state.db, principal.id, state.settings.session_idle_minutes)
            .await?;
    let cookie = Cookie::build(SESSION_COOKIE, session.token)
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .finish();
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, "/"))
        .finish())
}

/// Asks for the address to send a reset link to.
#[get("/password-reset")]
pub async fn reset_request_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    page(
        &state,
        &req,
        StatusCode::OK,
        AccountPage {
            mode: "reset_request",
            ..Default::default()
        },
    )
}

#[derive(Deserialize)]
struct ResetRequestForm {
    #[serde(default)]
    email: String,
}

/// Sends the reset link (if the address has an account) and says the same either way.
#[post("/password-reset")]
pub async fn reset_request_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<ResetRequestForm>,
) -> AppResult<HttpResponse> {
    match Email::parse("email", &form.0.email) {
        Ok(email) => {
            start_password_reset(&state, email.clone(), client_ip(&req));
            page(
                &state,
                &req,
                StatusCode::OK,
                AccountPage {
                    mode: "reset_sent",
                    email: email.as_str().to_string(),
                    ..Default::default()
                },
            )
        }
        Err(issue) => {
            let error = Some(issue.message.render(request_lang(&req)));
            page(
                &state,
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                AccountPage {
                    mode: "reset_request",
                    email: form.0.email,
                    error,
                    ..Default::default()
                },
            )
        }
    }
}

/// The page a reset link opens.
#[get("/password-reset/{token}")]
pub async fn reset_confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    match onboarding::open_token(&state.db, &path, PASSWORD_RESET).await {
        Ok((_, user)) => page(
            &state,
            &req,
            StatusCode::OK,
            AccountPage {
                mode: "reset_confirm",
                email: user.email,
                ..Default::default()
            },
        ),
        Err(err) => token_problem(&state, &req, err),
    }
}

/// Sets the new password and sends the person to sign in.
#[post("/password-reset/{token}")]
pub async fn reset_confirm_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: PageForm<NewPasswordForm>,
) -> AppResult<HttpResponse> {
    let (_, user) = match onboarding::open_token(&state.db, &path, PASSWORD_RESET).await {
        Ok(found) => found,
        Err(err) => return token_problem(&state, &req, err),
    };
    let password = match check_new_password(&form.0, &req) {
        Ok(p) => p,
        Err(error) => {
            let view = AccountPage {
                mode: "reset_confirm",
                email: user.email,
                error: Some(error),
                ..Default::default()
            };
            return page(&state, &req, StatusCode::UNPROCESSABLE_ENTITY, view);
        }
    };
    if let Err(err) = onboarding::confirm_password_reset(
        &state.db,
        &state.hasher,
        &path,
        &password,
        client_ip(&req),
    )
    .await
    {
        return token_problem(&state, &req, err);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?notice=password_changed"))
        .finish())
}

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(invitation_page)
        .service(invitation_submit)
        .service(reset_request_page)
        .service(reset_request_submit)
        .service(reset_confirm_page)
        .service(reset_confirm_submit);
}
