//! Email over real SMTP: invitations, password resets, the outbox through outages and restarts.
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::helpers::{
    json, problem_fields, spawn_app, spawn_app_with, AppOptions, TestApp, TestDb, DEMO_PASSWORD,
};
use crate::smtp::{token_in, SmtpSink};

async fn invite(app: &TestApp, token: &str, email: &str, language: &str) -> Value {
    let response = app
        .post_json(
            "/api/v1/invitations",
            token,
            &json!({"email": email, "display_name": "Wang Fang", "language": language}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json(response).await
}

async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.api
        .post(app.url("/api/v1/auth/invitations/accept"))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn sql(app: &TestApp, postgres: &str, sqlite: &str, values: Vec<sea_orm::Value>) {
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let text = if backend == sea_orm::DbBackend::Postgres {
        postgres
    } else {
        sqlite
    };
    db.execute(Statement::from_sql_and_values(backend, text, values))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_invitation_arrives_in_the_invitees_language_and_its_link_works_once() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    let hr = app.token("hr").await;
    let invitation = invite(&app, &hr, "wang.fang@demo.test", "zh-CN").await;
    assert_eq!(invitation["status"], "pending");

    let mail = sink.wait_for("wang.fang@demo.test", 1).await.remove(0);
    assert_eq!(
        mail["subject"],
        "邀请你加入 talentcert 上的 Demo Retail Co."
    );
    assert!(mail["to"].as_str().unwrap().contains("Wang Fang"));
    assert!(mail["from"]
        .as_str()
        .unwrap()
        .contains("no-reply@localhost"));
    let text = mail["text"].as_str().unwrap();
    let html = mail["html"].as_str().unwrap().replace("&#x2F;", "/");
    assert!(text.contains("Hu Rong (HR) 邀请你"), "{text}");
    assert!(html.contains("<strong>Demo Retail Co.</strong>"), "{html}");
    let token = token_in(&mail, "/invitations/");
    assert!(
        text.contains(&format!("{}/invitations/{token}", app.address)),
        "the link uses the public URL: {text}"
    );
    assert!(html.contains(&format!("/invitations/{token}")));

    // The page the link opens.
    let page = app
        .api
        .get(app.url(&format!("/invitations/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("wang.fang@demo.test"));

    let short = accept(&app, &token, "short").await;
    assert_eq!(problem_fields(&json(short).await), vec!["password"]);
    let accepted = accept(&app, &token, "a-fine-password").await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let access = json(accepted).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = json(app.get("/api/v1/me", &access).await).await;
    assert_eq!(me["email"], "wang.fang@demo.test");
    assert_eq!(me["roles"], json!(["learner"]));
    assert_eq!(me["language"], "zh-CN");
    assert_eq!(
        app.login("wang.fang@demo.test", "a-fine-password")
            .await
            .status(),
        StatusCode::OK
    );

    let reused = accept(&app, &token, "another-password").await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(reused).await;
    assert_eq!(body["errors"][0]["field"], "token");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already been used"));
    let reused_page = app
        .api
        .get(app.url(&format!("/invitations/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(reused_page.status(), StatusCode::GONE);

    let admin = app.token("admin").await;
    let audit = json(
        app.get("/api/v1/audit?action=invitation.accepted", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);
    let list = json(app.get("/api/v1/invitations", &hr).await).await;
    assert_eq!(list["items"][0]["status"], "accepted");
}

#[tokio::test]
async fn forged_expired_and_revoked_invitation_tokens_are_refused() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let invitation = invite(&app, &admin, "late@demo.test", "en").await;

    for forged in [
        "0".repeat(64),
        "not-a-token".to_string(),
        String::new(),
        "ab".repeat(40),
    ] {
        let response = accept(&app, &forged, "a-fine-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{forged:?}"
        );
        let body = json(response).await;
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("not valid"),
            "{body}"
        );
    }

    // Read the token the way a person would: from the queued message.
    let db = app.db.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT text_body FROM email_outbox WHERE to_address = 'late@demo.test'",
        ))
        .await
        .unwrap()
        .unwrap();
    let text: String = row.try_get("", "text_body").unwrap();
    let token = token_in(&json!({ "text": text }), "/invitations/");

    sql(
        &app,
        "UPDATE account_tokens SET expires_at = $1",
        "UPDATE account_tokens SET expires_at = ?",
        vec![(chrono::Utc::now() - chrono::Duration::minutes(1)).into()],
    )
    .await;
    let expired = accept(&app, &token, "a-fine-password").await;
    assert!(json(expired).await["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // A fresh invitation voids the old link and works.
    let again = invite(&app, &admin, "late@demo.test", "en").await;
    assert_ne!(again["id"], invitation["id"]);
    let id = again["id"].as_i64().unwrap();
    let revoke = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/invitations/{id}"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let twice = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/invitations/{id}"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn invitations_stay_inside_their_organization() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let invitation = invite(&app, &admin, "staff@demo.test", "en").await;
    let id = invitation["id"].as_i64().unwrap();

    let platform = app.token("platform").await;
    let other_list = json(app.get("/api/v1/invitations", &platform).await).await;
    assert!(other_list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["email"] != "staff@demo.test"));
    let other_revoke = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/invitations/{id}"),
            &platform,
            &json!({}),
        )
        .await;
    assert_eq!(other_revoke.status(), StatusCode::NOT_FOUND);

    // An address already used in another organization is taken, whoever asks.
    let taken = app
        .post_json(
            "/api/v1/invitations",
            &platform,
            &json!({"email": "staff@demo.test", "display_name": "X"}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let member = app
        .post_json(
            "/api/v1/invitations",
            &admin,
            &json!({"email": "learner@demo.test", "display_name": "X"}),
        )
        .await;
    assert_eq!(member.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn hr_invites_learners_and_learners_invite_no_one() {
    let app = spawn_app().await;
    let hr = app.token("hr").await;
    let admin_role = app
        .post_json(
            "/api/v1/invitations",
            &hr,
            &json!({"email": "boss@demo.test", "display_name": "Boss", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(admin_role.status(), StatusCode::FORBIDDEN);
    let learner = app.token("learner").await;
    let denied = app
        .post_json(
            "/api/v1/invitations",
            &learner,
            &json!({"email": "x@demo.test", "display_name": "X"}),
        )
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let admin = app.token("admin").await;
    let trainer = app
        .post_json(
            "/api/v1/invitations",
            &admin,
            &json!({"email": "t2@demo.test", "display_name": "T", "roles": ["trainer"]}),
        )
        .await;
    assert_eq!(trainer.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_password_reset_changes_the_password_and_ends_older_sessions() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    let old_token = app.token("learner").await;
    let (browser, _) = crate::auth::page_session(&app, "learner@demo.test").await;

    for email in ["learner@demo.test", "nobody@demo.test"] {
        let response = app
            .api
            .post(app.url("/api/v1/auth/password-reset"))
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{email}");
        assert_eq!(json(response).await, json!({"status": "accepted"}));
    }
    let mail = sink.wait_for("learner@demo.test", 1).await.remove(0);
    assert_eq!(mail["subject"], "Reset your talentcert password");
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains("Choose a new password"));
    let token = token_in(&mail, "/password-reset/");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sink.messages_to("nobody@demo.test").is_empty(),
        "an unknown address gets nothing"
    );

    let confirm = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.api
                .post(app.url("/api/v1/auth/password-reset/confirm"))
                .json(&json!({"token": token, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        confirm("a-new-password").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/api/v1/me", &old_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "older tokens end"
    );
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "older sessions end"
    );
    assert_eq!(
        app.login("learner@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.token_for("learner@demo.test", "a-new-password").await;
    assert_eq!(
        app.get("/api/v1/me", &fresh).await.status(),
        StatusCode::OK,
        "a token issued after the reset works"
    );
    let reused = confirm("yet-another-password").await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let admin = app.token("admin").await;
    let audit = json(
        app.get("/api/v1/audit?action=auth.password_reset", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);
}

#[tokio::test]
async fn the_reset_pages_work_end_to_end() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(app.url("/password-reset"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::pages::csrf_of(&page);
    let sent = client
        .post(app.url("/password-reset"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "trainer@demo.test"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("Check your inbox"));
    let mail = sink.wait_for("trainer@demo.test", 1).await.remove(0);
    let token = token_in(&mail, "/password-reset/");
    let form = client
        .get(app.url(&format!("/password-reset/{token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::pages::csrf_of(&form);
    let mismatch = client
        .post(app.url(&format!("/password-reset/{token}")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", "a-new-password"),
            ("password_confirm", "different-one"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.text().await.unwrap().contains("do not match"));
    let done = client
        .post(app.url(&format!("/password-reset/{token}")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", "a-new-password"),
            ("password_confirm", "a-new-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/login?notice=password_changed");
    let login = client
        .get(app.url("/login?notice=password_changed"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("Your password has been changed"));
    assert_eq!(
        app.login("trainer@demo.test", "a-new-password")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_smtp_mail_stays_queued_and_visible() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    invite(&app, &admin, "queued@demo.test", "en").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let outbox = json(app.get("/api/v1/admin/outbox", &admin).await).await;
    assert_eq!(outbox["total"], 1);
    let item = &outbox["items"][0];
    assert_eq!(item["status"], "queued");
    assert_eq!(item["to"], "queued@demo.test");
    assert_eq!(item["kind"], "invitation");
    assert!(
        item.get("text_body").is_none() && item.get("html_body").is_none(),
        "bodies hold links: never shown"
    );
    // Other organizations do not see it; learners may not look.
    let platform = app.token("platform").await;
    assert_eq!(
        json(app.get("/api/v1/admin/outbox", &platform).await).await["total"],
        0
    );
    let learner = app.token("learner").await;
    assert_eq!(
        app.get("/api/v1/admin/outbox", &learner).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        problem_fields(&json(app.get("/api/v1/admin/outbox?status=lost", &admin).await).await),
        vec!["status"]
    );

    // The command line shows it too.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_talentcert"));
    cmd.env_clear()
        .env("TALENTCERT_DEMO", "false")
        .arg("outbox");
    match app.db.settings() {
        talentcert::config::DatabaseSettings::Sqlite { path } => {
            cmd.env("TALENTCERT_DATA_DIR", path.parent().unwrap())
        }
        talentcert::config::DatabaseSettings::Url(url) => cmd.env("DATABASE_URL", url),
    };
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(
        listed.contains("queued@demo.test") && listed.contains("queued 1"),
        "{listed}"
    );
}

#[tokio::test]
async fn messages_survive_an_smtp_outage_and_arrive_once() {
    let mut sink = SmtpSink::start();
    sink.stop();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    let admin = app.token("admin").await;
    for i in 0..3 {
        invite(&app, &admin, &format!("outage{i}@demo.test"), "en").await;
    }
    // Let delivery fail at least once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let outbox = json(app.get("/api/v1/admin/outbox", &admin).await).await;
        let failed = outbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["attempts"].as_i64().unwrap() >= 1 && m["last_error"].is_string());
        if failed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sink.resume(0.0);
    for i in 0..3 {
        sink.wait_for(&format!("outage{i}@demo.test"), 1).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..3 {
        assert_eq!(
            sink.messages_to(&format!("outage{i}@demo.test")).len(),
            1,
            "exactly once"
        );
    }
    let outbox = json(app.get("/api/v1/admin/outbox?status=sent", &admin).await).await;
    assert_eq!(outbox["total"], 3);
}

#[tokio::test]
async fn a_dead_message_is_kept_and_an_admin_can_retry_it() {
    let mut sink = SmtpSink::start();
    sink.stop();
    let options = AppOptions {
        mail_max_attempts: 2,
        ..AppOptions::with_smtp(sink.url())
    };
    let app = spawn_app_with(TestDb::fresh().await, options).await;
    let admin = app.token("admin").await;
    invite(&app, &admin, "dead@demo.test", "en").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let outbox = json(app.get("/api/v1/admin/outbox?status=dead", &admin).await).await;
        if outbox["total"] == 1 {
            break outbox["items"][0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the message never died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead["attempts"], 2);
    assert!(!dead["last_error"].as_str().unwrap().is_empty());
    sink.resume(0.0);
    let id = dead["id"].as_i64().unwrap();
    let retried = app
        .post_json(
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
    sink.wait_for("dead@demo.test", 1).await;
    let audit = json(app.get("/api/v1/audit?action=outbox.retried", &admin).await).await;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["before"]["status"], "dead");
    // A sent message cannot be retried; another organization's id is not found.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = app
        .post_json(
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let platform = app.token("platform").await;
    let foreign = app
        .post_json(
            &format!("/api/v1/admin/outbox/{id}/retry"),
            &platform,
            &json!({}),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn two_instances_deliver_each_message_once() {
    let sink = SmtpSink::start();
    let db = TestDb::fresh().await;
    let twin = db.settings();
    let a = spawn_app_with(db, AppOptions::with_smtp(sink.url())).await;
    let b = spawn_app_with(TestDb::Shared(twin), AppOptions::with_smtp(sink.url())).await;
    let admin = a.token("admin").await;
    for i in 0..12 {
        invite(&a, &admin, &format!("twin{i}@demo.test"), "en").await;
    }
    for i in 0..12 {
        sink.wait_for(&format!("twin{i}@demo.test"), 1).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sink.messages().len(), 12, "each message exactly once");
    drop(b);
}

#[tokio::test]
async fn one_event_queues_one_email() {
    let app = spawn_app().await;
    let db = app.db.connect().await;
    let templates = talentcert::templates::Templates::load().unwrap();
    let mailer = talentcert::notify::Mailer::new(templates, &app.address);
    let recipient = talentcert::notify::Recipient {
        email: "learner@demo.test".into(),
        name: "Li Na".into(),
        lang: talentcert::i18n::Lang::En,
    };
    let content = talentcert::notify::EmailContent::CertificateIssued {
        certification_title: "User Operation Associate".into(),
        code: "ABCD-EFGH-JKLM".into(),
        valid_until: None,
        link: "http://x/verify/ABCD".into(),
        pdf_link: "http://x/ABCD.pdf".into(),
    };
    for _ in 0..3 {
        mailer
            .enqueue(&db, None, "certificate-issued:1", &recipient, &content)
            .await
            .unwrap();
    }
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM email_outbox WHERE idempotency_key = 'certificate-issued:1'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
}

/// Starts the service binary on `db`, delivering to `smtp`; answers the child and its address.
fn serve(db: &TestDb, smtp: &str) -> (std::process::Child, String) {
    serve_with(db, smtp, &[])
}

/// Runs `talentcert serve` (the real binary) on a database, with extra settings; answers the
/// process and its address.
pub fn serve_with(
    db: &TestDb,
    smtp: &str,
    settings: &[(&str, &str)],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut command = crate::cli::talentcert(db);
    command.envs(settings.iter().copied());
    let mut child = command
        .env("TALENTCERT_BIND", "127.0.0.1:0")
        .env("TALENTCERT_DEMO", "true")
        .env("TALENTCERT_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("TALENTCERT_SMTP_URL", smtp)
        .env("TALENTCERT_MAIL_POLL_MS", "100")
        .env("TALENTCERT_MAIL_RETRY_SECONDS", "1")
        .env("TALENTCERT_MAIL_LEASE_SECONDS", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the service prints where it listens")
            .unwrap();
        if let Some(rest) = line.strip_prefix("talentcert is listening on ") {
            break format!("http://{}", rest.trim());
        }
    };
    std::thread::spawn(move || lines.count());
    (child, address)
}

#[tokio::test]
async fn a_service_killed_while_delivering_sends_the_message_once_after_restart() {
    let mut sink = SmtpSink::start();
    // The server stalls before accepting anything, so the kill lands mid-delivery.
    sink.resume(6.0);
    let db = TestDb::fresh().await;
    let (mut first, address) = serve(&db, &sink.url());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"email": "admin@demo.test", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let invited = client
        .post(format!("{address}/api/v1/invitations"))
        .bearer_auth(token)
        .json(&json!({"email": "crash@demo.test", "display_name": "Crash Test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), StatusCode::CREATED);
    // Wait until the worker has claimed the message and is talking to the server.
    let conn = db.connect().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = conn
            .query_one(Statement::from_string(
                conn.get_database_backend(),
                "SELECT status FROM email_outbox",
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<String>("", "status").unwrap() == "sending" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    sink.resume(0.0);
    assert!(
        sink.messages().is_empty(),
        "nothing was accepted before the kill"
    );

    let (mut second, _) = serve(&db, &sink.url());
    sink.wait_for("crash@demo.test", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sink.messages_to("crash@demo.test").len(),
        1,
        "delivered once after the restart"
    );
    let row = conn
        .query_one(Statement::from_string(
            conn.get_database_backend(),
            "SELECT status, attempts FROM email_outbox",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "status").unwrap(), "sent");
    assert_eq!(
        row.try_get::<i32>("", "attempts").unwrap(),
        2,
        "the interrupted attempt counts"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test]
async fn the_invitation_page_activates_the_account_and_signs_in() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    let admin = app.token("admin").await;
    invite(&app, &admin, "page.invitee@demo.test", "en").await;
    let mail = sink.wait_for("page.invitee@demo.test", 1).await.remove(0);
    assert_eq!(
        mail["subject"],
        "You are invited to Demo Retail Co. on talentcert"
    );
    let token = token_in(&mail, "/invitations/");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(app.url(&format!("/invitations/{token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("Activate your account"));
    let csrf = crate::pages::csrf_of(&form);
    let done = client
        .post(app.url(&format!("/invitations/{token}")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", "page-password-1"),
            ("password_confirm", "page-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "signed in by the invitation");
    assert!(home.text().await.unwrap().contains("Wang Fang"));
}

#[tokio::test]
async fn the_outbox_page_lists_messages_and_retries_dead_ones() {
    let mut sink = SmtpSink::start();
    sink.stop();
    let options = AppOptions {
        mail_max_attempts: 1,
        ..AppOptions::with_smtp(sink.url())
    };
    let app = spawn_app_with(TestDb::fresh().await, options).await;
    let admin = app.token("admin").await;
    invite(&app, &admin, "outbox.page@demo.test", "en").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let id = loop {
        let dead = json(app.get("/api/v1/admin/outbox?status=dead", &admin).await).await;
        if let Some(id) = dead["items"][0]["id"].as_i64() {
            break id;
        }
        assert!(std::time::Instant::now() < deadline, "never dead");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (client, _) = crate::auth::page_session(&app, "admin@demo.test").await;
    let page = client
        .get(app.url("/admin/outbox?status=dead"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("outbox.page@demo.test"));
    assert!(page.contains("Failed"));
    assert!(page.contains(&format!("/admin/outbox/{id}/retry")));
    sink.resume(0.0);
    let csrf = crate::pages::csrf_of(&page);
    let retried = client
        .post(app.url(&format!("/admin/outbox/{id}/retry")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    sink.wait_for("outbox.page@demo.test", 1).await;
}
