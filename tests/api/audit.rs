//! The audit log covers every security-relevant action: this test performs each action of
//! `talentcert::audit::ACTIONS` the way a user would, then checks that each wrote its entry.
//! An action added to the list without a step here fails the test; recording an action missing
//! from the list fails in debug builds.
use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::catalog::{import_mini, write};
use crate::exams::{cert_id, put_answer, review_of, start_attempt};
use crate::helpers::{json, spawn_app_with, AppOptions, TestApp, TestDb, DEMO_PASSWORD};
use crate::smtp::{token_in, SmtpSink};

/// The actions recorded so far, from the database (every organization).
async fn recorded(app: &TestApp) -> BTreeSet<String> {
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    db.query_all(Statement::from_string(
        backend,
        "SELECT DISTINCT action FROM audit_log".to_string(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get::<String>("", "action").unwrap())
    .collect()
}

async fn sql(app: &TestApp, text: &str) {
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    db.execute(Statement::from_string(backend, text.to_string()))
        .await
        .unwrap();
}

async fn expect(response: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn put_text(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.api
        .put(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_security_relevant_action_writes_an_audit_entry() {
    let sink = SmtpSink::start();
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::with_smtp(sink.url())).await;
    // The catalog: an open certification, and one with an essay graded by hand.
    let dir = crate::exams::exam_catalog();
    let bank = std::fs::read_to_string(dir.path().join("courses/uo-102/questions.gift")).unwrap();
    write(dir.path(), "courses/uo-102/questions.gift", &format!("{bank}\n// [id:uo-102-q03] [tag:competency=uo-churn] [tag:difficulty=hard]\n::uo-102-q03:: Describe your win-back plan. {{}}\n"));
    write(dir.path(), "certifications/uo-essay.toml",
        "code = \"uo-essay\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"Essay\"\ntitle_zh = \"问答\"\nvalidity_months = 24\npass_percent = 50\nexcellent_percent = 90\nmax_attempts = 2\ncooldown_hours = 1\ntime_limit_minutes = 30\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"none\"\n\n[[blueprint]]\ncompetency = \"uo-churn\"\nhard = 1\n");
    import_mini(&app, dir.path(), false).await.unwrap();

    let admin = app.token("admin").await;
    let hr = app.token("hr").await;
    let trainer = app.token("trainer").await;
    let platform = app.token("platform").await;
    let learner_id = app.user_id(&admin, "learner@demo.test").await;

    // Accounts and access.
    let failed = app.login("learner@demo.test", "not the password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    // Signing out ends a session (a bearer token has none: it lapses at its expiry).
    let (browser, csrf) = crate::auth::page_session(&app, "learner@demo.test").await;
    let out = browser
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT, "logout");
    let invited = expect(
        app.post_json(
            "/api/v1/invitations",
            &hr,
            &json!({"email": "new.hire@demo.test", "display_name": "New Hire"}),
        )
        .await,
        StatusCode::CREATED,
        "invitation",
    )
    .await;
    let mail = sink.wait_for("new.hire@demo.test", 1).await.remove(0);
    let token = token_in(&mail, "/invitations/");
    expect(
        app.api
            .post(app.url("/api/v1/auth/invitations/accept"))
            .json(&json!({"token": token, "password": "a long enough passphrase"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
        "accept",
    )
    .await;
    let second = expect(
        app.post_json(
            "/api/v1/invitations",
            &hr,
            &json!({"email": "second@demo.test", "display_name": "Second"}),
        )
        .await,
        StatusCode::CREATED,
        "second invitation",
    )
    .await;
    assert_ne!(invited["id"], second["id"]);
    let revoked = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/invitations/{}", second["id"]),
            &hr,
            &json!({}),
        )
        .await;
    assert!(revoked.status().is_success(), "revoke invitation");
    expect(
        app.api
            .post(app.url("/api/v1/auth/password-reset"))
            .json(&json!({"email": "learner@demo.test"}))
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
        "reset request",
    )
    .await;
    let mail = sink.wait_for("learner@demo.test", 1).await.remove(0);
    let token = token_in(&mail, "/password-reset/");
    let reset = app
        .api
        .post(app.url("/api/v1/auth/password-reset/confirm"))
        .json(&json!({"token": token, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        reset.status().is_success(),
        "reset confirm: {}",
        reset.status()
    );
    let learner = app.token("learner").await;
    expect(
        app.post_json("/api/v1/organizations", &platform, &json!({"name": "Audit Co", "slug": "audit-co", "admin_email": "boss@audit.test", "admin_name": "Boss"})).await,
        StatusCode::CREATED,
        "organization",
    )
    .await;
    let made = expect(
        app.post_json("/api/v1/users", &admin, &json!({"email": "temp@demo.test", "display_name": "Temp", "roles": ["learner"], "password": DEMO_PASSWORD})).await,
        StatusCode::CREATED,
        "user",
    )
    .await;
    let temp = made["id"].as_i64().unwrap();
    for (body, what) in [
        (json!({"display_name": "Temporary"}), "update"),
        (json!({"status": "deactivated"}), "deactivate"),
        (json!({"status": "active"}), "reactivate"),
    ] {
        expect(
            app.send_json(
                Method::PATCH,
                &format!("/api/v1/users/{temp}"),
                &admin,
                &body,
            )
            .await,
            StatusCode::OK,
            what,
        )
        .await;
    }
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/users/{temp}/roles"),
            &admin,
            &json!({"roles": ["learner", "trainer"]}),
        )
        .await,
        StatusCode::OK,
        "roles",
    )
    .await;
    let roster = app
        .api
        .post(app.url("/api/v1/roster?dry_run=false"))
        .bearer_auth(&hr)
        .header("content-type", "text/csv")
        .body("employee_id,name,email,department,manager_employee_id,position,language\nE900,Roster Person,roster.person@demo.test,Store 9,,,\n")
        .send()
        .await
        .unwrap();
    expect(roster, StatusCode::OK, "roster").await;

    // Content.
    let course = expect(
        app.post_json("/api/v1/courses", &trainer, &json!({"code": "audit-course", "title": "Audited", "summary": "S.", "category": "user-operation", "level": 2, "develops": [{"competency": "uo-rfm", "level": 2}]})).await,
        StatusCode::CREATED,
        "course",
    )
    .await["id"]
        .as_i64()
        .unwrap();
    expect(
        app.send_json(
            Method::PATCH,
            &format!("/api/v1/courses/{course}"),
            &trainer,
            &json!({"title": "Audited course"}),
        )
        .await,
        StatusCode::OK,
        "course update",
    )
    .await;
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/courses/{course}/lessons/one"),
            &trainer,
            &json!({"title": "One", "kind": "operational-skills", "body_markdown": "Text."}),
        )
        .await,
        StatusCode::OK,
        "lesson",
    )
    .await;
    expect(
        put_text(&app, &format!("/api/v1/courses/{course}/questions.gift"), &trainer, "text/plain", "// [id:audit-q1] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::audit-q1:: Pick {=a ~b}\n".into()).await,
        StatusCode::OK,
        "questions",
    )
    .await;
    expect(
        app.post_json(
            &format!("/api/v1/courses/{course}/publish"),
            &trainer,
            &json!({}),
        )
        .await,
        StatusCode::OK,
        "publish",
    )
    .await;
    expect(
        app.post_json(
            &format!("/api/v1/courses/{course}/copy"),
            &trainer,
            &json!({"code": "audit-copy"}),
        )
        .await,
        StatusCode::CREATED,
        "copy",
    )
    .await;
    let framework = app
        .get(
            "/api/v1/job-categories/user-operation/framework.csv",
            &platform,
        )
        .await
        .text()
        .await
        .unwrap();
    expect(
        put_text(
            &app,
            "/api/v1/job-categories/user-operation/framework.csv?dry_run=false",
            &platform,
            "text/csv",
            framework,
        )
        .await,
        StatusCode::OK,
        "framework",
    )
    .await;
    let open = cert_id(&app, &learner, "uo-open").await;
    let blueprint = json!({"sections": [{"competency": "uo-rfm", "easy": 1, "medium": 1}, {"competency": "uo-churn", "easy": 1, "medium": 1}]});
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/certifications/{open}/blueprint"),
            &platform,
            &blueprint,
        )
        .await,
        StatusCode::OK,
        "blueprint",
    )
    .await;

    // Exams and grading: an accommodation, a passed attempt with an integrity signal, an essay
    // marked by hand, a regrade.
    expect(
        app.post_json(
            &format!("/api/v1/certifications/{open}/accommodations"),
            &hr,
            &json!({"user_id": learner_id, "extra_minutes": 10, "reason": "Reading support"}),
        )
        .await,
        StatusCode::CREATED,
        "accommodation",
    )
    .await;
    let attempt = start_attempt(&app, &learner, open).await["id"]
        .as_i64()
        .unwrap();
    expect(
        app.post_json(
            &format!("/api/v1/attempts/{attempt}/events"),
            &learner,
            &json!({"kind": "focus_lost"}),
        )
        .await,
        StatusCode::OK,
        "event",
    )
    .await;
    for q in review_of(&app, &trainer, attempt).await["questions"]
        .as_array()
        .unwrap()
    {
        put_answer(
            &app,
            &learner,
            attempt,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    expect(
        app.post_json(
            &format!("/api/v1/attempts/{attempt}/submit"),
            &learner,
            &json!({}),
        )
        .await,
        StatusCode::OK,
        "submit",
    )
    .await;
    let essay = cert_id(&app, &learner, "uo-essay").await;
    let sitting = start_attempt(&app, &learner, essay).await;
    let essay_attempt = sitting["id"].as_i64().unwrap();
    let essay_question = sitting["questions"][0]["id"].as_i64().unwrap();
    put_answer(
        &app,
        &learner,
        essay_attempt,
        essay_question,
        &json!("Call the top tier first."),
    )
    .await;
    expect(
        app.post_json(
            &format!("/api/v1/attempts/{essay_attempt}/submit"),
            &learner,
            &json!({}),
        )
        .await,
        StatusCode::OK,
        "essay submit",
    )
    .await;
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/attempts/{essay_attempt}/grades/{essay_question}"),
            &trainer,
            &json!({"mark": 1.0, "comment": "Good."}),
        )
        .await,
        StatusCode::OK,
        "grade",
    )
    .await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &platform).await).await;
    let platform_course = courses["items"][0]["id"].as_i64().unwrap();
    expect(
        app.post_json(
            &format!("/api/v1/courses/{platform_course}/questions/uo-101-q01/regrade"),
            &platform,
            &json!({"reason": "Checked the key.", "dry_run": false}),
        )
        .await,
        StatusCode::OK,
        "regrade",
    )
    .await;

    // Certificates: download (renders), disclosure, export, revocation, reissue; a key rotation.
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let pdf = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/me/certificates/{code}/disclosure"),
            &learner,
            &json!({"name_disclosure": "surname"}),
        )
        .await,
        StatusCode::OK,
        "disclosure",
    )
    .await;
    assert_eq!(
        app.get("/api/v1/certificates/export.zip", &hr)
            .await
            .status(),
        StatusCode::OK
    );
    let reissued = expect(
        app.post_json(
            &format!("/api/v1/certificates/{code}/reissue"),
            &admin,
            &json!({}),
        )
        .await,
        StatusCode::CREATED,
        "reissue",
    )
    .await;
    let new_code = reissued["code"].as_str().unwrap().to_string();
    expect(
        app.post_json(
            &format!("/api/v1/certificates/{new_code}/revocation"),
            &admin,
            &json!({"reason": "Issued in error."}),
        )
        .await,
        StatusCode::OK,
        "revoke",
    )
    .await;
    let rotated = crate::cli::talentcert(&app.db)
        .args(["rotate-key", "--org", "demo-retail"])
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );

    // Skills, positions, operations.
    expect(
        app.post_json(
            "/api/v1/evidence",
            &learner,
            &json!({"user_id": learner_id, "competency": "uo-rfm", "level": 2, "source": "self"}),
        )
        .await,
        StatusCode::CREATED,
        "evidence",
    )
    .await;
    expect(
        app.send_json(
            Method::PUT,
            "/api/v1/organization/level-rule",
            &hr,
            &json!({"rule": "highest"}),
        )
        .await,
        StatusCode::OK,
        "level rule",
    )
    .await;
    expect(
        app.post_json("/api/v1/positions", &hr, &json!({"code": "audit-ops", "name": "Audited operator", "category": "user-operation", "headcount": 1, "level": 2, "requirements": [{"competency": "uo-churn", "level": 3, "weight": 2.0}]})).await,
        StatusCode::CREATED,
        "position",
    )
    .await;
    sql(&app, &format!("UPDATE users SET position_id = (SELECT id FROM positions WHERE code = 'audit-ops') WHERE id = {learner_id}")).await;
    expect(
        app.send_json(
            Method::PUT,
            "/api/v1/positions/audit-ops/learning-map",
            &hr,
            &json!({"stages": [{"level": 2, "items": [{"course": "uo-101"}]}]}),
        )
        .await,
        StatusCode::OK,
        "learning map",
    )
    .await;
    expect(
        app.post_json(
            &format!("/api/v1/gaps/people/{learner_id}/learning-path"),
            &hr,
            &json!({}),
        )
        .await,
        StatusCode::CREATED,
        "learning path",
    )
    .await;
    sql(&app, "UPDATE email_outbox SET status = 'dead' WHERE id = (SELECT MIN(id) FROM email_outbox WHERE org_id = (SELECT org_id FROM users WHERE email = 'learner@demo.test'))").await;
    let outbox = json(app.get("/api/v1/admin/outbox?status=dead", &admin).await).await;
    let dead = outbox["items"][0]["id"]
        .as_i64()
        .expect("a dead message of the demo organization");
    expect(
        app.post_json(
            &format!("/api/v1/admin/outbox/{dead}/retry"),
            &admin,
            &json!({}),
        )
        .await,
        StatusCode::OK,
        "retry",
    )
    .await;

    expect(
        app.send_json(
            Method::PUT,
            "/api/v1/organization/lrs",
            &admin,
            &json!({"endpoint": "http://127.0.0.1:9/xapi", "username": "lrs", "password": "secret", "enabled": false}),
        )
        .await,
        StatusCode::OK,
        "lrs",
    )
    .await;

    let own = expect(
        app.post_json(
            "/api/v1/certifications",
            &trainer,
            &json!({"code": "audited-cert", "category": "user-operation", "level": 2, "title": "Audited",
                    "rules": {"validity_months": 12, "pass_percent": 50, "excellent_percent": 90, "max_attempts": 2,
                              "cooldown_hours": 0, "time_limit_minutes": 20, "on_timeout": "auto-submit",
                              "counted_attempt": "highest"},
                    "blueprint": [{"competency": "uo-rfm", "easy": 1}]}),
        )
        .await,
        StatusCode::CREATED,
        "certification created",
    )
    .await;
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/certifications/{}/rules", own["id"]),
            &trainer,
            &json!({"validity_months": 24, "pass_percent": 60, "excellent_percent": 90, "max_attempts": 3,
                    "cooldown_hours": 1, "time_limit_minutes": 30, "on_timeout": "grace", "grace_minutes": 5,
                    "counted_attempt": "last", "review": "secure"}),
        )
        .await,
        StatusCode::OK,
        "rules changed",
    )
    .await;
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/certifications/{}/controls", own["id"]),
            &admin,
            &json!({"max_switches": 3, "pledge": "I work alone."}),
        )
        .await,
        StatusCode::OK,
        "controls changed",
    )
    .await;
    let lesson = crate::study::first_lesson(&app, &trainer, "uo-101").await;
    expect(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/time-rule"),
            &trainer,
            &json!({"min_effective_seconds": 300}),
        )
        .await,
        StatusCode::OK,
        "lesson time rule",
    )
    .await;

    let seen = recorded(&app).await;
    let missing: Vec<&&str> = talentcert::audit::ACTIONS
        .iter()
        .filter(|a| !seen.contains(**a))
        .collect();
    assert!(
        missing.is_empty(),
        "these actions wrote no audit entry: {missing:?}"
    );
    let unlisted: Vec<&String> = seen
        .iter()
        .filter(|a| !talentcert::audit::ACTIONS.contains(&a.as_str()))
        .collect();
    assert!(unlisted.is_empty(), "recorded but not listed: {unlisted:?}");
}
