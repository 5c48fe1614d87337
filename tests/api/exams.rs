//! Certification exams: eligibility, the attempt lifecycle, grading, deadlines, isolation.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::catalog::{count, import_mini, mini_catalog, write};
use crate::helpers::{json, problem_fields, spawn_app, TestApp};

/// The mini catalog plus an open-entry certification drawing four questions.
pub async fn exam_app() -> (TestApp, tempfile::TempDir) {
    let app = spawn_app().await;
    let dir = exam_catalog();
    import_mini(&app, dir.path(), false).await.unwrap();
    (app, dir)
}

/// The files of [`exam_app`]'s catalog.
pub fn exam_catalog() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    write(dir.path(), "certifications/uo-open.toml",
        "code = \"uo-open\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"UO Open\"\ntitle_zh = \"用户运营开放认证\"\nvalidity_months = 24\npass_percent = 70\nexcellent_percent = 90\nmax_attempts = 2\ncooldown_hours = 24\ntime_limit_minutes = 30\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"after-submit\"\n\n[[blueprint]]\ncompetency = \"uo-rfm\"\neasy = 1\nmedium = 1\n\n[[blueprint]]\ncompetency = \"uo-churn\"\neasy = 1\nmedium = 1\n");
    dir
}

pub async fn cert_id(app: &TestApp, token: &str, code: &str) -> i64 {
    let list = json(app.get("/api/v1/certifications", token).await).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("{list}"))
}

/// Starts (or resumes) an attempt and answers its view.
pub async fn start_attempt(app: &TestApp, token: &str, cert: i64) -> Value {
    json(
        app.post_json(
            &format!("/api/v1/certifications/{cert}/attempts"),
            token,
            &json!({}),
        )
        .await,
    )
    .await
}

/// A trainer's review of an attempt, with the correct responses.
pub async fn review_of(app: &TestApp, trainer: &str, attempt: i64) -> Value {
    json(
        app.get(&format!("/api/v1/attempts/{attempt}/review"), trainer)
            .await,
    )
    .await
}

pub async fn put_answer(
    app: &TestApp,
    token: &str,
    attempt: i64,
    question: i64,
    body: &Value,
) -> reqwest::Response {
    app.send_json(
        reqwest::Method::PUT,
        &format!("/api/v1/attempts/{attempt}/answers/{question}"),
        token,
        body,
    )
    .await
}

#[tokio::test]
async fn a_learner_sits_an_exam_and_passes_with_the_keys_from_the_review() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let open = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()
        .clone();
    assert_eq!(open["can_start"], true);
    assert_eq!(open["question_count"], 4);
    let gated = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-associate")
        .unwrap()
        .clone();
    assert_eq!(gated["can_start"], false);
    assert_eq!(gated["missing_courses"], json!(["uo-101"]));
    let refused = app
        .post_json(
            &format!("/api/v1/certifications/{}/attempts", gated["id"]),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(json(refused).await["detail"]
        .as_str()
        .unwrap()
        .contains("uo-101"));

    let id = open["id"].as_i64().unwrap();
    let started = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let attempt = json(started).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    assert_eq!(attempt["questions"].as_array().unwrap().len(), 4);
    let again = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the open attempt is answered"
    );
    assert_eq!(json(again).await["id"], attempt_id);

    // Nothing a learner receives during the attempt holds a key or feedback.
    let view = app
        .get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
        .await
        .text()
        .await
        .unwrap();
    for leak in [
        "weight",
        "correct",
        "feedback",
        "#yes",
        "\"yes\"",
        "tolerance",
        "answers",
    ] {
        assert!(!view.contains(leak), "{leak} leaks in {view}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}/review"), &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let review = review_of(&app, &trainer, attempt_id).await;
    let questions = review["questions"].as_array().unwrap().clone();
    let first = questions[0]["id"].as_i64().unwrap();
    let bad_shape = put_answer(
        &app,
        &learner,
        attempt_id,
        first,
        &json!({"nonsense": true}),
    )
    .await;
    assert_eq!(problem_fields(&json(bad_shape).await), vec!["response"]);
    assert_eq!(
        put_answer(&app, &learner, attempt_id, 999_999, &json!(true))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    for q in &questions {
        let saved = put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
        assert_eq!(saved.status(), StatusCode::NO_CONTENT);
    }
    let view = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(view["answered"], 4);
    assert_eq!(
        view["questions"][0]["response"],
        questions
            .iter()
            .find(|q| q["id"] == view["questions"][0]["id"])
            .unwrap()["correct_response"]
    );

    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["passed"], true);
    assert_eq!(result["score"], 4.0);
    assert_eq!(result["excellent"], true);
    let comps = result["competencies"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert_eq!(comps[0]["level"], 2);
    assert_eq!(result["receipt"].as_str().unwrap().len(), 64);
    let twice = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(twice, result, "a second submit answers the same result");
    let late = put_answer(&app, &learner, attempt_id, first, &json!(true)).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert_eq!(
        json(
            app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
                .await
        )
        .await["passed"],
        true
    );
    // Evidence for gap analysis, the result email, the audit trail.
    assert_eq!(count(&app, "competency_evidence").await, 2);
    assert_eq!(
        count(&app, "email_outbox WHERE kind = 'exam_result'").await,
        1
    );
    let admin = app.token("admin").await;
    assert_eq!(
        json(app.get("/api/v1/audit?action=exam.finished", &admin).await).await["total"],
        1
    );
    // A new attempt waits for the cool-down.
    let cooldown = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(cooldown.status(), StatusCode::CONFLICT);
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let open = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()
        .clone();
    assert_eq!(open["status"], "passed");
    assert!(open["available_at"].is_string());
}

#[tokio::test]
async fn wrong_answers_fail_and_partial_answers_are_graded_on_what_was_saved() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let review = review_of(&app, &trainer, attempt_id).await;
    // One right answer out of four: 25%.
    let q = &review["questions"][0];
    put_answer(
        &app,
        &learner,
        attempt_id,
        q["id"].as_i64().unwrap(),
        &q["correct_response"],
    )
    .await;
    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["passed"], false);
    assert_eq!(result["percent"], 25.0);
    let marks: Vec<Value> = result["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["mark"].clone())
        .collect();
    assert_eq!(
        marks.iter().filter(|m| **m == json!(1.0)).count(),
        1,
        "after-submit review shows marks: {marks:?}"
    );
    assert!(!result.to_string().contains("correct_response"));
}

#[tokio::test]
async fn an_attempt_past_its_deadline_is_graded_on_saved_answers() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let review = review_of(&app, &trainer, attempt_id).await;
    for q in review["questions"].as_array().unwrap().iter().take(3) {
        put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE exam_attempts SET deadline_at = $1, submit_until = $1"
    } else {
        "UPDATE exam_attempts SET deadline_at = ?, submit_until = ?"
    };
    let values: Vec<sea_orm::Value> = if backend == sea_orm::DbBackend::Postgres {
        vec![past.into()]
    } else {
        vec![past.into(), past.into()]
    };
    db.execute(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap();
    let q = review["questions"][3]["id"].as_i64().unwrap();
    assert_eq!(
        put_answer(&app, &learner, attempt_id, q, &json!(true))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    // The background sweep grades it (here called directly), with what was saved.
    let templates = talentcert::templates::Templates::load().unwrap();
    let mailer = talentcert::notify::Mailer::new(templates, &app.address);
    assert_eq!(
        talentcert::assessment::exam::sweep(&db, &mailer)
            .await
            .unwrap(),
        1
    );
    let result = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(result["status"], "graded");
    assert_eq!(result["percent"], 75.0);
    assert_eq!(result["passed"], true);
}

#[tokio::test]
async fn concurrent_submits_yield_one_result() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let url = format!("/api/v1/attempts/{attempt_id}/submit");
    let empty = json!({});
    let (a, b, c) = tokio::join!(
        app.post_json(&url, &learner, &empty),
        app.post_json(&url, &learner, &empty),
        app.post_json(&url, &learner, &empty)
    );
    let results = [json(a).await, json(b).await, json(c).await];
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    assert_eq!(
        count(&app, "email_outbox WHERE kind = 'exam_result'").await,
        1
    );
    let admin = app.token("admin").await;
    assert_eq!(
        json(app.get("/api/v1/audit?action=exam.finished", &admin).await).await["total"],
        1
    );
}

#[tokio::test]
async fn attempts_are_private_to_their_person_and_organization() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let question = attempt["questions"][0]["id"].as_i64().unwrap();
    let hr = app.token("hr").await;
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}"), &hr)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put_answer(&app, &hr, attempt_id, question, &json!(true))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &hr,
            &json!({})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let platform = app.token("platform").await;
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}/review"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // HR of the same organization reads the result, not the key.
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &hr)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/attempts/{attempt_id}/review"), &hr)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn trainers_read_item_statistics_of_their_organization() {
    let (app, _dir) = exam_app().await;
    let trainer = app.token("trainer").await;
    let admin = app.token("admin").await;
    // Three learners sit the exam with different numbers of right answers.
    for (i, right) in [4usize, 2, 0].into_iter().enumerate() {
        let email = format!("stats{i}@demo.test");
        let created = app
            .post_json("/api/v1/users", &admin, &json!({"email": email, "display_name": "S", "roles": ["learner"], "password": "stats-password"}))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let token = app.token_for(&email, "stats-password").await;
        let id = cert_id(&app, &token, "uo-open").await;
        let attempt = start_attempt(&app, &token, id).await;
        let attempt_id = attempt["id"].as_i64().unwrap();
        let review = review_of(&app, &trainer, attempt_id).await;
        for q in review["questions"].as_array().unwrap().iter().take(right) {
            put_answer(
                &app,
                &token,
                attempt_id,
                q["id"].as_i64().unwrap(),
                &q["correct_response"],
            )
            .await;
        }
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &token,
            &json!({}),
        )
        .await;
    }
    let learner = app.token("learner").await;
    let id = cert_id(&app, &trainer, "uo-open").await;
    assert_eq!(
        app.get(&format!("/api/v1/certifications/{id}/statistics"), &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let report = json(
        app.get(&format!("/api/v1/certifications/{id}/statistics"), &trainer)
            .await,
    )
    .await;
    assert_eq!(report["scope"], "organization");
    assert_eq!(report["test"]["attempts"], 3);
    assert_eq!(report["test"]["mean"], 2.0);
    assert_eq!(report["questions"].as_array().unwrap().len(), 4);
    for q in report["questions"].as_array().unwrap() {
        assert!(q["facility"].is_number() && q["text"].is_string(), "{q}");
    }
    // The platform's trainers see every organization's attempts; another organization none of ours.
    let platform = app.token("platform").await;
    let all = json(
        app.get(
            &format!("/api/v1/certifications/{id}/statistics"),
            &platform,
        )
        .await,
    )
    .await;
    assert_eq!(all["scope"], "all");
    assert_eq!(all["test"]["attempts"], 3);
    // Cached until an outcome changes.
    let again = json(
        app.get(&format!("/api/v1/certifications/{id}/statistics"), &trainer)
            .await,
    )
    .await;
    assert_eq!(
        again["computed_at"], report["computed_at"],
        "served from the cache"
    );
    assert_eq!(count(&app, "statistics_cache").await, 2);
}

#[tokio::test]
async fn events_flags_and_accommodations() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let first = attempt["questions"][0]["id"].as_i64().unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(attempt["deadline_at"].as_str().unwrap()).unwrap();
    let started =
        chrono::DateTime::parse_from_rfc3339(attempt["started_at"].as_str().unwrap()).unwrap();
    assert_eq!((deadline - started).num_minutes(), 30);

    let event = app
        .post_json(
            &format!("/api/v1/attempts/{attempt_id}/events"),
            &learner,
            &json!({"kind": "focus_lost", "detail": "tab switched"}),
        )
        .await;
    assert_eq!(event.status(), StatusCode::OK);
    let outcome = json(event).await;
    assert_eq!(outcome["recorded"], true);
    assert_eq!(
        outcome["submitted"], false,
        "no limit unless the organization sets one"
    );
    let bad = app
        .post_json(
            &format!("/api/v1/attempts/{attempt_id}/events"),
            &learner,
            &json!({"kind": "hacking"}),
        )
        .await;
    assert_eq!(problem_fields(&json(bad).await), vec!["kind"]);
    let flag = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/attempts/{attempt_id}/flags/{first}"),
            &learner,
            &json!(true),
        )
        .await;
    assert_eq!(flag.status(), StatusCode::NO_CONTENT);
    let view = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(view["questions"][0]["flagged"], true);
    let admin = app.token("admin").await;
    let audit = json(app.get("/api/v1/audit?action=exam.event", &admin).await).await;
    assert_eq!(audit["items"][0]["after"]["kind"], "focus_lost");
    app.post_json(
        &format!("/api/v1/attempts/{attempt_id}/submit"),
        &learner,
        &json!({}),
    )
    .await;

    // Out of the cool-down's way: HR grants an extra attempt and time; the cool-down still holds.
    let hr = app.token("hr").await;
    let me = json(app.get("/api/v1/me", &learner).await).await;
    let learner_id = me["id"].as_i64().unwrap();
    let refused = app
        .post_json(
            &format!("/api/v1/certifications/{id}/accommodations"),
            &learner,
            &json!({"user_id": learner_id, "extra_minutes": 15, "reason": "x"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let invalid = app
        .post_json(
            &format!("/api/v1/certifications/{id}/accommodations"),
            &hr,
            &json!({"user_id": learner_id, "extra_minutes": 999, "reason": ""}),
        )
        .await;
    let mut fields = problem_fields(&json(invalid).await);
    fields.sort();
    assert_eq!(fields, vec!["extra_minutes", "reason"]);
    let granted = app.post_json(&format!("/api/v1/certifications/{id}/accommodations"), &hr, &json!({"user_id": learner_id, "extra_minutes": 15, "extra_attempts": 1, "reason": "Dyslexia: extra reading time"})).await;
    assert_eq!(granted.status(), StatusCode::CREATED);
    let platform = app.token("platform").await;
    let foreign = app
        .post_json(
            &format!("/api/v1/certifications/{id}/accommodations"),
            &platform,
            &json!({"user_id": learner_id, "extra_minutes": 15, "reason": "x"}),
        )
        .await;
    assert_eq!(
        foreign.status(),
        StatusCode::NOT_FOUND,
        "another organization's person is not found"
    );
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let open = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()
        .clone();
    assert_eq!(open["max_attempts"], 3);
    assert_eq!(
        json(
            app.get("/api/v1/audit?action=exam.accommodation_granted", &admin)
                .await
        )
        .await["total"],
        1
    );
}

#[tokio::test]
async fn the_exam_pages_work_without_scripts() {
    let (app, _dir) = exam_app().await;
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let list = client
        .get(app.url("/certifications"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("UO Open") && list.contains("Complete first: uo-101"),
        "{list}"
    );
    let csrf = crate::pages::csrf_of(&list);
    let learner = app.token("learner").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let started = client
        .post(app.url(&format!("/certifications/{id}/start")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let exam_url = started.headers()["location"].to_str().unwrap().to_string();
    let attempt_id: i64 = exam_url.rsplit('/').next().unwrap().parse().unwrap();
    let page = client
        .get(app.url(&exam_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Question 1 of 4") && page.contains("/static/exam.js"),
        "{page}"
    );
    for leak in ["weight", "feedback", ">yes<", "correct_response"] {
        assert!(!page.contains(leak), "{leak} leaks");
    }
    // Answer everything through the form, as a browser without scripts would.
    let trainer = app.token("trainer").await;
    let review = review_of(&app, &trainer, attempt_id).await;
    let mut fields: Vec<(String, String)> = vec![
        ("csrf_token".into(), csrf.clone()),
        ("action".into(), "save".into()),
    ];
    for q in review["questions"].as_array().unwrap() {
        let name = format!("q{}", q["id"]);
        match &q["correct_response"] {
            Value::Bool(b) => fields.push((name, b.to_string())),
            Value::String(s) => fields.push((name, s.clone())),
            other => panic!("unexpected {other}"),
        }
    }
    let saved = client
        .post(app.url(&format!("/exams/{attempt_id}/save")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let view = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(view["answered"], 4);
    let submit = client
        .post(app.url(&format!("/exams/{attempt_id}/save")))
        .form(&[("csrf_token", csrf.as_str()), ("action", "submit")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        submit.headers()["location"],
        format!("/exams/{attempt_id}/result")
    );
    let result = client
        .get(app.url(&format!("/exams/{attempt_id}/result")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        result.contains("Passed") && result.contains("RFM"),
        "{result}"
    );
    // The exam page of a finished attempt leads to its result.
    let closed = client.get(app.url(&exam_url)).send().await.unwrap();
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_demo_learner_can_sit_a_shipped_certification_at_once() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            content: true,
            ..Default::default()
        },
    )
    .await;
    let learner = app.token("learner").await;
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let open: Vec<&Value> = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["can_start"] == true)
        .collect();
    assert!(!open.is_empty(), "no certification open to a new learner");
    let id = open[0]["id"].as_i64().unwrap();
    let attempt = start_attempt(&app, &learner, id).await;
    let types: std::collections::BTreeSet<String> = attempt["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["answer"]["type"].as_str().unwrap().to_string())
        .collect();
    // The draw is random: 22 questions from banks of every type show at least three types.
    assert!(
        types.len() >= 3,
        "a shipped exam mixes question types: {types:?}"
    );
    // Every kind of question renders on the exam page, and every correct response earns full marks.
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let page = client
        .get(app.url(&format!("/exams/{attempt_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // A faint watermark names who sits which attempt, out of the way of clicks and readers.
    let html = page.text().await.unwrap();
    let mark = format!("Li Na · learner@demo.test · #{attempt_id}");
    assert!(
        html.contains(&format!(
            "<div class=\"exam-watermark\" aria-hidden=\"true\"><span>{mark}</span>"
        )),
        "{html}"
    );
    assert!(html.matches(&mark).count() >= 20);
    let css = client
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rule = css
        .lines()
        .find(|l| l.starts_with(".exam-watermark {"))
        .unwrap();
    assert!(
        rule.contains("pointer-events: none") && rule.contains("opacity: 0.07"),
        "{rule}"
    );
    let trainer = app.token("trainer").await;
    let review = review_of(&app, &trainer, attempt_id).await;
    for q in review["questions"].as_array().unwrap() {
        let saved = put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
        assert_eq!(saved.status(), StatusCode::NO_CONTENT, "{q}");
    }
    let page = client
        .get(app.url(&format!("/exams/{attempt_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "renders with every kind of saved answer"
    );
    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["percent"], 100.0);
    assert_eq!(result["passed"], true);
}

/// A certification of one essay question; the demo learner has answered it in an open attempt.
/// Answers the app, the catalog's folder, the learner's token, the certification, the attempt
/// and the question.
async fn essay_attempt(answer: &str) -> (TestApp, tempfile::TempDir, String, i64, i64, i64) {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    mini_catalog(dir.path());
    let bank = std::fs::read_to_string(dir.path().join("courses/uo-102/questions.gift")).unwrap();
    write(dir.path(), "courses/uo-102/questions.gift", &format!("{bank}\n// [id:uo-102-q03] [tag:competency=uo-churn] [tag:difficulty=hard]\n::uo-102-q03:: Describe your win-back plan for lapsed members. {{}}\n"));
    write(dir.path(), "certifications/uo-essay.toml",
        "code = \"uo-essay\"\ncategory = \"user-operation\"\nlevel = 2\ntitle = \"Essay\"\ntitle_zh = \"问答\"\nvalidity_months = 24\npass_percent = 50\nexcellent_percent = 90\nmax_attempts = 2\ncooldown_hours = 1\ntime_limit_minutes = 30\non_timeout = \"auto-submit\"\ncounted_attempt = \"highest\"\nreview = \"none\"\n\n[[blueprint]]\ncompetency = \"uo-churn\"\nhard = 1\n");
    import_mini(&app, dir.path(), false).await.unwrap();
    let learner = app.token("learner").await;
    let id = cert_id(&app, &learner, "uo-essay").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let q = attempt["questions"][0]["id"].as_i64().unwrap();
    assert_eq!(attempt["questions"][0]["answer"]["type"], "essay");
    put_answer(&app, &learner, attempt_id, q, &json!(answer)).await;
    (app, dir, learner, id, attempt_id, q)
}

#[tokio::test]
async fn essays_wait_for_a_trainer_and_the_result_becomes_final() {
    let (app, _dir, learner, _id, attempt_id, q) =
        essay_attempt("Segment by last purchase, call the top tier, send the rest a tiered offer.")
            .await;
    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["status"], "pending");
    assert!(
        result["passed"].is_null(),
        "pass or fail waits for the essay"
    );
    assert_eq!(
        count(&app, "certificates").await,
        0,
        "no certificate while an essay waits"
    );
    let trainer = app.token("trainer").await;
    let queue = json(app.get("/api/v1/grading", &trainer).await).await;
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["learner"], "Li Na");
    let bad = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/attempts/{attempt_id}/grades/{q}"),
            &trainer,
            &json!({"mark": 5}),
        )
        .await;
    assert_eq!(problem_fields(&json(bad).await), vec!["mark"]);
    let graded = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/attempts/{attempt_id}/grades/{q}"),
            &trainer,
            &json!({"mark": 0.8, "comment": "Clear tiers."}),
        )
        .await;
    assert_eq!(graded.status(), StatusCode::OK);
    let outcome = json(graded).await;
    assert_eq!(outcome["status"], "graded");
    assert_eq!(outcome["passed"], true);
    assert_eq!(
        json(app.get("/api/v1/grading", &trainer).await).await["total"],
        0
    );
    let result = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(result["passed"], true);
    assert_eq!(count(&app, "competency_evidence").await, 1);
    // The pass settled by the trainer's mark issues the certificate.
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["status"], "valid");
    let platform = app.token("platform").await;
    let foreign = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/attempts/{attempt_id}/grades/{q}"),
            &platform,
            &json!({"mark": 0}),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_corrected_key_regrades_attempts_after_a_dry_run() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let attempt = start_attempt(&app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let review = review_of(&app, &trainer, attempt_id).await;
    for q in review["questions"].as_array().unwrap() {
        put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["percent"], 100.0);

    // The platform's trainer decides the key of uo-101-q01 was wrong: "wrong" is the right answer.
    let platform = app.token("platform").await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &platform).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    let bank = app
        .get(
            &format!("/api/v1/courses/{course}/questions.gift"),
            &platform,
        )
        .await
        .text()
        .await
        .unwrap();
    let fixed = bank
        .replace("=right#yes", "~right#no longer")
        .replace("~wrong#no", "=wrong#yes after all");
    assert_ne!(fixed, bank);
    let put = app
        .api
        .put(app.url(&format!("/api/v1/courses/{course}/questions.gift")))
        .bearer_auth(&platform)
        .header("content-type", "text/plain")
        .body(fixed)
        .send()
        .await
        .unwrap();
    assert_eq!(json(put).await["revised"], 1);

    let denied = app
        .post_json(
            &format!("/api/v1/courses/{course}/questions/uo-101-q01/regrade"),
            &trainer,
            &json!({"reason": "key"}),
        )
        .await;
    assert_eq!(
        denied.status(),
        StatusCode::FORBIDDEN,
        "a platform question is the platform's to regrade"
    );
    let dry = json(
        app.post_json(
            &format!("/api/v1/courses/{course}/questions/uo-101-q01/regrade"),
            &platform,
            &json!({"reason": "The key was swapped."}),
        )
        .await,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changes"].as_array().unwrap().len(), 1);
    assert_eq!(dry["changes"][0]["old_mark"], 1.0);
    assert_eq!(dry["changes"][0]["new_mark"], 0.0);
    assert_eq!(
        json(
            app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
                .await
        )
        .await["percent"],
        100.0,
        "a dry run writes nothing"
    );
    let done = json(
        app.post_json(
            &format!("/api/v1/courses/{course}/questions/uo-101-q01/regrade"),
            &platform,
            &json!({"reason": "The key was swapped.", "dry_run": false}),
        )
        .await,
    )
    .await;
    assert_eq!(done["changes"].as_array().unwrap().len(), 1);
    let after = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(after["percent"], 75.0);
    assert_eq!(after["passed"], true);
    assert_eq!(
        json(
            app.get("/api/v1/audit?action=exam.regraded", &platform)
                .await
        )
        .await["total"],
        1
    );
}

#[tokio::test]
async fn trainers_edit_blueprints_the_banks_can_fill() {
    let (app, _dir) = exam_app().await;
    let platform = app.token("platform").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &platform, "uo-open").await;
    let cells = json(
        app.get(&format!("/api/v1/certifications/{id}/blueprint"), &platform)
            .await,
    )
    .await;
    assert_eq!(cells["items"][0]["available_easy"], 1);
    let too_many = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/certifications/{id}/blueprint"),
            &platform,
            &json!({"sections": [{"competency": "uo-rfm", "easy": 1, "hard": 2}]}),
        )
        .await;
    assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem_fields(&json(too_many).await),
        vec!["sections[0].hard"]
    );
    let org_trainer = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/certifications/{id}/blueprint"),
            &trainer,
            &json!({"sections": [{"competency": "uo-rfm", "easy": 1}]}),
        )
        .await;
    assert_eq!(org_trainer.status(), StatusCode::FORBIDDEN);
    let ok = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/certifications/{id}/blueprint"),
            &platform,
            &json!({"sections": [{"competency": "uo-rfm", "easy": 1, "medium": 1}]}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let learner = app.token("learner").await;
    let certs = json(app.get("/api/v1/certifications", &learner).await).await;
    let open = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()
        .clone();
    assert_eq!(open["question_count"], 2);
    assert_eq!(
        json(
            app.get(
                "/api/v1/audit?action=certification.blueprint_changed",
                &platform
            )
            .await
        )
        .await["total"],
        1
    );
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn trainers_edit_blueprints_in_pages_and_are_told_what_the_banks_lack() {
    let (app, _dir) = exam_app().await;
    let platform = app.token("platform").await;
    let id = cert_id(&app, &platform, "uo-open").await;
    let (client, _) = crate::auth::page_session(&app, "platform@demo.test").await;
    let (status, list) = page(&client, &app, "/trainer/certifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("uo-open")
            && list.contains(&format!("/trainer/certifications/{id}/blueprint")),
        "{list}"
    );
    let blueprint_url = format!("/trainer/certifications/{id}/blueprint");
    let (_, editor) = page(&client, &app, &blueprint_url).await;
    assert!(editor.contains("of 1 in the banks"), "{editor}");
    assert!(editor.contains("name=\"hard.uo-rfm\""), "{editor}");
    let csrf = crate::pages::csrf_of(&editor);
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        let url = app.url(&blueprint_url);
        let csrf = csrf.clone();
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
            form.extend(fields);
            let response = client.post(url).form(&form).send().await.unwrap();
            (
                response.status(),
                response.headers().get("location").cloned(),
                response.text().await.unwrap(),
            )
        }
    };
    // More hard questions than the banks hold: refused, naming the cell; nothing saved.
    let (status, _, body) = post(vec![("easy.uo-rfm", "1"), ("hard.uo-rfm", "2")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("The blueprint was not saved") && body.contains("Hard"),
        "{body}"
    );
    assert!(
        body.contains("value=\"2\""),
        "the typed value is kept: {body}"
    );
    // Not a number: refused with the range.
    let (status, _, body) = post(vec![("easy.uo-rfm", "lots")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Must be between 0 and 100."), "{body}");
    // Nothing drawn at all: refused.
    let (status, _, _) = post(vec![("easy.uo-rfm", "0")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let cells = json(
        app.get(&format!("/api/v1/certifications/{id}/blueprint"), &platform)
            .await,
    )
    .await;
    assert_eq!(cells["total"], 2, "still the imported blueprint: {cells}");
    // A blueprint the banks can fill is saved.
    let (status, location, _) = post(vec![
        ("easy.uo-rfm", "1"),
        ("medium.uo-rfm", "1"),
        ("easy.uo-churn", "1"),
    ])
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.unwrap(),
        format!("{blueprint_url}?saved=1").as_str()
    );
    let cells = json(
        app.get(&format!("/api/v1/certifications/{id}/blueprint"), &platform)
            .await,
    )
    .await;
    assert_eq!(cells["total"], 2);
    assert_eq!(cells["items"][0]["competency"], "uo-rfm");
    assert_eq!(cells["items"][0]["medium"], 1);
    assert_eq!(cells["items"][1]["easy"], 1);
    assert_eq!(cells["items"][1]["medium"], 0);
    // An organization's trainer sees a platform blueprint read-only and cannot post it.
    let (org_client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (_, read_only) = page(&org_client, &app, &blueprint_url).await;
    assert!(
        read_only.contains("cannot be changed here") && read_only.contains("disabled"),
        "{read_only}"
    );
    let org_csrf = crate::pages::csrf_of(&read_only);
    let refused = org_client
        .post(app.url(&blueprint_url))
        .form(&[("csrf_token", org_csrf.as_str()), ("easy.uo-rfm", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Learners have no trainer pages.
    let (learner_client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    assert_eq!(
        page(&learner_client, &app, &blueprint_url).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page(&learner_client, &app, "/trainer/grading").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn trainers_mark_essays_review_attempts_and_read_statistics_in_pages() {
    let (app, _dir, learner, cert, attempt_id, q) =
        essay_attempt("Call the top tier <b>first</b>, then send a tiered offer.").await;
    app.post_json(
        &format!("/api/v1/attempts/{attempt_id}/submit"),
        &learner,
        &json!({}),
    )
    .await;
    let (client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (_, list) = page(&client, &app, "/trainer/certifications").await;
    assert!(list.contains("1 written answers wait for a mark"), "{list}");
    let (status, queue) = page(&client, &app, "/trainer/grading").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        queue.contains("Li Na") && queue.contains("Describe your win-back plan"),
        "{queue}"
    );
    assert!(
        queue.contains("&lt;b&gt;first&lt;&#x2F;b&gt;")
            || queue.contains("&lt;b&gt;first&lt;/b&gt;"),
        "the answer is escaped: {queue}"
    );
    let csrf = crate::pages::csrf_of(&queue);
    let grade_url = app.url(&format!("/trainer/grading/{attempt_id}/{q}"));
    let bad = client
        .post(&grade_url)
        .form(&[("csrf_token", csrf.as_str()), ("mark", "a lot")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("Enter the mark as a number"));
    let too_high = client
        .post(&grade_url)
        .form(&[("csrf_token", csrf.as_str()), ("mark", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(too_high.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let no_csrf = client
        .post(&grade_url)
        .form(&[("mark", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let graded = client
        .post(&grade_url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("mark", "0,75"),
            ("comment", "Clear tiers."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(graded.status(), StatusCode::SEE_OTHER);
    let result = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(result["passed"], true);
    assert_eq!(result["score"], 0.75);
    let (_, queue) = page(&client, &app, "/trainer/grading?graded=1").await;
    assert!(
        queue.contains("The mark is saved") && queue.contains("Nothing to mark"),
        "{queue}"
    );
    // The review page shows the answer, the mark and the (empty) integrity record.
    let (status, review) = page(&client, &app, &format!("/trainer/attempts/{attempt_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        review.contains("Li Na")
            && review.contains("Marked by a trainer")
            && review.contains("0.75 / 1"),
        "{review}"
    );
    assert!(review.contains("None recorded"), "{review}");
    // Statistics over the one graded attempt.
    let (status, stats) = page(
        &client,
        &app,
        &format!("/trainer/certifications/{cert}/statistics"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        stats.contains("Item statistics") && stats.contains("<svg") && stats.contains("uo-102-q03"),
        "{stats}"
    );
    // Another organization's trainer cannot open the attempt.
    let (learner_client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    assert_eq!(
        page(
            &learner_client,
            &app,
            &format!("/trainer/attempts/{attempt_id}")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (platform_client, _) = crate::auth::page_session(&app, "platform@demo.test").await;
    assert_eq!(
        page(
            &platform_client,
            &app,
            &format!("/trainer/attempts/{attempt_id}")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

/// Whether an option id is one of the server's internal ones (`o0`, `o1`, … in the author's
/// order), which would tell a learner which option the author wrote first.
fn internal_id(id: &str) -> bool {
    id.strip_prefix('o')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

#[tokio::test]
async fn option_ids_are_per_attempt_and_no_response_during_an_attempt_holds_a_key() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            content: true,
            ..Default::default()
        },
    )
    .await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let certs_text = app
        .get("/api/v1/certifications", &learner)
        .await
        .text()
        .await
        .unwrap();
    let certs: Value = serde_json::from_str(&certs_text).unwrap();
    let id = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["can_start"] == true)
        .and_then(|c| c["id"].as_i64())
        .unwrap();
    let start = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await
        .text()
        .await
        .unwrap();
    let attempt: Value = serde_json::from_str(&start).unwrap();
    let attempt_id = attempt["id"].as_i64().unwrap();
    let restart = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await
        .text()
        .await
        .unwrap();
    let other = start_attempt(&app, &trainer, id).await;
    let other_ids: std::collections::HashMap<i64, Vec<String>> = other["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let ids = q["answer"]["options"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|o| o["id"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (q["id"].as_i64().unwrap(), ids)
        })
        .collect();

    let mut received = vec![certs_text, start, restart];
    let mut with_options = 0;
    let mut shared = 0;
    for q in attempt["questions"].as_array().unwrap() {
        let qid = q["id"].as_i64().unwrap();
        let Some(options) = q["answer"]["options"].as_array() else {
            continue;
        };
        with_options += 1;
        let ids: Vec<String> = options
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        assert!(
            ids.iter().all(|id| !internal_id(id)),
            "option ids in the author's order reach the learner: {ids:?}"
        );
        if let Some(theirs) = other_ids.get(&qid) {
            shared += 1;
            assert!(
                ids.iter().all(|id| !theirs.contains(id)),
                "two attempts see the same option ids"
            );
        }
        // The internal ids, and the fixed guess that pairs each matching item with the option
        // of the same number, are refused rather than graded.
        let guess = match q["answer"]["type"].as_str().unwrap() {
            "single_choice" => json!("o0"),
            "multiple_choice" => json!(["o0"]),
            "matching" => {
                let items = q["answer"]["items"].as_array().unwrap();
                let map: serde_json::Map<String, Value> = items
                    .iter()
                    .enumerate()
                    .map(|(k, item)| {
                        (
                            item["id"].as_str().unwrap().to_string(),
                            json!(format!("o{k}")),
                        )
                    })
                    .collect();
                Value::Object(map)
            }
            other => panic!("options on a {other} question"),
        };
        let refused = put_answer(&app, &learner, attempt_id, qid, &guess).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{guess}"
        );
        received.push(refused.text().await.unwrap());
    }
    assert!(
        with_options > 5,
        "a shipped exam has choice and matching questions"
    );
    let _ = shared;

    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let page = client
        .get(app.url(&format!("/exams/{attempt_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    received.push(page);
    // The review's correct responses are in this attempt's ids and earn full marks.
    let review = review_of(&app, &trainer, attempt_id).await;
    for q in review["questions"].as_array().unwrap() {
        let saved = put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
        assert!(saved.status().is_success(), "{}", q["correct_response"]);
        received.push(saved.text().await.unwrap());
    }
    let view = app
        .get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
        .await
        .text()
        .await
        .unwrap();
    // Everything the learner received holds none of the keys: no accepted short answer, number
    // or matching pairing the learner did not type themselves (the view echoes saved answers,
    // so it is checked for keys only where the learner sent none).
    for q in review["questions"].as_array().unwrap() {
        let key = &q["correct_response"];
        let needles: Vec<String> = match q["answer"]["type"].as_str().unwrap() {
            "short_answer" => vec![key.as_str().unwrap_or_default().to_string()],
            "matching" => vec![key.to_string()],
            _ => Vec::new(),
        };
        for needle in needles.iter().filter(|n| n.chars().count() >= 4) {
            // Words the exam itself shows (a question's text or options) are not keys.
            let shown: String = attempt["questions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| format!("{} {}", q["text"], q["answer"]))
                .collect();
            if shown.contains(needle.as_str()) {
                continue;
            }
            for body in &received {
                assert!(
                    !body.contains(needle.as_str()),
                    "a key ({needle}) reached the learner"
                );
            }
        }
    }
    let graded = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    let essays = review["questions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["answer"]["type"] == "essay");
    if !essays {
        assert_eq!(graded["score"], graded["max_score"], "{view}");
    }
}

#[tokio::test]
async fn two_attempts_at_the_same_question_see_different_option_ids() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let ids_of = |attempt: &Value| -> std::collections::HashMap<i64, Vec<String>> {
        attempt["questions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|q| {
                let options = q["answer"]["options"].as_array()?;
                Some((
                    q["id"].as_i64().unwrap(),
                    options
                        .iter()
                        .map(|o| o["id"].as_str().unwrap().to_string())
                        .collect(),
                ))
            })
            .collect()
    };
    let mine = ids_of(&start_attempt(&app, &learner, id).await);
    let theirs = ids_of(&start_attempt(&app, &trainer, id).await);
    let shared: Vec<&i64> = mine.keys().filter(|q| theirs.contains_key(q)).collect();
    assert!(!shared.is_empty(), "both draws hold the choice questions");
    for q in shared {
        assert_eq!(mine[q].len(), theirs[q].len());
        assert!(mine[q]
            .iter()
            .all(|i| !theirs[q].contains(i) && !internal_id(i)));
    }
}

/// Moves an attempt's times: the deadline and the end of submitting, relative to now.
async fn set_times(app: &TestApp, attempt: i64, deadline_from_now: i64, submit_from_now: i64) {
    let now = chrono::Utc::now();
    let deadline = now + chrono::Duration::seconds(deadline_from_now);
    let submit = now + chrono::Duration::seconds(submit_from_now);
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE exam_attempts SET deadline_at = $1, submit_until = $2 WHERE id = $3"
    } else {
        "UPDATE exam_attempts SET deadline_at = ?, submit_until = ? WHERE id = ?"
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        vec![deadline.into(), submit.into(), attempt.into()],
    ))
    .await
    .unwrap();
}

fn rules(overrides: Value) -> Value {
    let mut base = json!({
        "validity_months": 12, "pass_percent": 50, "excellent_percent": 90,
        "min_competency_percent": 0, "max_attempts": 2, "cooldown_hours": 0,
        "time_limit_minutes": 20, "on_timeout": "auto-submit", "grace_minutes": 0,
        "counted_attempt": "highest", "review": "secure"
    });
    for (k, v) in overrides.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

async fn put_rules(app: &TestApp, token: &str, cert: i64, body: &Value) -> reqwest::Response {
    app.send_json(
        reqwest::Method::PUT,
        &format!("/api/v1/certifications/{cert}/rules"),
        token,
        body,
    )
    .await
}

#[tokio::test]
async fn trainers_create_certifications_and_their_rules_govern_attempts() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;

    // Every problem at once, named by field.
    let bad = app
        .post_json(
            "/api/v1/certifications",
            &trainer,
            &json!({"code": "Bad Code", "category": "user-operation", "level": 9, "title": "T",
                    "rules": rules(json!({"pass_percent": 120, "on_timeout": "explode", "required_courses": ["nope"]})),
                    "blueprint": [{"competency": "uo-rfm", "easy": 1, "hard": 50}]}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = problem_fields(&json(bad).await);
    for f in [
        "code",
        "level",
        "pass_percent",
        "on_timeout",
        "required_courses[0]",
        "blueprint[0].hard",
    ] {
        assert!(
            fields.contains(&f.to_string()),
            "{f} not named in {fields:?}"
        );
    }
    let body = json!({"code": "acme-uo", "category": "user-operation", "level": 2,
        "title": "Acme user operation", "rules": rules(json!({})),
        "blueprint": [{"competency": "uo-rfm", "easy": 1, "medium": 1}]});
    let by_learner = app
        .post_json("/api/v1/certifications", &learner, &body)
        .await;
    assert_eq!(by_learner.status(), StatusCode::FORBIDDEN);
    let created = app
        .post_json("/api/v1/certifications", &trainer, &body)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let cert = json(created).await["id"].as_i64().unwrap();
    let again = app
        .post_json("/api/v1/certifications", &trainer, &body)
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(cert_id(&app, &learner, "acme-uo").await, cert);
    // The platform's certification is the platform's to change.
    let platform_cert = cert_id(&app, &learner, "uo-open").await;
    let refused = put_rules(&app, &trainer, platform_cert, &rules(json!({}))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // One attempt, abandoned when time runs out: graded zero on next access.
    let saved = put_rules(
        &app,
        &trainer,
        cert,
        &rules(json!({"max_attempts": 1, "on_timeout": "abandon", "time_limit_minutes": 1})),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let attempt = start_attempt(&app, &learner, cert).await;
    let started =
        chrono::DateTime::parse_from_rfc3339(attempt["started_at"].as_str().unwrap()).unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(attempt["deadline_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (deadline - started).num_seconds(),
        60,
        "the time limit is the rule's"
    );
    let attempt_id = attempt["id"].as_i64().unwrap();
    set_times(&app, attempt_id, -120, -120).await;
    let view = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}"), &learner)
            .await,
    )
    .await;
    assert_eq!(
        view["status"], "abandoned",
        "settled on next access: {view}"
    );
    assert_eq!(
        view["questions"].as_array().unwrap().len(),
        0,
        "secure review hides the questions"
    );
    let result = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(result["score"], 0.0);
    assert_eq!(result["passed"], false);
    assert!(result["questions"].is_null(), "{result}");
    let out = app
        .post_json(
            &format!("/api/v1/certifications/{cert}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(out.status(), StatusCode::CONFLICT);
    assert!(json(out).await["detail"]
        .as_str()
        .unwrap()
        .contains("used all your attempts"));

    // A grace period: past the deadline answers are refused, and submitting still counts.
    put_rules(
        &app,
        &trainer,
        cert,
        &rules(json!({"max_attempts": 3, "on_timeout": "grace", "grace_minutes": 10})),
    )
    .await;
    let attempt = start_attempt(&app, &trainer, cert).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let grace_left =
        chrono::DateTime::parse_from_rfc3339(attempt["submit_until"].as_str().unwrap()).unwrap()
            - chrono::DateTime::parse_from_rfc3339(attempt["deadline_at"].as_str().unwrap())
                .unwrap();
    assert_eq!(grace_left.num_minutes(), 10);
    set_times(&app, attempt_id, -60, 540).await;
    let q = attempt["questions"][0]["id"].as_i64().unwrap();
    let late = put_answer(&app, &trainer, attempt_id, q, &json!(true)).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let submitted = app
        .post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &trainer,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    assert_eq!(json(submitted).await["status"], "graded");

    // The cool-down runs from the later of the finish and start + time limit.
    put_rules(
        &app,
        &trainer,
        cert,
        &rules(json!({"max_attempts": 3, "cooldown_hours": 2, "time_limit_minutes": 30})),
    )
    .await;
    let hr = app.token("hr").await;
    let attempt = start_attempt(&app, &hr, cert).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/attempts/{attempt_id}/submit"),
        &hr,
        &json!({}),
    )
    .await;
    let started =
        chrono::DateTime::parse_from_rfc3339(attempt["started_at"].as_str().unwrap()).unwrap();
    let expected = (started + chrono::Duration::minutes(30) + chrono::Duration::hours(2))
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let wait = app
        .post_json(
            &format!("/api/v1/certifications/{cert}/attempts"),
            &hr,
            &json!({}),
        )
        .await;
    assert_eq!(wait.status(), StatusCode::CONFLICT);
    let detail = json(wait).await["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(&expected),
        "{detail} should name {expected}"
    );
}

#[tokio::test]
async fn a_minimum_per_competency_fails_an_otherwise_passing_score() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let body = json!({"code": "acme-min", "category": "user-operation", "level": 2,
        "title": "Minimum per competency",
        "rules": rules(json!({"pass_percent": 50, "min_competency_percent": 100, "review": "after-submit"})),
        "blueprint": [{"competency": "uo-rfm", "easy": 1, "medium": 1}, {"competency": "uo-churn", "easy": 1, "medium": 1}]});
    let cert = json(
        app.post_json("/api/v1/certifications", &trainer, &body)
            .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let attempt = start_attempt(&app, &learner, cert).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let review = review_of(&app, &trainer, attempt_id).await;
    // Every answer right but one: 75 %, above the pass line, and one competency under 100 %.
    let questions = review["questions"].as_array().unwrap();
    for q in questions.iter().skip(1) {
        put_answer(
            &app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    let result = json(
        app.post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(result["percent"], 75.0, "{result}");
    assert_eq!(
        result["passed"], false,
        "a competency under its minimum fails the attempt"
    );
    // After-submit review shows each question's mark, never a key.
    let shown = result["questions"].as_array().unwrap();
    assert_eq!(shown.len(), 4);
    assert!(!result.to_string().contains("correct_response"));
}

#[tokio::test]
async fn trainers_copy_a_certification_and_edit_its_rules_in_pages() {
    let (app, _dir) = exam_app().await;
    let trainer = app.token("trainer").await;
    let id = cert_id(&app, &trainer, "uo-open").await;
    let (client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (status, editor) = page(
        &client,
        &app,
        &format!("/trainer/certifications/{id}/blueprint"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        editor.contains("Exam rules")
            && editor.contains("name=\"time_limit_minutes\" value=\"30\""),
        "{editor}"
    );
    let csrf = crate::pages::csrf_of(&editor);
    let copied = client
        .post(app.url(&format!("/trainer/certifications/{id}/copy")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", "acme-open"),
            ("title", "Acme open"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), StatusCode::SEE_OTHER);
    let copy = cert_id(&app, &trainer, "acme-open").await;
    assert_ne!(copy, id);
    let rules_url = app.url(&format!("/trainer/certifications/{copy}/rules"));
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("time_limit_minutes", "15"),
        ("grace_minutes", "0"),
        ("pass_percent", "180"),
        ("excellent_percent", "90"),
        ("min_competency_percent", "0"),
        ("max_attempts", "2"),
        ("cooldown_hours", "1"),
        ("validity_months", "12"),
        ("on_timeout", "auto-submit"),
        ("counted_attempt", "last"),
        ("review", "secure"),
        ("required_courses", ""),
    ];
    let refused = client
        .post(rules_url.clone())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("pass_percent 180 is outside 0-100"));
    fields[3] = ("pass_percent", "60");
    let saved = client.post(rules_url).form(&fields).send().await.unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (_, editor) = page(
        &client,
        &app,
        &format!("/trainer/certifications/{copy}/blueprint"),
    )
    .await;
    assert!(
        editor.contains("name=\"time_limit_minutes\" value=\"15\""),
        "{editor}"
    );
    // The learner's attempt at the copy has the new time limit.
    let learner = app.token("learner").await;
    let attempt = start_attempt(&app, &learner, copy).await;
    let started =
        chrono::DateTime::parse_from_rfc3339(attempt["started_at"].as_str().unwrap()).unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(attempt["deadline_at"].as_str().unwrap()).unwrap();
    assert_eq!((deadline - started).num_minutes(), 15);

    // A copy of a certification that requires a platform course: the learner starts it once
    // that course is completed.
    let associate = cert_id(&app, &trainer, "uo-associate").await;
    let copied = client
        .post(app.url(&format!("/trainer/certifications/{associate}/copy")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", "acme-associate"),
            ("title", "Acme associate"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), StatusCode::SEE_OTHER);
    let gated = cert_id(&app, &learner, "acme-associate").await;
    let refused = app
        .post_json(
            &format!("/api/v1/certifications/{gated}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(json(refused).await["detail"]
        .as_str()
        .unwrap()
        .contains("uo-101"));
    let course = crate::catalog::course_id(&app, &learner, "uo-101").await;
    let detail = json(
        app.get(&format!("/api/v1/courses/{course}"), &learner)
            .await,
    )
    .await;
    for lesson in detail["lessons"].as_array().unwrap() {
        app.post_json(
            &format!("/api/v1/lessons/{}/completion", lesson["id"]),
            &learner,
            &json!({}),
        )
        .await;
    }
    let started = app
        .post_json(
            &format!("/api/v1/certifications/{gated}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(
        started.status(),
        StatusCode::CREATED,
        "the platform course counts"
    );
}

#[tokio::test]
async fn an_organization_sets_a_switch_limit_and_a_pledge_and_signals_stay_as_evidence() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let admin = app.token("admin").await;
    let id = cert_id(&app, &learner, "uo-open").await;
    let controls = format!("/api/v1/certifications/{id}/controls");
    // Off by default, for shipped certifications too.
    let off = json(app.get(&controls, &trainer).await).await;
    assert!(
        off["max_switches"].is_null() && off["pledge"].is_null(),
        "{off}"
    );
    let body = json!({"max_switches": 2, "pledge": "I sit this exam alone, without notes."});
    let by_learner = app
        .send_json(reqwest::Method::PUT, &controls, &learner, &body)
        .await;
    assert_eq!(by_learner.status(), StatusCode::FORBIDDEN);
    let zero = app
        .send_json(
            reqwest::Method::PUT,
            &controls,
            &admin,
            &json!({"max_switches": 0}),
        )
        .await;
    assert_eq!(problem_fields(&json(zero).await), vec!["max_switches"]);
    let set = app
        .send_json(reqwest::Method::PUT, &controls, &admin, &body)
        .await;
    assert_eq!(set.status(), StatusCode::OK);

    // The learner sees both rules before starting, and must accept the pledge.
    let list = json(app.get("/api/v1/certifications", &learner).await).await;
    let mine = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(mine["max_switches"], 2);
    assert_eq!(mine["pledge"], "I sit this exam alone, without notes.");
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let (_, certs_page) = page(&client, &app, "/certifications").await;
    assert!(
        certs_page.contains("name=\"pledge\" value=\"accepted\" required")
            && certs_page.contains("after 2 switches"),
        "{certs_page}"
    );
    // The trainer sees the controls on the certification's page.
    let (trainer_page, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (_, editor) = page(
        &trainer_page,
        &app,
        &format!("/trainer/certifications/{id}/blueprint"),
    )
    .await;
    assert!(
        editor.contains("id=\"max-switches\" name=\"max_switches\" value=\"2\""),
        "{editor}"
    );
    let refused = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json(refused).await;
    assert_eq!(problem_fields(&problem), vec!["pledge"]);
    assert!(problem.to_string().contains("without notes"), "{problem}");
    let started = app
        .post_json(
            &format!("/api/v1/certifications/{id}/attempts"),
            &learner,
            &json!({"pledge": true}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let attempt_id = json(started).await["id"].as_i64().unwrap();

    // Each signal is recorded with its address and browser; a blur and a hide together are one
    // switch; the second switch submits the attempt on the answers saved.
    let event = |kind: &'static str| {
        let request = app
            .api
            .post(app.url(&format!("/api/v1/attempts/{attempt_id}/events")))
            .bearer_auth(&learner)
            .header("user-agent", "exam-test-browser/1.0")
            .json(&json!({ "kind": kind }));
        async move { json(request.send().await.unwrap()).await }
    };
    let first = event("visibility_hidden").await;
    assert_eq!(
        (first["switches"].as_u64(), first["submitted"].as_bool()),
        (Some(1), Some(false)),
        "{first}"
    );
    let same = event("focus_lost").await;
    assert_eq!(same["switches"], 1, "{same}");
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let second = event("focus_lost").await;
    assert_eq!(
        (second["switches"].as_u64(), second["submitted"].as_bool()),
        (Some(2), Some(true)),
        "{second}"
    );
    let result = json(
        app.get(&format!("/api/v1/attempts/{attempt_id}/result"), &learner)
            .await,
    )
    .await;
    assert_eq!(result["status"], "graded");
    assert_eq!(result["finish_reason"], "integrity_limit");
    let closed = app
        .api
        .post(app.url(&format!("/api/v1/attempts/{attempt_id}/events")))
        .bearer_auth(&learner)
        .json(&json!({"kind": "focus_lost"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::CONFLICT);
    let (_, result_page) = page(&client, &app, &format!("/exams/{attempt_id}/result")).await;
    assert!(result_page.contains("limit of switches"), "{result_page}");
    // Trainers see every signal beside the attempt, with where it came from.
    let (trainer_client, _) = crate::auth::page_session(&app, "trainer@demo.test").await;
    let (_, review) = page(
        &trainer_client,
        &app,
        &format!("/trainer/attempts/{attempt_id}"),
    )
    .await;
    assert_eq!(review.matches("exam-test-browser").count(), 3, "{review}");
    assert!(review.contains("127.0.0.1"), "{review}");
}

#[tokio::test]
async fn a_later_attempt_draws_the_questions_the_learner_has_not_seen() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let platform = app.token("platform").await;
    // Two easy uo-rfm questions in the platform bank of uo-101.
    let course = crate::catalog::course_id(&app, &platform, "uo-101").await;
    let gift = "// [id:uo-101-q01] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::uo-101-q01:: Pick one {=right ~wrong}\n\n\
                // [id:uo-101-q02] [tag:competency=uo-rfm] [tag:difficulty=medium]\n::uo-101-q02:: True? {TRUE}\n\n\
                // [id:uo-101-q03] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::uo-101-q03:: Pick the other {=this ~that}\n";
    let put = app
        .api
        .put(app.url(&format!("/api/v1/courses/{course}/questions.gift")))
        .bearer_auth(&platform)
        .header("content-type", "text/plain")
        .body(gift)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status(),
        StatusCode::OK,
        "{}",
        put.text().await.unwrap()
    );
    let body = json!({"code": "acme-draw", "category": "user-operation", "level": 2, "title": "Draw",
        "rules": rules(json!({"max_attempts": 3, "cooldown_hours": 0})),
        "blueprint": [{"competency": "uo-rfm", "easy": 1}]});
    let cert = json(
        app.post_json("/api/v1/certifications", &trainer, &body)
            .await,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let attempt = start_attempt(&app, &learner, cert).await;
        let id = attempt["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{attempt}"));
        seen.push(
            attempt["questions"][0]["text"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        // The same seed gives the same draw: the review's order is the attempt's.
        let review = review_of(&app, &trainer, id).await;
        assert_eq!(
            review["questions"][0]["text"],
            attempt["questions"][0]["text"]
        );
        assert!(review["seed"].as_i64().is_some());
        app.post_json(
            &format!("/api/v1/attempts/{id}/submit"),
            &learner,
            &json!({}),
        )
        .await;
        // The next attempt may start once start + time limit has passed: an hour back.
        let past = chrono::Utc::now() - chrono::Duration::hours(1);
        let db = app.db.connect().await;
        let backend = db.get_database_backend();
        let sql = if backend == sea_orm::DbBackend::Postgres {
            "UPDATE exam_attempts SET started_at = $1, finished_at = $1, deadline_at = $1, submit_until = $1 WHERE id = $2"
        } else {
            "UPDATE exam_attempts SET started_at = ?1, finished_at = ?1, deadline_at = ?1, submit_until = ?1 WHERE id = ?2"
        };
        db.execute(Statement::from_sql_and_values(
            backend,
            sql,
            [past.into(), id.into()],
        ))
        .await
        .unwrap();
    }
    assert_ne!(
        seen[0], seen[1],
        "the second attempt draws the question not yet seen"
    );
}
