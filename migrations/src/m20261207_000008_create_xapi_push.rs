//! Pushing xAPI statements to an organization's own Learning Record Store: its settings, the
//! durable outbox of statements to send, and how far the relay has read the learning records.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LrsSettings {
    Table,
    OrgId,
    Endpoint,
    Username,
    Password,
    Enabled,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum XapiOutbox {
    Table,
    Id,
    OrgId,
    StatementId,
    Statement,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum XapiRelay {
    Table,
    OrgId,
    HighWater,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LrsSettings::Table)
                    .col(
                        ColumnDef::new(LrsSettings::OrgId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LrsSettings::Endpoint)
                            .string_len(500)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LrsSettings::Username)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LrsSettings::Password)
                            .string_len(500)
                            .not_null(),
                    )
                    .col(ColumnDef::new(LrsSettings::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(LrsSettings::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LrsSettings::Table, LrsSettings::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(XapiOutbox::Table)
                    .col(
                        ColumnDef::new(XapiOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(XapiOutbox::OrgId).big_integer().not_null())
                    .col(
                        ColumnDef::new(XapiOutbox::StatementId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(ColumnDef::new(XapiOutbox::Statement).text().not_null())
                    .col(ColumnDef::new(XapiOutbox::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(XapiOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(XapiOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(XapiOutbox::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(XapiOutbox::LastError).text().null())
                    .col(
                        ColumnDef::new(XapiOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(XapiOutbox::SentAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(XapiOutbox::Table, XapiOutbox::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_xapi_outbox_statement")
                    .table(XapiOutbox::Table)
                    .col(XapiOutbox::OrgId)
                    .col(XapiOutbox::StatementId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_xapi_outbox_due")
                    .table(XapiOutbox::Table)
                    .col(XapiOutbox::Status)
                    .col(XapiOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(XapiRelay::Table)
                    .col(
                        ColumnDef::new(XapiRelay::OrgId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(XapiRelay::HighWater)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(XapiRelay::Table, XapiRelay::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(XapiRelay::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(XapiOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LrsSettings::Table).to_owned())
            .await?;
        Ok(())
    }
}
