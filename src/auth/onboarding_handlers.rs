//! JSON API of invitations and password resets.
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::client_ip;
use super::handlers::TokenResponse;
use super::model::{parse_language, parse_roles, DisplayName, Email, Issues, Password, Role};
use super::onboarding::{self, InvitationRow, Invitee};
use super::{AdminOrHr, RequireRole};
use crate::error::{AppError, AppResult, Msg, Problem};
use crate::pagination::{bounds, Page};
use crate::startup::AppState;
use crate::web::ApiJson;

/// Whom to invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email: String,
    pub display_name: String,
    /// `en` or `zh-CN`; default: the organization's language.
    pub language: Option<String>,
    /// Roles to grant; default `["learner"]`. HR may invite learners only.
    pub roles: Option<Vec<String>>,
}

/// An invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    pub id: i64,
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn invitation_response(row: InvitationRow) -> InvitationResponse {
    let now = Utc::now();
    let status = match (row.token.used_at, row.user.status.as_str()) {
        (Some(_), "active") => "accepted",
        (Some(_), _) => "revoked",
        (None, _) if row.token.expires_at <= now => "expired",
        (None, _) => "pending",
    };
    InvitationResponse {
        id: row.token.id,
        user_id: row.user.id,
        email: row.user.email,
        display_name: row.user.display_name,
        status,
        created_at: row.token.created_at,
        expires_at: row.token.expires_at,
    }
}

/// Invites a person into the caller's organization; the email holds a single-use link to set a
/// password. Inviting someone still invited sends a fresh link and voids the old one.
#[utoipa::path(
    tag = "admin",
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, body = InvitationResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "The email is taken, or the person is already a member", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    inviter: RequireRole<AdminOrHr>,
    body: ApiJson<CreateInvitationRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut issues = Issues::default();
    let email = issues.take(Email::parse("email", &body.email));
    let display_name = issues.take(DisplayName::parse("display_name", &body.display_name));
    let language = match body.language.as_deref() {
        Some(l) => issues.take(parse_language("language", l)),
        None => None,
    };
    let requested = body.roles.unwrap_or_else(|| vec!["learner".to_string()]);
    let roles = issues.take(parse_roles("roles", &requested));
    issues.finish()?;
    let (Some(email), Some(display_name), Some(roles)) = (email, display_name, roles) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if !inviter.has(Role::Admin) && roles.iter().any(|r| *r != Role::Learner) {
        return Err(AppError::Forbidden(Msg::new("error.hr_invites_learners")));
    }
    let invitee = Invitee {
        email,
        display_name,
        language,
        roles,
    };
    let issued = onboarding::invite(
        &state.db,
        &state.mailer,
        &inviter.principal,
        &inviter.actor(&req),
        invitee,
        state.settings.invitation_days,
    )
    .await?;
    state.mail_wake.notify_one();
    let row = InvitationRow {
        token: issued.token,
        user: issued.user,
    };
    Ok(HttpResponse::Created().json(invitation_response(row)))
}

/// Paging of the invitation list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InvitationQuery {
    limit: Option<u64>,
    offset: Option<u64>,
}

/// The invitations of the caller's organization, newest first.
#[utoipa::path(
    tag = "admin",
    params(InvitationQuery),
    responses((status = 200, body = Page<InvitationResponse>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    user: RequireRole<AdminOrHr>,
    query: web::Query<InvitationQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = bounds(query.limit, query.offset)?;
    let (rows, total) = onboarding::list_invitations(&state.db, user.org_id, limit, offset).await?;
    let items: Vec<InvitationResponse> = rows.into_iter().map(invitation_response).collect();
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Revokes an open invitation: its link stops working.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked"), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Already accepted or revoked", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[delete("/api/v1/invitations/{id}")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: RequireRole<AdminOrHr>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    onboarding::revoke_invitation(&state.db, &user.actor(&req), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A token from an emailed link and the password to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenPasswordRequest {
    pub token: String,
    /// At least 8 characters.
    pub password: String,
}

/// Accepts an invitation: sets the password and answers an access token.
#[utoipa::path(
    tag = "auth",
    request_body = TokenPasswordRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 422, description = "The token is invalid, used or expired, or the password too short", body = Problem)
    )
)]
#[post("/api/v1/auth/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<TokenPasswordRequest>,
) -> AppResult<HttpResponse> {
    let password =
        Password::parse("password", &body.0.password).map_err(|i| AppError::Validation(vec![i]))?;
    let principal = onboarding::accept_invitation(
        &state.db,
        &state.hasher,
        &body.0.token,
        &password,
        client_ip(&req),
    )
    .await?;
    let access_token = state.tokens.issue(
        principal.id,
        principal.org_id,
        &principal.roles,
        principal.token_version,
    )?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_seconds(),
    }))
}

/// An address that forgot its password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// The answer to a reset request, the same whether or not the address exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
}

/// Sends a password-reset link if the address belongs to an active account. Always answers 202,
/// at once, so the answer reveals nothing about the address.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordResetRequest,
    responses((status = 202, body = Accepted), (status = 422, body = Problem))
)]
#[post("/api/v1/auth/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<PasswordResetRequest>,
) -> AppResult<HttpResponse> {
    let email = Email::parse("email", &body.0.email).map_err(|i| AppError::Validation(vec![i]))?;
    start_password_reset(&state, email, client_ip(&req));
    Ok(HttpResponse::Accepted().json(Accepted { status: "accepted" }))
}

/// Runs the reset request off the request path, so that an existing and an unknown address
/// answer in the same time.
pub fn start_password_reset(state: &web::Data<AppState>, email: Email, ip: Option<String>) {
    let state = state.clone();
    tokio::spawn(async move {
        match onboarding::request_password_reset(&state.db, &state.mailer, email.as_str(), ip).await
        {
            Ok(()) => state.mail_wake.notify_one(),
            Err(err) => tracing::error!(error = ?err, "password reset request failed"),
        }
    });
}

/// Sets a new password from a reset link; every older session and access token ends.
#[utoipa::path(
    tag = "auth",
    request_body = TokenPasswordRequest,
    responses(
        (status = 204, description = "Password changed"),
        (status = 422, description = "The token is invalid, used or expired, or the password too short", body = Problem)
    )
)]
#[post("/api/v1/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<TokenPasswordRequest>,
) -> AppResult<HttpResponse> {
    let password =
        Password::parse("password", &body.0.password).map_err(|i| AppError::Validation(vec![i]))?;
    onboarding::confirm_password_reset(
        &state.db,
        &state.hasher,
        &body.0.token,
        &password,
        client_ip(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
