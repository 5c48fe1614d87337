//! Configuration: command-line flags, then environment variables, then an optional
//! `talentcert.toml`, then defaults. This is the only module that reads the environment.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// talentcert: talent certification and learning management for private-domain operations teams.
///
/// With no sub-command, `serve` runs. Every setting can be given as a flag, as the environment
/// variable shown, or as a key of `talentcert.toml` (the flag's name with underscores).
#[derive(Debug, Parser)]
#[command(name = "talentcert", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import the course catalog from its files (all or nothing; unchanged files write nothing).
    ImportContent {
        /// The content directory. Default: $TALENTCERT_CONTENT_DIR or ./course-content.
        dir: Option<PathBuf>,
        /// Replace courses edited in the pages since their last import.
        #[arg(long)]
        force: bool,
    },
    /// Write courses back to the file layout (page edits become reviewable files).
    ExportContent {
        /// The content directory to write into. Default: $TALENTCERT_CONTENT_DIR or ./course-content.
        dir: Option<PathBuf>,
        /// Only this course code (repeatable). Default: every course edited since its last import.
        #[arg(long = "course")]
        courses: Vec<String>,
        /// The organization whose courses to export. Default: platform.
        #[arg(long, default_value = "platform")]
        org: String,
    },
    /// Print the catalog listing (Markdown) for course-content/README.md.
    CatalogIndex {
        /// The content directory. Default: $TALENTCERT_CONTENT_DIR or ./course-content.
        dir: Option<PathBuf>,
    },
    /// Check a certificate PDF or credential JWT offline: signature with the issuers' published
    /// keys, claims, dates and (when reachable) revocation. Exit status 0 only when valid.
    Verify {
        /// A certificate PDF or a credential (compact JWS) file.
        file: PathBuf,
        /// The issuers' keys: a JWK set file or URL. Default: /.well-known/jwks.json of the
        /// credential's issuer.
        #[arg(long)]
        jwks: Option<String>,
        /// The status list credential: a file or URL. Default: the credential's
        /// statusListCredential, when the keys came from a URL.
        #[arg(long)]
        status: Option<String>,
        /// The issuer you expect (its origin, e.g. https://certs.example.com, or an issuer
        /// URL). A credential from any other issuer is reported invalid. Without it the report
        /// names the issuer whose keys were used, and you judge whether to trust it.
        #[arg(long)]
        issuer: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retire an issuer's signing key; the next certificate is signed with a new one. The
    /// retired key stays published, so earlier certificates still verify.
    RotateKey {
        /// The issuing organization. Default: platform.
        #[arg(long, default_value = "platform")]
        org: String,
    },
    /// Write a consistent copy of the SQLite database to a new file, while the service runs.
    /// (PostgreSQL: use pg_dump, see the README.)
    Backup {
        /// The file to write; it must not exist yet.
        file: PathBuf,
    },
    /// Replace the SQLite database with a backup. Stop the service first: a database in use is
    /// refused. The backup is checked (integrity, talentcert's schema) before anything changes.
    Restore {
        /// A file written by `talentcert backup`.
        file: PathBuf,
    },
    /// List the email outbox (newest first).
    Outbox {
        /// Only messages in this status: queued, sending, sent or dead.
        #[arg(long)]
        status: Option<String>,
        /// At most this many messages.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

/// Organization commands.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization with its first admin.
    Create {
        /// The organization's name, e.g. "Acme Retail".
        #[arg(long)]
        name: String,
        /// Short identifier used in URLs and the CLI (lowercase letters, digits, hyphens).
        #[arg(long)]
        slug: String,
        /// Email of the first admin.
        #[arg(long)]
        admin_email: String,
        /// Display name of the first admin.
        #[arg(long)]
        admin_name: String,
        /// Read the admin's password from standard input; without it the admin waits for an invitation.
        #[arg(long)]
        admin_password_stdin: bool,
    },
    /// List organizations.
    List,
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (one line).
    Create {
        /// The organization's slug (`platform` for the platform organization).
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Display name; defaults to the part of the email before `@`.
        #[arg(long)]
        name: Option<String>,
        /// A role to grant (repeatable): learner, hr, trainer, admin.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Preferred language: en or zh-CN.
        #[arg(long, default_value = "en")]
        language: String,
    },
}

/// Settings shared by every command.
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsArgs {
    /// Configuration file (TOML). Default: ./talentcert.toml when it exists.
    #[arg(long, env = "TALENTCERT_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on. Default: 127.0.0.1:8080.
    #[arg(long, env = "TALENTCERT_BIND", global = true)]
    pub bind: Option<String>,
    /// Database URL (postgres://... or sqlite://...). Default: SQLite at $TALENTCERT_DATA_DIR/talentcert.db.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the embedded database and other data. Default: ./data.
    #[arg(long, env = "TALENTCERT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The URL people reach the service at, used in emails and QR codes. Default: http://<bind>.
    #[arg(long, env = "TALENTCERT_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Secret for signing access tokens (at least 32 bytes). Default: generated once and stored in the database.
    #[arg(
        long,
        env = "TALENTCERT_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// Create the demo organization and accounts on first start. Default: true.
    #[arg(long, env = "TALENTCERT_DEMO", global = true)]
    pub demo: Option<bool>,
    /// Same as --demo false.
    #[arg(long, global = true)]
    #[serde(skip)]
    pub no_demo: bool,
    /// Password of the demo accounts. Default: a random one, printed once when they are created.
    #[arg(
        long,
        env = "TALENTCERT_DEMO_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub demo_password: Option<String>,
    /// SMTP server in lettre's URL form, e.g. smtp://127.0.0.1:2525. Default: unset (mail stays queued).
    #[arg(
        long,
        env = "TALENTCERT_SMTP_URL",
        global = true,
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,
    /// Sender address of outgoing mail. Default: talentcert <no-reply@localhost>.
    #[arg(long, env = "TALENTCERT_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Lifetime of an API access token in seconds. Default: 28800 (8 hours).
    #[arg(long, env = "TALENTCERT_TOKEN_TTL_SECONDS", global = true)]
    pub token_ttl_seconds: Option<i64>,
    /// A browser session ends after this many minutes without use. Default: 720 (12 hours).
    #[arg(long, env = "TALENTCERT_SESSION_IDLE_MINUTES", global = true)]
    pub session_idle_minutes: Option<i64>,
    /// Largest accepted request body in bytes. Default: 1048576 (1 MiB).
    #[arg(long, env = "TALENTCERT_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<usize>,
    /// The shipped catalog's files, imported at start when they changed. Default: ./course-content.
    #[arg(long, env = "TALENTCERT_CONTENT_DIR", global = true)]
    pub content_dir: Option<PathBuf>,
    /// Days an invitation link stays valid. Default: 7.
    #[arg(long, env = "TALENTCERT_INVITATION_DAYS", global = true)]
    pub invitation_days: Option<i64>,
    /// Delivery attempts before a message is marked dead. Default: 10.
    #[arg(long, env = "TALENTCERT_MAIL_MAX_ATTEMPTS", global = true)]
    pub mail_max_attempts: Option<i32>,
    /// First retry delay in seconds; doubles each attempt (with jitter), at most one hour. Default: 30.
    #[arg(long, env = "TALENTCERT_MAIL_RETRY_SECONDS", global = true)]
    pub mail_retry_seconds: Option<i64>,
    /// How often the outbox is polled, in milliseconds. Default: 2000.
    #[arg(long, env = "TALENTCERT_MAIL_POLL_MS", global = true)]
    pub mail_poll_ms: Option<u64>,
    /// How long a claimed message is reserved for one instance before another may retry it, in seconds. Default: 120.
    #[arg(long, env = "TALENTCERT_MAIL_LEASE_SECONDS", global = true)]
    pub mail_lease_seconds: Option<i64>,
    /// Log format: text or json. Default: text. Levels come from RUST_LOG (default info).
    #[arg(long, env = "TALENTCERT_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Number of HTTP worker threads. Default: the number of cores.
    #[arg(long, env = "TALENTCERT_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Failed sign-ins of one account before it is slowed down (doubling delays from 30 s). Default: 5.
    #[arg(long, env = "TALENTCERT_LOGIN_ACCOUNT_FAILURES", global = true)]
    pub login_account_failures: Option<i32>,
    /// Failed sign-ins from one address per 15 minutes before it is slowed down. Default: 50.
    #[arg(long, env = "TALENTCERT_LOGIN_ADDRESS_FAILURES", global = true)]
    pub login_address_failures: Option<i32>,
    /// Public certificate verifications a client (IP address) may make per minute; 0 turns the limit off. Default: 60.
    #[arg(long, env = "TALENTCERT_VERIFY_RATE_LIMIT", global = true)]
    pub verify_rate_limit: Option<u32>,
    /// Reverse proxies whose X-Forwarded-For is believed: addresses or CIDR ranges, comma separated (e.g. 10.0.0.0/8,127.0.0.1). Default: none (the peer's address is the client's).
    #[arg(long, env = "TALENTCERT_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// How often each instance pushes xAPI statements to the organizations' LRSs, in milliseconds. Default: 5000.
    #[arg(long, env = "TALENTCERT_XAPI_POLL_MS", global = true)]
    pub xapi_poll_ms: Option<u64>,
    /// First retry delay of a failed xAPI push in seconds; doubles each attempt, at most an hour. Default: 30.
    #[arg(long, env = "TALENTCERT_XAPI_RETRY_SECONDS", global = true)]
    pub xapi_retry_seconds: Option<i64>,
    /// Push attempts before a statement is marked dead. Default: 10.
    #[arg(long, env = "TALENTCERT_XAPI_MAX_ATTEMPTS", global = true)]
    pub xapi_max_attempts: Option<i32>,
    /// How often each instance grades the attempts whose time is over, in seconds. Default: 30.
    #[arg(long, env = "TALENTCERT_SWEEP_SECONDS", global = true)]
    pub sweep_seconds: Option<u64>,
    /// A bearer token that scrapers of /metrics must send. Default: unset (/metrics is public).
    #[arg(
        long,
        env = "TALENTCERT_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    /// The embedded default: a SQLite file (WAL mode).
    Sqlite { path: PathBuf },
    /// A server database (PostgreSQL).
    Url(String),
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Parses `TALENTCERT_TRUSTED_PROXIES`: addresses (one host each) and CIDR ranges, comma separated.
fn parse_proxies(list: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "TALENTCERT_TRUSTED_PROXIES: {entry:?} is neither an IP address nor a CIDR range"
                    )
                })
        })
        .collect()
}

/// Resolved, validated settings.
#[derive(Clone)]
pub struct Settings {
    pub bind: String,
    pub database: DatabaseSettings,
    pub data_dir: PathBuf,
    pub public_url: String,
    /// Whether the public URL was configured (else it follows the address actually bound).
    pub public_url_configured: bool,
    pub jwt_secret: Option<String>,
    pub demo: bool,
    pub demo_password: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub token_ttl_seconds: i64,
    /// Verifications per client per minute (0: no limit).
    pub verify_rate_limit: u32,
    /// Failed sign-ins tolerated per account and per address.
    pub login_throttle: crate::auth::service::ThrottleLimits,
    pub session_idle_minutes: i64,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    pub workers: usize,
    pub invitation_days: i64,
    pub mail: MailSettings,
    /// None: no catalog import at start.
    pub content_dir: Option<PathBuf>,
    /// None: `/metrics` is public.
    pub metrics_token: Option<String>,
    /// Seconds between two sweeps of attempts whose time is over.
    pub sweep_seconds: u64,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How statements are pushed to LRSs.
    pub xapi: crate::xapi::lrs::PushSettings,
}

/// How the outbox delivers.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub max_attempts: i32,
    pub retry_seconds: i64,
    pub poll_ms: u64,
    pub lease_seconds: i64,
}

impl std::fmt::Debug for Settings {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database", &self.database_kind())
            .field("public_url", &self.public_url)
            .field("demo", &self.demo)
            .field("smtp", &self.smtp_url.is_some())
            .finish_non_exhaustive()
    }
}

/// The shortest accepted configured signing secret.
pub const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Merges flags and environment (already in `args` through clap) over the optional file.
    pub fn resolve(args: SettingsArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => Some(read_file(path)?),
            None if Path::new("talentcert.toml").exists() => {
                Some(read_file(Path::new("talentcert.toml"))?)
            }
            None => None,
        }
        .unwrap_or_default();
        let no_demo = args.no_demo;
        let merged = SettingsArgs {
            config: None,
            bind: args.bind.or(file.bind),
            database_url: args.database_url.or(file.database_url),
            data_dir: args.data_dir.or(file.data_dir),
            public_url: args.public_url.or(file.public_url),
            jwt_secret: args.jwt_secret.or(file.jwt_secret),
            demo: args.demo.or(file.demo),
            no_demo,
            demo_password: args.demo_password.or(file.demo_password),
            smtp_url: args.smtp_url.or(file.smtp_url),
            mail_from: args.mail_from.or(file.mail_from),
            token_ttl_seconds: args.token_ttl_seconds.or(file.token_ttl_seconds),
            verify_rate_limit: args.verify_rate_limit.or(file.verify_rate_limit),
            metrics_token: args.metrics_token.or(file.metrics_token),
            sweep_seconds: args.sweep_seconds.or(file.sweep_seconds),
            trusted_proxies: args.trusted_proxies.or(file.trusted_proxies),
            xapi_poll_ms: args.xapi_poll_ms.or(file.xapi_poll_ms),
            xapi_retry_seconds: args.xapi_retry_seconds.or(file.xapi_retry_seconds),
            xapi_max_attempts: args.xapi_max_attempts.or(file.xapi_max_attempts),
            login_account_failures: args.login_account_failures.or(file.login_account_failures),
            login_address_failures: args.login_address_failures.or(file.login_address_failures),
            session_idle_minutes: args.session_idle_minutes.or(file.session_idle_minutes),
            max_body_bytes: args.max_body_bytes.or(file.max_body_bytes),
            log_format: args.log_format.or(file.log_format),
            workers: args.workers.or(file.workers),
            invitation_days: args.invitation_days.or(file.invitation_days),
            content_dir: args.content_dir.or(file.content_dir),
            mail_max_attempts: args.mail_max_attempts.or(file.mail_max_attempts),
            mail_retry_seconds: args.mail_retry_seconds.or(file.mail_retry_seconds),
            mail_poll_ms: args.mail_poll_ms.or(file.mail_poll_ms),
            mail_lease_seconds: args.mail_lease_seconds.or(file.mail_lease_seconds),
        };
        Settings::from_merged(merged)
    }

    fn from_merged(m: SettingsArgs) -> anyhow::Result<Settings> {
        let bind = m.bind.unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let data_dir = m.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database = match m.database_url.filter(|u| !u.trim().is_empty()) {
            None => DatabaseSettings::Sqlite {
                path: data_dir.join("talentcert.db"),
            },
            Some(url) => DatabaseSettings::Url(url),
        };
        let public_url_configured = m.public_url.is_some();
        let public_url = m
            .public_url
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("TALENTCERT_PUBLIC_URL must start with http:// or https:// (got {public_url:?})");
        }
        let jwt_secret = m.jwt_secret.filter(|s| !s.is_empty());
        if let Some(secret) = &jwt_secret {
            if secret.len() < MIN_SECRET_BYTES {
                bail!(
                    "TALENTCERT_JWT_SECRET is {} bytes long; it must be at least {MIN_SECRET_BYTES} bytes \
                     (or leave it unset to have one generated and stored in the database)",
                    secret.len()
                );
            }
        }
        let demo_password = m.demo_password.filter(|p| !p.is_empty());
        if let Some(p) = &demo_password {
            if p.chars().count() < 8 {
                bail!("TALENTCERT_DEMO_PASSWORD must be at least 8 characters long");
            }
        }
        let token_ttl_seconds = m.token_ttl_seconds.unwrap_or(8 * 3600);
        if !(60..=30 * 86400).contains(&token_ttl_seconds) {
            bail!("TALENTCERT_TOKEN_TTL_SECONDS must be between 60 and 2592000");
        }
        let session_idle_minutes = m.session_idle_minutes.unwrap_or(720);
        // Sessions must outlive the longest exam plus its grace period (exams are at most 8 hours).
        if !(480..=43200).contains(&session_idle_minutes) {
            bail!("TALENTCERT_SESSION_IDLE_MINUTES must be between 480 and 43200");
        }
        let max_body_bytes = m.max_body_bytes.unwrap_or(1024 * 1024);
        if max_body_bytes < 1024 {
            bail!("TALENTCERT_MAX_BODY_BYTES must be at least 1024");
        }
        let log_format = match m.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("TALENTCERT_LOG_FORMAT must be text or json (got {other:?})"),
        };
        let invitation_days = m.invitation_days.unwrap_or(7);
        if !(1..=90).contains(&invitation_days) {
            bail!("TALENTCERT_INVITATION_DAYS must be between 1 and 90");
        }
        let mail = MailSettings {
            max_attempts: m.mail_max_attempts.unwrap_or(10),
            retry_seconds: m.mail_retry_seconds.unwrap_or(30),
            poll_ms: m.mail_poll_ms.unwrap_or(2000),
            lease_seconds: m.mail_lease_seconds.unwrap_or(120),
        };
        if !(1..=100).contains(&mail.max_attempts) {
            bail!("TALENTCERT_MAIL_MAX_ATTEMPTS must be between 1 and 100");
        }
        if !(1..=3600).contains(&mail.retry_seconds) || !(1..=3600).contains(&mail.lease_seconds) {
            bail!("TALENTCERT_MAIL_RETRY_SECONDS and TALENTCERT_MAIL_LEASE_SECONDS must be between 1 and 3600");
        }
        if !(10..=600_000).contains(&mail.poll_ms) {
            bail!("TALENTCERT_MAIL_POLL_MS must be between 10 and 600000");
        }
        let trusted_proxies = parse_proxies(m.trusted_proxies.as_deref().unwrap_or_default())?;
        let xapi = crate::xapi::lrs::PushSettings {
            poll: std::time::Duration::from_millis(m.xapi_poll_ms.unwrap_or(5000)),
            retry_seconds: m.xapi_retry_seconds.unwrap_or(30),
            max_attempts: m.xapi_max_attempts.unwrap_or(10),
        };
        if !(10..=600_000).contains(&xapi.poll.as_millis())
            || !(1..=3600).contains(&xapi.retry_seconds)
            || !(1..=100).contains(&xapi.max_attempts)
        {
            bail!("TALENTCERT_XAPI_POLL_MS must be 10-600000, TALENTCERT_XAPI_RETRY_SECONDS 1-3600 and TALENTCERT_XAPI_MAX_ATTEMPTS 1-100");
        }
        let sweep_seconds = m.sweep_seconds.unwrap_or(30);
        if !(1..=3600).contains(&sweep_seconds) {
            bail!("TALENTCERT_SWEEP_SECONDS must be between 1 and 3600");
        }
        let mail_from = m
            .mail_from
            .unwrap_or_else(|| "talentcert <no-reply@localhost>".to_string());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("TALENTCERT_MAIL_FROM is not a valid address (got {mail_from:?}; e.g. \"talentcert <no-reply@example.com>\")");
        }
        if let Some(url) = m.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            if let Err(err) = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url) {
                bail!("TALENTCERT_SMTP_URL is not a valid SMTP URL: {err}");
            }
        }
        let login_throttle = crate::auth::service::ThrottleLimits {
            account_failures: m
                .login_account_failures
                .unwrap_or(crate::auth::service::ACCOUNT_FAILURES_ALLOWED),
            address_failures: m
                .login_address_failures
                .unwrap_or(crate::auth::service::ADDRESS_FAILURES_ALLOWED),
        };
        if !(1..=1_000_000).contains(&login_throttle.account_failures)
            || !(1..=1_000_000).contains(&login_throttle.address_failures)
        {
            bail!("TALENTCERT_LOGIN_ACCOUNT_FAILURES and TALENTCERT_LOGIN_ADDRESS_FAILURES must be between 1 and 1000000");
        }
        let workers = m
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        Ok(Settings {
            bind,
            database,
            data_dir,
            public_url,
            public_url_configured,
            jwt_secret,
            demo: !m.no_demo && m.demo.unwrap_or(true),
            demo_password,
            smtp_url: m.smtp_url.filter(|s| !s.is_empty()),
            mail_from,
            token_ttl_seconds,
            session_idle_minutes,
            max_body_bytes,
            log_format,
            workers,
            verify_rate_limit: m.verify_rate_limit.unwrap_or(60),
            login_throttle,
            invitation_days,
            mail,
            content_dir: Some(
                m.content_dir
                    .unwrap_or_else(|| PathBuf::from("./course-content")),
            ),
            metrics_token: m.metrics_token.filter(|t| !t.is_empty()),
            sweep_seconds,
            trusted_proxies,
            xapi,
        })
    }

    /// Settings for tests and tools: defaults, with the given database.
    pub fn for_database(database: DatabaseSettings) -> anyhow::Result<Settings> {
        let mut settings = Settings::from_merged(SettingsArgs::default())?;
        settings.database = database;
        Ok(settings)
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn database_kind(&self) -> &'static str {
        match &self.database {
            DatabaseSettings::Sqlite { .. } => "sqlite",
            DatabaseSettings::Url(u) if u.starts_with("sqlite") => "sqlite",
            DatabaseSettings::Url(_) => "postgres",
        }
    }

    /// Whether cookies must be marked `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

fn read_file(path: &Path) -> anyhow::Result<SettingsArgs> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("configuration file {} is invalid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(f: impl FnOnce(&mut SettingsArgs)) -> anyhow::Result<Settings> {
        let mut args = SettingsArgs::default();
        f(&mut args);
        Settings::from_merged(args)
    }

    #[test]
    fn defaults_match_the_design() -> anyhow::Result<()> {
        let s = merged(|_| {})?;
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert!(
            matches!(s.database, DatabaseSettings::Sqlite { ref path } if path.ends_with("talentcert.db"))
        );
        assert!(s.demo);
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        Ok(())
    }

    #[test]
    fn refuses_a_short_secret() {
        let err = merged(|a| a.jwt_secret = Some("short".into()));
        assert!(err.is_err());
        assert!(merged(|a| a.jwt_secret = Some("x".repeat(32))).is_ok());
    }

    #[test]
    fn no_demo_wins() -> anyhow::Result<()> {
        let s = merged(|a| {
            a.demo = Some(true);
            a.no_demo = true;
        })?;
        assert!(!s.demo);
        Ok(())
    }

    #[test]
    fn file_keys_parse() -> anyhow::Result<()> {
        let parsed: SettingsArgs = toml::from_str("bind = \"0.0.0.0:9000\"\ndemo = false\n")?;
        assert_eq!(parsed.bind.as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(parsed.demo, Some(false));
        assert!(toml::from_str::<SettingsArgs>("unknown = 1").is_err());
        Ok(())
    }
}
