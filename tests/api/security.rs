//! Security headers, and login throttling against a spread of addresses.
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{json, spawn_app, spawn_app_with, AppOptions, TestDb, DEMO_PASSWORD};

/// The headers every answer carries, whatever produced it.
fn assert_security_headers(what: &str, headers: &reqwest::header::HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: {directive} not in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers_and_hsts_only_behind_tls() {
    let app = spawn_app().await;
    let learner = app.token("learner").await;
    let answers = [
        (
            "a page",
            app.api.get(app.url("/login")).send().await.unwrap(),
        ),
        (
            "an asset",
            app.api
                .get(app.url("/static/app.css"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "an API answer",
            app.get("/api/v1/me/certificates", &learner).await,
        ),
        ("a problem", app.get("/api/v1/users", &learner).await),
        (
            "a missing page",
            app.api.get(app.url("/no-such-page")).send().await.unwrap(),
        ),
        (
            "a probe",
            app.api.get(app.url("/healthz")).send().await.unwrap(),
        ),
    ];
    for (what, answer) in &answers {
        assert_security_headers(what, answer.headers());
        assert!(
            answer.headers().get("strict-transport-security").is_none(),
            "{what}: no HSTS over plain http"
        );
    }

    let tls = spawn_app_with(
        TestDb::fresh().await,
        AppOptions {
            public_url: Some("https://certs.example.com".into()),
            ..Default::default()
        },
    )
    .await;
    for path in ["/login", "/healthz", "/api/v1/verify/0000000000000"] {
        let answer = tls.api.get(tls.url(path)).send().await.unwrap();
        assert_security_headers(path, answer.headers());
        let hsts = answer.headers()["strict-transport-security"]
            .to_str()
            .unwrap();
        assert!(hsts.starts_with("max-age=31536000"), "{path}: {hsts}");
    }
}

/// A client whose connections come from another loopback address (Linux routes all of
/// 127.0.0.0/8 to the loopback interface).
fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last_octet]))
        .build()
        .unwrap()
}

async fn login_from(
    client: &reqwest::Client,
    app: &crate::helpers::TestApp,
    email: &str,
    password: &str,
) -> StatusCode {
    client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn guessing_one_password_from_many_addresses_is_throttled_per_account() {
    let app = spawn_app().await;
    // Five wrong guesses, each from its own address.
    for n in 2..=6u8 {
        let status = login_from(&client_from(n), &app, "hr@demo.test", "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess from 127.0.0.{n}");
    }
    // A sixth address, even with the right password, waits.
    let blocked = client_from(7)
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "hr@demo.test", "password": DEMO_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().get("retry-after").is_some());
    assert_eq!(
        json(blocked).await["type"],
        "urn:talentcert:problem:too-many-requests"
    );
    // The addresses themselves are not blocked for other accounts.
    assert_eq!(
        login_from(&client_from(2), &app, "learner@demo.test", DEMO_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_guessing_across_accounts_is_throttled_per_address() {
    let app = spawn_app_with(
        TestDb::fresh().await,
        AppOptions {
            login_address_failures: Some(4),
            ..Default::default()
        },
    )
    .await;
    let guesser = client_from(9);
    // One wrong guess on each of four accounts: no account reaches its own limit.
    for who in ["admin", "hr", "trainer", "learner"] {
        let status = login_from(
            &guesser,
            &app,
            &format!("{who}@demo.test"),
            "wrong-password",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}");
    }
    // The address is now blocked, for any account, right password or not.
    assert_eq!(
        login_from(&guesser, &app, "learner@demo.test", DEMO_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&guesser, &app, "nobody@demo.test", "x").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another address signs in to the same accounts.
    assert_eq!(
        login_from(&client_from(10), &app, "learner@demo.test", DEMO_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_trainer_sitting_an_exam_cannot_read_the_key_of_their_own_open_attempt() {
    use crate::exams::{cert_id, exam_app, start_attempt};
    let (app, _dir) = exam_app().await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &trainer, "uo-open").await;
    let attempt = start_attempt(&app, &trainer, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let text = serde_json::to_string(&attempt).unwrap();
    assert!(!text.contains("correct_response"), "{text}");
    let review = app
        .get(&format!("/api/v1/attempts/{attempt_id}/review"), &trainer)
        .await;
    assert_eq!(review.status(), StatusCode::FORBIDDEN);
    let problem = json(review).await;
    assert!(!problem.to_string().contains("correct_response"));
    // Another trainer of the organization may review it (they write the banks), and the holder
    // may once it is finished.
    let submitted = app
        .post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &trainer,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    let review = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/review"), &trainer)
            .await,
    )
    .await;
    assert!(
        review["questions"][0].get("correct_response").is_some(),
        "{review}"
    );
}

#[tokio::test]
async fn signing_out_is_audited_in_the_page_and_the_api() {
    let app = spawn_app().await;
    let (client, csrf) = crate::auth::page_session(&app, "hr@demo.test").await;
    let out = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (client, csrf) = crate::auth::page_session(&app, "learner@demo.test").await;
    let out = client
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let admin = app.token("admin").await;
    let entries = json(app.get("/api/v1/audit?action=auth.logout", &admin).await).await;
    assert_eq!(entries["total"], 2, "{entries}");
}

/// Every state-changing page route in the source (`#[post("/…")]` outside `/api`), with its
/// path parameters filled in.
fn page_form_routes() -> Vec<String> {
    crate::openapi::all_routes_in_source()
        .into_iter()
        .filter(|(method, route)| method != "get" && !route.starts_with("/api/"))
        .map(|(method, route)| {
            assert_eq!(method, "post", "pages only post forms: {route}");
            route
                .split('/')
                .map(|part| match part {
                    "{code}" => "7KQ2M9XD4TRAP",
                    "{token}" => "some-token",
                    p if p.starts_with('{') => "1",
                    p => p,
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[tokio::test]
async fn every_page_form_checks_its_csrf_token() {
    let app = spawn_app().await;
    let routes = page_form_routes();
    assert!(routes.len() >= 30, "found {} page routes", routes.len());
    let (admin, admin_csrf) = crate::auth::page_session(&app, "admin@demo.test").await;
    let (_, learner_csrf) = crate::auth::page_session(&app, "learner@demo.test").await;
    assert_ne!(admin_csrf, learner_csrf);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let audit_before = json(
        app.get("/api/v1/audit?limit=1", &app.token("admin").await)
            .await,
    )
    .await["total"]
        .clone();
    for route in &routes {
        let url = app.url(route);
        // A signed-in form: no token, a made-up one, another person's session token.
        for (what, form) in [
            ("no token", vec![("name", "x")]),
            (
                "a wrong token",
                vec![("csrf_token", "0".repeat(64).leak() as &str)],
            ),
            (
                "another session's token",
                vec![("csrf_token", learner_csrf.as_str())],
            ),
        ] {
            let answer = admin.post(&url).form(&form).send().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "POST {route} with {what}"
            );
        }
        // A signed-in file upload without the token.
        let multipart = reqwest::multipart::Form::new().text("name", "x");
        let answer = admin.post(&url).multipart(multipart).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "upload to {route}");
        // Without a session: the double-submit cookie is missing.
        let answer = anonymous
            .post(&url)
            .form(&[("csrf_token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::FORBIDDEN,
            "anonymous POST {route}"
        );
        // Another body type is never taken for a checked form (the public verification page
        // takes a raw credential or PDF: it only reads).
        if route == "/verify" {
            continue;
        }
        let answer = admin
            .post(&url)
            .header("content-type", "text/plain")
            .body("csrf_token=x")
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_client_error(),
            "text/plain to {route}: {}",
            answer.status()
        );
    }
    // Nothing was written by any of them (page sign-ins are the only entries since).
    let admin_token = app.token("admin").await;
    let after = json(app.get("/api/v1/audit?limit=200", &admin_token).await).await;
    let written: Vec<&str> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(
            usize::try_from(after["total"].as_i64().unwrap() - audit_before.as_i64().unwrap())
                .unwrap(),
        )
        .filter_map(|e| e["action"].as_str())
        .filter(|a| *a != "auth.login")
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

/// Question text, options and feedback a trainer wrote with markup in them are shown as text on
/// every page that shows them: the exam, the result, the trainer's review and question bank.
#[tokio::test]
async fn question_content_cannot_inject_script_into_any_page() {
    use crate::catalog::{import_mini, mini_catalog, write};
    let app = spawn_app().await;
    let dir = crate::exams::exam_catalog();
    mini_catalog(dir.path());
    write(
        dir.path(),
        "courses/uo-101/questions.gift",
        "// [id:uo-101-q01] [tag:competency=uo-rfm] [tag:difficulty=easy]\n\
         ::uo-101-q01:: <script>alert('stem')</script> Which one? \
         {=<img src\\=x onerror\\=alert(1)>#<svg onload\\=alert(2)> ~<iframe src\\=javascript\\:alert(3)>}\n\n\
         // [id:uo-101-q02] [tag:competency=uo-rfm] [tag:difficulty=medium]\n\
         ::uo-101-q02:: [html]<b onmouseover=alert(4)>True?</b><script>alert(5)</script> {TRUE####<script>alert(6)</script>}\n",
    );
    import_mini(&app, dir.path(), false).await.unwrap();
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let cert = crate::exams::cert_id(&app, &learner, "uo-open").await;
    let attempt = crate::exams::start_attempt(&app, &learner, cert).await;
    let id = attempt["id"].as_i64().unwrap();

    let (learner_pages, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let (trainer_pages, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (platform_pages, _) = crate::auth::page_session(&app, "platform@demo.test").await;
    let page = |client: reqwest::Client, path: String| {
        let url = app.url(&path);
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.text().await.unwrap()
        }
    };
    let mut pages = vec![(
        "exam",
        page(learner_pages.clone(), format!("/exams/{id}")).await,
    )];
    for q in crate::exams::review_of(&app, &trainer, id).await["questions"]
        .as_array()
        .unwrap()
    {
        crate::exams::put_answer(
            &app,
            &learner,
            id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    let submitted = app
        .post_json(
            &format!("/api/v1/attempts/{id}/submit"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    pages.push((
        "result",
        page(learner_pages, format!("/exams/{id}/result")).await,
    ));
    pages.push((
        "review",
        page(trainer_pages, format!("/trainer/attempts/{id}")).await,
    ));
    let courses = json(app.get("/api/v1/courses?q=uo-101", &trainer).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    pages.push((
        "question bank",
        page(platform_pages, format!("/trainer/courses/{course}")).await,
    ));

    let mut shown = 0;
    for (name, html) in &pages {
        let lower = html.to_lowercase();
        for raw in [
            "<script>alert",
            "<img src=x",
            "<svg onload",
            "<iframe",
            "<b onmouseover",
        ] {
            assert!(!lower.contains(raw), "{name} page carries {raw}: {html}");
        }
        if lower.contains("&lt;script&gt;alert") {
            shown += 1;
        }
    }
    assert!(
        shown >= 3,
        "the questions are shown, as text ({shown} pages)"
    );
}
