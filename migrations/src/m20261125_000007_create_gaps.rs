//! Gap analysis: positions and what they require, people's positions, richer evidence, the
//! organization's rule for rolling evidence up into a level, and assigned learning paths.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .to_owned()
}

fn string(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .not_null()
        .to_owned()
}

fn time(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("positions"))
                    .col(id("id"))
                    .col(big("org_id"))
                    .col(string("code", 64))
                    .col(string("name", 200))
                    .col(string("name_zh", 200))
                    .col(string("category_id", 64))
                    .col(
                        ColumnDef::new(Alias::new("headcount"))
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("positions"), Alias::new("org_id"))
                            .to(Alias::new("organizations"), Alias::new("id")),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_positions_org_code")
                    .table(Alias::new("positions"))
                    .col(Alias::new("org_id"))
                    .col(Alias::new("code"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("position_requirements"))
                    .col(id("id"))
                    .col(big("position_id"))
                    .col(string("competency_id", 64))
                    .col(ColumnDef::new(Alias::new("level")).integer().not_null())
                    .col(ColumnDef::new(Alias::new("weight")).double().not_null())
                    .col(ColumnDef::new(Alias::new("mandatory")).boolean().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                Alias::new("position_requirements"),
                                Alias::new("position_id"),
                            )
                            .to(Alias::new("positions"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_position_requirements")
                    .table(Alias::new("position_requirements"))
                    .col(Alias::new("position_id"))
                    .col(Alias::new("competency_id"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("learning_paths"))
                    .col(id("id"))
                    .col(big("org_id"))
                    .col(big("user_id"))
                    .col(ColumnDef::new(Alias::new("position_id")).big_integer())
                    .col(ColumnDef::new(Alias::new("courses")).json().not_null())
                    .col(ColumnDef::new(Alias::new("assigned_by")).big_integer())
                    .col(time("assigned_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("learning_paths"), Alias::new("user_id"))
                            .to(Alias::new("users"), Alias::new("id")),
                    )
                    .to_owned(),
            )
            .await?;
        // Columns added to existing tables, one statement each (SQLite alters one at a time).
        let alters = [
            Table::alter()
                .table(Alias::new("users"))
                .add_column(ColumnDef::new(Alias::new("position_id")).big_integer())
                .to_owned(),
            Table::alter()
                .table(Alias::new("users"))
                .add_column(
                    ColumnDef::new(Alias::new("from_roster"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
            Table::alter()
                .table(Alias::new("competency_evidence"))
                .add_column(ColumnDef::new(Alias::new("note")).text())
                .to_owned(),
            Table::alter()
                .table(Alias::new("competency_evidence"))
                .add_column(ColumnDef::new(Alias::new("provider")).string_len(200))
                .to_owned(),
            Table::alter()
                .table(Alias::new("competency_evidence"))
                .add_column(ColumnDef::new(Alias::new("attachment")).string_len(500))
                .to_owned(),
            Table::alter()
                .table(Alias::new("competency_evidence"))
                .add_column(ColumnDef::new(Alias::new("evidence_date")).timestamp_with_time_zone())
                .to_owned(),
            Table::alter()
                .table(Alias::new("competency_evidence"))
                .add_column(ColumnDef::new(Alias::new("superseded_at")).timestamp_with_time_zone())
                .to_owned(),
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(
                    ColumnDef::new(Alias::new("level_rule"))
                        .string_len(32)
                        .not_null()
                        .default("latest"),
                )
                .to_owned(),
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(
                    ColumnDef::new(Alias::new("exam_outranks_ratings"))
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .to_owned(),
            Table::alter()
                .table(Alias::new("organizations"))
                .add_column(
                    ColumnDef::new(Alias::new("mastery_count"))
                        .integer()
                        .not_null()
                        .default(2),
                )
                .to_owned(),
        ];
        for alter in alters {
            manager.alter_table(alter).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_evidence_org_user")
                    .table(Alias::new("competency_evidence"))
                    .col(Alias::new("org_id"))
                    .col(Alias::new("user_id"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["learning_paths", "position_requirements", "positions"] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
