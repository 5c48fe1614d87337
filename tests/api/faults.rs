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
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        "SELECT COUNT(*) AS n FROM users WHERE email = $1"
    } else {
        "SELECT COUNT(*) AS n FROM users WHERE email = ?"
    };
    db.query_one(Statement::from_sql_and_values(backend, sql, [email.into()]))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
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
