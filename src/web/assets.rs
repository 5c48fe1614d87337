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
const FORMS_SCRIPT: &str = include_str!("../../static/forms.js");
static FORMS_SCRIPT_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(FORMS_SCRIPT.as_bytes())[..6]));
const STUDY_SCRIPT: &str = include_str!("../../static/study.js");
static STUDY_SCRIPT_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(STUDY_SCRIPT.as_bytes())[..6]));

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
    script(&req, EXAM_SCRIPT, &EXAM_SCRIPT_VERSION)
}

/// The lesson page's script (study-time heartbeats).
#[get("/static/study.js")]
pub async fn study_script(req: HttpRequest) -> HttpResponse {
    script(&req, STUDY_SCRIPT, &STUDY_SCRIPT_VERSION)
}

/// The forms' script (a chosen text file read into its textarea).
#[get("/static/forms.js")]
pub async fn forms_script(req: HttpRequest) -> HttpResponse {
    script(&req, FORMS_SCRIPT, &FORMS_SCRIPT_VERSION)
}

fn script(req: &HttpRequest, body: &'static str, version: &str) -> HttpResponse {
    // Revalidated on each load (the page links it without a version), answered 304 when unchanged.
    let etag = format!("\"{version}\"");
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
        .body(body)
}

#[cfg(test)]
mod contrast_tests {
    #![allow(clippy::unwrap_used)]

    /// WCAG 2.x relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let hex = hex.trim_start_matches('#');
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
    }

    fn ratio(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// The value of a custom property of the stylesheet's `:root`.
    fn var(css: &str, name: &str) -> String {
        let start = css
            .find(&format!("--{name}:"))
            .unwrap_or_else(|| panic!("--{name}"));
        css[start..]
            .split(':')
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn text_colours_pass_wcag_aa_on_their_backgrounds() {
        let css = include_str!("../../static/app.css");
        let v = |n: &str| var(css, n);
        // (foreground, background, where): body text needs 4.5:1.
        let pairs = [
            (v("ink"), v("paper"), "text on the page"),
            (v("ink"), v("card"), "text on cards"),
            (v("ink-soft"), v("paper"), "muted text on the page"),
            (v("ink-soft"), v("card"), "muted text on cards"),
            (v("brand"), v("card"), "links and outlined buttons"),
            (
                "#ffffff".to_string(),
                v("brand"),
                "primary buttons, the top bar",
            ),
            (
                "#d7ebe5".to_string(),
                v("brand"),
                "navigation on the top bar",
            ),
            (
                "#b9d8cf".to_string(),
                v("brand"),
                "organization name on the top bar",
            ),
            (v("danger"), v("danger-soft"), "error alerts"),
            (v("brand-strong"), v("brand-soft"), "notices"),
            (v("ok"), "#dcefe2".to_string(), "success badges"),
            (
                "#8a4a12".to_string(),
                "#fdeedd".to_string(),
                "admin badges, flagged questions",
            ),
            ("#2a4694".to_string(), "#e6ecfb".to_string(), "HR badges"),
            (
                "#5b2d94".to_string(),
                "#efe6fa".to_string(),
                "trainer badges",
            ),
            ("#8a4b00".to_string(), v("card"), "warnings"),
            // The heatmap's cells (server-drawn SVG).
            ("#14211d".to_string(), "#d7ecdf".to_string(), "heatmap: met"),
            (
                "#14211d".to_string(),
                "#fbe3a6".to_string(),
                "heatmap: one level short",
            ),
            (
                "#14211d".to_string(),
                "#f4a259".to_string(),
                "heatmap: two levels short",
            ),
            (
                "#ffffff".to_string(),
                "#b3261e".to_string(),
                "heatmap: three or more short",
            ),
            (
                "#4a5a55".to_string(),
                "#eef0ee".to_string(),
                "heatmap: not required",
            ),
        ];
        for (fg, bg, place) in pairs {
            let r = ratio(&fg, &bg);
            assert!(r >= 4.5, "{place}: {fg} on {bg} is {r:.2}:1, under 4.5:1");
        }
    }

    #[test]
    fn focus_rings_stand_out_from_what_they_sit_on() {
        // WCAG 1.4.11: a focus indicator needs 3:1 against its surroundings.
        let css = include_str!("../../static/app.css");
        let v = |n: &str| var(css, n);
        assert!(css.contains(":focus-visible { outline: 3px solid var(--accent)"));
        assert!(css.contains(".topbar :focus-visible { outline-color: #ffffff; }"));
        for (ring, bg, place) in [
            (v("accent"), v("paper"), "the page"),
            (v("accent"), v("card"), "cards"),
            ("#ffffff".to_string(), v("brand"), "the top bar"),
        ] {
            let r = ratio(&ring, &bg);
            assert!(
                r >= 3.0,
                "focus ring on {place}: {ring} on {bg} is {r:.2}:1"
            );
        }
    }

    #[test]
    fn the_contrast_formula_matches_known_values() {
        assert!((ratio("#000000", "#ffffff") - 21.0).abs() < 0.01);
        assert!((ratio("#767676", "#ffffff") - 4.54).abs() < 0.01);
    }
}
