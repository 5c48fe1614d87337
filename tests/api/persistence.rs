//! Data and tokens survive restarts; migrations apply from empty and roll back on both databases.
use migrations::{Migrator, MigratorTrait};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{json, spawn_app_with, AppOptions, TestDb, DEMO_PASSWORD};

#[tokio::test]
async fn restart_keeps_data_and_tokens_valid() {
    let app = spawn_app_with(TestDb::fresh().await, AppOptions::default()).await;
    let admin = app.token("admin").await;
    let created = app
        .post_json("/api/v1/users", &admin, &json!({"email": "kept@demo.test", "display_name": "Kept", "roles": ["learner"], "password": "kept-password"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let db = app.stop().await;

    let again = spawn_app_with(db, AppOptions::default()).await;
    let me = again.get("/api/v1/me", &admin).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "a token from before the restart still works"
    );
    assert_eq!(
        again
            .login("kept@demo.test", "kept-password")
            .await
            .status(),
        StatusCode::OK
    );
    let users = json(again.get("/api/v1/users", &admin).await).await;
    assert_eq!(users["total"], 5, "the demo was not seeded twice");
}

#[tokio::test]
async fn instances_starting_together_share_one_signing_secret() {
    let db = TestDb::fresh().await;
    let twin = db.settings();
    let (a, b) = tokio::join!(
        spawn_app_with(db, AppOptions::default()),
        spawn_app_with(TestDb::Shared(twin), AppOptions::default())
    );
    let token = a.token("admin").await;
    assert_eq!(b.get("/api/v1/me", &token).await.status(), StatusCode::OK);
    let token_b = b.token("learner").await;
    assert_eq!(a.get("/api/v1/me", &token_b).await.status(), StatusCode::OK);
    assert_eq!(
        b.login("admin@demo.test", DEMO_PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn table_names(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
    };
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

#[tokio::test]
async fn migrations_apply_from_empty_and_roll_back() {
    let empty = TestDb::empty().await;
    let db = empty.connect().await;
    assert!(table_names(&db).await.is_empty(), "starts empty");
    talentcert::db::migrate(&db).await.unwrap();
    let tables = table_names(&db).await;
    for expected in [
        "organizations",
        "users",
        "user_roles",
        "sessions",
        "secrets",
        "login_throttle",
        "audit_log",
    ] {
        assert!(
            tables.iter().any(|t| t == expected),
            "{expected} missing from {tables:?}"
        );
    }
    assert!(Migrator::get_pending_migrations(&db)
        .await
        .unwrap()
        .is_empty());
    Migrator::down(&db, None).await.unwrap();
    let after_down = table_names(&db).await;
    assert!(
        after_down
            .iter()
            .all(|t| t == "seaql_migrations" || t == "talentcert_write_lock"),
        "down removes everything: {after_down:?}"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_names(&db).await, tables, "and up again restores it");
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let db = TestDb::fresh().await;
    if !matches!(db, TestDb::Sqlite { .. }) {
        return;
    }
    let app = spawn_app_with(db, AppOptions::default()).await;
    let conn = app.db.connect().await;
    let mode = conn
        .query_one(Statement::from_string(
            conn.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode.try_get::<String>("", "journal_mode").unwrap(), "wal");
    let fk = conn
        .query_one(Statement::from_string(
            conn.get_database_backend(),
            "PRAGMA foreign_keys",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fk.try_get::<i32>("", "foreign_keys").unwrap(), 1);
}
