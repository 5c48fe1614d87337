//! Pushing xAPI statements to an organization's own Learning Record Store: a real HTTP server
//! (tests/support/lrs.py) with basic auth, through outages, once per statement.
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::exams::exam_app;
use crate::helpers::{json, problem_fields, TestApp};

/// A running LRS that stores what it receives.
struct Lrs {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Lrs {
    fn start(fail_first: u32) -> Lrs {
        Lrs::start_with(fail_first, "")
    }

    fn start_with(fail_first: u32, reject_verb: &str) -> Lrs {
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/lrs.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .args(["--user", "talentcert", "--password", "lrs-secret"])
            .args(["--fail-first", &fail_first.to_string()])
            .args(["--reject-verb", reject_verb])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the test LRS");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the LRS did not start: {line}"));
        Lrs { child, port, dir }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/xapi", self.port)
    }

    /// Statements stored, by id.
    fn stored(&self) -> HashMap<String, Value> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let s: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                (s["id"].as_str().unwrap().to_string(), s)
            })
            .collect()
    }

    /// How many times each statement id was posted.
    fn posted(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        let log = std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default();
        for id in log.split_whitespace() {
            *out.entry(id.to_string()).or_default() += 1;
        }
        out
    }
}

impl Drop for Lrs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn configure(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::PUT, "/api/v1/organization/lrs", admin, &body)
        .await
}

/// Waits until the organization's queue has no statement waiting, and answers the view.
async fn drained(app: &TestApp, admin: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = json(app.get("/api/v1/organization/lrs", admin).await).await;
        let q = &view["queue"];
        if q["sent"].as_i64().unwrap_or(0) > 0 && q["queued"] == 0 && q["sending"] == 0 {
            return view;
        }
        assert!(Instant::now() < deadline, "the queue did not drain: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn statements_reach_the_organizations_lrs_once_through_an_outage() {
    // The LRS is down for the first two requests.
    let lrs = Lrs::start(2);
    let (app, _dir) = exam_app().await;
    let admin = app.token("admin").await;
    let unset = json(app.get("/api/v1/organization/lrs", &admin).await).await;
    assert_eq!(unset["configured"], false);

    // Bad settings name their fields; nothing is stored.
    let bad = configure(
        &app,
        &admin,
        json!({"endpoint": "ftp://user:pw@lrs", "username": "", "enabled": true}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = problem_fields(&json(bad).await);
    fields.sort();
    assert_eq!(fields, vec!["endpoint", "password", "username"]);
    assert_eq!(
        json(app.get("/api/v1/organization/lrs", &admin).await).await["configured"],
        false
    );
    let learner = app.token("learner").await;
    assert_eq!(
        configure(
            &app,
            &learner,
            json!({"endpoint": lrs.endpoint(), "username": "x", "password": "y", "enabled": true})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );

    // Records made before the LRS was configured are sent too.
    crate::certificates::pass_open_exam(&app).await;
    let set = configure(
        &app,
        &admin,
        json!({"endpoint": format!("{}/", lrs.endpoint()), "username": "talentcert", "password": "lrs-secret", "enabled": true}),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    let view = json(set).await;
    assert_eq!(view["endpoint"], lrs.endpoint(), "{view}");
    assert!(
        view.get("password").is_none(),
        "the password is never shown"
    );

    let view = drained(&app, &admin).await;
    let export = json(
        app.get("/api/v1/xapi/statements?limit=1000", &app.token("hr").await)
            .await,
    )
    .await;
    let exported: Vec<&Value> = export["statements"].as_array().unwrap().iter().collect();
    assert!(exported.len() >= 3, "{export}");
    let stored = lrs.stored();
    for s in &exported {
        let id = s["id"].as_str().unwrap();
        assert_eq!(
            stored.get(id),
            Some(*s),
            "statement {id} reached the LRS as exported"
        );
    }
    assert_eq!(
        view["queue"]["sent"].as_i64().unwrap() as usize,
        exported.len()
    );
    assert_eq!(view["queue"]["dead"], 0);

    // Later records follow, and nothing is sent twice.
    let before: Vec<String> = stored.keys().cloned().collect();
    let enrolled = app
        .post_json(
            &format!(
                "/api/v1/courses/{}/enrolment",
                json(app.get("/api/v1/courses?q=uo-101", &learner).await).await["items"][0]["id"]
            ),
            &learner,
            &json!({}),
        )
        .await;
    assert!(enrolled.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while lrs.stored().len() <= before.len() {
        assert!(
            Instant::now() < deadline,
            "the enrolment did not reach the LRS"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let posted = lrs.posted();
    assert!(posted.values().all(|n| *n == 1), "{posted:?}");
    assert!(!lrs
        .stored()
        .values()
        .any(|s| s["actor"]["mbox"] != "mailto:learner@demo.test"));

    // The configuration change is audited without the password.
    let audit = json(
        app.get("/api/v1/audit?action=xapi.lrs_configured", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["total"], 1);
    assert!(!audit.to_string().contains("lrs-secret"));
}

#[tokio::test]
async fn a_wrong_password_leaves_statements_dead_with_the_lrs_answer() {
    let lrs = Lrs::start(0);
    let (app, _dir) = exam_app().await;
    let admin = app.token("admin").await;
    crate::certificates::pass_open_exam(&app).await;
    let set = configure(
        &app,
        &admin,
        json!({"endpoint": lrs.endpoint(), "username": "talentcert", "password": "wrong", "enabled": true}),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    // Three attempts in tests (TALENTCERT_XAPI_MAX_ATTEMPTS), a second apart.
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = json(app.get("/api/v1/organization/lrs", &admin).await).await;
        if view["queue"]["dead"].as_i64().unwrap_or(0) > 0
            && view["queue"]["queued"] == 0
            && view["queue"]["sending"] == 0
        {
            break view;
        }
        assert!(Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        view["last_error"].as_str().unwrap().contains("401"),
        "{view}"
    );
    assert!(lrs.stored().is_empty());
    // The right password, kept when omitted on a later change: nothing dead is resent by itself.
    let fixed = configure(
        &app,
        &admin,
        json!({"endpoint": lrs.endpoint(), "username": "talentcert", "password": "lrs-secret", "enabled": false}),
    )
    .await;
    assert_eq!(json(fixed).await["enabled"], false);
}

#[tokio::test]
async fn a_statement_the_lrs_refuses_does_not_hold_back_the_others() {
    let lrs = Lrs::start_with(0, "http://id.tincanapi.com/verb/earned");
    let (app, _dir) = exam_app().await;
    let admin = app.token("admin").await;
    crate::certificates::pass_open_exam(&app).await;
    let set = configure(
        &app,
        &admin,
        json!({"endpoint": lrs.endpoint(), "username": "talentcert", "password": "lrs-secret", "enabled": true}),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = json(app.get("/api/v1/organization/lrs", &admin).await).await;
        let q = &view["queue"];
        if q["dead"] == 1 && q["queued"] == 0 && q["sending"] == 0 {
            break view;
        }
        assert!(Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        view["last_error"].as_str().unwrap().contains("400"),
        "{view}"
    );
    let stored = lrs.stored();
    assert!(!stored.is_empty());
    assert_eq!(
        view["queue"]["sent"].as_i64().unwrap() as usize,
        stored.len()
    );
    assert!(stored
        .values()
        .all(|s| s["verb"]["id"] != "http://id.tincanapi.com/verb/earned"));
}
