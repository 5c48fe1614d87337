//! Bad input answers a clear 4xx problem, never a 500 or a panic.
use reqwest::StatusCode;

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_position() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let response = app
        .post_raw(
            "/api/v1/users",
            Some(&admin),
            "application/json",
            "{\"email\": \"a@b.c\",\n \"roles\": [",
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["type"], "urn:talentcert:problem:bad-request");
    assert!(
        body["detail"].as_str().unwrap().contains("line 2"),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_type_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let response = app
        .post_raw(
            "/api/v1/users",
            Some(&admin),
            "application/json",
            r#"{"email": "a@b.c", "display_name": "A", "roles": "admin"}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        crate::helpers::problem_fields(&json(response).await),
        vec!["roles"]
    );
}

#[tokio::test]
async fn another_content_type_is_a_415() {
    let app = spawn_app().await;
    let response = app
        .post_raw(
            "/api/v1/auth/login",
            None,
            "text/plain",
            r#"{"email": "a@b.c", "password": "x"}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body = json(response).await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("application/json"));
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app().await;
    let huge = format!(
        r#"{{"email": "a@b.c", "password": "{}"}}"#,
        "x".repeat(200 * 1024)
    );
    let response = app
        .post_raw("/api/v1/auth/login", None, "application/json", huge)
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = json(response).await;
    assert!(body["detail"].as_str().unwrap().contains("65536"), "{body}");

    // Without a Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|_| Ok(vec![b' '; 4096])).collect();
    let stream = futures_util::stream::iter(chunks);
    let chunked = app
        .post_raw(
            "/api/v1/auth/login",
            None,
            "application/json",
            reqwest::Body::wrap_stream(stream),
        )
        .await;
    assert_eq!(chunked.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn oversized_uploads_are_a_413_problem_on_every_raw_body_route() {
    let app = spawn_app().await;
    let hr = app.token("hr").await;
    let trainer = app.token("trainer").await;
    let huge = "x".repeat(200 * 1024);
    let uploads = [
        (reqwest::Method::POST, "/api/v1/roster", &hr, "text/csv"),
        (
            reqwest::Method::PUT,
            "/api/v1/courses/1/questions.gift",
            &trainer,
            "text/plain",
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/job-categories/user-operation/framework.csv",
            &trainer,
            "text/csv",
        ),
    ];
    for (method, path, token, content_type) in uploads {
        // With a Content-Length, and streamed without one.
        for chunked in [false, true] {
            let body = if chunked {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    (0..50).map(|_| Ok(vec![b'x'; 4096])).collect();
                reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
            } else {
                reqwest::Body::from(huge.clone())
            };
            let response = app
                .api
                .request(method.clone(), app.url(path))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "{method} {path}, chunked {chunked}"
            );
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json"));
            let body = json(response).await;
            assert!(
                body["detail"].as_str().unwrap().contains("65536"),
                "{path}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn hostile_bodies_never_cause_a_500() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let bodies = [
        "",
        "null",
        "[]",
        "\"string\"",
        "{\"email\": null}",
        "{\"email\": \"a@b.c\", \"display_name\": \"\\u0000\", \"roles\": [\"learner\"]}",
        "{\"email\": \"\u{202e}@x.y\", \"display_name\": \"x\", \"roles\": [\"learner\"]}",
        "{\"email\": 1e999}",
        "{\"email\": \"a\\u0000@b.c\", \"password\": \"x\\u0000\", \"display_name\": \"x\", \"roles\": [\"learner\"], \"name\": \"\\u0000\", \"slug\": \"a\\u0000\"}",
        "\u{feff}{}",
        "{\"roles\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    ];
    for body in bodies {
        for path in [
            "/api/v1/users",
            "/api/v1/auth/login",
            "/api/v1/organizations",
        ] {
            let response = app
                .post_raw(path, Some(&admin), "application/json", body.to_string())
                .await;
            let status = response.status();
            assert!(
                status.is_client_error(),
                "{path} with {body:?} answered {status}"
            );
            let problem = json(response).await;
            assert!(problem["detail"].is_string(), "{problem}");
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_in_the_right_format() {
    let app = spawn_app().await;
    let api = app
        .api
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let page = app.api.get(app.url("/nothing-here")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<h1 id=\"error-heading\">Not found</h1>"),
        "{html}"
    );
}

#[tokio::test]
async fn errors_speak_the_requested_language() {
    let app = spawn_app().await;
    let response = app
        .api
        .post(app.url("/api/v1/auth/login"))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .json(&serde_json::json!({"email": "nobody@demo.test", "password": "whatever"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json(response).await;
    assert_eq!(body["title"], "登录失败");
    assert_eq!(body["detail"], "邮箱或密码错误。");
    let page = app
        .api
        .get(app.url("/nothing"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("未找到"), "{page}");
    assert!(page.contains("<html lang=\"zh-CN\">"));
}

#[tokio::test]
async fn probes_answer() {
    let app = spawn_app().await;
    let health = app.api.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json(ready).await["status"], "ready");
    assert!(health.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn an_oversized_form_is_a_413_page() {
    let app = spawn_app().await;
    let body = format!("csrf_token=x&email={}", "a".repeat(100 * 1024));
    let response = app
        .post_raw("/login", None, "application/x-www-form-urlencoded", body)
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.text().await.unwrap().contains("65536"));
}
