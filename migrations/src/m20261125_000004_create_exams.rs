//! Certification exams: attempts with their drawn questions and responses, per-person
//! accommodations, and the competency evidence results leave for gap analysis.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).to_owned()
}

fn fk(from_table: &str, from: &str, to_table: &str, cascade: bool) -> ForeignKeyCreateStatement {
    let mut f = ForeignKey::create()
        .from(Alias::new(from_table), Alias::new(from))
        .to(Alias::new(to_table), Alias::new("id"))
        .to_owned();
    if cascade {
        f.on_delete(ForeignKeyAction::Cascade);
    }
    f
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut idx = Index::create()
        .name(name)
        .table(Alias::new(table))
        .to_owned();
    for c in cols {
        idx.col(Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    manager.create_index(idx).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("exam_attempts"))
                    .col(
                        col("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("org_id").big_integer().not_null())
                    .col(col("user_id").big_integer().not_null())
                    .col(col("certification_id").big_integer().not_null())
                    .col(col("number").integer().not_null())
                    .col(col("status").string_len(16).not_null())
                    .col(col("seed").big_integer().not_null())
                    .col(col("started_at").timestamp_with_time_zone().not_null())
                    .col(col("deadline_at").timestamp_with_time_zone().not_null())
                    .col(col("submit_until").timestamp_with_time_zone().not_null())
                    .col(col("finished_at").timestamp_with_time_zone().null())
                    .col(col("score").double().null())
                    .col(col("max_score").double().not_null())
                    .col(col("percent").double().null())
                    .col(col("passed").boolean().null())
                    .col(col("competencies").json().null())
                    .col(col("receipt").string_len(64).null())
                    .col(col("finish_reason").string_len(16).null())
                    .foreign_key(&mut fk("exam_attempts", "org_id", "organizations", false))
                    .foreign_key(&mut fk("exam_attempts", "user_id", "users", true))
                    .foreign_key(&mut fk(
                        "exam_attempts",
                        "certification_id",
                        "certifications",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_attempts_user_cert",
            "exam_attempts",
            &["user_id", "certification_id"],
            false,
        )
        .await?;
        index(
            manager,
            "ux_attempts_number",
            "exam_attempts",
            &["user_id", "certification_id", "number"],
            true,
        )
        .await?;
        index(
            manager,
            "ix_attempts_open",
            "exam_attempts",
            &["status", "submit_until"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("attempt_questions"))
                    .col(
                        col("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("attempt_id").big_integer().not_null())
                    .col(col("position").integer().not_null())
                    .col(col("question_id").big_integer().not_null())
                    .col(col("option_order").json().not_null())
                    .col(col("response").json().null())
                    .col(col("answered_at").timestamp_with_time_zone().null())
                    .col(col("flagged").boolean().not_null().default(false))
                    .col(col("mark").double().null())
                    .col(col("max_mark").double().not_null())
                    .col(col("graded_by").big_integer().null())
                    .col(col("comment").text().null())
                    .foreign_key(&mut fk(
                        "attempt_questions",
                        "attempt_id",
                        "exam_attempts",
                        true,
                    ))
                    .foreign_key(&mut fk(
                        "attempt_questions",
                        "question_id",
                        "questions",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_attempt_questions",
            "attempt_questions",
            &["attempt_id", "question_id"],
            true,
        )
        .await?;
        index(
            manager,
            "ix_attempt_questions_question",
            "attempt_questions",
            &["question_id"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("accommodations"))
                    .col(
                        col("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("org_id").big_integer().not_null())
                    .col(col("user_id").big_integer().not_null())
                    .col(col("certification_id").big_integer().not_null())
                    .col(col("extra_minutes").integer().not_null())
                    .col(col("extra_attempts").integer().not_null())
                    .col(col("reason").text().not_null())
                    .col(col("granted_by").big_integer().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk("accommodations", "user_id", "users", true))
                    .foreign_key(&mut fk(
                        "accommodations",
                        "certification_id",
                        "certifications",
                        true,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_accommodations_user",
            "accommodations",
            &["user_id", "certification_id"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("competency_evidence"))
                    .col(
                        col("id")
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("org_id").big_integer().not_null())
                    .col(col("user_id").big_integer().not_null())
                    .col(col("competency_id").string_len(64).not_null())
                    .col(col("level").integer().not_null())
                    .col(col("source").string_len(16).not_null())
                    .col(col("source_id").big_integer().null())
                    .col(col("percent").double().null())
                    .col(col("recorded_by").big_integer().null())
                    .col(col("recorded_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk("competency_evidence", "user_id", "users", true))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_evidence_user",
            "competency_evidence",
            &["user_id", "competency_id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "competency_evidence",
            "accommodations",
            "attempt_questions",
            "exam_attempts",
        ] {
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
