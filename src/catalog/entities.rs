//! Database rows of the catalog.

/// A job category.
pub mod job_category {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_categories")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub name_zh: String,
        pub description: String,
        pub description_zh: String,
        pub position: i32,
        pub content_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A competency of a category's model, with its five levels (JSON).
pub mod competency {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "competencies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub category_id: String,
        pub name: String,
        pub name_zh: String,
        pub description: String,
        pub description_zh: String,
        pub value_demand: String,
        pub business_level: String,
        /// `[{"level": 1, "indicators": ["…"]}, …]`
        pub levels: Json,
        pub position: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A course owned by an organization (the platform's are shared with every organization).
pub mod course {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "courses")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub code: String,
        pub category_id: String,
        pub area: String,
        pub level: i32,
        pub title: String,
        pub title_zh: String,
        pub summary: String,
        pub summary_zh: String,
        pub estimated_minutes: i32,
        /// Course codes, JSON array.
        pub prerequisites: Json,
        /// The version being edited, if any (unpublished).
        pub draft_version_id: Option<i64>,
        /// The version learners see; none: not published.
        pub published_version_id: Option<i64>,
        /// Hash of the files at the last import (platform content from files).
        pub source_hash: Option<String>,
        /// Set when edited in the pages or API after its last import.
        pub edited_at: Option<DateTimeUtc>,
        pub copied_from: Option<i64>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A competency a course develops, and to which level.
pub mod course_competency {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "course_competencies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub course_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub competency_id: String,
        pub level: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An immutable version of a course: its metadata (JSON) and its lessons.
pub mod course_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "course_versions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub course_id: i64,
        pub number: i32,
        pub content_hash: String,
        pub meta: Json,
        pub created_by: Option<i64>,
        pub created_at: DateTimeUtc,
        pub published_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A lesson of a course version.
pub mod lesson {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lessons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub course_version_id: i64,
        pub position: i32,
        /// Stable across versions: progress is kept by slug.
        pub slug: String,
        pub title: String,
        pub title_zh: Option<String>,
        pub kind: String,
        pub estimated_minutes: i32,
        pub body_md: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A revision of a question of a course's bank; revisions are never changed once written.
pub mod question {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "questions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub course_id: i64,
        /// The GIFT `[id:]`, stable across revisions.
        pub external_id: String,
        pub revision: i32,
        pub is_current: bool,
        pub competency_id: Option<String>,
        pub difficulty: String,
        pub qtype: String,
        pub title: Option<String>,
        pub text: String,
        pub format: String,
        /// The answers: a serialised `gift::QuestionKind`.
        pub answer_data: Json,
        pub general_feedback: Option<String>,
        pub category: Option<String>,
        pub tags: Json,
        pub content_hash: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A certification and its exam blueprint.
pub mod certification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "certifications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub code: String,
        pub category_id: String,
        pub level: i32,
        pub title: String,
        pub title_zh: String,
        pub description: String,
        pub description_zh: String,
        pub settings: Json,
        pub blueprint: Json,
        pub required_courses: Json,
        pub status: String,
        pub source_hash: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A person enrolled in a course.
pub mod enrolment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "enrolments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub course_id: i64,
        pub org_id: i64,
        pub enrolled_at: DateTimeUtc,
        pub last_lesson_slug: Option<String>,
        pub last_activity_at: Option<DateTimeUtc>,
        pub completed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A lesson a person has completed (by slug, so progress survives new versions).
pub mod lesson_completion {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lesson_completions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub course_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub lesson_slug: String,
        pub completed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A finished content import.
pub mod content_import {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "content_imports")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub content_hash: String,
        pub started_at: DateTimeUtc,
        pub finished_at: DateTimeUtc,
        pub summary: Json,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Study time a person spent on a lesson, measured by the server between heartbeats.
pub mod study_time {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "study_time")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub course_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub lesson_slug: String,
        pub org_id: i64,
        /// Credited while the page was visible, at most the lesson's cap.
        pub effective_seconds: i64,
        /// Credited while the page was open, uncapped.
        pub total_seconds: i64,
        /// Reports so far (the version a heartbeat's compare-and-set checks).
        pub beats: i64,
        /// The server's clock at the last heartbeat (or the page's opening).
        pub last_beat_at: DateTimeUtc,
        /// Whether the page said it was visible at the last heartbeat.
        pub last_visible: bool,
        pub first_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An organization's minimum study time for a lesson before it can be marked complete.
pub mod lesson_rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lesson_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub course_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub lesson_slug: String,
        pub min_effective_seconds: i32,
        pub updated_by: Option<i64>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
