//! Writing and reading audit entries.
use chrono::Utc;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use super::entity;

/// One action to record.
#[derive(Debug, Default)]
pub struct AuditEvent {
    /// The organization the action belongs to (none for e.g. a login attempt on an unknown email).
    pub org_id: Option<i64>,
    /// Who acted (none for anonymous actions and the system).
    pub actor_user_id: Option<i64>,
    /// What happened, e.g. `auth.login`, `user.roles_changed`.
    pub action: &'static str,
    /// The kind of thing acted on, e.g. `user`.
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The client address, when the action came from a request.
    pub ip: Option<String>,
}

/// Every action the log records. The audit-coverage test performs each one and checks that it
/// wrote its entry; recording an action missing here fails in debug builds.
pub const ACTIONS: &[&str] = &[
    // Accounts and access.
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.password_reset",
    "auth.password_reset_requested",
    "invitation.accepted",
    "invitation.created",
    "invitation.revoked",
    "organization.created",
    "user.created",
    "user.deactivated",
    "user.reactivated",
    "user.roles_changed",
    "user.updated",
    "roster.imported",
    // Content.
    "catalog.imported",
    "competency_model.imported",
    "course.copied",
    "course.created",
    "course.published",
    "course.updated",
    "questions.imported",
    "certification.blueprint_changed",
    "certification.controls_changed",
    "certification.created",
    "certification.rules_changed",
    "lesson.time_rule_set",
    // Exams and grading.
    "exam.accommodation_granted",
    "exam.event",
    "exam.finished",
    "exam.graded",
    "exam.regraded",
    "exam.started",
    // Certificates and keys.
    "certificate.disclosure_changed",
    "certificate.issued",
    "certificate.reissued",
    "certificate.rendered",
    "certificate.revoked",
    "certificates.exported",
    "signing_key.created",
    "signing_key.rotated",
    // Skills, positions, operations.
    "evidence.recorded",
    "learning_path.assigned",
    "organization.level_rule_changed",
    "position.learning_map_changed",
    "position.saved",
    "outbox.retried",
    "xapi.lrs_configured",
];

/// Appends an entry; call it on the transaction of the action itself.
pub async fn record<C: ConnectionTrait>(conn: &C, event: AuditEvent) -> Result<(), DbErr> {
    debug_assert!(
        ACTIONS.contains(&event.action),
        "audit action {} is not listed in audit::ACTIONS",
        event.action
    );
    let row = entity::ActiveModel {
        id: NotSet,
        org_id: Set(event.org_id),
        actor_user_id: Set(event.actor_user_id),
        action: Set(event.action.to_string()),
        target_type: Set(event.target_type.to_string()),
        target_id: Set(event.target_id),
        before: Set(event.before),
        after: Set(event.after),
        ip: Set(event.ip),
        created_at: Set(Utc::now()),
    };
    entity::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Which entries to read.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<i64>,
    pub limit: u64,
    pub offset: u64,
}

/// Entries of one organization, newest first, with the total count.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    filter: &AuditFilter,
) -> Result<(Vec<entity::Model>, u64), DbErr> {
    let mut query = entity::Entity::find().filter(entity::Column::OrgId.eq(org_id));
    if let Some(action) = &filter.action {
        query = query.filter(entity::Column::Action.eq(action.as_str()));
    }
    if let Some(actor) = filter.actor_user_id {
        query = query.filter(entity::Column::ActorUserId.eq(actor));
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
