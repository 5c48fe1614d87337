//! Signing in, tokens, throttling, sessions and CSRF.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    json, spawn_app, spawn_app_with, AppOptions, TestDb, DEMO_PASSWORD, TEST_SECRET,
};

#[tokio::test]
async fn login_answers_a_bearer_token_for_the_right_password() {
    let app = spawn_app().await;
    let response = app.login("learner@demo.test", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let token = body["access_token"].as_str().unwrap();
    let me = json(app.get("/api/v1/me", token).await).await;
    assert_eq!(me["email"], "learner@demo.test");
    assert_eq!(me["roles"], json!(["learner"]));
    assert_eq!(me["organization"]["name"], "Demo Retail Co.");
    assert!(
        me.get("csrf_token").is_none(),
        "bearer callers get no CSRF token"
    );
}

#[tokio::test]
async fn login_email_is_case_insensitive() {
    let app = spawn_app().await;
    let response = app.login("  Learner@Demo.TEST ", DEMO_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same_401() {
    let app = spawn_app().await;
    let wrong = app.login("learner@demo.test", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_body = json(wrong).await;
    let unknown = app.login("nobody@demo.test", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_body = json(unknown).await;
    assert_eq!(wrong_body, unknown_body);
    assert_eq!(
        wrong_body["type"],
        "urn:talentcert:problem:invalid-credentials"
    );
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let app = spawn_app().await;
    for attempt in 1..=5 {
        let response = app.login("hr@demo.test", "wrong-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let blocked = app.login("hr@demo.test", DEMO_PASSWORD).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "retry after {retry_after}");
    // Other accounts are not affected.
    assert_eq!(
        app.login("learner@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
    // The counter lives in the database, where every instance sees it.
    let db = app.db.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT failures FROM login_throttle WHERE key = 'account:hr@demo.test'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i32>("", "failures").unwrap(), 5);
}

#[tokio::test]
async fn login_body_is_validated() {
    let app = spawn_app().await;
    let response = app
        .api
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "", "password": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(response).await;
    assert_eq!(
        crate::helpers::problem_fields(&body),
        vec!["email", "password"]
    );
}

fn claims(exp_offset: i64, iss: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "1", "org": 2, "roles": ["admin"], "ver": 0, "iat": now - 10, "exp": now + exp_offset,
        "iss": iss, "aud": "talentcert-api"
    })
}

#[tokio::test]
async fn expired_tampered_and_unsigned_tokens_are_refused() {
    let options = AppOptions {
        jwt_secret: Some(TEST_SECRET.to_string()),
        ..Default::default()
    };
    let app = spawn_app_with(TestDb::fresh().await, options).await;
    let key = EncodingKey::from_secret(TEST_SECRET.as_bytes());
    let admin_id = {
        let token = app.token("admin").await;
        json(app.get("/api/v1/me", &token).await).await["id"]
            .as_i64()
            .unwrap()
    };
    let mut good_claims = claims(600, "talentcert");
    good_claims["sub"] = json!(admin_id.to_string());
    good_claims["org"] = json(app.get("/api/v1/me", &app.token("admin").await).await).await
        ["organization"]["id"]
        .clone();
    let valid = encode(&Header::default(), &good_claims, &key).unwrap();
    assert_eq!(
        app.get("/api/v1/me", &valid).await.status(),
        StatusCode::OK,
        "a well-formed token works"
    );

    let mut expired_claims = good_claims.clone();
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 120);
    let expired = encode(&Header::default(), &expired_claims, &key).unwrap();

    let mut parts: Vec<String> = valid.split('.').map(str::to_string).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["admin", "hr"]);
    payload["sub"] = json!("2");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = parts.join(".");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", valid.split('.').nth(1).unwrap());

    let other_key = encode(
        &Header::default(),
        &good_claims,
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
    )
    .unwrap();
    let wrong_issuer = encode(&Header::default(), &claims(600, "http://elsewhere"), &key).unwrap();

    for (name, token) in [
        ("expired", expired),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("other key", other_key),
        ("wrong issuer", wrong_issuer),
        ("garbage", "not.a.token".to_string()),
    ] {
        let response = app.get("/api/v1/me", &token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name} token");
        let body = json(response).await;
        assert_eq!(
            body["type"], "urn:talentcert:problem:unauthenticated",
            "{name}"
        );
    }
    let no_token = app.api.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let basic = app
        .api
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_audited() {
    let app = spawn_app().await;
    let _ = app.login("learner@demo.test", "wrong-password").await;
    let _ = app.token("learner").await;
    let admin = app.token("admin").await;
    let body = json(
        app.get("/api/v1/audit?action=auth.login_failed", &admin)
            .await,
    )
    .await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["ip"], "127.0.0.1");
    let logins = json(app.get("/api/v1/audit?action=auth.login", &admin).await).await;
    assert_eq!(logins["total"], 2, "the learner's and the admin's");
}

#[tokio::test]
async fn audit_log_is_append_only_in_the_database() {
    let app = spawn_app().await;
    let _ = app.token("admin").await;
    let db = app.db.connect().await;
    use sea_orm::ConnectionTrait;
    assert!(db
        .execute_unprepared("UPDATE audit_log SET action = 'x'")
        .await
        .is_err());
    assert!(db
        .execute_unprepared("DELETE FROM audit_log")
        .await
        .is_err());
}

/// Signs in through the page form and returns a cookie-keeping client and its CSRF token.
pub async fn page_session(app: &crate::helpers::TestApp, email: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::pages::csrf_of(&page);
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", DEMO_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "page login of {email}"
    );
    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let csrf = json(me).await["csrf_token"].as_str().unwrap().to_string();
    (client, csrf)
}

#[tokio::test]
async fn the_page_session_works_for_the_api_and_changes_need_the_csrf_header() {
    let app = spawn_app().await;
    let (client, csrf) = page_session(&app, "admin@demo.test").await;
    let body =
        json!({ "email": "new@demo.test", "display_name": "New Person", "roles": ["learner"] });

    let without = client
        .post(app.url("/api/v1/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    assert!(json(without).await["detail"]
        .as_str()
        .unwrap()
        .contains("form has expired"));

    let wrong = client
        .post(app.url("/api/v1/users"))
        .header("x-csrf-token", "0".repeat(64))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let with = client
        .post(app.url("/api/v1/users"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::CREATED);

    // Reads need no token.
    assert_eq!(
        client
            .get(app.url("/api/v1/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let (client, csrf) = page_session(&app, "learner@demo.test").await;
    let no_csrf = client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let out = client
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_session_in_use_is_renewed_and_an_idle_one_expires() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let (client, _) = page_session(&app, "learner@demo.test").await;
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let soon = chrono::Utc::now() + chrono::Duration::minutes(5);
    let earlier = chrono::Utc::now() - chrono::Duration::minutes(10);
    db.execute(Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "UPDATE sessions SET expires_at = $1, last_seen_at = $2"
            }
            _ => "UPDATE sessions SET expires_at = ?, last_seen_at = ?",
        },
        [soon.into(), earlier.into()],
    ))
    .await
    .unwrap();
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let row = db
        .query_one(Statement::from_string(
            backend,
            "SELECT expires_at FROM sessions",
        ))
        .await
        .unwrap()
        .unwrap();
    let expires: chrono::DateTime<chrono::Utc> = row.try_get("", "expires_at").unwrap();
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::hours(8),
        "renewed to {expires}"
    );

    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    db.execute(Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => "UPDATE sessions SET expires_at = $1",
            _ => "UPDATE sessions SET expires_at = ?",
        },
        [past.into()],
    ))
    .await
    .unwrap();
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let left = db
        .query_one(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM sessions",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        left.try_get::<i64>("", "n").unwrap(),
        0,
        "the expired session is removed"
    );
}

#[tokio::test]
async fn the_login_throttle_is_a_setting() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            login_account_failures: Some(2),
            ..Default::default()
        },
    )
    .await;
    let first = app.login("hr@demo.test", "wrong-password").await;
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let second = app.login("hr@demo.test", "wrong-password").await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let blocked = app.login("hr@demo.test", DEMO_PASSWORD).await;
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "blocked after 2, not 5"
    );
}
