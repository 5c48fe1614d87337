//! Renders errors for their audience: problem+json in the requester's language for the API, an
//! HTML page (or a redirect to sign in) for people.
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use super::{is_api_path, request_lang, Chrome};
use crate::error::{AppError, Problem};
use crate::i18n::Lang;
use crate::startup::AppState;

#[derive(Serialize)]
struct ErrorPage {
    chrome: Chrome,
    problem: Problem,
}

/// The HTML error page for a person.
pub fn error_page(req: &HttpRequest, err: &AppError, lang: Lang) -> HttpResponse {
    if matches!(err, AppError::Unauthenticated) {
        let next = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let target = format!("/login?next={}", urlencode(&next));
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, target))
            .finish();
    }
    let user = req.extensions_ref_user();
    let (chrome, cookie) = Chrome::new(req, user.as_ref());
    let page = ErrorPage {
        chrome,
        problem: err.problem(lang),
    };
    let rendered = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.templates.render("error.html", &page));
    let mut builder = HttpResponse::build(err.status_code());
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    match rendered {
        Some(Ok(html)) => builder.content_type("text/html; charset=utf-8").body(html),
        Some(Err(render_err)) => {
            tracing::error!(error = ?render_err, "error page failed to render");
            builder
                .content_type("text/plain; charset=utf-8")
                .body(page.problem.detail)
        }
        None => builder
            .content_type("text/plain; charset=utf-8")
            .body(page.problem.detail),
    }
}

trait RequestUser {
    fn extensions_ref_user(&self) -> Option<crate::auth::CurrentUser>;
}

impl RequestUser for HttpRequest {
    fn extensions_ref_user(&self) -> Option<crate::auth::CurrentUser> {
        use actix_web::HttpMessage;
        self.extensions().get::<crate::auth::CurrentUser>().cloned()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Middleware: re-renders an [`AppError`] response in the requester's language, as an HTML page
/// for page paths and as problem+json for API paths.
pub async fn localize_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    else {
        return Ok(res);
    };
    let request = res.request().clone();
    let lang = request_lang(&request);
    let response = if is_api_path(request.path()) {
        if lang == Lang::En {
            return Ok(res);
        }
        err.json_response(lang)
    } else {
        error_page(&request, err, lang)
    };
    Ok(res.into_response(response))
}

/// Answers every unknown path with 404.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
