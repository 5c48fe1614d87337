//! JSON API of accounts: sign-in, the current user, users and roles, organizations.
use actix_web::cookie::Cookie;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::extract::{client_ip, AuthVia, SESSION_COOKIE};
use super::model::{
    parse_language, parse_roles, DisplayName, Email, Issues, Password, Role, Slug, UserStatus,
};
use super::service::{self, NewOrganization, NewUser, UserChanges, UserFilter, UserWithRoles};
use super::{Admin, CurrentUser, PlatformAdmin, RequireRole};
use crate::error::{AppError, AppResult, Problem};

use crate::pagination::{bounds, Page};
use crate::startup::AppState;
use crate::web::ApiJson;

/// Credentials.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 254))]
    pub email: String,
    #[validate(length(min = 1, max = 1024))]
    pub password: String,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// Signs in with email and password and answers a bearer token.
///
/// A wrong email and a wrong password answer the same 401. After repeated failures for one
/// account or one address the answer is 429 with `Retry-After`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem)
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    body.0.validate()?;
    let ip = client_ip(&req);
    let principal = service::authenticate(
        &state.db,
        &state.hasher,
        &body.0.email,
        &body.0.password,
        ip.as_deref(),
        state.settings.login_throttle,
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

/// Ends the browser session of a cookie-authenticated caller (bearer tokens simply expire).
#[utoipa::path(
    tag = "auth",
    responses((status = 204, description = "Signed out"), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/auth/logout")]
pub async fn logout(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    let mut response = HttpResponse::NoContent();
    if let AuthVia::Session { session_id, .. } = &user.via {
        service::end_session(&state.db, session_id, user.id, user.org_id).await?;
        let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
        removal.make_removal();
        response.cookie(removal);
    }
    Ok(response.finish())
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// BCP 47: `en` or `zh-CN`.
    pub language: String,
    pub roles: Vec<Role>,
    pub organization: OrganizationRef,
    /// The CSRF token to send as `X-CSRF-Token` with state-changing requests made with the
    /// session cookie; absent for bearer-token callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// An organization in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: i64,
    pub name: String,
    pub is_platform: bool,
}

fn me_response(user: &CurrentUser) -> MeResponse {
    MeResponse {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        language: user.language.tag().to_string(),
        roles: user.roles.clone(),
        organization: OrganizationRef {
            id: user.org_id,
            name: user.org_name.clone(),
            is_platform: user.org_is_platform,
        },
        csrf_token: user.csrf_token().map(str::to_string),
    }
}

/// Who am I.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = MeResponse), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/me")]
pub async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(me_response(&user))
}

/// Changes to one's own profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub display_name: Option<String>,
    /// `en` or `zh-CN`.
    pub language: Option<String>,
}

/// Updates one's own display name or language.
#[utoipa::path(
    tag = "auth",
    request_body = UpdateMeRequest,
    responses((status = 200, body = MeResponse), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[patch("/api/v1/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<UpdateMeRequest>,
) -> AppResult<HttpResponse> {
    let mut issues = Issues::default();
    let name = body
        .0
        .display_name
        .as_deref()
        .and_then(|n| issues.take(DisplayName::parse("display_name", n)));
    let language = body
        .0
        .language
        .as_deref()
        .and_then(|l| issues.take(parse_language("language", l)));
    issues.finish()?;
    service::update_profile(&state.db, user.id, name.clone(), language).await?;
    let mut updated = me_response(&user);
    if let Some(name) = name {
        updated.display_name = name.as_str().to_string();
    }
    if let Some(lang) = language {
        updated.language = lang.tag().to_string();
    }
    Ok(HttpResponse::Ok().json(updated))
}

/// A user as admins see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub language: String,
    pub status: UserStatus,
    pub roles: Vec<Role>,
    pub employee_id: Option<String>,
    pub department: Option<String>,
    pub manager_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<UserWithRoles> for UserResponse {
    fn from(u: UserWithRoles) -> UserResponse {
        UserResponse {
            id: u.user.id,
            status: UserStatus::from_stored(&u.user.status),
            email: u.user.email,
            display_name: u.user.display_name,
            language: u.user.language,
            roles: u.roles,
            employee_id: u.user.employee_id,
            department: u.user.department,
            manager_id: u.user.manager_id,
            created_at: u.user.created_at,
        }
    }
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UserListQuery {
    /// Matches email or display name.
    q: Option<String>,
    /// Only users holding this role.
    role: Option<String>,
    /// Only users in this status: active, invited, deactivated.
    status: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// Lists the users of the caller's organization.
#[utoipa::path(
    tag = "admin",
    params(UserListQuery),
    responses((status = 200, body = Page<UserResponse>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    query: web::Query<UserListQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = bounds(query.limit, query.offset)?;
    let role = match query.role.as_deref() {
        Some(r) => {
            Some(Role::parse(r).ok_or_else(|| AppError::field("role", "validation.unknown_role"))?)
        }
        None => None,
    };
    let status = match query.status.as_deref() {
        Some("active") => Some(UserStatus::Active),
        Some("invited") => Some(UserStatus::Invited),
        Some("deactivated") => Some(UserStatus::Deactivated),
        Some(_) => return Err(AppError::field("status", "validation.status")),
        None => None,
    };
    let filter = UserFilter {
        q: query.q.clone(),
        role,
        status,
        limit,
        offset,
    };
    let (users, total) = service::list_users(&state.db, admin.org_id, &filter).await?;
    let items: Vec<UserResponse> = users.into_iter().map(UserResponse::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub display_name: String,
    /// `en` (default) or `zh-CN`.
    pub language: Option<String>,
    /// At least one of learner, hr, trainer, admin.
    pub roles: Vec<String>,
    /// An initial password (8+ characters). Without one the account waits for an invitation.
    pub password: Option<String>,
}

/// Creates a user in the caller's organization.
#[utoipa::path(
    tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = UserResponse),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "The email is taken", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    body: ApiJson<CreateUserRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut issues = Issues::default();
    let email = issues.take(Email::parse("email", &body.email));
    let display_name = issues.take(DisplayName::parse("display_name", &body.display_name));
    let language = issues.take(parse_language(
        "language",
        body.language.as_deref().unwrap_or("en"),
    ));
    let roles = issues.take(parse_roles("roles", &body.roles));
    let password = match body.password.as_deref() {
        Some(p) => issues.take(Password::parse("password", p)),
        None => None,
    };
    issues.finish()?;
    let (Some(email), Some(display_name), Some(language), Some(roles)) =
        (email, display_name, language, roles)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    let password_hash = match password {
        Some(p) => Some(state.hasher.hash(p.expose()).await?),
        None => None,
    };
    let new = NewUser {
        email,
        display_name,
        language,
        roles,
        password_hash,
    };
    let inviting = service::Inviting {
        mailer: &state.mailer,
        inviter: Some(&admin.principal),
        days: state.settings.invitation_days,
    };
    let created = service::create_user(&state.db, &admin.actor(&req), new, inviting).await?;
    state.mail_wake.notify_one();
    Ok(HttpResponse::Created().json(UserResponse::from(created)))
}

/// One user of the caller's organization.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let user = service::get_user(&state.db, admin.org_id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Changes to a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    pub language: Option<String>,
    /// `active` or `deactivated`. Deactivation ends the user's sessions.
    pub status: Option<String>,
}

/// Updates a user's name, language or status (deactivate / reactivate).
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = UserResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Would leave no admin, or deactivate oneself", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
    body: ApiJson<UpdateUserRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut issues = Issues::default();
    let changes = UserChanges {
        display_name: body
            .display_name
            .as_deref()
            .and_then(|n| issues.take(DisplayName::parse("display_name", n))),
        language: body
            .language
            .as_deref()
            .and_then(|l| issues.take(parse_language("language", l))),
        status: match body.status.as_deref() {
            None => None,
            Some("active") => Some(UserStatus::Active),
            Some("deactivated") => Some(UserStatus::Deactivated),
            Some(_) => {
                issues.take::<()>(Err(crate::error::FieldIssue::new(
                    "status",
                    crate::error::Msg::new("validation.status"),
                )));
                None
            }
        },
    };
    issues.finish()?;
    let user =
        service::update_user(&state.db, &admin.actor(&req), path.into_inner(), changes).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// The complete set of roles a user should hold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    pub roles: Vec<String>,
}

/// Replaces a user's roles (audited with before and after).
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = SetRolesRequest,
    responses(
        (status = 200, body = UserResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Would leave no admin", body = Problem),
        (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/users/{id}/roles")]
pub async fn set_user_roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
    body: ApiJson<SetRolesRequest>,
) -> AppResult<HttpResponse> {
    let roles =
        parse_roles("roles", &body.0.roles).map_err(|issue| AppError::Validation(vec![issue]))?;
    let user = service::set_roles(&state.db, &admin.actor(&req), path.into_inner(), roles).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub is_platform: bool,
    pub created_at: DateTime<Utc>,
}

impl From<super::entities::organization::Model> for OrganizationResponse {
    fn from(o: super::entities::organization::Model) -> OrganizationResponse {
        OrganizationResponse {
            id: o.id,
            name: o.name,
            slug: o.slug,
            is_platform: o.is_platform,
            created_at: o.created_at,
        }
    }
}

/// Every organization (platform admins only).
#[utoipa::path(
    tag = "platform",
    responses((status = 200, body = Page<OrganizationResponse>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    _admin: RequireRole<PlatformAdmin>,
) -> AppResult<HttpResponse> {
    let orgs = service::list_organizations(&state.db).await?;
    let total = orgs.len() as u64;
    let items: Vec<OrganizationResponse> =
        orgs.into_iter().map(OrganizationResponse::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// An organization to create, with its first admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    pub name: String,
    /// 2–64 lowercase letters, digits and hyphens.
    pub slug: String,
    pub admin_email: String,
    pub admin_name: String,
    /// `en` (default) or `zh-CN`.
    pub admin_language: Option<String>,
}

/// An organization just created, with its first admin (who is invited).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedOrganization {
    pub organization: OrganizationResponse,
    pub admin: UserResponse,
}

/// Creates an organization with its first admin (platform admins only).
#[utoipa::path(
    tag = "platform",
    request_body = CreateOrganizationRequest,
    responses(
        (status = 201, body = CreatedOrganization), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "Slug or admin email taken", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<PlatformAdmin>,
    body: ApiJson<CreateOrganizationRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut issues = Issues::default();
    let name = issues.take(DisplayName::parse("name", &body.name));
    let slug = issues.take(Slug::parse("slug", &body.slug));
    let email = issues.take(Email::parse("admin_email", &body.admin_email));
    let admin_name = issues.take(DisplayName::parse("admin_name", &body.admin_name));
    let language = issues.take(parse_language(
        "admin_language",
        body.admin_language.as_deref().unwrap_or("en"),
    ));
    issues.finish()?;
    let (Some(name), Some(slug), Some(email), Some(admin_name), Some(language)) =
        (name, slug, email, admin_name, language)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    let new = NewOrganization {
        name,
        slug,
        admin: NewUser {
            email,
            display_name: admin_name,
            language,
            roles: vec![Role::Admin],
            password_hash: None,
        },
    };
    let (org, admin_user) = service::create_organization(
        &state.db,
        Some(&admin.actor(&req)),
        new,
        service::Inviting {
            mailer: &state.mailer,
            inviter: Some(&admin.principal),
            days: state.settings.invitation_days,
        },
    )
    .await?;
    state.mail_wake.notify_one();
    Ok(HttpResponse::Created().json(CreatedOrganization {
        organization: org.into(),
        admin: UserResponse::from(UserWithRoles {
            user: admin_user,
            roles: vec![Role::Admin],
        }),
    }))
}
