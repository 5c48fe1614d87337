//! The database becomes unavailable under the service, and comes back.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{json, spawn_app, TestApp};

async fn create_user(app: &TestApp, admin: &str, email: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/users",
        admin,
        &json!({"email": email, "display_name": "Outage Test", "roles": ["learner"]}),
    )
    .await
}

async fn users_named(app: &TestApp, email: &str) -> i64 {
    count_where(
        &app.db.connect().await,
        "SELECT COUNT(*) FROM users WHERE email = ?",
        email,
    )
    .await
}

/// A `COUNT(*)` with one `?` parameter, on either database.
async fn count_where(conn: &sea_orm::DatabaseConnection, sql: &str, value: &str) -> i64 {
    let backend = conn.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        sql.replace('?', "$1")
    } else {
        sql.to_string()
    };
    conn.query_one(Statement::from_sql_and_values(backend, sql, [value.into()]))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// A 503 with a problem body.
async fn assert_unavailable(what: &str, answer: reqwest::Response) {
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let problem = json(answer).await;
    assert_eq!(
        problem["type"], "urn:talentcert:problem:unavailable",
        "{what}"
    );
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn a_locked_or_dropped_database_answers_503_writes_nothing_and_recovers() {
    let app = spawn_app().await;
    let admin = app.token("admin").await;
    let db = app.db.connect().await;
    if db.get_database_backend() == DbBackend::Sqlite {
        // Another process holds SQLite's write lock longer than the service's busy timeout.
        let lock = talentcert::db::begin_write(&db).await.unwrap();
        assert_unavailable(
            "a write while the file is locked",
            create_user(&app, &admin, "outage@demo.test").await,
        )
        .await;
        assert_unavailable(
            "/readyz",
            app.api.get(app.url("/readyz")).send().await.unwrap(),
        )
        .await;
        // Reads still work in WAL mode.
        assert_eq!(
            app.get("/api/v1/users", &admin).await.status(),
            StatusCode::OK
        );
        lock.rollback().await.unwrap();
    } else {
        // Every connection of the service is cut, as when PostgreSQL restarts.
        db.execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
        let mut unavailable = 0;
        loop {
            let answer = create_user(&app, &admin, "outage@demo.test").await;
            if answer.status() == StatusCode::CREATED {
                break;
            }
            assert_unavailable("a write on a cut connection", answer).await;
            unavailable += 1;
            assert!(unavailable < 30, "the pool never recovered");
        }
        assert_eq!(users_named(&app, "outage@demo.test").await, 1);
    }
    // Nothing was half-written, and the service recovered by itself.
    assert_eq!(
        app.api
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    if db.get_database_backend() == DbBackend::Sqlite {
        assert_eq!(users_named(&app, "outage@demo.test").await, 0);
        let created = create_user(&app, &admin, "outage@demo.test").await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(users_named(&app, "outage@demo.test").await, 1);
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_and_its_certificates_still_verify() {
    use crate::cli::talentcert;
    let (app, _content) = crate::exams::exam_app().await;
    crate::certificates::pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("talentcert-backup.db");
    let run = |args: &[&std::ffi::OsStr], db: &crate::helpers::TestDb| {
        let out = talentcert(db).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let backup_args = [std::ffi::OsStr::new("backup"), file.as_os_str()];
    let restore_args = [std::ffi::OsStr::new("restore"), file.as_os_str()];

    if matches!(app.db, crate::helpers::TestDb::Postgres { .. }) {
        let (ok, text) = run(&backup_args, &app.db);
        assert!(!ok && text.contains("pg_dump"), "{text}");
        return;
    }
    // Online: the service keeps running.
    let (ok, text) = run(&backup_args, &app.db);
    assert!(ok, "{text}");
    assert!(
        text.contains("signing keys"),
        "the backup's secrets are named: {text}"
    );
    let (ok, text) = run(&backup_args, &app.db);
    assert!(!ok && text.contains("exists already"), "{text}");
    let (ok, text) = run(&restore_args, &app.db);
    assert!(
        !ok && text.contains("in use"),
        "no restore under a running service: {text}"
    );

    // The service's machine is lost: restore onto a new one (an empty data directory).
    let junk = backups.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("talentcert.db");
    let db = crate::helpers::TestDb::Sqlite { _dir: dir, path };
    let (ok, text) = run(&[std::ffi::OsStr::new("restore"), junk.as_os_str()], &db);
    assert!(!ok && text.contains("cannot be restored"), "{text}");
    let (ok, text) = run(&restore_args, &db);
    assert!(ok, "{text}");
    drop(app);

    let app = crate::helpers::spawn_app_with(db, crate::helpers::AppOptions::default()).await;
    let report = json(
        app.api
            .get(app.url(&format!("/api/v1/verify/{code}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(report["status"], "valid", "{report}");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true),
        "{report}"
    );
}

/// Signs in through the API of a service at `base`.
async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> String {
    let answer = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": crate::helpers::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "sign-in of {email}");
    json(answer).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get_json(client: &reqwest::Client, url: String, token: &str) -> serde_json::Value {
    json(client.get(url).bearer_auth(token).send().await.unwrap()).await
}

#[tokio::test]
async fn a_service_killed_under_load_loses_no_acknowledged_answer_and_doubles_nothing() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    const LEARNERS: usize = 12;
    let sink = crate::smtp::SmtpSink::start();
    let db = crate::helpers::TestDb::fresh().await;
    let content = crate::exams::exam_catalog();
    let content_dir = content.path().to_str().unwrap().to_string();
    let settings = [("TALENTCERT_CONTENT_DIR", content_dir.as_str())];
    let (mut server, base) = crate::email::serve_with(&db, &sink.url(), &settings);
    let client = reqwest::Client::new();
    let admin = sign_in(&client, &base, "admin@demo.test").await;
    let trainer = sign_in(&client, &base, "trainer@demo.test").await;

    // Learners with open attempts, and the right answers from a trainer's review.
    let mut sitting = Vec::new();
    for i in 0..LEARNERS {
        let email = format!("crash-{i}@demo.test");
        let created = client
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(&admin)
            .json(&json!({"email": email, "display_name": format!("Crash {i}"), "roles": ["learner"], "password": crate::helpers::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let token = sign_in(&client, &base, &email).await;
        let list = get_json(&client, format!("{base}/api/v1/certifications"), &token).await;
        let cert = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "uo-open")
            .expect("the open certification")["id"]
            .as_i64()
            .unwrap();
        let attempt = json(
            client
                .post(format!("{base}/api/v1/certifications/{cert}/attempts"))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = attempt["id"].as_i64().unwrap();
        let review = get_json(
            &client,
            format!("{base}/api/v1/attempts/{id}/review"),
            &trainer,
        )
        .await;
        let answers: Vec<(i64, serde_json::Value)> = review["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["id"].as_i64().unwrap(), q["correct_response"].clone()))
            .collect();
        sitting.push((token, id, attempt["deadline_at"].clone(), answers));
    }

    // Everyone saves as fast as the service answers; half of them submit. The service is killed
    // in the middle of it.
    let acknowledged: Arc<Mutex<HashMap<(i64, i64), serde_json::Value>>> = Arc::default();
    let submitted: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(sitting.len()));
    for (n, (token, id, _, answers)) in sitting.iter().cloned().enumerate() {
        let (client, base) = (client.clone(), base.clone());
        let (acknowledged, submitted) = (acknowledged.clone(), submitted.clone());
        let running = running.clone();
        tasks.spawn(async move {
            // Counts the learner out however the task ends.
            struct Out(Arc<std::sync::atomic::AtomicUsize>);
            impl Drop for Out {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _out = Out(running);
            for round in 0..40 {
                for (question, response) in &answers {
                    let saved = client
                        .put(format!("{base}/api/v1/attempts/{id}/answers/{question}"))
                        .bearer_auth(&token)
                        .json(response)
                        .send()
                        .await;
                    match saved {
                        Ok(r) if r.status().is_success() => {
                            acknowledged
                                .lock()
                                .unwrap()
                                .insert((id, *question), response.clone());
                        }
                        _ => return,
                    }
                }
                if n % 2 == 0 && round == 1 {
                    let done = client
                        .post(format!("{base}/api/v1/attempts/{id}/submit"))
                        .bearer_auth(&token)
                        .json(&json!({}))
                        .send()
                        .await;
                    match done {
                        Ok(r) if r.status().is_success() => submitted.lock().unwrap().push(id),
                        _ => return,
                    }
                    return;
                }
            }
        });
    }
    // Kill once some submits (and their certificates and emails) are through, while the other
    // learners are still saving (they have 40 rounds to go).
    for _ in 0..1_000 {
        if submitted.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        running.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "learners are still saving at the kill"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    while tasks.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();
    let submitted = submitted.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "saves were acknowledged before the kill"
    );
    assert!(submitted.len() >= 2, "submits went through before the kill");

    // Restart on the same database.
    let (mut server, base) = crate::email::serve_with(&db, &sink.url(), &settings);
    for (token, id, deadline, answers) in &sitting {
        let view = get_json(&client, format!("{base}/api/v1/attempts/{id}"), token).await;
        assert_eq!(&view["deadline_at"], deadline, "the deadline holds");
        for q in view["questions"].as_array().unwrap() {
            let key = (*id, q["id"].as_i64().unwrap());
            if let Some(response) = acknowledged.get(&key) {
                assert_eq!(&q["response"], response, "acknowledged save {key:?}");
            }
        }
        // Finish every attempt: the submitted ones answer their result again.
        if !submitted.contains(id) {
            for (question, response) in answers {
                let saved = client
                    .put(format!("{base}/api/v1/attempts/{id}/answers/{question}"))
                    .bearer_auth(token)
                    .json(response)
                    .send()
                    .await
                    .unwrap();
                // An attempt submitted just before the kill takes no more answers.
                assert!(saved.status().is_success() || saved.status() == StatusCode::CONFLICT);
            }
        }
        let result = client
            .post(format!("{base}/api/v1/attempts/{id}/submit"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(result.status(), StatusCode::OK, "attempt {id}");
        assert_eq!(json(result).await["passed"], true, "attempt {id}");
    }

    // One result and one certificate per learner; every message sent exactly once.
    let conn = db.connect().await;
    let count = |sql: &'static str| {
        let conn = &conn;
        async move {
            conn.query_one(Statement::from_string(conn.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    let learners = i64::try_from(LEARNERS).unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM exam_attempts WHERE finished_at IS NOT NULL").await,
        learners
    );
    assert_eq!(count("SELECT COUNT(*) FROM certificates").await, learners);
    assert_eq!(
        count("SELECT COUNT(DISTINCT user_id) FROM certificates").await,
        learners
    );
    let mut queued = i64::MAX;
    for _ in 0..300 {
        queued = count("SELECT COUNT(*) FROM email_outbox WHERE status <> 'sent'").await;
        if queued == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(queued, 0, "the outbox delivered everything");
    // Delivery is at least once: a kill between the SMTP server's "accepted" and the outbox row's
    // update sends that message again after the restart, with the same Message-ID (the outbox
    // row's), so mail clients show it once. Every message arrived; counted by Message-ID, none
    // twice.
    let outbox = count("SELECT COUNT(*) FROM email_outbox").await;
    for i in 0..LEARNERS {
        let to = format!("crash-{i}@demo.test");
        let mut ids: Vec<String> = sink
            .messages_to(&to)
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_string())
            .collect();
        assert!(ids.iter().all(|id| id.starts_with("<outbox-")), "{ids:?}");
        ids.sort();
        ids.dedup();
        let expected = count_where(
            &conn,
            "SELECT COUNT(*) FROM email_outbox WHERE to_address = ?",
            &to,
        )
        .await;
        assert_eq!(i64::try_from(ids.len()).unwrap(), expected, "{to}: {ids:?}");
    }
    let mut all: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(
        i64::try_from(all.len()).unwrap(),
        outbox,
        "every message arrived"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
