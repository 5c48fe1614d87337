//! Learning maps: per position, the path from one level to the next — stages by level, each
//! with the courses that develop the position's competencies to that level (required for
//! mandatory competencies, optional for the others) and the certification of the position's
//! category at that level at its end.
//!
//! A map is generated from the position's requirements and the catalog until HR edits it
//! (`PUT`); an edited map names courses and certifications by code, so it survives new course
//! versions, and an empty edit returns to the generated one. A learner sees the map of their
//! position with what is done, what is next and their gap to each stage.
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::entities::{position, requirement};
use super::report::OrgData;
use crate::catalog::entities::{certification, course, course_competency};
use crate::error::{AppError, AppResult, FieldIssue, Msg};

/// The most stages a map holds (levels 1–5, and room for an organization's own steps).
pub const MAX_STAGES: usize = 10;
/// The most items a stage holds.
pub const MAX_ITEMS: usize = 40;

/// A course of a stage, as stored and as HR sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapItem {
    /// The course code.
    pub course: String,
    /// Required to finish the stage (default true).
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// A stage of a map, as stored and as HR sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapStage {
    /// The level the stage reaches (1–5).
    pub level: i32,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub title_zh: String,
    pub items: Vec<MapItem>,
    /// The certification code that ends the stage, if any.
    pub certification: Option<String>,
}

/// A map as HR sends it: no stages returns to the generated map.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapInput {
    pub stages: Vec<MapStage>,
}

/// A course on the map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    pub course_id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub required: bool,
    /// For a learner: `completed`, `in_progress` or `not_started`.
    pub status: Option<String>,
}

/// The certification that ends a stage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificationRef {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    /// For a learner: passed.
    pub passed: Option<bool>,
}

/// A competency a stage builds, and (for a learner) how far they are from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageCompetency {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    /// The level this stage brings it to.
    pub target: i32,
    pub current: Option<i32>,
    /// Levels still missing for this stage (learners only).
    pub gap: Option<i32>,
}

/// A stage as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageView {
    pub level: i32,
    pub title: String,
    pub title_zh: String,
    pub items: Vec<ItemView>,
    pub certification: Option<CertificationRef>,
    pub competencies: Vec<StageCompetency>,
    /// For a learner: every required course done and the certification passed.
    pub done: Option<bool>,
}

/// A position's learning map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MapView {
    pub position_id: i64,
    pub position: String,
    pub position_name: String,
    /// Generated from the requirements and the catalog (not edited by HR).
    pub generated: bool,
    pub stages: Vec<StageView>,
    /// For a learner: the course or certification to take next.
    pub next: Option<String>,
}

/// What the map needs of the catalog.
struct Catalog {
    /// Visible published courses by code.
    courses: HashMap<String, course::Model>,
    /// Course id → (competency, level) it develops.
    develops: HashMap<i64, Vec<(String, i32)>>,
    /// Visible certifications by code.
    certifications: HashMap<String, certification::Model>,
}

async fn catalog<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    platform_org_id: i64,
) -> AppResult<Catalog> {
    let mut courses: HashMap<String, course::Model> = HashMap::new();
    for c in course::Entity::find()
        .filter(course::Column::OrgId.is_in([org_id, platform_org_id]))
        .filter(course::Column::PublishedVersionId.is_not_null())
        .all(conn)
        .await?
    {
        // An organization's own course shadows a platform course of the same code.
        if c.org_id == org_id || !courses.contains_key(&c.code) {
            courses.insert(c.code.clone(), c);
        }
    }
    let ids: Vec<i64> = courses.values().map(|c| c.id).collect();
    let mut develops: HashMap<i64, Vec<(String, i32)>> = HashMap::new();
    for link in course_competency::Entity::find()
        .filter(course_competency::Column::CourseId.is_in(ids))
        .all(conn)
        .await?
    {
        develops
            .entry(link.course_id)
            .or_default()
            .push((link.competency_id, link.level));
    }
    let mut certifications: HashMap<String, certification::Model> = HashMap::new();
    for c in certification::Entity::find()
        .filter(certification::Column::OrgId.is_in([org_id, platform_org_id]))
        .filter(certification::Column::Status.eq("published"))
        .all(conn)
        .await?
    {
        if c.org_id == org_id || !certifications.contains_key(&c.code) {
            certifications.insert(c.code.clone(), c);
        }
    }
    Ok(Catalog {
        courses,
        develops,
        certifications,
    })
}

/// The map generated from a position's requirements: a stage per level up to the highest
/// required, with the courses that bring a required competency to that level and the
/// category's certification of that level.
fn generate(pos: &position::Model, reqs: &[requirement::Model], cat: &Catalog) -> Vec<MapStage> {
    let required: HashMap<&str, (i32, bool)> = reqs
        .iter()
        .map(|r| (r.competency_id.as_str(), (r.level, r.mandatory)))
        .collect();
    let top = reqs.iter().map(|r| r.level).max().unwrap_or(0);
    let mut stages = Vec::new();
    for level in 1..=top {
        let mut items: BTreeMap<String, bool> = BTreeMap::new();
        for c in cat.courses.values() {
            for (competency, course_level) in cat.develops.get(&c.id).into_iter().flatten() {
                if *course_level != level {
                    continue;
                }
                if let Some((needed, mandatory)) = required.get(competency.as_str()) {
                    if level <= *needed {
                        let entry = items.entry(c.code.clone()).or_insert(false);
                        *entry |= *mandatory;
                    }
                }
            }
        }
        let certification = cat
            .certifications
            .values()
            .filter(|c| c.category_id == pos.category_id && c.level == level)
            .map(|c| c.code.clone())
            .min();
        if items.is_empty() && certification.is_none() {
            continue;
        }
        stages.push(MapStage {
            level,
            title: String::new(),
            title_zh: String::new(),
            items: items
                .into_iter()
                .map(|(course, required)| MapItem { course, required })
                .collect(),
            certification,
        });
    }
    stages
}

/// The stages of a position's map: HR's edit, else generated.
fn stages_of(
    pos: &position::Model,
    reqs: &[requirement::Model],
    cat: &Catalog,
) -> (Vec<MapStage>, bool) {
    match pos
        .learning_map
        .as_ref()
        .and_then(|m| serde_json::from_value::<Vec<MapStage>>(m.clone()).ok())
    {
        Some(stages) if !stages.is_empty() => (stages, false),
        _ => (generate(pos, reqs, cat), true),
    }
}

const LEVEL_NAMES: [(&str, &str); 5] = [
    ("Foundations", "入门"),
    ("Associate", "初级"),
    ("Professional", "中级"),
    ("Expert", "高级"),
    ("Master", "专家"),
];

/// Who the map is drawn for: nobody in particular, or a learner (statuses and gaps).
pub enum Viewer<'a> {
    Staff,
    Learner {
        data: &'a OrgData,
        user_id: i64,
        in_progress: HashSet<i64>,
        passed: HashSet<i64>,
    },
}

fn view(
    pos: &position::Model,
    reqs: &[requirement::Model],
    cat: &Catalog,
    names: &HashMap<String, (String, String)>,
    viewer: &Viewer<'_>,
) -> MapView {
    let (stages, generated) = stages_of(pos, reqs, cat);
    let mut next = None;
    let mut out = Vec::new();
    for s in stages {
        let (fallback, fallback_zh) = usize::try_from(s.level - 1)
            .ok()
            .and_then(|i| LEVEL_NAMES.get(i))
            .copied()
            .unwrap_or(("Stage", "阶段"));
        let items: Vec<ItemView> = s
            .items
            .iter()
            .filter_map(|i| {
                let c = cat.courses.get(&i.course)?;
                let status = match viewer {
                    Viewer::Staff => None,
                    Viewer::Learner {
                        data,
                        user_id,
                        in_progress,
                        ..
                    } => Some(
                        if data.completed.contains(&(*user_id, c.id)) {
                            "completed"
                        } else if in_progress.contains(&c.id) {
                            "in_progress"
                        } else {
                            "not_started"
                        }
                        .to_string(),
                    ),
                };
                Some(ItemView {
                    course_id: c.id,
                    code: c.code.clone(),
                    title: c.title.clone(),
                    title_zh: c.title_zh.clone(),
                    required: i.required,
                    status,
                })
            })
            .collect();
        let certification = s
            .certification
            .as_ref()
            .and_then(|code| cat.certifications.get(code))
            .map(|c| CertificationRef {
                id: c.id,
                code: c.code.clone(),
                title: c.title.clone(),
                title_zh: c.title_zh.clone(),
                passed: match viewer {
                    Viewer::Staff => None,
                    Viewer::Learner { passed, .. } => Some(passed.contains(&c.id)),
                },
            });
        let competencies: Vec<StageCompetency> = reqs
            .iter()
            .map(|r| {
                let target = r.level.min(s.level);
                let (name, name_zh) = names
                    .get(&r.competency_id)
                    .cloned()
                    .unwrap_or_else(|| (r.competency_id.clone(), String::new()));
                let (current, gap) = match viewer {
                    Viewer::Staff => (None, None),
                    Viewer::Learner { data, user_id, .. } => {
                        let current = data.level(*user_id, &r.competency_id).0;
                        (current, Some((target - current.unwrap_or(0)).max(0)))
                    }
                };
                StageCompetency {
                    competency: r.competency_id.clone(),
                    name,
                    name_zh,
                    target,
                    current,
                    gap,
                }
            })
            .collect();
        let done = match viewer {
            Viewer::Staff => None,
            Viewer::Learner { .. } => Some(
                items
                    .iter()
                    .filter(|i| i.required)
                    .all(|i| i.status.as_deref() == Some("completed"))
                    && certification
                        .as_ref()
                        .is_none_or(|c| c.passed == Some(true)),
            ),
        };
        if next.is_none() && done == Some(false) {
            next = items
                .iter()
                .find(|i| i.required && i.status.as_deref() != Some("completed"))
                .map(|i| i.code.clone())
                .or_else(|| certification.as_ref().map(|c| c.code.clone()));
        }
        out.push(StageView {
            level: s.level,
            title: if s.title.is_empty() {
                fallback.to_string()
            } else {
                s.title
            },
            title_zh: if s.title_zh.is_empty() {
                fallback_zh.to_string()
            } else {
                s.title_zh
            },
            items,
            certification,
            competencies,
            done,
        });
    }
    MapView {
        position_id: pos.id,
        position: pos.code.clone(),
        position_name: pos.name.clone(),
        generated,
        stages: out,
        next,
    }
}

/// A position of the organization by its id or its code.
async fn position_of<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    key: &str,
) -> AppResult<(position::Model, Vec<requirement::Model>)> {
    let in_org = || position::Entity::find().filter(position::Column::OrgId.eq(org_id));
    // A code first (codes may be digits), then an id.
    let by_code = in_org()
        .filter(position::Column::Code.eq(key))
        .one(conn)
        .await?;
    let pos = match (by_code, key.parse::<i64>()) {
        (Some(p), _) => p,
        (None, Ok(id)) => in_org()
            .filter(position::Column::Id.eq(id))
            .one(conn)
            .await?
            .ok_or(AppError::NotFound)?,
        (None, Err(_)) => return Err(AppError::NotFound),
    };
    let reqs = requirement::Entity::find()
        .filter(requirement::Column::PositionId.eq(pos.id))
        .all(conn)
        .await?;
    Ok((pos, reqs))
}

async fn competency_names<C: ConnectionTrait>(
    conn: &C,
) -> AppResult<HashMap<String, (String, String)>> {
    Ok(crate::catalog::entities::competency::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, (c.name, c.name_zh)))
        .collect())
}

/// A position's map, as HR and the organization see it.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    platform_org_id: i64,
    position: &str,
) -> AppResult<MapView> {
    let (pos, reqs) = position_of(conn, org_id, position).await?;
    let cat = catalog(conn, org_id, platform_org_id).await?;
    let names = competency_names(conn).await?;
    Ok(view(&pos, &reqs, &cat, &names, &Viewer::Staff))
}

/// The map of a learner's position, with what they have done, what is next and their gaps;
/// none when they hold no position.
pub async fn for_learner(
    db: &DatabaseConnection,
    org_id: i64,
    platform_org_id: i64,
    user_id: i64,
) -> AppResult<Option<MapView>> {
    let data = OrgData::load(db, org_id, platform_org_id).await?;
    let Some(position_id) = data
        .people
        .iter()
        .find(|p| p.id == user_id)
        .and_then(|p| p.position_id)
    else {
        return Ok(None);
    };
    let (pos, reqs) = position_of(db, org_id, &position_id.to_string()).await?;
    let cat = catalog(db, org_id, platform_org_id).await?;
    let names = competency_names(db).await?;
    let in_progress: HashSet<i64> = crate::catalog::entities::enrolment::Entity::find()
        .filter(crate::catalog::entities::enrolment::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|e| e.course_id)
        .collect();
    let passed: HashSet<i64> = crate::certificates::entities::certificate::Entity::find()
        .filter(crate::certificates::entities::certificate::Column::UserId.eq(user_id))
        .filter(crate::certificates::entities::certificate::Column::Status.eq("valid"))
        .filter(crate::certificates::entities::certificate::Column::ValidUntil.gt(Utc::now()))
        .select_only()
        .column(crate::certificates::entities::certificate::Column::CertificationId)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let viewer = Viewer::Learner {
        data: &data,
        user_id,
        in_progress,
        passed,
    };
    Ok(Some(view(&pos, &reqs, &cat, &names, &viewer)))
}

/// Replaces a position's map (HR and admins); no stages returns to the generated map. Every
/// unknown course or certification is named by its place. Audited.
pub async fn set(
    db: &DatabaseConnection,
    org_id: i64,
    platform_org_id: i64,
    actor: i64,
    position: &str,
    input: MapInput,
) -> AppResult<MapView> {
    let txn = crate::db::begin_write(db).await?;
    let (pos, reqs) = position_of(&txn, org_id, position).await?;
    let cat = catalog(&txn, org_id, platform_org_id).await?;
    let mut issues = Vec::new();
    if input.stages.len() > MAX_STAGES {
        issues.push(FieldIssue::new(
            "stages",
            Msg::new("validation.range")
                .arg("min", 0)
                .arg("max", MAX_STAGES),
        ));
    }
    for (i, s) in input.stages.iter().enumerate() {
        if !(1..=5).contains(&s.level) {
            issues.push(FieldIssue::new(
                format!("stages[{i}].level"),
                Msg::new("validation.range").arg("min", 1).arg("max", 5),
            ));
        }
        if s.title.chars().count() > 200 || s.title_zh.chars().count() > 200 {
            issues.push(FieldIssue::new(
                format!("stages[{i}].title"),
                Msg::new("validation.length").arg("min", 0).arg("max", 200),
            ));
        }
        if s.items.len() > MAX_ITEMS {
            issues.push(FieldIssue::new(
                format!("stages[{i}].items"),
                Msg::new("validation.range")
                    .arg("min", 0)
                    .arg("max", MAX_ITEMS),
            ));
        }
        for (j, item) in s.items.iter().enumerate() {
            if !cat.courses.contains_key(&item.course) {
                issues.push(FieldIssue::new(
                    format!("stages[{i}].items[{j}].course"),
                    Msg::new("validation.course_unknown").arg("code", &item.course),
                ));
            }
        }
        if let Some(code) = &s.certification {
            if !cat.certifications.contains_key(code) {
                issues.push(FieldIssue::new(
                    format!("stages[{i}].certification"),
                    Msg::new("validation.certification_unknown").arg("code", code),
                ));
            }
        }
        if s.items.is_empty() && s.certification.is_none() {
            issues.push(FieldIssue::new(
                format!("stages[{i}]"),
                Msg::new("validation.stage_empty"),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let before = pos.learning_map.clone();
    let stored = (!input.stages.is_empty()).then(|| json!(input.stages));
    let mut active = pos.into_active_model();
    active.learning_map = Set(stored.clone());
    active.updated_at = Set(Utc::now());
    let pos = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(org_id),
            actor_user_id: Some(actor),
            action: "position.learning_map_changed",
            target_type: "position",
            target_id: Some(pos.code.clone()),
            before,
            after: stored,
            ..Default::default()
        },
    )
    .await?;
    let names = competency_names(&txn).await?;
    let out = view(&pos, &reqs, &cat, &names, &Viewer::Staff);
    txn.commit().await?;
    Ok(out)
}
