//! The OpenAPI document lists every `/api/v1` route the code registers.
use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{json, spawn_app};

/// Every `/api/v1` route attribute in `src/`, as (method, path).
fn routes_in_source() -> Vec<(String, String)> {
    all_routes_in_source()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1"))
        .collect()
}

/// Every `#[get("/...")]`-style route attribute in `src/` (API and pages), as (method, path).
pub fn all_routes_in_source() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    let line = line.trim();
                    for method in ["get", "post", "put", "patch", "delete"] {
                        let prefix = format!("#[{method}(\"");
                        if let Some(rest) = line.strip_prefix(&prefix) {
                            let route = rest.split('"').next().unwrap();
                            out.push((method.to_string(), route.to_string()));
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

#[tokio::test]
async fn every_api_route_is_documented() {
    let app = spawn_app().await;
    let response = app
        .api
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = json(response).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let routes = routes_in_source();
    assert!(routes.len() >= 10, "found only {routes:?}");
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let operation = &doc["paths"][path][method];
        if operation.is_null() {
            missing.push(format!("{} {path}", method.to_uppercase()));
            continue;
        }
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} lists no responses"
        );
        let public = matches!(
            path.as_str(),
            "/api/v1/auth/login"
                | "/api/v1/auth/invitations/accept"
                | "/api/v1/auth/password-reset"
                | "/api/v1/auth/password-reset/confirm"
                | "/api/v1/verify/{code}"
                | "/api/v1/verify"
        );
        if !public {
            assert!(
                operation["security"].is_array(),
                "{method} {path} documents no authentication"
            );
            assert!(
                !operation["responses"]["401"].is_null(),
                "{method} {path} does not document 401"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
}

#[tokio::test]
async fn documented_paths_exist() {
    // The reverse direction: a documented /api/v1 path that no handler serves would mislead.
    let app = spawn_app().await;
    let doc: Value = json(
        app.api
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let routes = routes_in_source();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is documented but not routed"
            );
        }
    }
}
