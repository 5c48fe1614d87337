//! Database schema of talentcert, one file per change, applied in order at start.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_accounts;
mod m20261125_000002_create_outbox_and_tokens;
mod m20261125_000003_create_catalog;
mod m20261125_000004_create_exams;
mod m20261125_000005_create_statistics_cache;
mod m20261125_000006_create_certificates;
mod m20261125_000007_create_gaps;
mod m20261207_000008_create_xapi_push;
mod m20261208_000009_create_enterprise;

/// The ordered list of every schema change.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_accounts::Migration),
            Box::new(m20261125_000002_create_outbox_and_tokens::Migration),
            Box::new(m20261125_000003_create_catalog::Migration),
            Box::new(m20261125_000004_create_exams::Migration),
            Box::new(m20261125_000005_create_statistics_cache::Migration),
            Box::new(m20261125_000006_create_certificates::Migration),
            Box::new(m20261125_000007_create_gaps::Migration),
            Box::new(m20261207_000008_create_xapi_push::Migration),
            Box::new(m20261208_000009_create_enterprise::Migration),
        ]
    }
}
