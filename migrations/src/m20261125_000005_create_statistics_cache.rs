//! A cache of certification statistics, so the report opens at once for thousands of attempts.
//! A row holds the report computed over a number of graded attempts; grading changes invalidate it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("statistics_cache"))
                    .col(
                        ColumnDef::new(Alias::new("certification_id"))
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("scope_org_id"))
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("attempts"))
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("report")).json().not_null())
                    .col(
                        ColumnDef::new(Alias::new("computed_at"))
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Alias::new("certification_id"))
                            .col(Alias::new("scope_org_id")),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                Alias::new("statistics_cache"),
                                Alias::new("certification_id"),
                            )
                            .to(Alias::new("certifications"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("statistics_cache"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
