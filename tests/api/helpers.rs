//! Starts the real service on a random port with a fresh database for each test: a temporary
//! SQLite file, or, when `TEST_DATABASE_URL` names a PostgreSQL server, a new database cloned
//! from a migrated template (dropped afterwards).
use std::net::TcpListener;
use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use reqwest::{Client, Response, StatusCode};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use sha2::{Digest, Sha256};
use talentcert::config::{DatabaseSettings, Settings};
use talentcert::startup::Application;

/// The password of every demo account in tests.
pub const DEMO_PASSWORD: &str = "demo-password-for-tests";
/// The signing secret configured in tests that craft tokens themselves.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        server_url: String,
        name: String,
    },
    /// A database owned by another `TestDb` (a second instance on the same data).
    Shared(DatabaseSettings),
}

impl TestDb {
    /// A fresh, migrated database (PostgreSQL when `TEST_DATABASE_URL` is set).
    pub async fn fresh() -> TestDb {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => TestDb::fresh_postgres(&url, true).await,
            None => TestDb::fresh_sqlite(),
        }
    }

    /// A fresh database with no tables at all.
    pub async fn empty() -> TestDb {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => TestDb::fresh_postgres(&url, false).await,
            None => TestDb::fresh_sqlite(),
        }
    }

    fn fresh_sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("talentcert.db");
        TestDb::Sqlite { _dir: dir, path }
    }

    async fn fresh_postgres(url: &str, from_template: bool) -> TestDb {
        let server_url = server_url(url);
        let admin = connect_one(url).await;
        let name = format!("tc_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let sql = if from_template {
            let template = ensure_template(&admin, &server_url).await;
            format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")
        } else {
            format!("CREATE DATABASE \"{name}\"")
        };
        let mut attempt = 0;
        loop {
            match admin.execute_unprepared(&sql).await {
                Ok(_) => break,
                // Another process may be touching the template for a moment.
                Err(err) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("retrying CREATE DATABASE: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(err) => panic!("cannot create test database: {err}"),
            }
        }
        let _ = admin.close().await;
        TestDb::Postgres { server_url, name }
    }

    /// The settings' view of this database.
    pub fn settings(&self) -> DatabaseSettings {
        match self {
            TestDb::Sqlite { path, .. } => DatabaseSettings::Sqlite { path: path.clone() },
            TestDb::Postgres { server_url, name } => {
                DatabaseSettings::Url(format!("{server_url}/{name}"))
            }
            TestDb::Shared(settings) => settings.clone(),
        }
    }

    /// A direct connection, for assertions on database state.
    pub async fn connect(&self) -> DatabaseConnection {
        let settings = Settings::for_database(self.settings()).expect("settings");
        talentcert::db::connect(&settings)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server_url, name } = self {
            let url = format!("{server_url}/postgres");
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            // Drop runs outside async code: use a runtime of its own on a thread of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(admin) =
                        Database::connect(ConnectOptions::new(url).sqlx_logging(false).to_owned())
                            .await
                    {
                        let _ = admin.execute_unprepared(&sql).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

fn server_url(url: &str) -> String {
    // postgres://user@host:port/db?params -> postgres://user@host:port
    let without_query = url.split('?').next().unwrap_or(url);
    match without_query.rfind('/') {
        Some(i) if i > "postgres://".len() => without_query[..i].to_string(),
        _ => without_query.to_string(),
    }
}

async fn connect_one(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .expect("connect to TEST_DATABASE_URL")
}

/// The migrated template for the current migrations, created once per migration set.
async fn ensure_template(admin: &DatabaseConnection, server_url: &str) -> String {
    let mut hasher = Sha256::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        hasher.update(std::fs::read(&file).expect("migration file"));
    }
    let template = format!("tc_tmpl_{}", &hex::encode(hasher.finalize())[..16]);
    // One process migrates; the others wait on the lock and then find the template ready.
    admin
        .execute_unprepared("SELECT pg_advisory_lock(7272701)")
        .await
        .expect("advisory lock");
    let exists = admin
        .query_one(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("create template");
        {
            let conn = connect_one(&format!("{server_url}/{building}")).await;
            talentcert::db::migrate(&conn)
                .await
                .expect("migrate template");
            let _ = conn.close().await;
        }
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .await
            .expect("publish template");
    }
    admin
        .execute_unprepared("SELECT pg_advisory_unlock(7272701)")
        .await
        .expect("advisory unlock");
    template
}

/// A running service.
pub struct TestApp {
    pub address: String,
    pub api: Client,
    pub db: TestDb,
    handle: ServerHandle,
}

/// Options for starting the service.
pub struct AppOptions {
    pub jwt_secret: Option<String>,
    pub demo: bool,
    /// `TALENTCERT_SMTP_URL`; none keeps mail queued.
    pub smtp_url: Option<String>,
    pub mail_max_attempts: i32,
    /// Import the shipped catalog at start.
    pub content: bool,
    /// `TALENTCERT_VERIFY_RATE_LIMIT`; none keeps the default.
    pub verify_rate_limit: Option<u32>,
    /// `TALENTCERT_LOGIN_ACCOUNT_FAILURES`; none keeps the default.
    pub login_account_failures: Option<i32>,
    /// `TALENTCERT_LOGIN_ADDRESS_FAILURES`; none keeps the default.
    pub login_address_failures: Option<i32>,
    /// `TALENTCERT_PUBLIC_URL`; none keeps the default (the bound address, http).
    pub public_url: Option<String>,
    /// `TALENTCERT_METRICS_TOKEN`; none leaves `/metrics` public.
    pub metrics_token: Option<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            jwt_secret: None,
            demo: true,
            smtp_url: None,
            mail_max_attempts: 10,
            content: false,
            verify_rate_limit: None,
            login_account_failures: None,
            login_address_failures: None,
            public_url: None,
            metrics_token: None,
        }
    }
}

impl AppOptions {
    /// Delivers to an SMTP server.
    pub fn with_smtp(url: String) -> AppOptions {
        AppOptions {
            smtp_url: Some(url),
            ..Default::default()
        }
    }
}

/// Starts the service on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestDb::fresh().await, AppOptions::default()).await
}

/// Starts the service on a given database.
pub async fn spawn_app_with(db: TestDb, options: AppOptions) -> TestApp {
    // Logs show only when a test fails (the runner captures them).
    talentcert::telemetry::init(talentcert::config::LogFormat::Text);
    let mut settings = Settings::for_database(db.settings()).expect("settings");
    settings.bind = "127.0.0.1:0".to_string();
    settings.demo = options.demo;
    settings.demo_password = Some(DEMO_PASSWORD.to_string());
    settings.jwt_secret = options.jwt_secret;
    settings.workers = 1;
    settings.content_dir = options
        .content
        .then(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("course-content"));
    settings.smtp_url = options.smtp_url;
    // Fast retries so outage tests finish in seconds.
    settings.mail.poll_ms = 100;
    settings.mail.retry_seconds = 1;
    settings.mail.lease_seconds = 3;
    settings.mail.max_attempts = options.mail_max_attempts;
    settings.max_body_bytes = 64 * 1024;
    settings.metrics_token = options.metrics_token;
    settings.xapi.poll = std::time::Duration::from_millis(100);
    settings.xapi.retry_seconds = 1;
    settings.xapi.max_attempts = 3;
    if let Some(limit) = options.verify_rate_limit {
        settings.verify_rate_limit = limit;
    }
    if let Some(n) = options.login_account_failures {
        settings.login_throttle.account_failures = n;
    }
    if let Some(n) = options.login_address_failures {
        settings.login_throttle.address_failures = n;
    }
    if let Some(url) = options.public_url {
        settings.public_url = url;
        settings.public_url_configured = true;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    let app = Application::build_with_listener(settings, listener)
        .await
        .expect("the application builds");
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        api: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        handle,
    }
}

impl TestApp {
    /// Stops the server (in-flight requests finish) and hands back the database.
    pub async fn stop(self) -> TestDb {
        self.handle.stop(true).await;
        self.db
    }

    /// A full URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs in through the API and returns the response.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.api
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    /// A bearer token for a demo account (`admin`, `hr`, `trainer`, `learner`, `platform`).
    pub async fn token(&self, who: &str) -> String {
        self.token_for(&format!("{who}@demo.test"), DEMO_PASSWORD)
            .await
    }

    /// A bearer token for any account.
    pub async fn token_for(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        let body: Value = response.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// GET with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.api
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    /// A request with a JSON body and a bearer token.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Response {
        self.api
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// POST a raw body with a content type (and a bearer token when given).
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self
            .api
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// POST JSON with a bearer token.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    /// The id of a user by email, as the admin API lists them.
    pub async fn user_id(&self, admin_token: &str, email: &str) -> i64 {
        let body: Value = self
            .get(&format!("/api/v1/users?q={email}"), admin_token)
            .await
            .json()
            .await
            .expect("users json");
        body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|u| u["email"] == email))
            .and_then(|u| u["id"].as_i64())
            .unwrap_or_else(|| panic!("no user {email}"))
    }
}

/// Reads a JSON body, failing the test with the status and text when it is not JSON.
pub async fn json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}, not JSON: {text}"))
}

/// The field names of a validation problem.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
