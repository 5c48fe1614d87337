//! A message in the durable outbox, rendered when it was queued.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Option<i64>,
    /// One event yields one email: a second message with the same key is not queued.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub kind: String,
    pub to_address: String,
    pub to_name: Option<String>,
    pub language: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// `queued`, `sending` (claimed under a lease), `sent` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
