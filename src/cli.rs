//! The sub-commands: serve, migrate, and production set-up of organizations and users.
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Context};

use crate::auth::model::{parse_language, parse_roles, DisplayName, Email, Password, Role, Slug};
use crate::auth::password::PasswordHasher;
use crate::auth::seed::{self, DEMO_ACCOUNTS};
use crate::auth::service::{self, NewOrganization, NewUser};
use crate::config::{Command, OrgCommand, Settings, UserCommand};
use crate::startup::Application;
use crate::{db, error::FieldIssue};

fn field_error(issue: FieldIssue) -> anyhow::Error {
    anyhow!(
        "--{}: {}",
        issue.field.replace('_', "-"),
        issue.message.render(crate::i18n::Lang::En)
    )
}

/// Runs a command (serve when none is given).
pub async fn run(command: Option<Command>, settings: Settings) -> anyhow::Result<()> {
    match command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            seed::ensure_platform(&conn).await?;
            println!("migrations applied ({})", settings.database_kind());
            Ok(())
        }
        Command::Org { command } => org(command, settings).await,
        Command::User { command } => user(command, settings).await,
        Command::Outbox { status, limit } => outbox(status, limit, settings).await,
        Command::Verify {
            file,
            jwks,
            status,
            issuer,
            json,
        } => {
            verify(
                &file,
                VerifySources {
                    jwks: jwks.as_deref(),
                    status: status.as_deref(),
                    issuer: issuer.as_deref(),
                },
                json,
            )
            .await
        }
        Command::RotateKey { org } => rotate_key(&org, settings).await,
        Command::Backup { file } => crate::backup::backup(&settings, &file).await,
        Command::Restore { file } => crate::backup::restore(&settings, &file).await,
        Command::ImportContent { dir, force } => import_content(dir, force, settings).await,
        Command::ExportContent { dir, courses, org } => {
            export_content(dir, courses, org, settings).await
        }
        Command::CatalogIndex { dir } => {
            let dir = dir
                .or_else(|| settings.content_dir.clone())
                .unwrap_or_else(|| std::path::PathBuf::from("./course-content"));
            match crate::catalog::content::load(&dir) {
                Ok(catalog) => {
                    print!("{}", crate::catalog::content::index_markdown(&catalog));
                    Ok(())
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{e}");
                    }
                    bail!("{} problem(s) in {}", errors.len(), dir.display())
                }
            }
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings.clone()).await?;
    let report = app.seed_report();
    let public_url = app.state().settings.public_url.clone();
    tracing::info!(
        bind = %settings.bind,
        port = app.port(),
        database = settings.database_kind(),
        %public_url,
        "talentcert is listening"
    );
    let host = settings
        .bind
        .rsplit_once(':')
        .map_or("127.0.0.1", |(host, _)| host);
    // The banner is for people: with JSON logs, standard output carries only log lines, and the
    // banner goes to standard error.
    let json_logs = settings.log_format == crate::config::LogFormat::Json;
    macro_rules! say {
        ($($arg:tt)*) => {
            if json_logs {
                eprintln!($($arg)*)
            } else {
                println!($($arg)*)
            }
        };
    }
    say!("talentcert is listening on {host}:{}", app.port());
    say!("Open {public_url} in a browser.");
    if report.demo_present {
        say!("Demo accounts:");
        for (email, _, on_platform, roles) in DEMO_ACCOUNTS {
            let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            let org = if *on_platform {
                "platform"
            } else {
                "Demo Retail Co."
            };
            say!("  {email:<22} {:<16} {org}", roles.join(", "));
        }
        match (&report.demo_password, report.demo_created) {
            (Some(password), true) if settings.demo_password.is_none() => say!(
                "  password: {password}   (generated now and shown only once; set TALENTCERT_DEMO_PASSWORD to choose it)"
            ),
            (Some(password), _) => say!("  password: {password}"),
            (None, _) => say!(
                "  password: the one printed at first start (or the TALENTCERT_DEMO_PASSWORD of that start)"
            ),
        }
    }
    let _ = std::io::stdout().flush();
    app.run_until_stopped()
        .await
        .context("the server stopped with an error")
}

fn read_password() -> anyhow::Result<Password> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is shown): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    Password::parse("password", password).map_err(field_error)
}

async fn org(command: OrgCommand, settings: Settings) -> anyhow::Result<()> {
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    seed::ensure_platform(&conn).await?;
    match command {
        OrgCommand::List => {
            for org in service::list_organizations(&conn).await? {
                let platform = if org.is_platform { " (platform)" } else { "" };
                println!("{:>5}  {:<24} {}{platform}", org.id, org.slug, org.name);
            }
            Ok(())
        }
        OrgCommand::Create {
            name,
            slug,
            admin_email,
            admin_name,
            admin_password_stdin,
        } => {
            let hasher = PasswordHasher::new(1)?;
            let password_hash = if admin_password_stdin {
                let password = read_password()?;
                Some(
                    hasher
                        .hash(password.expose())
                        .await
                        .map_err(|e| anyhow!("{e:?}"))?,
                )
            } else {
                None
            };
            let new = NewOrganization {
                name: DisplayName::parse("name", &name).map_err(field_error)?,
                slug: Slug::parse("slug", &slug).map_err(field_error)?,
                admin: NewUser {
                    email: Email::parse("admin_email", &admin_email).map_err(field_error)?,
                    display_name: DisplayName::parse("admin_name", &admin_name)
                        .map_err(field_error)?,
                    language: crate::i18n::Lang::En,
                    roles: vec![Role::Admin],
                    password_hash,
                },
            };
            let templates = crate::templates::Templates::load()?;
            let mailer = crate::notify::Mailer::new(templates, &settings.public_url);
            let inviting = service::Inviting {
                mailer: &mailer,
                inviter: None,
                days: settings.invitation_days,
            };
            let (org, admin) = service::create_organization(&conn, None, new, inviting)
                .await
                .map_err(|e| anyhow!("{}", e.problem(crate::i18n::Lang::En).detail))?;
            println!(
                "created organization {} ({}) with admin {} [{}]",
                org.slug, org.id, admin.email, admin.status
            );
            Ok(())
        }
    }
}

async fn user(command: UserCommand, settings: Settings) -> anyhow::Result<()> {
    let UserCommand::Create {
        org,
        email,
        name,
        roles,
        language,
    } = command;
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    seed::ensure_platform(&conn).await?;
    let Some(organization) = service::organization_by_slug(&conn, &org).await? else {
        bail!("no organization has the slug {org:?} (see `talentcert org list`)");
    };
    let email = Email::parse("email", &email).map_err(field_error)?;
    let default_name = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let display_name = DisplayName::parse("name", name.as_deref().unwrap_or(&default_name))
        .map_err(field_error)?;
    let roles = parse_roles("role", &roles).map_err(field_error)?;
    let language = parse_language("language", &language).map_err(field_error)?;
    let password = read_password()?;
    let hasher = PasswordHasher::new(1)?;
    let password_hash = Some(
        hasher
            .hash(password.expose())
            .await
            .map_err(|e| anyhow!("{e:?}"))?,
    );
    let new = NewUser {
        email,
        display_name,
        language,
        roles,
        password_hash,
    };
    let txn = db::begin_write(&conn).await?;
    let created = service::insert_user(&txn, organization.id, &new)
        .await
        .map_err(|e| anyhow!("{}", e.problem(crate::i18n::Lang::En).detail))?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(organization.id),
            action: "user.created",
            target_type: "user",
            target_id: Some(created.id.to_string()),
            after: Some(
                serde_json::json!({ "email": created.email, "roles": new.roles, "via": "cli" }),
            ),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    println!(
        "created user {} ({}) in {}",
        created.email, created.id, organization.slug
    );
    Ok(())
}

async fn outbox(status: Option<String>, limit: u64, settings: Settings) -> anyhow::Result<()> {
    use crate::notify::service::{self as outbox, OutboxFilter, STATUSES};
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            bail!("--status must be one of {}", STATUSES.join(", "));
        }
    }
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    let counts = outbox::counts(&conn, None).await?;
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("outbox: {}", summary.join(", "));
    let filter = OutboxFilter {
        status,
        limit: limit.clamp(1, 10_000),
        offset: 0,
    };
    let (rows, _) = outbox::list(&conn, None, &filter).await?;
    for m in rows {
        println!(
            "{:>6}  {:<7} {:>2}x  {}  {:<30}  {}",
            m.id,
            m.status,
            m.attempts,
            m.created_at.format("%Y-%m-%d %H:%M"),
            m.to_address,
            m.subject
        );
        if let Some(err) = m.last_error.filter(|_| m.status != "sent") {
            println!("        last error: {err}");
        }
    }
    Ok(())
}

async fn import_content(
    dir: Option<std::path::PathBuf>,
    force: bool,
    settings: Settings,
) -> anyhow::Result<()> {
    use crate::catalog::import::{import_dir, ImportError, ImportOptions};
    let dir = dir
        .or_else(|| settings.content_dir.clone())
        .unwrap_or_else(|| std::path::PathBuf::from("./course-content"));
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    seed::ensure_platform(&conn).await?;
    let terminal = std::io::stdout().is_terminal();
    let mut progress = |done: usize, total: usize, what: &str| {
        if terminal && total > 0 {
            let width = 30;
            let filled = done * width / total;
            print!(
                "\r[{}{}] {done}/{total} {what:<16}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = std::io::stdout().flush();
        }
    };
    match import_dir(&conn, &dir, ImportOptions { force }, &mut progress).await {
        Ok(summary) => {
            if terminal {
                println!();
            }
            if summary.skipped {
                println!(
                    "{}: unchanged since the last import; nothing written",
                    dir.display()
                );
                return Ok(());
            }
            println!(
                "courses: {} created, {} updated, {} unchanged; questions: {} new, {} revised, {} retired; certifications: {} created, {} updated, {} unchanged",
                summary.courses_created,
                summary.courses_updated,
                summary.courses_unchanged,
                summary.questions_created,
                summary.questions_revised,
                summary.questions_retired,
                summary.certifications_created,
                summary.certifications_updated,
                summary.certifications_unchanged,
            );
            if !summary.conflicts.is_empty() {
                bail!(
                    "{} course(s) were edited in the pages since their last import and were left as they are: {} (run again with --force to replace them)",
                    summary.conflicts.len(),
                    summary.conflicts.join(", ")
                );
            }
            Ok(())
        }
        Err(ImportError::Content(errors)) => {
            if terminal {
                println!();
            }
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{} problem(s) in {}; nothing was imported",
                errors.len(),
                dir.display()
            )
        }
        Err(other) => Err(anyhow!("{other}")),
    }
}

async fn export_content(
    dir: Option<std::path::PathBuf>,
    codes: Vec<String>,
    org: String,
    settings: Settings,
) -> anyhow::Result<()> {
    use crate::catalog::entities::course;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let dir = dir
        .or_else(|| settings.content_dir.clone())
        .unwrap_or_else(|| std::path::PathBuf::from("./course-content"));
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    let Some(organization) = service::organization_by_slug(&conn, &org).await? else {
        bail!("no organization has the slug {org:?}");
    };
    let mut query = course::Entity::find().filter(course::Column::OrgId.eq(organization.id));
    query = if codes.is_empty() {
        query.filter(course::Column::EditedAt.is_not_null())
    } else {
        query.filter(course::Column::Code.is_in(codes.clone()))
    };
    let found = query.order_by_asc(course::Column::Code).all(&conn).await?;
    for code in &codes {
        if !found.iter().any(|c| &c.code == code) {
            bail!("{org} has no course {code:?}");
        }
    }
    if found.is_empty() {
        println!("no course was edited since its last import; nothing to export");
    }
    for c in &found {
        let folder = crate::catalog::export::export_course(&conn, c, &dir).await?;
        println!("wrote {}", folder.display());
    }
    Ok(())
}

/// Reads a file, or fetches a URL (http or https).
async fn read_source(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = source.to_string();
        tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let mut response = ureq::get(&url)
                .call()
                .with_context(|| format!("cannot fetch {url}"))?;
            response
                .body_mut()
                .with_config()
                .limit(4 * 1024 * 1024)
                .read_to_string()
                .with_context(|| format!("cannot read {url}"))
        })
        .await?
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
    }
}

/// Where `talentcert verify` takes its trust from.
struct VerifySources<'a> {
    jwks: Option<&'a str>,
    status: Option<&'a str>,
    issuer: Option<&'a str>,
}

/// Whether a credential's issuer is the one expected: the same origin, or the same issuer URL.
fn issuer_matches(iss: &str, expected: &str) -> bool {
    let expected = expected.trim_end_matches('/');
    iss == expected || iss.starts_with(&format!("{expected}/issuers/"))
}

/// `talentcert verify`: the API's checks, with nothing but the published keys. The report names
/// the issuer whose keys signed it and what the certificate says (holder, achievement, dates),
/// so a reader can compare it with the printed PDF; `--issuer` makes any other issuer invalid.
async fn verify(
    file: &std::path::Path,
    sources: VerifySources<'_>,
    json_out: bool,
) -> anyhow::Result<()> {
    let VerifySources {
        jwks,
        status,
        issuer: expected_issuer,
    } = sources;
    use crate::certificates::{credential, pdf};
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut checks = Vec::new();
    let token = if bytes.starts_with(b"%PDF") {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        match pdf::attached_credential(&bytes) {
            Some(token) => {
                checks.push(credential::Check::new(
                    "credential",
                    true,
                    format!("the PDF (SHA-256 {sha}) carries a credential"),
                ));
                token
            }
            None => bail!("{} is a PDF without an attached credential", file.display()),
        }
    } else {
        String::from_utf8(bytes)
            .map_err(|_| anyhow!("{} is neither a PDF nor a credential", file.display()))?
            .trim()
            .to_string()
    };
    // Where the keys and the status list come from: as given, else from the credential itself
    // (unverified until the signature checks out with those keys).
    let claimed: serde_json::Value = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let jwks_source = match jwks {
        Some(s) => s.to_string(),
        None => {
            let issuer = claimed["iss"].as_str().unwrap_or_default();
            let origin = issuer.split("/issuers/").next().unwrap_or_default();
            if origin.is_empty() {
                bail!("the credential names no issuer: pass --jwks FILE|URL");
            }
            format!("{origin}/.well-known/jwks.json")
        }
    };
    let keys: serde_json::Value = serde_json::from_str(&read_source(&jwks_source).await?)
        .with_context(|| format!("{jwks_source} is not a JWK set"))?;
    let online = jwks_source.starts_with("http");
    let status_source = status.map(str::to_string).or_else(|| {
        online
            .then(|| {
                claimed["credentialStatus"]["statusListCredential"]
                    .as_str()
                    .map(str::to_string)
            })
            .flatten()
    });
    let list = match status_source {
        Some(source) => Some(read_source(&source).await?),
        None => None,
    };
    let (mut verdict, more) =
        credential::verify_standalone(&token, &keys, list.as_deref(), chrono::Utc::now());
    checks.extend(more);
    let iss = claimed["iss"].as_str().unwrap_or_default().to_string();
    match expected_issuer {
        Some(expected) if issuer_matches(&iss, expected) => checks.push(credential::Check::new(
            "issuer",
            true,
            format!("issued by {iss}, the issuer expected"),
        )),
        Some(expected) => {
            checks.push(credential::Check::new(
                "issuer",
                false,
                format!("issued by {iss}, not by {expected}"),
            ));
            verdict = "invalid".into();
        }
        None => checks.push(credential::Check::new(
            "issuer",
            true,
            format!(
                "signed with the keys at {jwks_source} for issuer {iss}; pass --issuer to require the one you expect"
            ),
        )),
    }
    // What the certificate says, to compare with the printed PDF (a verified signature covers
    // exactly these values).
    let subject = &claimed["credentialSubject"];
    let about = serde_json::json!({
        "issuer": iss,
        "issuer_name": claimed["issuer"]["name"],
        "holder": subject["identifier"][0]["identityHash"],
        "achievement": subject["achievement"]["name"],
        "valid_from": claimed["validFrom"],
        "valid_until": claimed["validUntil"],
    });
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"status": verdict, "checks": checks, "certificate": about})
            )?
        );
    } else {
        println!("{}: {verdict}", file.display());
        for (label, value) in [
            ("holder", &about["holder"]),
            ("achievement", &about["achievement"]),
            ("issuer", &about["issuer_name"]),
            ("valid from", &about["valid_from"]),
            ("valid until", &about["valid_until"]),
        ] {
            if let Some(v) = value.as_str() {
                println!("  {label}: {v}");
            }
        }
        for c in &checks {
            println!(
                "  [{}] {}: {}",
                if c.passed { "ok" } else { "--" },
                c.name,
                c.detail
            );
        }
    }
    if verdict == "valid" {
        Ok(())
    } else {
        Err(anyhow!("the certificate is not valid ({verdict})"))
    }
}

/// `talentcert rotate-key`.
async fn rotate_key(org: &str, settings: Settings) -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    let org = crate::auth::entities::organization::Entity::find()
        .filter(crate::auth::entities::organization::Column::Slug.eq(org))
        .one(&conn)
        .await?
        .ok_or_else(|| anyhow!("no organization with the slug {org}"))?;
    let txn = db::begin_write(&conn).await?;
    let retired = crate::certificates::keys::rotate(&txn, org.id).await?;
    let new = crate::certificates::keys::active(&txn, org.id).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(org.id),
            action: "signing_key.rotated",
            target_type: "signing_key",
            target_id: Some(new.kid.clone()),
            before: retired.as_ref().map(|kid| serde_json::json!({"kid": kid})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    match retired {
        Some(kid) => println!("retired key {kid} of {}; new key {}", org.slug, new.kid),
        None => println!("{} had no key; created {}", org.slug, new.kid),
    }
    Ok(())
}
