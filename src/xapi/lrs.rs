//! Pushing an organization's statements to its own Learning Record Store (basic auth), through a
//! durable outbox.
//!
//! A relay reads the learning records (the same derivation as the export) and, in one
//! transaction, queues each new statement in `xapi_outbox` (at most once per statement id) and
//! moves its high-water mark. It re-reads the last five minutes each round, so a record whose
//! transaction committed late is still queued. A sender claims due rows with a lease, posts them
//! to `<endpoint>/statements` in batches, and marks them sent; failures retry with backoff and
//! end `dead` after the configured attempts. Delivery is at-least-once; statement ids are stable,
//! so an LRS keeps one copy of each.
use std::time::Duration;

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, FromQueryResult, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Admin, RequireRole};
use crate::error::{AppError, AppResult, FieldIssue, Msg, Problem};
use crate::startup::AppState;

/// How far back each relay round reads again, for records committed late.
const LOOKBACK_SECONDS: i64 = 300;
/// Statements per request to the LRS.
const BATCH: i64 = 50;

/// An organization's LRS.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lrs_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: i64,
        /// The LRS's xAPI base URL; statements go to `<endpoint>/statements`.
        pub endpoint: String,
        pub username: String,
        pub password: String,
        pub enabled: bool,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How the sender retries.
#[derive(Debug, Clone, Copy)]
pub struct PushSettings {
    pub poll: Duration,
    pub retry_seconds: i64,
    pub max_attempts: i32,
}

/// What an organization's LRS settings and queue look like (the password is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct LrsView {
    pub configured: bool,
    pub endpoint: Option<String>,
    pub username: Option<String>,
    pub enabled: bool,
    /// Statements by status: queued, sending, sent, dead.
    pub queue: std::collections::BTreeMap<String, i64>,
    /// The last delivery error, if the newest failed statement has one.
    pub last_error: Option<String>,
}

/// New LRS settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LrsInput {
    /// The LRS's xAPI base URL (http or https), e.g. `https://lrs.example.com/xapi`.
    pub endpoint: String,
    pub username: String,
    /// Required the first time; omit it to keep the stored one.
    pub password: Option<String>,
    pub enabled: bool,
}

async fn view(db: &DatabaseConnection, org_id: i64) -> AppResult<LrsView> {
    let settings = entity::Entity::find_by_id(org_id).one(db).await?;
    let backend = db.get_database_backend();
    let placeholder = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            format!("SELECT status, COUNT(*) AS n FROM xapi_outbox WHERE org_id = {placeholder} GROUP BY status"),
            [org_id.into()],
        ))
        .await?;
    let mut queue: std::collections::BTreeMap<String, i64> = ["queued", "sending", "sent", "dead"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for row in rows {
        let status: String = row.try_get("", "status")?;
        let n: i64 = row.try_get("", "n")?;
        queue.insert(status, n);
    }
    let last_error = db
        .query_one(Statement::from_sql_and_values(
            backend,
            format!("SELECT last_error FROM xapi_outbox WHERE org_id = {placeholder} AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1"),
            [org_id.into()],
        ))
        .await?
        .and_then(|row| row.try_get::<Option<String>>("", "last_error").ok().flatten());
    Ok(LrsView {
        configured: settings.is_some(),
        endpoint: settings.as_ref().map(|s| s.endpoint.clone()),
        username: settings.as_ref().map(|s| s.username.clone()),
        enabled: settings.as_ref().is_some_and(|s| s.enabled),
        queue,
        last_error,
    })
}

/// The organization's Learning Record Store settings and its push queue (admins).
#[utoipa::path(
    tag = "interop",
    responses((status = 200, body = LrsView), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/organization/lrs")]
pub async fn get_lrs(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(view(&state.db, admin.org_id).await?))
}

/// Sets where the organization's xAPI statements are pushed (admins; audited, without the
/// password). Once enabled, every learning record so far is queued, then each new one.
#[utoipa::path(
    tag = "interop",
    request_body = LrsInput,
    responses((status = 200, body = LrsView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/organization/lrs")]
pub async fn put_lrs(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    body: crate::web::ApiJson<LrsInput>,
) -> AppResult<HttpResponse> {
    let input = body.0;
    let mut issues = Vec::new();
    let endpoint = input.endpoint.trim().trim_end_matches('/').to_string();
    let url_ok = (endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        && endpoint.len() <= 500
        && !endpoint.contains(char::is_whitespace)
        && !endpoint
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .contains('@');
    if !url_ok {
        issues.push(FieldIssue::new(
            "endpoint",
            Msg::new("validation.lrs_endpoint"),
        ));
    }
    if input.username.trim().is_empty() || input.username.len() > 200 {
        issues.push(FieldIssue::new(
            "username",
            Msg::new("validation.length").arg("min", 1).arg("max", 200),
        ));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = entity::Entity::find_by_id(admin.org_id).one(&txn).await?;
    let password = match (&input.password, &existing) {
        (Some(p), _) if !p.is_empty() && p.len() <= 500 => p.clone(),
        (None, Some(e)) => e.password.clone(),
        _ => {
            issues.push(FieldIssue::new(
                "password",
                Msg::new("validation.length").arg("min", 1).arg("max", 500),
            ));
            String::new()
        }
    };
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let before = existing
        .as_ref()
        .map(|e| json!({"endpoint": e.endpoint, "username": e.username, "enabled": e.enabled}));
    let row = entity::ActiveModel {
        org_id: Set(admin.org_id),
        endpoint: Set(endpoint.clone()),
        username: Set(input.username.trim().to_string()),
        password: Set(password),
        enabled: Set(input.enabled),
        updated_at: Set(Utc::now()),
    };
    if existing.is_some() {
        row.update(&txn).await?;
    } else {
        row.insert(&txn).await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(admin.org_id),
            actor_user_id: Some(admin.id),
            action: "xapi.lrs_configured",
            target_type: "organization",
            target_id: Some(admin.org_id.to_string()),
            before,
            after: Some(json!({"endpoint": endpoint, "username": input.username.trim(), "enabled": input.enabled})),
            ip: crate::auth::extract::client_ip(&req),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(view(&state.db, admin.org_id).await?))
}

/// Queues the statements of an organization's records since its high-water mark; answers how
/// many were new.
pub async fn relay(db: &DatabaseConnection, public_url: &str, org_id: i64) -> Result<usize, DbErr> {
    let backend = db.get_database_backend();
    let p = |n: usize| {
        if backend == DbBackend::Postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    };
    let until = Utc::now();
    let txn = crate::db::begin_write(db)
        .await
        .map_err(|e| DbErr::Custom(format!("{e:?}")))?;
    if backend == DbBackend::Postgres {
        // One relay per organization at a time, across instances.
        txn.execute(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock(7272703, CAST($1 AS INTEGER))",
            [i32::try_from(org_id).unwrap_or(i32::MAX).into()],
        ))
        .await?;
    }
    #[derive(FromQueryResult)]
    struct Mark {
        high_water: DateTime<Utc>,
    }
    let mark = Mark::find_by_statement(Statement::from_sql_and_values(
        backend,
        format!("SELECT high_water FROM xapi_relay WHERE org_id = {}", p(1)),
        [org_id.into()],
    ))
    .one(&txn)
    .await?;
    let since = mark.map(|m| m.high_water - chrono::Duration::seconds(LOOKBACK_SECONDS));
    let statements = super::statements(db, public_url, org_id, since, Some(until))
        .await
        .map_err(|e| DbErr::Custom(format!("{e:?}")))?;
    let mut queued = 0;
    for s in &statements {
        let id = s["id"].as_str().unwrap_or_default().to_string();
        let sql = format!(
            "INSERT INTO xapi_outbox (org_id, statement_id, statement, status, attempts, next_attempt_at, created_at) \
             VALUES ({}, {}, {}, 'queued', 0, {}, {}) ON CONFLICT (org_id, statement_id) DO NOTHING",
            p(1), p(2), p(3), p(4), p(5)
        );
        let done = txn
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    org_id.into(),
                    id.into(),
                    s.to_string().into(),
                    until.into(),
                    until.into(),
                ],
            ))
            .await?;
        queued += usize::try_from(done.rows_affected()).unwrap_or(0);
    }
    let sql = format!(
        "INSERT INTO xapi_relay (org_id, high_water) VALUES ({}, {}) \
         ON CONFLICT (org_id) DO UPDATE SET high_water = excluded.high_water",
        p(1),
        p(2)
    );
    txn.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [org_id.into(), until.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(queued)
}

#[derive(Debug, FromQueryResult)]
struct Claimed {
    id: i64,
    statement: String,
    attempts: i32,
}

async fn claim(db: &DatabaseConnection, org_id: i64, lease: i64) -> Result<Vec<Claimed>, DbErr> {
    let now = Utc::now();
    let lease_until = now + chrono::Duration::seconds(lease);
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "UPDATE xapi_outbox SET status = 'sending', lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM xapi_outbox WHERE org_id = $3 AND \
               ((status = 'queued' AND next_attempt_at <= $2) OR (status = 'sending' AND lease_until < $2)) \
               ORDER BY id LIMIT {BATCH} FOR UPDATE SKIP LOCKED) \
             RETURNING id, statement, attempts"
        ),
        _ => format!(
            "UPDATE xapi_outbox SET status = 'sending', lease_until = ?1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM xapi_outbox WHERE org_id = ?3 AND \
               ((status = 'queued' AND next_attempt_at <= ?2) OR (status = 'sending' AND lease_until < ?2)) \
               ORDER BY id LIMIT {BATCH}) \
             RETURNING id, statement, attempts"
        ),
    };
    let mut rows = Claimed::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [lease_until.into(), now.into(), org_id.into()],
    ))
    .all(db)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Why a post failed: the LRS's status (none when it could not be reached) and what it said.
struct Refused {
    status: Option<u16>,
    message: String,
}

impl Refused {
    /// The LRS refused the content (not the credentials, not its own trouble): a batch is then
    /// retried one statement at a time, so one bad statement does not hold back the others.
    fn content(&self) -> bool {
        matches!(self.status, Some(400 | 409 | 413 | 422))
    }
}

/// Posts statements to the LRS: `Ok` when it stored them.
fn post(settings: &entity::Model, body: &str) -> Result<(), Refused> {
    let url = format!("{}/statements", settings.endpoint);
    let credentials = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", settings.username, settings.password),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("Authorization", &format!("Basic {credentials}"))
        .header("X-Experience-API-Version", super::VERSION)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| Refused {
            status: None,
            message: format!("cannot reach the LRS: {e}"),
        })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        let mut text = response.into_body().read_to_string().unwrap_or_default();
        text.truncate(300);
        Err(Refused {
            status: Some(status),
            message: format!("the LRS answered {status}: {text}"),
        })
    }
}

/// Posts a batch; when the LRS refuses its content, each statement alone. Answers each row's
/// outcome, in order.
fn post_batch(settings: &entity::Model, statements: &[String]) -> Vec<Result<(), String>> {
    let body = format!("[{}]", statements.join(","));
    match post(settings, &body) {
        Ok(()) => statements.iter().map(|_| Ok(())).collect(),
        Err(refused) if refused.content() && statements.len() > 1 => statements
            .iter()
            .map(|s| post(settings, &format!("[{s}]")).map_err(|r| r.message))
            .collect(),
        Err(refused) => statements
            .iter()
            .map(|_| Err(refused.message.clone()))
            .collect(),
    }
}

/// Sends an organization's due statements; answers how many were claimed.
pub async fn send_due(
    db: &DatabaseConnection,
    settings: &entity::Model,
    push: PushSettings,
) -> Result<usize, DbErr> {
    let claimed = claim(db, settings.org_id, 60).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let statements: Vec<String> = claimed.iter().map(|c| c.statement.clone()).collect();
    let lrs = settings.clone();
    let count = statements.len();
    let outcomes = tokio::task::spawn_blocking(move || post_batch(&lrs, &statements))
        .await
        .unwrap_or_else(|e| vec![Err(format!("the sender stopped: {e}")); count]);
    let backend = db.get_database_backend();
    let now = Utc::now();
    let mark = |n: usize| {
        if backend == DbBackend::Postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    };
    // Every statement the LRS took, in one update.
    let sent: Vec<i64> = claimed
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(c, _)| c.id)
        .collect();
    if !sent.is_empty() {
        let ids: Vec<String> = (0..sent.len()).map(|i| mark(i + 2)).collect();
        let sql = format!(
            "UPDATE xapi_outbox SET status = 'sent', sent_at = {}, lease_until = NULL, last_error = NULL WHERE id IN ({})",
            mark(1),
            ids.join(", ")
        );
        let values: Vec<sea_orm::Value> = std::iter::once(now.into())
            .chain(sent.iter().map(|id| (*id).into()))
            .collect();
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    // Each failure waits its own backoff.
    for (c, error) in claimed
        .iter()
        .zip(&outcomes)
        .filter_map(|(c, o)| o.as_ref().err().map(|e| (c, e)))
    {
        let dead = c.attempts >= push.max_attempts;
        let next = now
            + chrono::Duration::seconds(crate::notify::worker::backoff_seconds(
                push.retry_seconds,
                c.attempts,
            ));
        let sql = format!(
            "UPDATE xapi_outbox SET status = {}, next_attempt_at = {}, last_error = {}, lease_until = NULL WHERE id = {} AND status = 'sending'",
            mark(1),
            mark(2),
            mark(3),
            mark(4)
        );
        db.execute(Statement::from_sql_and_values(
            backend,
            sql,
            [
                if dead { "dead" } else { "queued" }.into(),
                next.into(),
                error.clone().into(),
                c.id.into(),
            ],
        ))
        .await?;
    }
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    if let Some(error) = failed.first() {
        tracing::warn!(org_id = settings.org_id, failed = failed.len(), sent = claimed.len() - failed.len(), %error, "xAPI push failed; will retry");
    } else {
        tracing::info!(
            org_id = settings.org_id,
            statements = claimed.len(),
            "xAPI statements sent"
        );
    }
    Ok(claimed.len())
}

/// Relays and sends for every organization with an enabled LRS, until the process ends.
pub async fn run(db: DatabaseConnection, public_url: String, push: PushSettings) {
    loop {
        match entity::Entity::find().all(&db).await {
            Ok(all) => {
                for settings in all.into_iter().filter(|s| s.enabled) {
                    if let Err(err) = relay(&db, &public_url, settings.org_id).await {
                        tracing::warn!(org_id = settings.org_id, error = %err, "xAPI relay failed");
                        continue;
                    }
                    loop {
                        match send_due(&db, &settings, push).await {
                            Ok(n) if n as i64 >= BATCH => continue,
                            Ok(_) => break,
                            Err(err) => {
                                tracing::warn!(org_id = settings.org_id, error = %err, "xAPI send failed");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot read LRS settings"),
        }
        tokio::time::sleep(push.poll).await;
    }
}
