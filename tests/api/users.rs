//! Users and roles: role checks, tenant isolation, validation, audit.
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{json, problem_fields, spawn_app, DEMO_PASSWORD};

#[tokio::test]
async fn only_admins_manage_users() {
    let app = spawn_app().await;
    for who in ["learner", "hr", "trainer"] {
        let token = app.token(who).await;
        let list = app.get("/api/v1/users", &token).await;
        assert_eq!(list.status(), StatusCode::FORBIDDEN, "{who} lists users");
        assert_eq!(json(list).await["type"], "urn:talentcert:problem:forbidden");
        let create = app
            .post_json(
                "/api/v1/users",
                &token,
                &json!({"email": "x@demo.test", "display_name": "X", "roles": ["admin"]}),
            )
            .await;
        assert_eq!(
            create.status(),
            StatusCode::FORBIDDEN,
            "{who} creates a user"
        );
        assert_eq!(
            app.get("/api/v1/audit", &token).await.status(),
            StatusCode::FORBIDDEN,
            "{who} reads the audit log"
        );
    }
    let admin = app.token("admin").await;
    let list = json(app.get("/api/v1/users", &admin).await).await;
    assert_eq!(
        list["total"], 4,
        "the demo organization's four people, not the platform's"
    );
}

#[tokio::test]
async fn admin_creates_a_user_who_can_sign_in() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let response = app
        .post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "Zhang.Wei@Demo.test", "display_name": "张伟", "language": "zh-CN", "roles": ["learner", "hr"], "password": "a good password"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = json(response).await;
    assert_eq!(user["email"], "zhang.wei@demo.test");
    assert_eq!(user["roles"], json!(["learner", "hr"]));
    assert_eq!(user["status"], "active");
    assert_eq!(user["language"], "zh-CN");
    let token = app
        .token_for("zhang.wei@demo.test", "a good password")
        .await;
    let me = json(app.get("/api/v1/me", &token).await).await;
    assert_eq!(me["display_name"], "张伟");

    let duplicate = app
        .post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "zhang.wei@demo.test", "display_name": "Again", "roles": ["learner"]}),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);

    let invited = json(
        app.post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "later@demo.test", "display_name": "Later", "roles": ["learner"]}),
        )
        .await,
    )
    .await;
    assert_eq!(invited["status"], "invited");
    assert_eq!(
        app.login("later@demo.test", "").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.login("later@demo.test", "whatever-password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let audit = json(app.get("/api/v1/audit?action=user.created", &admin).await).await;
    assert_eq!(audit["total"], 2);
    assert_eq!(
        audit["items"][1]["after"]["roles"],
        json!(["learner", "hr"])
    );
}

#[tokio::test]
async fn validation_errors_name_every_bad_field() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let response = app
        .post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "not-an-email", "display_name": "  ", "language": "fr", "roles": ["root"], "password": "short"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body = json(response).await;
    assert_eq!(body["type"], "urn:talentcert:problem:validation");
    let mut fields = problem_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        vec!["display_name", "email", "language", "password", "roles"]
    );

    let unknown_field = app
        .post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "a@demo.test", "display_name": "A", "roles": ["learner"], "id": 99}),
        )
        .await;
    assert_eq!(
        unknown_field.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a client cannot set ids"
    );

    let no_roles = app
        .post_json(
            "/api/v1/users",
            &admin,
            &json!({"email": "a@demo.test", "display_name": "A", "roles": []}),
        )
        .await;
    assert_eq!(problem_fields(&json(no_roles).await), vec!["roles"]);

    let bad_limit = app.get("/api/v1/users?limit=0", &admin).await;
    assert_eq!(problem_fields(&json(bad_limit).await), vec!["limit"]);
    let bad_number = app.get("/api/v1/users?limit=abc", &admin).await;
    assert_eq!(bad_number.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn role_changes_are_audited_with_before_and_after() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let learner_id = app.user_id(&admin, "learner@demo.test").await;
    let response = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/users/{learner_id}/roles"),
            &admin,
            &json!({"roles": ["learner", "trainer"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["roles"], json!(["learner", "trainer"]));
    let audit = json(
        app.get("/api/v1/audit?action=user.roles_changed", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);
    let entry = &audit["items"][0];
    assert_eq!(entry["before"]["roles"], json!(["learner"]));
    assert_eq!(entry["after"]["roles"], json!(["learner", "trainer"]));
    assert_eq!(entry["target_id"], learner_id.to_string());
    // Authorisation reads current roles: the learner's old token now passes trainer checks too.
    let token = app.token("learner").await;
    let me = json(app.get("/api/v1/me", &token).await).await;
    assert_eq!(me["roles"], json!(["learner", "trainer"]));
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed_or_deactivated() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let admin_id = app.user_id(&admin, "admin@demo.test").await;
    let demote = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/users/{admin_id}/roles"),
            &admin,
            &json!({"roles": ["learner"]}),
        )
        .await;
    assert_eq!(demote.status(), StatusCode::CONFLICT);
    let self_deactivate = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{admin_id}"),
            &admin,
            &json!({"status": "deactivated"}),
        )
        .await;
    assert_eq!(self_deactivate.status(), StatusCode::CONFLICT);
    let me = json(app.get("/api/v1/me", &admin).await).await;
    assert_eq!(me["roles"], json!(["admin"]), "nothing changed");
}

#[tokio::test]
async fn deactivated_users_lose_access_at_once() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let learner_token = app.token("learner").await;
    let learner_id = app.user_id(&admin, "learner@demo.test").await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{learner_id}"),
            &admin,
            &json!({"status": "deactivated"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["status"], "deactivated");
    assert_eq!(
        app.get("/api/v1/me", &learner_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("learner@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let audit = json(
        app.get("/api/v1/audit?action=user.deactivated", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);

    let back = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{learner_id}"),
            &admin,
            &json!({"status": "active"}),
        )
        .await;
    assert_eq!(json(back).await["status"], "active");
    assert_eq!(
        app.login("learner@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );

    let bad = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{learner_id}"),
            &admin,
            &json!({"status": "gone"}),
        )
        .await;
    assert_eq!(problem_fields(&json(bad).await), vec!["status"]);
}

#[tokio::test]
async fn users_of_another_organization_are_not_found() {
    let app = spawn_app().await;
    let platform = app.token("platform").await;
    let created = json(
        app.post_json(
            "/api/v1/organizations",
            &platform,
            &json!({"name": "Other Brand", "slug": "other-brand", "admin_email": "boss@other.test", "admin_name": "Boss"}),
        )
        .await,
    )
    .await;
    let foreign_id = created["admin"]["id"].as_i64().unwrap();
    let admin = app.token("admin").await;
    let get = app
        .get(&format!("/api/v1/users/{foreign_id}"), &admin)
        .await;
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    let body = get.text().await.unwrap();
    assert!(
        !body.contains("boss@other.test"),
        "nothing of the other organization leaks"
    );
    let roles = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/users/{foreign_id}/roles"),
            &admin,
            &json!({"roles": ["learner"]}),
        )
        .await;
    assert_eq!(roles.status(), StatusCode::NOT_FOUND);
    let patch = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{foreign_id}"),
            &admin,
            &json!({"status": "deactivated"}),
        )
        .await;
    assert_eq!(patch.status(), StatusCode::NOT_FOUND);
    // A platform user is another organization too.
    let platform_me = json(app.get("/api/v1/me", &platform).await).await;
    let platform_id = platform_me["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/users/{platform_id}"), &admin)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Ids that do not exist at all answer the same.
    assert_eq!(
        app.get("/api/v1/users/999999", &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/users/not-a-number", &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    // The audit log of one organization does not show another's entries.
    let audit = json(
        app.get("/api/v1/audit?action=organization.created", &admin)
            .await,
    )
    .await;
    assert_eq!(
        audit["total"], 1,
        "only the demo organization's own creation"
    );
    assert_eq!(audit["items"][0]["after"]["slug"], "demo-retail");
}

#[tokio::test]
async fn people_update_their_own_profile_and_language() {
    let app = spawn_app().await;
    let token = app.token("learner").await;
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/me",
            &token,
            &json!({"language": "zh-CN", "display_name": "李娜"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = json(app.get("/api/v1/me", &token).await).await;
    assert_eq!(me["language"], "zh-CN");
    assert_eq!(me["display_name"], "李娜");
    // Errors now come in the person's language.
    let error = json(app.get("/api/v1/users", &token).await).await;
    assert_eq!(error["title"], "无权操作");
    let bad = app
        .send_json(
            Method::PATCH,
            "/api/v1/me",
            &token,
            &json!({"language": "xx"}),
        )
        .await;
    assert_eq!(problem_fields(&json(bad).await), vec!["language"]);
}
