//! Reading the outbox and retrying dead messages.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::entity;
use crate::audit::{self, AuditEvent};
use crate::auth::service::Actor;
use crate::error::{AppError, AppResult, Msg};

/// Which messages to list.
#[derive(Debug, Default)]
pub struct OutboxFilter {
    /// `queued`, `sending`, `sent` or `dead`.
    pub status: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

/// The statuses a message can have.
pub const STATUSES: [&str; 4] = ["queued", "sending", "sent", "dead"];

/// Messages of one organization (or every organization when `org_id` is none), newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    org_id: Option<i64>,
    filter: &OutboxFilter,
) -> Result<(Vec<entity::Model>, u64), DbErr> {
    let mut query = entity::Entity::find();
    if let Some(org_id) = org_id {
        query = query.filter(entity::Column::OrgId.eq(org_id));
    }
    if let Some(status) = &filter.status {
        query = query.filter(entity::Column::Status.eq(status.as_str()));
    }
    let total = query.clone().count(conn).await?;
    let items = query
        .order_by_desc(entity::Column::Id)
        .limit(filter.limit)
        .offset(filter.offset)
        .all(conn)
        .await?;
    Ok((items, total))
}

/// Counts per status, for the admin page and the command line.
pub async fn counts<C: ConnectionTrait>(
    conn: &C,
    org_id: Option<i64>,
) -> Result<Vec<(String, u64)>, DbErr> {
    let mut out = Vec::new();
    for status in STATUSES {
        let mut query = entity::Entity::find().filter(entity::Column::Status.eq(status));
        if let Some(org_id) = org_id {
            query = query.filter(entity::Column::OrgId.eq(org_id));
        }
        out.push((status.to_string(), query.count(conn).await?));
    }
    Ok(out)
}

/// Puts a dead (or waiting) message of the actor's organization back in the queue, due now,
/// with a fresh set of attempts; audited.
pub async fn retry(db: &DatabaseConnection, actor: &Actor, id: i64) -> AppResult<entity::Model> {
    let txn = crate::db::begin_write(db).await?;
    let row = entity::Entity::find_by_id(id)
        .filter(entity::Column::OrgId.eq(actor.org_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.status == "sent" || row.status == "sending" {
        return Err(AppError::Conflict(Msg::new("error.outbox_not_retryable")));
    }
    let before =
        json!({ "status": row.status, "attempts": row.attempts, "last_error": row.last_error });
    let now = Utc::now();
    let mut active = row.into_active_model();
    active.status = Set("queued".to_string());
    active.attempts = Set(0);
    active.next_attempt_at = Set(now);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action: "outbox.retried",
            target_type: "email",
            target_id: Some(id.to_string()),
            before: Some(before),
            after: Some(json!({ "status": "queued", "attempts": 0 })),
            ip: actor.ip.clone(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
