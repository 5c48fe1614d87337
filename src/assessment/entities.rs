//! Database rows of exams.

/// One sitting of a certification exam.
pub mod attempt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "exam_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub user_id: i64,
        pub certification_id: i64,
        /// 1 for the person's first attempt at this certification, 2 for the next…
        pub number: i32,
        /// `open`, `pending` (essays await a trainer), `graded` or `abandoned`.
        pub status: String,
        /// The seed the draw and the shuffles were made from.
        pub seed: i64,
        pub started_at: DateTimeUtc,
        /// Answers are accepted until then.
        pub deadline_at: DateTimeUtc,
        /// Submitting is accepted until then (the deadline, or the deadline plus a grace period).
        pub submit_until: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        pub score: Option<f64>,
        pub max_score: f64,
        pub percent: Option<f64>,
        pub passed: Option<bool>,
        /// Per competency: `[{"id","earned","possible","percent","level"}]`.
        pub competencies: Option<Json>,
        /// SHA-256 of the submitted responses.
        pub receipt: Option<String>,
        /// `submitted`, `timeout` or `abandoned`.
        pub finish_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A question drawn for an attempt, with the learner's response and its mark.
pub mod attempt_question {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "attempt_questions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub attempt_id: i64,
        pub position: i32,
        /// The question revision drawn (never changes under the attempt).
        pub question_id: i64,
        /// Option ids in the order this attempt shows them.
        pub option_order: Json,
        pub response: Option<Json>,
        pub answered_at: Option<DateTimeUtc>,
        pub flagged: bool,
        pub mark: Option<f64>,
        pub max_mark: f64,
        pub graded_by: Option<i64>,
        pub comment: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Extra time or attempts granted to one person for one certification.
pub mod accommodation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accommodations")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub user_id: i64,
        pub certification_id: i64,
        pub extra_minutes: i32,
        pub extra_attempts: i32,
        pub reason: String,
        pub granted_by: i64,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A dated, sourced statement of a person's level in a competency.
pub mod evidence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "competency_evidence")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub user_id: i64,
        pub competency_id: String,
        pub level: i32,
        /// `exam`, `course`, `manager`, `self` or `external`.
        pub source: String,
        pub source_id: Option<i64>,
        pub percent: Option<f64>,
        pub recorded_by: Option<i64>,
        pub recorded_at: DateTimeUtc,
        /// What it rests on, in words (a rating's reason, an external course).
        pub note: Option<String>,
        /// Who delivered external training or a certificate.
        pub provider: Option<String>,
        /// A link to or name of the supporting document.
        pub attachment: Option<String>,
        /// When the evidence was earned, if not when it was recorded.
        pub evidence_date: Option<DateTimeUtc>,
        /// Set when a later outcome of the same source replaced it (a regrade); rows are never
        /// deleted.
        pub superseded_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A certification's statistics report, computed over `attempts` graded attempts.
pub mod statistics_cache {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "statistics_cache")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub certification_id: i64,
        /// The organization whose attempts it covers; 0 for all of them.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope_org_id: i64,
        pub attempts: i64,
        pub report: Json,
        pub computed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An organization's integrity controls of a certification's exam (off unless set).
pub mod exam_control {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "exam_controls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub certification_id: i64,
        /// After this many switches away from the exam the attempt is submitted.
        pub max_switches: Option<i32>,
        /// A pledge the learner must accept before starting.
        pub pledge: Option<String>,
        pub updated_by: Option<i64>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
