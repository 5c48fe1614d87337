//! Extractors that state a handler's access rule in its signature.
//!
//! `CurrentUser` authenticates by `Authorization: Bearer <jwt>` or by the session cookie. A
//! cookie-authenticated request that changes state must carry the session's CSRF token in the
//! `X-CSRF-Token` header, or in the `csrf_token` field of a form read through [`PageForm`].
//! `RequireRole<P>` adds a role rule; a handler that takes it cannot run for anyone else.
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::model::Role;
use super::service::{self, Principal};
use crate::error::{AppError, Msg};
use crate::i18n::Lang;
use crate::startup::AppState;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "tc_session";
/// Name of the cookie that carries the CSRF token of pages shown before signing in.
pub const ANON_CSRF_COOKIE: &str = "tc_csrf";
/// Header carrying the CSRF token on script requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the request was authenticated.
#[derive(Debug, Clone)]
pub enum AuthVia {
    Bearer,
    Session {
        session_id: String,
        csrf_token: String,
    },
}

/// An authenticated, active user.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub principal: Principal,
    pub via: AuthVia,
}

impl Deref for CurrentUser {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl CurrentUser {
    /// The CSRF token pages must embed (none for bearer-token requests).
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.via {
            AuthVia::Session { csrf_token, .. } => Some(csrf_token),
            AuthVia::Bearer => None,
        }
    }

    /// The acting user, for audit entries.
    pub fn actor(&self, req: &HttpRequest) -> service::Actor {
        service::Actor {
            user_id: self.id,
            org_id: self.org_id,
            ip: client_ip(req),
        }
    }
}

/// The signed-in user's preferred language, left in the request for error pages.
#[derive(Debug, Clone, Copy)]
pub struct UserLang(pub Lang);

/// Marks a request whose form carried a valid CSRF token.
#[derive(Debug, Clone, Copy)]
struct CsrfVerified;

/// The client's address: the peer's, or, when the peer is a trusted proxy
/// (`TALENTCERT_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For` that is not a trusted
/// proxy (addresses further left were written by the client and prove nothing).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let proxies = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    Some(forwarded_client(peer, proxies, req.headers()).to_string())
}

/// See [`client_ip`].
fn forwarded_client(
    peer: std::net::IpAddr,
    proxies: &[ipnet::IpNet],
    headers: &actix_web::http::header::HeaderMap,
) -> std::net::IpAddr {
    let trusted = |ip: &std::net::IpAddr| proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // An address the proxy could not have written: stop at the last good one.
            Err(_) => break,
        }
    }
    client
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("application state missing")))
}

fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Authenticates a request, or `None` when it carries no credentials at all.
async fn authenticate(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    if let Some(found) = req.extensions().get::<CurrentUser>() {
        return Ok(Some(found.clone()));
    }
    let state = state(req)?;
    let user = if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(AppError::Unauthenticated)?;
        let claims = state.tokens.verify(token.trim())?;
        let user_id: i64 = claims.sub.parse().map_err(|_| AppError::Unauthenticated)?;
        let principal = service::load_principal(&state.db, user_id)
            .await?
            .filter(|p| p.org_id == claims.org)
            .filter(|p| p.token_version == claims.ver)
            .ok_or(AppError::Unauthenticated)?;
        CurrentUser {
            principal,
            via: AuthVia::Bearer,
        }
    } else if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        let Some(session) = service::find_session(
            &state.db,
            cookie.value(),
            state.settings.session_idle_minutes,
        )
        .await?
        else {
            return Ok(None);
        };
        let Some(principal) = service::load_principal(&state.db, session.user_id).await? else {
            return Ok(None);
        };
        CurrentUser {
            principal,
            via: AuthVia::Session {
                session_id: session.id,
                csrf_token: session.csrf_token,
            },
        }
    } else {
        return Ok(None);
    };
    req.extensions_mut().insert(UserLang(user.language));
    req.extensions_mut().insert(user.clone());
    Ok(Some(user))
}

fn check_csrf(req: &HttpRequest, user: &CurrentUser) -> Result<(), AppError> {
    let AuthVia::Session { csrf_token, .. } = &user.via else {
        return Ok(());
    };
    if !changes_state(req.method()) || req.extensions().get::<CsrfVerified>().is_some() {
        return Ok(());
    }
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if tokens_equal(sent, csrf_token) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Msg::new("error.csrf")))
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req).await?.ok_or(AppError::Unauthenticated)?;
            check_csrf(&req, &user)?;
            Ok(user)
        })
    }
}

/// The signed-in user if any, for pages that also show to visitors. Performs no CSRF check:
/// use it only on handlers that change nothing, or together with [`PageForm`].
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(&req).await {
                Ok(user) => Ok(MaybeUser(user)),
                // A stale or foreign bearer token on a page is treated as no sign-in.
                Err(AppError::Unauthenticated) => Ok(MaybeUser(None)),
                Err(other) => Err(other),
            }
        })
    }
}

/// A rule about roles.
pub trait RolePolicy {
    /// Whether the user may pass.
    fn allows(user: &Principal) -> bool;
}

/// Organization admins.
pub struct Admin;
/// HR.
pub struct Hr;
/// Trainers.
pub struct Trainer;
/// Learners.
pub struct Learner;
/// Admins or HR.
pub struct AdminOrHr;
/// Admins of the platform organization.
pub struct PlatformAdmin;
/// Trainers or admins (an organization's controls of lessons and exams).
pub struct TrainerOrAdmin;

impl RolePolicy for Admin {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Admin)
    }
}
impl RolePolicy for Hr {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Hr)
    }
}
impl RolePolicy for Trainer {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Trainer)
    }
}
impl RolePolicy for Learner {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Learner)
    }
}
impl RolePolicy for AdminOrHr {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Admin) || user.has(Role::Hr)
    }
}
impl RolePolicy for TrainerOrAdmin {
    fn allows(user: &Principal) -> bool {
        user.has(Role::Trainer) || user.has(Role::Admin)
    }
}
impl RolePolicy for PlatformAdmin {
    fn allows(user: &Principal) -> bool {
        user.org_is_platform && user.has(Role::Admin)
    }
}

/// An authenticated user who passes the rule `P`; anyone else gets 401 or 403.
pub struct RequireRole<P: RolePolicy> {
    pub user: CurrentUser,
    _policy: PhantomData<P>,
}

impl<P: RolePolicy> Deref for RequireRole<P> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.user
    }
}

impl<P: RolePolicy + 'static> FromRequest for RequireRole<P> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if !P::allows(&user) {
                return Err(AppError::Forbidden(Msg::new("error.forbidden_role")));
            }
            Ok(RequireRole {
                user,
                _policy: PhantomData,
            })
        })
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Middleware: every state-changing URL-encoded form must carry a `csrf_token` field equal to the
/// session's token (signed in) or to the `tc_csrf` cookie (before signing in, double submit).
/// The body is read here, checked, and handed on unchanged; the request is then marked so that
/// [`CurrentUser`] accepts it without the `X-CSRF-Token` header that script requests send.
pub async fn verify_form_csrf(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if changes_state(req.method()) && is_multipart(req.request()) {
        return verify_multipart_csrf(req, next).await;
    }
    if !changes_state(req.method()) || !is_form(req.request()) {
        return next.call(req).await.map(|res| res.map_into_boxed_body());
    }
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(err) => {
            let problem = crate::web::body_error(req.request(), &err);
            return Ok(req.error_response(problem));
        }
    };
    let sent: CsrfField = match serde_urlencoded::from_bytes(&body) {
        Ok(sent) => sent,
        Err(_) => {
            return Ok(req.error_response(AppError::BadRequest(Msg::new("error.malformed_form"))))
        }
    };
    let expected = match authenticate(req.request()).await {
        Ok(Some(user)) => user.csrf_token().map(str::to_string),
        Ok(None) | Err(AppError::Unauthenticated) => {
            req.cookie(ANON_CSRF_COOKIE).map(|c| c.value().to_string())
        }
        Err(other) => return Ok(req.error_response(other)),
    };
    match expected {
        Some(token) if !token.is_empty() && tokens_equal(&sent.csrf_token, &token) => {}
        _ => return Ok(req.error_response(AppError::Forbidden(Msg::new("error.csrf")))),
    }
    req.extensions_mut().insert(CsrfVerified);
    req.set_payload(bytes_payload(body));
    next.call(req).await.map(|res| res.map_into_boxed_body())
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// A file-upload form of a signed-in page must carry the `csrf_token` field too. Uploads without
/// a session (the public verification page) change nothing and pass unchecked.
async fn verify_multipart_csrf(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use futures_util::StreamExt;
    let expected = match authenticate(req.request()).await {
        Ok(Some(user)) => match &user.via {
            AuthVia::Session { csrf_token, .. } => csrf_token.clone(),
            _ => return next.call(req).await.map(|res| res.map_into_boxed_body()),
        },
        Ok(None) | Err(AppError::Unauthenticated) => {
            return next.call(req).await.map(|res| res.map_into_boxed_body())
        }
        Err(other) => return Ok(req.error_response(other)),
    };
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(err) => {
            let problem = crate::web::body_error(req.request(), &err);
            return Ok(req.error_response(problem));
        }
    };
    let chunk = body.clone();
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_http::error::PayloadError>(chunk) });
    let mut form = actix_multipart::Multipart::new(req.headers(), stream);
    let mut sent = String::new();
    while let Some(Ok(mut field)) = form.next().await {
        if field.name() != Some("csrf_token") {
            while field.next().await.is_some() {}
            continue;
        }
        while let Some(Ok(bytes)) = field.next().await {
            sent.push_str(&String::from_utf8_lossy(&bytes));
        }
        break;
    }
    if expected.is_empty() || !tokens_equal(sent.trim(), &expected) {
        return Ok(req.error_response(AppError::Forbidden(Msg::new("error.csrf"))));
    }
    req.extensions_mut().insert(CsrfVerified);
    req.set_payload(bytes_payload(body));
    next.call(req).await.map(|res| res.map_into_boxed_body())
}

fn bytes_payload(body: web::Bytes) -> Payload {
    let (_, mut inner) = actix_http::h1::Payload::create(true);
    inner.unread_data(body);
    Payload::from(inner)
}

/// A URL-encoded page form. Its CSRF token was checked by [`verify_form_csrf`] before any
/// extractor ran; this refuses a form that did not pass there.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for PageForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            if !is_form(&req) {
                return Err(AppError::UnsupportedMediaType(Msg::new(
                    "error.expected_form",
                )));
            }
            if req.extensions().get::<CsrfVerified>().is_none() {
                return Err(AppError::Forbidden(Msg::new("error.csrf")));
            }
            let body = body.await.map_err(|e| crate::web::body_error(&req, &e))?;
            let form = serde_urlencoded::from_bytes(&body).map_err(|e| {
                AppError::BadRequest(Msg::new("error.malformed_form_detail").arg("detail", e))
            })?;
            Ok(PageForm(form))
        })
    }
}

#[cfg(test)]
mod forwarded_tests {
    #![allow(clippy::unwrap_used)]
    use super::forwarded_client;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // A client talking to us directly cannot claim another address.
        assert_eq!(
            forwarded_client(ip("198.51.100.9"), &proxies, &headers(&["203.0.113.7"])),
            ip("198.51.100.9")
        );
        // Behind the proxy: the address it saw.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &proxies, &headers(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        // A forged left-hand entry is skipped: the nearest untrusted hop wins.
        assert_eq!(
            forwarded_client(
                ip("10.1.2.3"),
                &proxies,
                &headers(&["1.1.1.1, 203.0.113.7", "10.9.9.9"])
            ),
            ip("203.0.113.7")
        );
        // Nothing usable: the last trusted hop.
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), &proxies, &headers(&["not-an-ip"])),
            ip("10.1.2.3")
        );
        assert_eq!(
            forwarded_client(ip("10.1.2.3"), &proxies, &headers(&[])),
            ip("10.1.2.3")
        );
        // No proxies configured: the header means nothing.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &[], &headers(&["203.0.113.7"])),
            ip("127.0.0.1")
        );
    }
}
