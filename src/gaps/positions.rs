//! Positions: a code, a job category, a planned headcount, and for each competency of the
//! category's model the required level, a weight and whether it is mandatory (defaults from the
//! model, editable). Templates for the three organization modes of the seeds create a typical set.
use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::entities::{position, requirement};
use crate::catalog::entities::competency;
use crate::error::{AppError, AppResult, FieldIssue, Msg};

/// The level a position requires when none is given (associate).
pub const DEFAULT_LEVEL: i32 = 2;

/// One requirement as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementInput {
    pub competency: String,
    /// 1–5.
    pub level: i32,
    /// Default 1 (0.1–10).
    pub weight: Option<f64>,
    /// Default true.
    pub mandatory: Option<bool>,
}

/// A position as sent: created, or replaced when its code exists.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionInput {
    pub code: String,
    pub name: String,
    pub name_zh: Option<String>,
    /// The job category (e.g. `community-operation`).
    pub category: String,
    /// Planned headcount. Default 0.
    pub headcount: Option<i32>,
    /// The level every competency of the category requires unless listed. Default 2.
    pub level: Option<i32>,
    /// Overrides for some competencies.
    #[serde(default)]
    pub requirements: Vec<RequirementInput>,
}

/// A requirement of a position.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequirementView {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    pub level: i32,
    pub weight: f64,
    pub mandatory: bool,
}

/// A position with its requirements.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PositionView {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_zh: String,
    pub category: String,
    pub headcount: i32,
    pub requirements: Vec<RequirementView>,
}

/// The positions of an organization with their requirements, by code.
pub async fn list<C: ConnectionTrait>(conn: &C, org_id: i64) -> AppResult<Vec<PositionView>> {
    let positions = position::Entity::find()
        .filter(position::Column::OrgId.eq(org_id))
        .order_by_asc(position::Column::Code)
        .all(conn)
        .await?;
    let ids: Vec<i64> = positions.iter().map(|p| p.id).collect();
    let reqs = requirement::Entity::find()
        .filter(requirement::Column::PositionId.is_in(ids))
        .order_by_asc(requirement::Column::Id)
        .all(conn)
        .await?;
    let names: HashMap<String, competency::Model> = competency::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    Ok(positions
        .into_iter()
        .map(|p| PositionView {
            requirements: reqs
                .iter()
                .filter(|r| r.position_id == p.id)
                .map(|r| RequirementView {
                    name: names
                        .get(&r.competency_id)
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                    name_zh: names
                        .get(&r.competency_id)
                        .map(|c| c.name_zh.clone())
                        .unwrap_or_default(),
                    competency: r.competency_id.clone(),
                    level: r.level,
                    weight: r.weight,
                    mandatory: r.mandatory,
                })
                .collect(),
            id: p.id,
            code: p.code,
            name: p.name,
            name_zh: p.name_zh,
            category: p.category_id,
            headcount: p.headcount,
        })
        .collect())
}

/// Creates a position, or replaces the one with the same code, in the caller's transaction.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    actor: Option<i64>,
    input: &PositionInput,
) -> AppResult<i64> {
    let mut issues = Vec::new();
    let code = input.code.trim().to_lowercase();
    if crate::auth::model::Slug::parse("code", &code).is_err() {
        issues.push(FieldIssue::new("code", Msg::new("validation.slug")));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        issues.push(FieldIssue::new(
            "name",
            Msg::new("validation.length").arg("min", 1).arg("max", 200),
        ));
    }
    let headcount = input.headcount.unwrap_or(0);
    if !(0..=100_000).contains(&headcount) {
        issues.push(FieldIssue::new(
            "headcount",
            Msg::new("validation.range")
                .arg("min", 0)
                .arg("max", 100_000),
        ));
    }
    let level = input.level.unwrap_or(DEFAULT_LEVEL);
    if !(1..=5).contains(&level) {
        issues.push(FieldIssue::new(
            "level",
            Msg::new("validation.range").arg("min", 1).arg("max", 5),
        ));
    }
    let model = competency::Entity::find()
        .filter(competency::Column::CategoryId.eq(input.category.as_str()))
        .order_by_asc(competency::Column::Position)
        .all(conn)
        .await?;
    if model.is_empty() {
        issues.push(FieldIssue::new("category", Msg::new("validation.category")));
    }
    for (i, r) in input.requirements.iter().enumerate() {
        if !model.iter().any(|c| c.id == r.competency) {
            issues.push(FieldIssue::new(
                format!("requirements[{i}].competency"),
                Msg::new("validation.position_competency").arg("category", input.category.clone()),
            ));
        }
        if !(1..=5).contains(&r.level) {
            issues.push(FieldIssue::new(
                format!("requirements[{i}].level"),
                Msg::new("validation.range").arg("min", 1).arg("max", 5),
            ));
        }
        if r.weight.is_some_and(|w| !(0.1..=10.0).contains(&w)) {
            issues.push(FieldIssue::new(
                format!("requirements[{i}].weight"),
                Msg::new("validation.range")
                    .arg("min", "0.1")
                    .arg("max", 10),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let now = Utc::now();
    let existing = position::Entity::find()
        .filter(position::Column::OrgId.eq(org_id))
        .filter(position::Column::Code.eq(code.as_str()))
        .one(conn)
        .await?;
    let name_zh = input.name_zh.clone().unwrap_or_default().trim().to_string();
    let saved = match existing {
        Some(p) => {
            // A map edited for another category no longer fits: the generated one takes over.
            let category_changed = p.category_id != input.category;
            let mut active = p.into_active_model();
            if category_changed {
                active.learning_map = Set(None);
            }
            active.name = Set(name.to_string());
            active.name_zh = Set(name_zh);
            active.category_id = Set(input.category.clone());
            active.headcount = Set(headcount);
            active.updated_at = Set(now);
            active.update(conn).await?
        }
        None => {
            position::ActiveModel {
                id: NotSet,
                org_id: Set(org_id),
                code: Set(code.clone()),
                name: Set(name.to_string()),
                name_zh: Set(name_zh),
                category_id: Set(input.category.clone()),
                headcount: Set(headcount),
                created_at: Set(now),
                updated_at: Set(now),
                learning_map: Set(None),
            }
            .insert(conn)
            .await?
        }
    };
    requirement::Entity::delete_many()
        .filter(requirement::Column::PositionId.eq(saved.id))
        .exec(conn)
        .await?;
    for c in &model {
        let over = input.requirements.iter().find(|r| r.competency == c.id);
        requirement::ActiveModel {
            id: NotSet,
            position_id: Set(saved.id),
            competency_id: Set(c.id.clone()),
            level: Set(over.map_or(level, |r| r.level)),
            weight: Set(over.and_then(|r| r.weight).unwrap_or(1.0)),
            mandatory: Set(over.and_then(|r| r.mandatory).unwrap_or(true)),
        }
        .insert(conn)
        .await?;
    }
    crate::audit::record(
        conn,
        crate::audit::AuditEvent {
            org_id: Some(org_id),
            actor_user_id: actor,
            action: "position.saved",
            target_type: "position",
            target_id: Some(code),
            after: Some(
                json!({"category": input.category, "headcount": headcount, "level": level}),
            ),
            ..Default::default()
        },
    )
    .await?;
    Ok(saved.id)
}

/// Saves one position in its own transaction and answers it.
pub async fn save_one(
    db: &DatabaseConnection,
    org_id: i64,
    actor: i64,
    input: &PositionInput,
) -> AppResult<PositionView> {
    let txn = crate::db::begin_write(db).await?;
    let id = save(&txn, org_id, Some(actor), input).await?;
    let view = list(&txn, org_id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(view)
}

/// A position of a template: code, English and Chinese names, category, required level,
/// headcount.
type TemplatePosition = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i32,
    i32,
);

/// The organization modes of the seeds and the positions each starts with.
pub const TEMPLATES: [(&str, &[TemplatePosition]); 3] = [
    (
        // A small cross-functional team for one campaign season, disbanded afterwards.
        "temporary-project",
        &[
            (
                "project-lead",
                "Project lead (activity operation)",
                "项目负责人（活动运营）",
                "activity-operation",
                3,
                1,
            ),
            (
                "project-content",
                "Content operator",
                "内容运营",
                "content-operation",
                2,
                2,
            ),
            (
                "project-community",
                "Community operator",
                "社群运营",
                "community-operation",
                2,
                2,
            ),
            (
                "project-data",
                "Data analyst",
                "数据分析",
                "data-operation",
                2,
                1,
            ),
        ],
    ),
    (
        // A service provider runs the channels; the brand keeps the people who steer and check it.
        "supplier-empowerment",
        &[
            (
                "supplier-manager",
                "Supplier manager (user operation)",
                "服务商管理（用户运营）",
                "user-operation",
                3,
                1,
            ),
            (
                "supplier-data",
                "Data controller",
                "数据管控",
                "data-operation",
                3,
                1,
            ),
            (
                "store-guide",
                "Store shopping guide",
                "门店导购",
                "shopping-guide",
                2,
                12,
            ),
        ],
    ),
    (
        // The brand builds every capability in house.
        "self-built",
        &[
            (
                "content-operator",
                "Content operator",
                "内容运营",
                "content-operation",
                2,
                2,
            ),
            (
                "community-operator",
                "Community operator",
                "社群运营",
                "community-operation",
                2,
                4,
            ),
            (
                "user-operator",
                "User operator",
                "用户运营",
                "user-operation",
                2,
                2,
            ),
            (
                "activity-operator",
                "Activity operator",
                "活动运营",
                "activity-operation",
                2,
                2,
            ),
            (
                "data-operator",
                "Data operator",
                "数据运营",
                "data-operation",
                3,
                1,
            ),
            (
                "mall-operator",
                "Mini-program mall operator",
                "小程序商城运营",
                "mall-operation",
                2,
                2,
            ),
            (
                "store-guide",
                "Store shopping guide",
                "门店导购",
                "shopping-guide",
                2,
                20,
            ),
        ],
    ),
];

/// Creates (or resets) the positions of an organization-mode template.
pub async fn apply_template<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    actor: Option<i64>,
    mode: &str,
) -> AppResult<usize> {
    let (_, positions) = TEMPLATES
        .iter()
        .find(|(m, _)| *m == mode)
        .ok_or(AppError::NotFound)?;
    for (code, name, name_zh, category, level, headcount) in positions.iter() {
        save(
            conn,
            org_id,
            actor,
            &PositionInput {
                code: (*code).into(),
                name: (*name).into(),
                name_zh: Some((*name_zh).into()),
                category: (*category).into(),
                headcount: Some(*headcount),
                level: Some(*level),
                requirements: Vec::new(),
            },
        )
        .await?;
    }
    Ok(positions.len())
}
