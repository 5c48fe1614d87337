//! Database rows of gap analysis: positions, what they require, assigned learning paths.

/// A position an organization staffs (a code, a job category, a planned headcount).
pub mod position {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "positions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub code: String,
        pub name: String,
        pub name_zh: String,
        pub category_id: String,
        pub headcount: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The learning map as HR edited it; none: generated from the requirements and catalog.
        pub learning_map: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The level a position requires of a competency, its weight and whether it is mandatory.
pub mod requirement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "position_requirements")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub position_id: i64,
        pub competency_id: String,
        pub level: i32,
        pub weight: f64,
        pub mandatory: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A learning path HR assigned to a person: courses in order.
pub mod learning_path {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "learning_paths")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: i64,
        pub user_id: i64,
        pub position_id: Option<i64>,
        /// Course ids in the order to take them.
        pub courses: Json,
        pub assigned_by: Option<i64>,
        pub assigned_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
