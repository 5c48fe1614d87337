//! Static files compiled into the binary (no CDN, no external fonts).
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{get, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

const STYLESHEET: &str = include_str!("../../static/app.css");
const FAVICON: &str = include_str!("../../static/favicon.svg");
const EXAM_SCRIPT: &str = include_str!("../../static/exam.js");

static EXAM_SCRIPT_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(EXAM_SCRIPT.as_bytes())[..6]));

static STYLESHEET_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(STYLESHEET.as_bytes())[..6]));

/// The stylesheet's URL, versioned by content so browsers may cache it for a year.
pub fn stylesheet_url() -> String {
    format!("/static/app.css?v={}", *STYLESHEET_VERSION)
}

fn cached(req: &HttpRequest, content_type: &str, body: &'static str, etag: &str) -> HttpResponse {
    let etag = format!("\"{etag}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if matches {
        return HttpResponse::NotModified().finish();
    }
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ETAG, etag))
        .body(body)
}

/// The stylesheet.
#[get("/static/app.css")]
pub async fn stylesheet(req: HttpRequest) -> HttpResponse {
    cached(
        &req,
        "text/css; charset=utf-8",
        STYLESHEET,
        &STYLESHEET_VERSION,
    )
}

/// The icon.
#[get("/favicon.svg")]
pub async fn favicon(req: HttpRequest) -> HttpResponse {
    cached(&req, "image/svg+xml", FAVICON, "favicon-1")
}

/// The exam page's script.
#[get("/static/exam.js")]
pub async fn exam_script(req: HttpRequest) -> HttpResponse {
    // Revalidated on each load (the page links it without a version), answered 304 when unchanged.
    let etag = format!("\"{}\"", *EXAM_SCRIPT_VERSION);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return HttpResponse::NotModified().finish();
    }
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .body(EXAM_SCRIPT)
}
