//! The catalog: job categories and competencies, courses with immutable versions and their
//! lessons, question banks with question revisions, certifications, enrolments and progress, and
//! the record of content imports.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn pk(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn string(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .not_null()
        .to_owned()
}

fn opt_string(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string_len(len)
        .null()
        .to_owned()
}

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .text()
        .not_null()
        .to_owned()
}

fn opt_text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).text().null().to_owned()
}

fn int(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .integer()
        .not_null()
        .to_owned()
}

fn big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .not_null()
        .to_owned()
}

fn opt_big(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .big_integer()
        .null()
        .to_owned()
}

fn time(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn opt_time(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn json(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .json()
        .not_null()
        .to_owned()
}

fn boolean(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .boolean()
        .not_null()
        .to_owned()
}

fn fk(
    from_table: &str,
    from: &str,
    to_table: &str,
    to: &str,
    cascade: bool,
) -> ForeignKeyCreateStatement {
    let mut f = ForeignKey::create()
        .from(Alias::new(from_table), Alias::new(from))
        .to(Alias::new(to_table), Alias::new(to))
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

/// Tables in creation order (dropped in reverse).
const TABLES: [&str; 11] = [
    "job_categories",
    "competencies",
    "courses",
    "course_competencies",
    "course_versions",
    "lessons",
    "questions",
    "certifications",
    "enrolments",
    "lesson_completions",
    "content_imports",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("job_categories"))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(string("name", 200))
                    .col(string("name_zh", 200))
                    .col(text("description"))
                    .col(text("description_zh"))
                    .col(int("position"))
                    .col(string("content_hash", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("competencies"))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(string("category_id", 64))
                    .col(string("name", 200))
                    .col(string("name_zh", 200))
                    .col(text("description"))
                    .col(text("description_zh"))
                    .col(string("value_demand", 32))
                    .col(string("business_level", 32))
                    .col(json("levels"))
                    .col(int("position"))
                    .foreign_key(&mut fk(
                        "competencies",
                        "category_id",
                        "job_categories",
                        "id",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("courses"))
                    .col(pk("id"))
                    .col(big("org_id"))
                    .col(string("code", 64))
                    .col(string("category_id", 64))
                    .col(string("area", 64))
                    .col(int("level"))
                    .col(string("title", 300))
                    .col(string("title_zh", 300))
                    .col(text("summary"))
                    .col(text("summary_zh"))
                    .col(int("estimated_minutes"))
                    .col(json("prerequisites"))
                    .col(opt_big("draft_version_id"))
                    .col(opt_big("published_version_id"))
                    .col(opt_string("source_hash", 64))
                    .col(opt_time("edited_at"))
                    .col(opt_big("copied_from"))
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .foreign_key(&mut fk("courses", "org_id", "organizations", "id", false))
                    .foreign_key(&mut fk(
                        "courses",
                        "category_id",
                        "job_categories",
                        "id",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_courses_org_code",
            "courses",
            &["org_id", "code"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("course_competencies"))
                    .col(big("course_id"))
                    .col(string("competency_id", 64))
                    .col(int("level"))
                    .primary_key(
                        Index::create()
                            .col(Alias::new("course_id"))
                            .col(Alias::new("competency_id")),
                    )
                    .foreign_key(&mut fk(
                        "course_competencies",
                        "course_id",
                        "courses",
                        "id",
                        true,
                    ))
                    .foreign_key(&mut fk(
                        "course_competencies",
                        "competency_id",
                        "competencies",
                        "id",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("course_versions"))
                    .col(pk("id"))
                    .col(big("course_id"))
                    .col(int("number"))
                    .col(string("content_hash", 64))
                    .col(json("meta"))
                    .col(opt_big("created_by"))
                    .col(time("created_at"))
                    .col(opt_time("published_at"))
                    .foreign_key(&mut fk(
                        "course_versions",
                        "course_id",
                        "courses",
                        "id",
                        true,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_course_versions_number",
            "course_versions",
            &["course_id", "number"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("lessons"))
                    .col(pk("id"))
                    .col(big("course_version_id"))
                    .col(int("position"))
                    .col(string("slug", 128))
                    .col(string("title", 300))
                    .col(opt_string("title_zh", 300))
                    .col(string("kind", 32))
                    .col(int("estimated_minutes"))
                    .col(text("body_md"))
                    .foreign_key(&mut fk(
                        "lessons",
                        "course_version_id",
                        "course_versions",
                        "id",
                        true,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_lessons_version",
            "lessons",
            &["course_version_id", "position"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("questions"))
                    .col(pk("id"))
                    .col(big("course_id"))
                    .col(string("external_id", 128))
                    .col(int("revision"))
                    .col(boolean("is_current"))
                    .col(opt_string("competency_id", 64))
                    .col(string("difficulty", 16))
                    .col(string("qtype", 32))
                    .col(opt_string("title", 300))
                    .col(text("text"))
                    .col(string("format", 16))
                    .col(json("answer_data"))
                    .col(opt_text("general_feedback"))
                    .col(opt_string("category", 300))
                    .col(json("tags"))
                    .col(string("content_hash", 64))
                    .col(time("created_at"))
                    .foreign_key(&mut fk("questions", "course_id", "courses", "id", true))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_questions_revision",
            "questions",
            &["course_id", "external_id", "revision"],
            true,
        )
        .await?;
        index(
            manager,
            "ix_questions_current",
            "questions",
            &["competency_id", "difficulty", "is_current"],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("certifications"))
                    .col(pk("id"))
                    .col(big("org_id"))
                    .col(string("code", 64))
                    .col(string("category_id", 64))
                    .col(int("level"))
                    .col(string("title", 300))
                    .col(string("title_zh", 300))
                    .col(text("description"))
                    .col(text("description_zh"))
                    .col(json("settings"))
                    .col(json("blueprint"))
                    .col(json("required_courses"))
                    .col(string("status", 16))
                    .col(opt_string("source_hash", 64))
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .foreign_key(&mut fk(
                        "certifications",
                        "org_id",
                        "organizations",
                        "id",
                        false,
                    ))
                    .foreign_key(&mut fk(
                        "certifications",
                        "category_id",
                        "job_categories",
                        "id",
                        false,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_certifications_org_code",
            "certifications",
            &["org_id", "code"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("enrolments"))
                    .col(pk("id"))
                    .col(big("user_id"))
                    .col(big("course_id"))
                    .col(big("org_id"))
                    .col(time("enrolled_at"))
                    .col(opt_string("last_lesson_slug", 128))
                    .col(opt_time("last_activity_at"))
                    .col(opt_time("completed_at"))
                    .foreign_key(&mut fk("enrolments", "user_id", "users", "id", true))
                    .foreign_key(&mut fk("enrolments", "course_id", "courses", "id", true))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_enrolments_user_course",
            "enrolments",
            &["user_id", "course_id"],
            true,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("lesson_completions"))
                    .col(big("user_id"))
                    .col(big("course_id"))
                    .col(string("lesson_slug", 128))
                    .col(time("completed_at"))
                    .primary_key(
                        Index::create()
                            .col(Alias::new("user_id"))
                            .col(Alias::new("course_id"))
                            .col(Alias::new("lesson_slug")),
                    )
                    .foreign_key(&mut fk(
                        "lesson_completions",
                        "user_id",
                        "users",
                        "id",
                        true,
                    ))
                    .foreign_key(&mut fk(
                        "lesson_completions",
                        "course_id",
                        "courses",
                        "id",
                        true,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("content_imports"))
                    .col(pk("id"))
                    .col(string("content_hash", 64))
                    .col(time("started_at"))
                    .col(time("finished_at"))
                    .col(json("summary"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(*table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
