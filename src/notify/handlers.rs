//! `GET /api/v1/admin/outbox` and `POST /api/v1/admin/outbox/{id}/retry`.
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::entity;
use super::service::{self, OutboxFilter, STATUSES};
use crate::auth::{Admin, RequireRole};
use crate::error::{AppError, AppResult, Problem};
use crate::pagination::{bounds, Page};
use crate::startup::AppState;

/// Filters of the outbox list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// queued, sending, sent or dead.
    status: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// A message in the outbox. Bodies are not shown: they hold single-use links.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub language: String,
    /// queued, sending, sent or dead.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<entity::Model> for OutboxMessage {
    fn from(m: entity::Model) -> OutboxMessage {
        OutboxMessage {
            id: m.id,
            kind: m.kind,
            to: m.to_address,
            subject: m.subject,
            language: m.language,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            next_attempt_at: m.next_attempt_at,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// The organization's outgoing email: queued, sent and dead messages with their last error.
#[utoipa::path(
    tag = "admin",
    params(OutboxQuery),
    responses((status = 200, body = Page<OutboxMessage>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/admin/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    query: web::Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = bounds(query.limit, query.offset)?;
    if let Some(status) = &query.status {
        if !STATUSES.contains(&status.as_str()) {
            return Err(AppError::field("status", "validation.outbox_status"));
        }
    }
    let filter = OutboxFilter {
        status: query.status.clone(),
        limit,
        offset,
    };
    let (rows, total) = service::list(&state.db, Some(admin.org_id), &filter).await?;
    let items: Vec<OutboxMessage> = rows.into_iter().map(OutboxMessage::from).collect();
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Puts a dead message back in the queue with a fresh set of attempts (audited).
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "Outbox message id")),
    responses(
        (status = 200, body = OutboxMessage), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Already sent or being sent", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/admin/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: RequireRole<Admin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let row = service::retry(&state.db, &admin.actor(&req), path.into_inner()).await?;
    state.mail_wake.notify_one();
    Ok(HttpResponse::Ok().json(OutboxMessage::from(row)))
}
