//! Study time measured by the server: heartbeats, replays, hidden pages, a lesson's minimum
//! time before completion, and HR's report in JSON, CSV and Excel.
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::catalog::import_mini;
use crate::helpers::{json, problem_fields, TestApp};

/// The id of the first lesson of a course, by code.
pub async fn first_lesson(app: &TestApp, token: &str, code: &str) -> i64 {
    let list = json(app.get(&format!("/api/v1/courses?q={code}"), token).await).await;
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("{list}"));
    let detail = json(app.get(&format!("/api/v1/courses/{id}"), token).await).await;
    detail["lessons"][0]["id"].as_i64().unwrap()
}

async fn beat(app: &TestApp, token: &str, lesson: i64, visible: bool) -> Value {
    let r = app
        .post_json(
            &format!("/api/v1/lessons/{lesson}/heartbeat"),
            token,
            &json!({ "visible": visible }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    json(r).await
}

#[tokio::test]
async fn study_time_is_the_servers_clock_between_heartbeats_and_gates_completion() {
    let app = crate::helpers::spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    crate::catalog::mini_catalog(dir.path());
    import_mini(&app, dir.path(), false).await.unwrap();
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let hr = app.token("hr").await;
    let lesson = first_lesson(&app, &learner, "uo-101").await;

    // Opening the lesson starts an interval; nothing is credited yet.
    let opened_at = Instant::now();
    let view = json(
        app.get(&format!("/api/v1/lessons/{lesson}"), &learner)
            .await,
    )
    .await;
    assert_eq!(view["study_time"]["effective_seconds"], 0);
    assert_eq!(view["study_time"]["min_effective_seconds"], 0);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let first = beat(&app, &learner, lesson, true).await;
    assert!(first["effective_seconds"].as_i64().unwrap() >= 2, "{first}");

    // A burst of replayed heartbeats earns no more than the time that passed.
    let path = format!("/api/v1/lessons/{lesson}/heartbeat");
    let body = json!({"visible": true});
    let burst: Vec<_> = (0..8)
        .map(|_| app.post_json(&path, &learner, &body))
        .collect();
    for r in futures_util::future::join_all(burst).await {
        assert_eq!(r.status(), StatusCode::OK);
    }
    let after_burst = beat(&app, &learner, lesson, true).await;
    let elapsed = opened_at.elapsed().as_secs() as i64;
    assert!(
        after_burst["total_seconds"].as_i64().unwrap() <= elapsed,
        "credit beyond the clock: {after_burst} after {elapsed} s"
    );

    // A hidden page earns total time but no effective time, before or after it is shown again.
    let effective = after_burst["effective_seconds"].as_i64().unwrap();
    let total = after_burst["total_seconds"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let hidden = beat(&app, &learner, lesson, false).await;
    assert_eq!(hidden["effective_seconds"].as_i64().unwrap(), effective);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let back = beat(&app, &learner, lesson, true).await;
    assert_eq!(back["effective_seconds"].as_i64().unwrap(), effective);
    assert!(
        back["total_seconds"].as_i64().unwrap() >= total + 2,
        "{back}"
    );

    // The organization requires ten minutes: completion is refused, saying how long is left.
    let bad = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/time-rule"),
            &trainer,
            &json!({"min_effective_seconds": 99_999}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem_fields(&json(bad).await),
        vec!["min_effective_seconds"]
    );
    let by_learner = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/time-rule"),
            &learner,
            &json!({"min_effective_seconds": 60}),
        )
        .await;
    assert_eq!(by_learner.status(), StatusCode::FORBIDDEN);
    let set = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson}/time-rule"),
            &trainer,
            &json!({"min_effective_seconds": 600}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let refused = app
        .post_json(
            &format!("/api/v1/lessons/{lesson}/completion"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let problem = json(refused).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("10:00"),
        "{problem}"
    );
    let view = json(
        app.get(&format!("/api/v1/lessons/{lesson}"), &learner)
            .await,
    )
    .await;
    assert!(!view["completed"].as_bool().unwrap());
    assert_eq!(view["study_time"]["min_effective_seconds"], 600);
    assert!(view["study_time"]["remaining_seconds"].as_i64().unwrap() > 590);
    // Lifted, the lesson completes.
    app.send_json(
        Method::PUT,
        &format!("/api/v1/lessons/{lesson}/time-rule"),
        &trainer,
        &json!({"min_effective_seconds": 0}),
    )
    .await;
    let done = app
        .post_json(
            &format!("/api/v1/lessons/{lesson}/completion"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);

    // The lesson page shows the time and reports activity with its script.
    let (client, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let html = client
        .get(app.url(&format!("/lessons/{lesson}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "id=\"study-time\" data-lesson=\"{lesson}\" data-heartbeat=\"30\""
        )) && html.contains("/static/study.js"),
        "{html}"
    );

    // HR sees the time per person, department and course, as JSON, CSV and Excel.
    let people = json(app.get("/api/v1/reports/study-time?by=person", &hr).await).await;
    let row = people["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "Li Na")
        .unwrap_or_else(|| panic!("{people}"))
        .clone();
    assert!(row["effective_seconds"].as_i64().unwrap() >= effective);
    assert!(row["total_seconds"].as_i64().unwrap() >= total + 2);
    let courses = json(app.get("/api/v1/reports/study-time?by=course", &hr).await).await;
    assert_eq!(courses["items"][0]["key"], "uo-101");
    assert_eq!(courses["items"][0]["people"], 1);
    let csv = app
        .get("/api/v1/reports/study-time?by=department&format=csv", &hr)
        .await;
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.text().await.unwrap().contains("effective_minutes"));
    let xlsx = app
        .get("/api/v1/reports/study-time?by=person&format=xlsx", &hr)
        .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = xlsx.bytes().await.unwrap().to_vec();
    let names = crate::study::xlsx_rows(bytes);
    assert!(
        names.iter().any(|r| r.contains(&"Li Na".to_string())),
        "{names:?}"
    );
    let (hr_client, _) = crate::auth::page_session(&app, "hr@demo.test").await;
    let page = hr_client
        .get(app.url("/hr/study-time?by=course"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<code class=\"small\">uo-101</code>"),
        "{page}"
    );
    let wrong = app.get("/api/v1/reports/study-time?by=shoe", &hr).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let learner_report = app.get("/api/v1/reports/study-time", &learner).await;
    assert_eq!(learner_report.status(), StatusCode::FORBIDDEN);
}

/// The first sheet of a workbook as rows of text.
pub fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}
