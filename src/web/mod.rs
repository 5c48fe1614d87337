//! What pages and the API share: request bodies, the page chrome, language, static files, and
//! the middleware that renders errors in the requester's language and format.
pub mod account_pages;
pub mod assets;
pub mod errors;
pub mod pages;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::extract::{CurrentUser, UserLang, ANON_CSRF_COOKIE};
use crate::auth::Role;
use crate::error::{AppError, FieldIssue, Msg};
use crate::i18n::Lang;
use crate::startup::AppState;

/// Cookie remembering the language picked in the switch.
pub const LANG_COOKIE: &str = "tc_lang";

/// The largest accepted body.
pub fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map_or(1024 * 1024, |s| s.settings.max_body_bytes)
}

/// Maps a failure to read the body to a 4xx.
pub fn body_error(req: &HttpRequest, err: &actix_web::Error) -> AppError {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => AppError::PayloadTooLarge {
            limit: body_limit(req),
        },
        _ => AppError::BadRequest(Msg::new("error.unreadable_body")),
    }
}

/// A JSON request body. Errors name the problem: 415 for another content type, 413 when too
/// large, 400 for malformed JSON (with line and column), 422 naming the field that has the wrong
/// type or is missing.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        let limit = body_limit(req);
        let declared_too_large = declares_more_than(req, limit);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            if !is_json {
                return Err(AppError::UnsupportedMediaType(Msg::new(
                    "error.expected_json",
                )));
            }
            if declared_too_large {
                return Err(AppError::PayloadTooLarge { limit });
            }
            let bytes = body.await.map_err(|e| body_error(&req, &e))?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// Whether the request's `Content-Length` is over `limit` (refused before anything is read).
fn declares_more_than(req: &HttpRequest, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > limit)
}

/// A raw request body (a CSV or GIFT upload): like `web::Bytes`, but a body over the limit is a
/// 413 problem that names the limit, not actix's plain-text answer.
pub struct ApiBytes(pub web::Bytes);

impl FromRequest for ApiBytes {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = body_limit(req);
        let declared_too_large = declares_more_than(req, limit);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            if declared_too_large {
                return Err(AppError::PayloadTooLarge { limit });
            }
            body.await.map(ApiBytes).map_err(|e| body_error(&req, &e))
        })
    }
}

/// Parses JSON, turning serde's errors into problems that name the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de)
        .map_err(|err| (err.path().to_string(), err.into_inner()))
        .and_then(|value| de.end().map(|()| value).map_err(|e| (".".to_string(), e)));
    match parsed {
        Ok(value) => Ok(value),
        Err((path, inner)) => {
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(AppError::BadRequest(
                    Msg::new("error.malformed_json")
                        .arg("line", inner.line())
                        .arg("column", inner.column()),
                ));
            }
            let message = inner.to_string();
            // "missing field `x`" is reported at the parent's path.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string);
            let field = match (missing.as_ref(), path.as_str()) {
                (Some(name), ".") => name.clone(),
                (Some(name), parent) => format!("{parent}.{name}"),
                (None, p) => p.to_string(),
            };
            let msg = if missing.is_some() {
                Msg::new("validation.required")
            } else {
                let detail = message
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                Msg::new("validation.invalid_value").arg("detail", detail)
            };
            Err(AppError::Validation(vec![FieldIssue::new(field, msg)]))
        }
    }
}

/// The language of a request: the signed-in user's preference, then the language switch's
/// cookie, then `Accept-Language`, then English.
pub fn request_lang(req: &HttpRequest) -> Lang {
    if let Some(UserLang(lang)) = req.extensions().get::<UserLang>() {
        return *lang;
    }
    if let Some(lang) = req
        .cookie(LANG_COOKIE)
        .and_then(|c| Lang::from_tag(c.value()))
    {
        return lang;
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::negotiate)
        .unwrap_or_default()
}

/// Whether a path belongs to a machine interface (answers problem+json) rather than a page.
pub fn is_api_path(path: &str) -> bool {
    ["/api/", "/.well-known/", "/issuers/", "/status-lists/"]
        .iter()
        .any(|p| path.starts_with(p))
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// A link of the navigation.
#[derive(Debug, Serialize)]
pub struct NavItem {
    pub href: &'static str,
    pub label_key: &'static str,
    pub active: bool,
}

/// The signed-in person as the chrome shows them.
#[derive(Debug, Serialize)]
pub struct NavUser {
    pub display_name: String,
    pub email: String,
    pub org_name: String,
    pub roles: Vec<Role>,
}

/// A language offered in the switch.
#[derive(Debug, Serialize)]
pub struct LangOption {
    pub tag: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

/// What `base.html` needs on every page.
#[derive(Debug, Serialize)]
pub struct Chrome {
    pub lang: &'static str,
    pub langs: Vec<LangOption>,
    pub user: Option<NavUser>,
    pub csrf_token: String,
    pub nav: Vec<NavItem>,
    pub path: String,
    pub css: String,
}

/// The navigation a user's roles may use.
fn navigation(user: &CurrentUser, path: &str) -> Vec<NavItem> {
    let mut items = vec![
        NavItem {
            href: "/",
            label_key: "nav.home",
            active: path == "/",
        },
        NavItem {
            href: "/catalog",
            label_key: "nav.catalog",
            active: path.starts_with("/catalog")
                || path.starts_with("/courses")
                || path.starts_with("/lessons"),
        },
        NavItem {
            href: "/learning",
            label_key: "nav.learning",
            active: path.starts_with("/learning"),
            // (the learning map, /learning-map, is part of "My learning")
        },
        NavItem {
            href: "/certifications",
            label_key: "nav.certifications",
            active: path.starts_with("/certifications") || path.starts_with("/exams"),
        },
        NavItem {
            href: "/certificates",
            label_key: "nav.certificates",
            active: path.starts_with("/certificates"),
        },
    ];
    items.push(NavItem {
        href: "/skills",
        label_key: "nav.skills",
        active: path.starts_with("/people/") || path == "/skills",
    });
    if user.has(Role::Hr) || user.has(Role::Admin) {
        items.push(NavItem {
            href: "/hr",
            label_key: "nav.hr",
            active: path.starts_with("/hr"),
        });
    }
    if user.has(Role::Trainer) {
        items.push(NavItem {
            href: "/trainer",
            label_key: "nav.trainer",
            active: path.starts_with("/trainer"),
        });
    }
    if user.has(Role::Admin) {
        items.push(NavItem {
            href: "/admin",
            label_key: "nav.admin",
            active: path.starts_with("/admin"),
        });
    }
    items
}

impl Chrome {
    /// Builds the chrome, and the cookie to set when a visitor needs a CSRF token.
    pub fn new(req: &HttpRequest, user: Option<&CurrentUser>) -> (Chrome, Option<Cookie<'static>>) {
        let lang = request_lang(req);
        let path = req.path().to_string();
        let (csrf_token, cookie) = match user.and_then(|u| u.csrf_token()) {
            Some(token) => (token.to_string(), None),
            None => match req.cookie(ANON_CSRF_COOKIE) {
                Some(c) if c.value().len() == 64 => (c.value().to_string(), None),
                _ => {
                    let token = crate::auth::service::random_token();
                    let secure = req
                        .app_data::<web::Data<AppState>>()
                        .is_some_and(|s| s.settings.secure_cookies());
                    let cookie = Cookie::build(ANON_CSRF_COOKIE, token.clone())
                        .path("/")
                        .http_only(true)
                        .secure(secure)
                        .same_site(SameSite::Lax)
                        .finish();
                    (token, Some(cookie))
                }
            },
        };
        let chrome = Chrome {
            lang: lang.tag(),
            langs: Lang::ALL
                .iter()
                .map(|l| LangOption {
                    tag: l.tag(),
                    name: l.native_name(),
                    selected: *l == lang,
                })
                .collect(),
            nav: user.map(|u| navigation(u, &path)).unwrap_or_default(),
            user: user.map(|u| NavUser {
                display_name: u.display_name.clone(),
                email: u.email.clone(),
                org_name: u.org_name.clone(),
                roles: u.roles.clone(),
            }),
            csrf_token,
            path,
            css: assets::stylesheet_url(),
        };
        (chrome, cookie)
    }
}

/// A local path to go to after a form, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.contains("://") =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        roles: Vec<String>,
    }

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation(issues) => issues.into_iter().map(|i| i.field).collect(),
            other => vec![format!("{other}")],
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let missing = parse_json::<Body>(br#"{"roles": []}"#).err().map(fields);
        assert_eq!(missing, Some(vec!["email".to_string()]));
        let wrong = parse_json::<Body>(br#"{"email": "a@b.c", "roles": [1]}"#)
            .err()
            .map(fields);
        assert_eq!(wrong, Some(vec!["roles[0]".to_string()]));
        let syntax = parse_json::<Body>(br#"{"email": "#).err();
        assert!(matches!(syntax, Some(AppError::BadRequest(_))));
        let trailing = parse_json::<Body>(br#"{"email": "a@b.c", "roles": []} x"#).err();
        assert!(matches!(trailing, Some(AppError::BadRequest(_))));
    }

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/admin")), "/admin");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
