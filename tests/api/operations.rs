//! Operations: Prometheus metrics, JSON logs with request ids, and several instances of the
//! real binary on one database.
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::exams::{cert_id, exam_app};
use crate::helpers::{json, spawn_app_with, AppOptions, TestDb, DEMO_PASSWORD};
use crate::smtp::SmtpSink;

/// The samples of a Prometheus text exposition, by `name{labels}`; checks every line's form and
/// that every sampled family has its HELP and TYPE.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut described = std::collections::HashSet::new();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or(line.strip_prefix("# TYPE "))
        {
            described.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            described.contains(name) || described.contains(family),
            "{name} has no HELP/TYPE"
        );
        out.insert(series.to_string(), value);
    }
    out
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_read_attempts_outbox_and_pool() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/me", &learner).await.status(),
            StatusCode::OK
        );
    }
    let cert = cert_id(&app, &learner, "uo-open").await;
    let started = crate::exams::start_attempt(&app, &learner, cert).await;
    let attempt = started["id"].as_i64().unwrap();
    let missing = app.api.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let hr = app.token("hr").await;
    let invited = app
        .post_json(
            "/api/v1/invitations",
            &hr,
            &json!({"email": "queued@demo.test", "display_name": "Queued"}),
        )
        .await;
    assert_eq!(invited.status(), StatusCode::CREATED);

    let response = app.api.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    let s = samples(&text);
    let get = |series: &str| {
        *s.get(series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(
        get(r#"talentcert_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#),
        3.0
    );
    assert_eq!(
        get(r#"talentcert_http_request_duration_seconds_count{method="GET",route="/api/v1/me"}"#),
        3.0
    );
    assert_eq!(
        get(
            r#"talentcert_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me",le="+Inf"}"#
        ),
        3.0
    );
    assert_eq!(
        get(
            r#"talentcert_http_requests_total{method="POST",route="/api/v1/certifications/{id}/attempts",status="201"}"#
        ),
        1.0,
        "routes are counted by pattern, not by id"
    );
    assert_eq!(
        get(r#"talentcert_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        1.0
    );
    assert!(
        !text.contains(&format!("/attempts/{attempt}")),
        "no ids in labels"
    );
    assert_eq!(get("talentcert_open_attempts"), 1.0);
    assert!(get(r#"talentcert_outbox_messages{status="queued"}"#) >= 1.0);
    assert_eq!(get(r#"talentcert_outbox_messages{status="dead"}"#), 0.0);
    assert!(get("talentcert_outbox_oldest_queued_seconds") >= 0.0);
    assert!(get(r#"talentcert_db_pool_connections{state="max"}"#) >= 1.0);
    assert!(get(r#"talentcert_db_pool_connections{state="in_use"}"#) >= 0.0);

    // The attempt submitted, the gauge follows.
    let submitted = app
        .post_json(
            &format!("/api/v1/attempts/{attempt}/submit"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    let again = app.api.get(app.url("/metrics")).send().await.unwrap();
    let s = samples(&again.text().await.unwrap());
    assert_eq!(s["talentcert_open_attempts"], 0.0);
}

#[tokio::test]
async fn a_metrics_token_when_set_is_required() {
    let app = spawn_app_with(
        TestDb::fresh().await,
        AppOptions {
            metrics_token: Some("scrape-secret".into()),
            ..Default::default()
        },
    )
    .await;
    for auth in [None, Some("Bearer wrong"), Some("scrape-secret")] {
        let mut request = app.api.get(app.url("/metrics"));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(json(response).await["detail"].is_string());
    }
    let ok = app
        .api
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

/// Runs the real binary with extra settings and the exam catalog; answers the process, its
/// address and its standard output, line by line.
fn serve_logging(
    db: &TestDb,
    catalog: &std::path::Path,
    settings: &[(&str, &str)],
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let mut command = crate::cli::talentcert(db);
    let mut child = command
        .envs(settings.iter().copied())
        .env("TALENTCERT_BIND", "127.0.0.1:0")
        .env("TALENTCERT_DEMO", "true")
        .env("TALENTCERT_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("TALENTCERT_CONTENT_DIR", catalog)
        .env(
            "RUST_LOG",
            "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (send, receive) = std::sync::mpsc::channel();
    let address = loop {
        let line = lines
            .next()
            .expect("the service prints where it listens")
            .unwrap();
        if let Some(rest) = line.strip_prefix("talentcert is listening on ") {
            break format!("http://{}", rest.trim());
        }
        // With JSON logs the banner goes to standard error; the log line says where.
        if let Ok(entry) = serde_json::from_str::<Value>(&line) {
            if entry["message"] == "talentcert is listening" {
                let _ = send.send(line.clone());
                break format!("http://127.0.0.1:{}", entry["port"]);
            }
        }
        let _ = send.send(line);
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, address, receive)
}

#[tokio::test]
async fn json_logs_carry_the_request_id_the_response_names() {
    let db = TestDb::fresh().await;
    let catalog = crate::exams::exam_catalog();
    let (mut child, address, lines) =
        serve_logging(&db, catalog.path(), &[("TALENTCERT_LOG_FORMAT", "json")]);
    let response = reqwest::get(format!("{address}/api/v1/verify/0000000000000"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut found = None;
    let mut seen = Vec::new();
    while found.is_none() && std::time::Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let entry: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
        assert!(entry["timestamp"].is_string(), "{entry}");
        assert!(entry["level"].is_string(), "{entry}");
        if line.contains(&id) {
            found = Some(entry);
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let entry = found.unwrap_or_else(|| panic!("no log line with {id}: {seen:#?}"));
    let text = entry.to_string();
    assert!(text.contains("/api/v1/verify/{code}"), "{text}");
    assert!(text.contains("404"), "{text}");
}

/// Two processes of the real binary on one database, learners spread over both: each attempt is
/// graded once, each pass issues one certificate, both sweepers grade the expired attempts once,
/// and each email goes out once.
#[tokio::test]
async fn two_instances_on_one_database_grade_issue_and_mail_once() {
    let sink = SmtpSink::start();
    let db = TestDb::fresh().await;
    let catalog = crate::exams::exam_catalog();
    let settings = [
        ("TALENTCERT_SMTP_URL", sink.url()),
        ("TALENTCERT_MAIL_POLL_MS", "100".to_string()),
        ("TALENTCERT_MAIL_RETRY_SECONDS", "1".to_string()),
        ("TALENTCERT_MAIL_LEASE_SECONDS", "5".to_string()),
        ("TALENTCERT_SWEEP_SECONDS", "1".to_string()),
        ("TALENTCERT_VERIFY_RATE_LIMIT", "0".to_string()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Started together: both migrate, import the catalog and seed the demo at once.
    let (mut a, a_url, _a_log) = serve_logging(&db, catalog.path(), &settings);
    let (mut b, b_url, _b_log) = serve_logging(&db, catalog.path(), &settings);
    let urls = [a_url.clone(), b_url.clone()];
    let client = reqwest::Client::new();
    let login = |url: String, email: String| {
        let client = client.clone();
        async move {
            let body: Value = client
                .post(format!("{url}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": DEMO_PASSWORD}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let admin = login(a_url.clone(), "admin@demo.test".into()).await;
    let trainer = login(b_url.clone(), "trainer@demo.test".into()).await;
    const LEARNERS: usize = 8;
    let mut learners = Vec::new();
    for i in 0..LEARNERS {
        let email = format!("twin{i}@demo.test");
        let made = client
            .post(format!("{}/api/v1/users", urls[i % 2]))
            .bearer_auth(&admin)
            .json(&json!({"email": email, "display_name": format!("Twin {i}"), "roles": ["learner"], "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
        learners.push((email.clone(), login(urls[(i + 1) % 2].clone(), email).await));
    }
    let certs: Value = client
        .get(format!("{a_url}/api/v1/certifications"))
        .bearer_auth(&learners[0].1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cert = certs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let mut attempts = Vec::new();
    for (i, (_, token)) in learners.iter().enumerate() {
        // Started on one instance, answered on both, submitted on both at once.
        let started: Value = client
            .post(format!(
                "{}/api/v1/certifications/{cert}/attempts",
                urls[i % 2]
            ))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let attempt = started["id"].as_i64().unwrap();
        attempts.push(attempt);
        let review: Value = client
            .get(format!(
                "{}/api/v1/attempts/{attempt}/review",
                urls[(i + 1) % 2]
            ))
            .bearer_auth(&trainer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (n, q) in review["questions"].as_array().unwrap().iter().enumerate() {
            let saved = client
                .put(format!(
                    "{}/api/v1/attempts/{attempt}/answers/{}",
                    urls[n % 2],
                    q["id"]
                ))
                .bearer_auth(token)
                .json(&q["correct_response"])
                .send()
                .await
                .unwrap();
            assert!(saved.status().is_success(), "save: {}", saved.status());
        }
        // The last two learners leave their attempts to the sweepers.
        if i >= LEARNERS - 2 {
            continue;
        }
        let submits = urls.iter().map(|url| {
            client
                .post(format!("{url}/api/v1/attempts/{attempt}/submit"))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
        });
        for response in futures_util::future::join_all(submits).await {
            assert_eq!(response.unwrap().status(), StatusCode::OK);
        }
    }
    // Time is over for the last two: both instances' sweepers race to grade them.
    let conn = db.connect().await;
    let backend = conn.get_database_backend();
    {
        use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
        use talentcert::assessment::entities::attempt;
        attempt::Entity::update_many()
            .col_expr(
                attempt::Column::SubmitUntil,
                Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .filter(attempt::Column::Id.is_in([attempts[LEARNERS - 2], attempts[LEARNERS - 1]]))
            .exec(&conn)
            .await
            .unwrap();
    }
    let count = |sql: String| {
        let conn = conn.clone();
        async move {
            conn.query_one(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    let ids = attempts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let open = count(format!(
            "SELECT COUNT(*) FROM exam_attempts WHERE status = 'open' AND id IN ({ids})"
        ))
        .await;
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} attempts still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Graded once each, one certificate each.
    for attempt in &attempts {
        let finished = count(format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'exam.finished' AND target_id = '{attempt}'"
        ))
        .await;
        assert_eq!(finished, 1, "attempt {attempt} finished {finished} times");
    }
    let certificates = count(format!(
        "SELECT COUNT(*) FROM certificates WHERE attempt_id IN ({ids})"
    ))
    .await;
    assert_eq!(certificates, LEARNERS as i64);
    let per_person = count(
        "SELECT COUNT(*) FROM (SELECT user_id FROM certificates GROUP BY user_id, certification_id HAVING COUNT(*) > 1) AS doubled".to_string(),
    )
    .await;
    assert_eq!(per_person, 0);
    // Each learner's emails (the certificate's, at least) arrive once each, whichever instance
    // delivered them.
    for (email, _) in &learners {
        sink.wait_for(email, 1).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (email, _) in &learners {
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut by_subject: HashMap<String, usize> = HashMap::new();
        for mail in sink.wait_for(email, 1).await {
            *by_id
                .entry(mail["message_id"].as_str().unwrap().to_string())
                .or_default() += 1;
            *by_subject
                .entry(mail["subject"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        assert!(by_id.values().all(|n| *n == 1), "{email}: {by_id:?}");
        assert!(
            by_subject.values().all(|n| *n == 1),
            "{email}: {by_subject:?}"
        );
    }
    let sent = count("SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'".to_string()).await;
    let all = count("SELECT COUNT(*) FROM email_outbox".to_string()).await;
    assert_eq!(sent, all, "every message was sent");
    for child in [&mut a, &mut b] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Learning records as xAPI statements: every kind of event, stable ids, filters, pages, and only
/// the caller's organization.
#[tokio::test]
async fn learning_records_export_as_xapi_statements() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    let hr = app.token("hr").await;
    // A course launched, a lesson completed, an exam passed with its certificate.
    let courses = json(app.get("/api/v1/courses?q=uo-101", &learner).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    let enrolled = app
        .post_json(
            &format!("/api/v1/courses/{course}/enrolment"),
            &learner,
            &json!({}),
        )
        .await;
    assert!(enrolled.status().is_success());
    let detail = json(
        app.get(&format!("/api/v1/courses/{course}"), &learner)
            .await,
    )
    .await;
    let lesson = detail["lessons"][0]["id"].as_i64().unwrap();
    let done = app
        .post_json(
            &format!("/api/v1/lessons/{lesson}/completion"),
            &learner,
            &json!({}),
        )
        .await;
    assert!(done.status().is_success());
    crate::certificates::pass_open_exam(&app).await;

    let response = app.get("/api/v1/xapi/statements", &hr).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-experience-api-version"], "1.0.3");
    let all = json(response).await;
    let statements = all["statements"].as_array().unwrap().clone();
    assert_eq!(all["more"], "");
    let verbs: Vec<&str> = statements
        .iter()
        .map(|s| s["verb"]["display"]["en-US"].as_str().unwrap())
        .collect();
    for verb in ["launched", "completed", "attempted", "passed", "earned"] {
        assert!(verbs.contains(&verb), "{verb} missing from {verbs:?}");
    }
    for s in &statements {
        assert!(uuid_like(s["id"].as_str().unwrap()), "{s}");
        assert_eq!(s["actor"]["mbox"], "mailto:learner@demo.test");
        assert_eq!(s["version"], "1.0.3");
        assert!(
            s["object"]["id"]
                .as_str()
                .unwrap()
                .starts_with(&app.address),
            "{s}"
        );
        assert!(s["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let times: Vec<&str> = statements
        .iter()
        .map(|s| s["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");
    let lesson_done = statements
        .iter()
        .find(|s| s["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson")
        .unwrap();
    assert_eq!(
        lesson_done["context"]["contextActivities"]["parent"][0]["id"],
        format!("{}/courses/{course}", app.address)
    );
    let passed = statements
        .iter()
        .find(|s| s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed")
        .unwrap();
    assert_eq!(passed["result"]["success"], true);
    assert_eq!(passed["result"]["score"]["scaled"], 1.0);
    assert!(passed["result"]["duration"]
        .as_str()
        .unwrap()
        .starts_with("PT"));

    // The same records give the same ids.
    let again = json(app.get("/api/v1/xapi/statements", &hr).await).await;
    assert_eq!(again["statements"], all["statements"]);
    // Filters: by verb, by time.
    let only = json(app.get("/api/v1/xapi/statements?verb=passed", &hr).await).await;
    assert_eq!(only["statements"].as_array().unwrap().len(), 1);
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let none = json(
        app.get(
            &format!(
                "/api/v1/xapi/statements?since={}",
                later.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            &hr,
        )
        .await,
    )
    .await;
    assert_eq!(none["statements"], json!([]));
    // `since` is exclusive and `until` inclusive, each read by the database.
    let first = statements[0]["timestamp"].as_str().unwrap();
    let last = statements[statements.len() - 1]["timestamp"]
        .as_str()
        .unwrap();
    let after_first = json(
        app.get(
            &format!(
                "/api/v1/xapi/statements?since={}",
                first.replace('+', "%2B")
            ),
            &hr,
        )
        .await,
    )
    .await;
    let expected: Vec<&Value> = statements
        .iter()
        .filter(|s| s["timestamp"].as_str().unwrap() > first)
        .collect();
    assert_eq!(
        after_first["statements"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
    let up_to_last = json(
        app.get(
            &format!("/api/v1/xapi/statements?until={}", last.replace('+', "%2B")),
            &hr,
        )
        .await,
    )
    .await;
    assert_eq!(
        up_to_last["statements"].as_array().unwrap().len(),
        statements.len()
    );
    // Pages follow `more` to the same statements.
    let mut paged = Vec::new();
    let mut next = "/api/v1/xapi/statements?limit=2".to_string();
    while !next.is_empty() {
        let page = json(app.get(&next, &hr).await).await;
        paged.extend(page["statements"].as_array().unwrap().iter().cloned());
        next = page["more"].as_str().unwrap().to_string();
    }
    assert_eq!(paged, statements);
    // Bad parameters name themselves.
    let bad_verb = app.get("/api/v1/xapi/statements?verb=danced", &hr).await;
    assert_eq!(bad_verb.status(), StatusCode::BAD_REQUEST);
    assert!(json(bad_verb).await["detail"]
        .as_str()
        .unwrap()
        .contains("danced"));
    let bad_limit = app.get("/api/v1/xapi/statements?limit=0", &hr).await;
    assert_eq!(bad_limit.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Another organization sees none of them; a learner may not read them.
    let platform = app.token("platform").await;
    let theirs = json(app.get("/api/v1/xapi/statements", &platform).await).await;
    assert!(!theirs.to_string().contains("learner@demo.test"));
    assert_eq!(
        app.get("/api/v1/xapi/statements", &learner).await.status(),
        StatusCode::FORBIDDEN
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}
