//! What enterprise training teams expect: study time measured by the server per person and
//! lesson, per-organization controls (a lesson's minimum study time, an exam's switch limit and
//! pledge), and the learning map a position may carry once HR edits it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StudyTime {
    Table,
    UserId,
    CourseId,
    LessonSlug,
    OrgId,
    EffectiveSeconds,
    TotalSeconds,
    Beats,
    LastBeatAt,
    LastVisible,
    FirstAt,
}

#[derive(DeriveIden)]
enum LessonRules {
    Table,
    OrgId,
    CourseId,
    LessonSlug,
    MinEffectiveSeconds,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExamControls {
    Table,
    OrgId,
    CertificationId,
    MaxSwitches,
    Pledge,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Positions {
    Table,
    LearningMap,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StudyTime::Table)
                    .col(ColumnDef::new(StudyTime::UserId).big_integer().not_null())
                    .col(ColumnDef::new(StudyTime::CourseId).big_integer().not_null())
                    .col(
                        ColumnDef::new(StudyTime::LessonSlug)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(StudyTime::OrgId).big_integer().not_null())
                    .col(
                        ColumnDef::new(StudyTime::EffectiveSeconds)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(StudyTime::TotalSeconds)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(StudyTime::Beats)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(StudyTime::LastBeatAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StudyTime::LastVisible).boolean().not_null())
                    .col(
                        ColumnDef::new(StudyTime::FirstAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(StudyTime::UserId)
                            .col(StudyTime::CourseId)
                            .col(StudyTime::LessonSlug),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StudyTime::Table, StudyTime::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StudyTime::Table, StudyTime::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_study_time_org")
                    .table(StudyTime::Table)
                    .col(StudyTime::OrgId)
                    .col(StudyTime::CourseId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LessonRules::Table)
                    .col(ColumnDef::new(LessonRules::OrgId).big_integer().not_null())
                    .col(
                        ColumnDef::new(LessonRules::CourseId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LessonRules::LessonSlug)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LessonRules::MinEffectiveSeconds)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LessonRules::UpdatedBy).big_integer().null())
                    .col(
                        ColumnDef::new(LessonRules::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(LessonRules::OrgId)
                            .col(LessonRules::CourseId)
                            .col(LessonRules::LessonSlug),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LessonRules::Table, LessonRules::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExamControls::Table)
                    .col(ColumnDef::new(ExamControls::OrgId).big_integer().not_null())
                    .col(
                        ColumnDef::new(ExamControls::CertificationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExamControls::MaxSwitches).integer().null())
                    .col(ColumnDef::new(ExamControls::Pledge).text().null())
                    .col(ColumnDef::new(ExamControls::UpdatedBy).big_integer().null())
                    .col(
                        ColumnDef::new(ExamControls::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ExamControls::OrgId)
                            .col(ExamControls::CertificationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExamControls::Table, ExamControls::OrgId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Positions::Table)
                    .add_column(ColumnDef::new(Positions::LearningMap).json().null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Positions::Table)
                    .drop_column(Positions::LearningMap)
                    .to_owned(),
            )
            .await?;
        for table in [
            ExamControls::Table.into_iden(),
            LessonRules::Table.into_iden(),
            StudyTime::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
