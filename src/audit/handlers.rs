//! `GET /api/v1/audit`.
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, AuditFilter};
use crate::auth::{Admin, RequireRole};
use crate::error::{AppResult, Problem};
use crate::pagination::Page;
use crate::startup::AppState;

/// Query of the audit list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only entries of this action, e.g. `auth.login`.
    action: Option<String>,
    /// Only entries by this user id.
    actor: Option<i64>,
    /// At most this many entries (1–200, default 50).
    limit: Option<u64>,
    /// Skip this many entries.
    offset: Option<u64>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    id: i64,
    actor_user_id: Option<i64>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    ip: Option<String>,
    created_at: DateTime<Utc>,
}

/// The audit log of the caller's organization, newest first.
#[utoipa::path(
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "Entries", body = Page<AuditEntry>),
        (status = 401, body = Problem), (status = 403, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    admin: RequireRole<Admin>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = crate::pagination::bounds(query.limit, query.offset)?;
    let filter = AuditFilter {
        action: query.action.clone(),
        actor_user_id: query.actor,
        limit,
        offset,
    };
    let (rows, total) = service::list(&state.db, admin.org_id, &filter).await?;
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            actor_user_id: r.actor_user_id,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            before: r.before,
            after: r.after,
            ip: r.ip,
            created_at: r.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, total }))
}
