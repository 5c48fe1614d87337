//! Organizations: created by platform admins only, with an invited first admin.
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{json, problem_fields, spawn_app};

#[tokio::test]
async fn platform_admin_creates_an_organization_with_its_first_admin() {
    let app = spawn_app().await;
    let platform = app.token("platform").await;
    let response = app
        .post_json(
            "/api/v1/organizations",
            &platform,
            &json!({"name": "Acme Retail", "slug": "acme", "admin_email": "Admin@Acme.test", "admin_name": "Ann", "admin_language": "zh-CN"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(response).await;
    assert_eq!(body["organization"]["slug"], "acme");
    assert_eq!(body["organization"]["is_platform"], false);
    assert_eq!(body["admin"]["email"], "admin@acme.test");
    assert_eq!(body["admin"]["roles"], json!(["admin"]));
    assert_eq!(body["admin"]["status"], "invited");

    let list = json(app.get("/api/v1/organizations", &platform).await).await;
    assert_eq!(list["total"], 3);
    assert_eq!(
        list["items"][0]["is_platform"], true,
        "the platform comes first"
    );

    let again = app
        .post_json(
            "/api/v1/organizations",
            &platform,
            &json!({"name": "Acme Again", "slug": "acme", "admin_email": "x@acme.test", "admin_name": "X"}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let taken_email = app
        .post_json(
            "/api/v1/organizations",
            &platform,
            &json!({"name": "Beta", "slug": "beta", "admin_email": "learner@demo.test", "admin_name": "X"}),
        )
        .await;
    assert_eq!(taken_email.status(), StatusCode::CONFLICT);
    let orgs = json(app.get("/api/v1/organizations", &platform).await).await;
    assert_eq!(
        orgs["total"], 3,
        "the refused organization was not half-created"
    );

    let audit = json(
        app.get("/api/v1/audit?action=organization.created", &platform)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);
}

#[tokio::test]
async fn only_platform_admins_create_organizations() {
    let app = spawn_app().await;
    let body =
        json!({"name": "Sneaky", "slug": "sneaky", "admin_email": "s@s.test", "admin_name": "S"});
    for who in ["admin", "hr", "trainer", "learner"] {
        let token = app.token(who).await;
        let response = app.post_json("/api/v1/organizations", &token, &body).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{who}");
        assert_eq!(
            app.get("/api/v1/organizations", &token).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let anonymous = app
        .api
        .post(app.url("/api/v1/organizations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn organization_input_is_validated() {
    let app = spawn_app().await;
    let platform = app.token("platform").await;
    let response = app
        .post_json(
            "/api/v1/organizations",
            &platform,
            &json!({"name": "", "slug": "Not A Slug", "admin_email": "nope", "admin_name": "A"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = problem_fields(&json(response).await);
    fields.sort();
    assert_eq!(fields, vec!["admin_email", "name", "slug"]);
}
