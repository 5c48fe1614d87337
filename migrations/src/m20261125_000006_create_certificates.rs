//! Certificates, the issuers' signing keys and the revocation status lists.
//!
//! A certificate's data, signed credential and PDF are frozen at issue. A partial unique index
//! allows one valid certificate per person and certification, so concurrent submits cannot
//! issue two; another allows one active signing key per issuer, so instances starting together
//! agree on it.
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

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .text()
        .not_null()
        .to_owned()
}

fn time(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn fk(from: &str, column: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(column))
        .to(Alias::new(to), Alias::new("id"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("signing_keys"))
                    .col(id("id"))
                    .col(big("org_id"))
                    .col(
                        ColumnDef::new(Alias::new("kid"))
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("private_key"))
                            .binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("public_jwk")).json().not_null())
                    .col(time("created_at"))
                    .col(ColumnDef::new(Alias::new("retired_at")).timestamp_with_time_zone())
                    .foreign_key(&mut fk("signing_keys", "org_id", "organizations"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("status_lists"))
                    .col(id("id"))
                    .col(big("issuer_org_id"))
                    .col(ColumnDef::new(Alias::new("number")).integer().not_null())
                    .col(big("size"))
                    .col(time("created_at"))
                    .foreign_key(&mut fk("status_lists", "issuer_org_id", "organizations"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("certificates"))
                    .col(id("id"))
                    .col(
                        ColumnDef::new(Alias::new("code"))
                            .string_len(16)
                            .not_null()
                            .unique_key(),
                    )
                    .col(big("org_id"))
                    .col(big("user_id"))
                    .col(big("certification_id"))
                    .col(ColumnDef::new(Alias::new("attempt_id")).big_integer())
                    .col(big("issuer_org_id"))
                    .col(ColumnDef::new(Alias::new("kid")).string_len(64).not_null())
                    .col(ColumnDef::new(Alias::new("data")).json().not_null())
                    .col(time("issued_at"))
                    .col(time("valid_until"))
                    .col(
                        ColumnDef::new(Alias::new("status"))
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Alias::new("revoked_at")).timestamp_with_time_zone())
                    .col(ColumnDef::new(Alias::new("revocation_reason")).text())
                    .col(ColumnDef::new(Alias::new("superseded_by")).big_integer())
                    .col(ColumnDef::new(Alias::new("replaces")).big_integer())
                    .col(big("status_list_id"))
                    .col(big("status_index"))
                    .col(text("credential"))
                    .col(ColumnDef::new(Alias::new("pdf")).binary().not_null())
                    .col(
                        ColumnDef::new(Alias::new("pdf_sha256"))
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("name_disclosure"))
                            .string_len(16)
                            .not_null()
                            .default("public"),
                    )
                    .col(ColumnDef::new(Alias::new("reminders")).json())
                    .foreign_key(&mut fk("certificates", "org_id", "organizations"))
                    .foreign_key(&mut fk("certificates", "user_id", "users"))
                    .foreign_key(&mut fk(
                        "certificates",
                        "certification_id",
                        "certifications",
                    ))
                    .foreign_key(&mut fk("certificates", "issuer_org_id", "organizations"))
                    .foreign_key(&mut fk("certificates", "status_list_id", "status_lists"))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_certificates_org", &["org_id"][..]),
            ("idx_certificates_user", &["user_id"][..]),
            ("idx_certificates_valid_until", &["valid_until"][..]),
            ("idx_certificates_pdf_sha256", &["pdf_sha256"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Alias::new("certificates"));
            for c in columns {
                index.col(Alias::new(*c));
            }
            manager.create_index(index.to_owned()).await?;
        }
        let db = manager.get_connection();
        // Portable SQL: both SQLite and PostgreSQL know partial unique indexes.
        for sql in [
            "CREATE UNIQUE INDEX uq_certificates_one_valid ON certificates (user_id, certification_id) WHERE status = 'valid'",
            "CREATE UNIQUE INDEX uq_certificates_status_slot ON certificates (status_list_id, status_index)",
            "CREATE UNIQUE INDEX uq_signing_keys_one_active ON signing_keys (org_id) WHERE retired_at IS NULL",
            "CREATE UNIQUE INDEX uq_status_lists_number ON status_lists (issuer_org_id, number)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["certificates", "status_lists", "signing_keys"] {
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
