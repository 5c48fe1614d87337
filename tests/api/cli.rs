//! The command line: settings, production set-up commands, graceful shutdown.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, AppOptions, TestDb};

pub fn talentcert(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_talentcert"));
    cmd.env_clear()
        .env("RUST_LOG", "warn")
        .env("TALENTCERT_DEMO", "false");
    match db.settings() {
        talentcert::config::DatabaseSettings::Sqlite { path } => {
            cmd.env("TALENTCERT_DATA_DIR", path.parent().unwrap());
        }
        talentcert::config::DatabaseSettings::Url(url) => {
            cmd.env("DATABASE_URL", url);
        }
    }
    cmd
}

#[test]
fn help_documents_every_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_talentcert"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for name in [
        "DATABASE_URL",
        "TALENTCERT_BIND",
        "TALENTCERT_DATA_DIR",
        "TALENTCERT_PUBLIC_URL",
        "TALENTCERT_JWT_SECRET",
        "TALENTCERT_DEMO",
        "TALENTCERT_DEMO_PASSWORD",
        "TALENTCERT_SMTP_URL",
        "TALENTCERT_MAIL_FROM",
        "--no-demo",
    ] {
        assert!(help.contains(name), "--help does not mention {name}");
    }
}

#[test]
fn a_short_configured_secret_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_talentcert"))
        .env_clear()
        .env("TALENTCERT_JWT_SECRET", "too-short")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}

#[tokio::test]
async fn org_and_user_create_set_up_a_working_account() {
    let db = TestDb::fresh().await;
    let org = talentcert(&db)
        .args([
            "org",
            "create",
            "--name",
            "Acme Retail",
            "--slug",
            "acme",
            "--admin-email",
            "boss@acme.test",
            "--admin-name",
            "Boss",
            "--admin-password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    org.stdin
        .as_ref()
        .unwrap()
        .write_all(b"boss-password-1\n")
        .unwrap();
    let out = org.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut user = talentcert(&db)
        .args([
            "user",
            "create",
            "--org",
            "acme",
            "--email",
            "Trainer@Acme.test",
            "--role",
            "trainer",
            "--role",
            "learner",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    user.stdin
        .take()
        .unwrap()
        .write_all(b"trainer-password\n")
        .unwrap();
    let out = user.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = talentcert(&db)
        .args([
            "user",
            "create",
            "--org",
            "nowhere",
            "--email",
            "x@acme.test",
            "--role",
            "learner",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no organization has the slug"));

    let app = spawn_app_with(
        db,
        AppOptions {
            demo: false,
            ..Default::default()
        },
    )
    .await;
    let token = app.token_for("trainer@acme.test", "trainer-password").await;
    let me = crate::helpers::json(app.get("/api/v1/me", &token).await).await;
    assert_eq!(me["roles"], serde_json::json!(["learner", "trainer"]));
    assert_eq!(me["organization"]["name"], "Acme Retail");
    assert_eq!(
        app.login("boss@acme.test", "boss-password-1")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login("learner@demo.test", "anything-at-all")
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "no demo"
    );
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let db = TestDb::fresh().await;
    let mut child = talentcert(&db)
        .env("TALENTCERT_BIND", "127.0.0.1:0")
        .env("TALENTCERT_DEMO", "true")
        .env("TALENTCERT_DEMO_PASSWORD", "sigterm-demo-password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the service prints where it listens")
            .unwrap();
        if let Some(rest) = line.strip_prefix("talentcert is listening on ") {
            break rest.trim().to_string();
        }
    };
    let rest: Vec<String> = lines.by_ref().take(7).map(|l| l.unwrap()).collect();
    assert!(
        rest.iter().any(|l| l.contains("learner@demo.test")),
        "demo accounts printed: {rest:?}"
    );
    // Keep reading, so that the service never writes into a closed pipe.
    let drain = std::thread::spawn(move || lines.count());
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let _ = drain.join();
}
