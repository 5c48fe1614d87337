//! Gap reports: a person (each required competency: required, current, gap, the evidence the
//! level rests on, and a learning path), a department (a people × competencies heatmap and the
//! competencies most lacking), and the organization (per position: headcount against people who
//! meet it, are within one level, or further away; per competency: who needs training and
//! whether to train internally or hire/train externally, with the reasons; key-person risk).
//!
//! Everything is computed in memory from a few queries ([`OrgData::load`]), so the organization
//! report for 100,000 people is one pass over the evidence.
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;

use super::entities::{position, requirement};
use super::levels::{current_level, Evidence, LevelRule};
use crate::assessment::entities::evidence;
use crate::auth::entities::{organization, user};
use crate::catalog::entities::{competency, course, course_competency, enrolment};
use crate::error::{AppError, AppResult};

/// An average gap this large or larger (levels) is not closed by internal courses alone.
pub const LARGE_GAP: i32 = 3;
/// Key-person risk: a competency held at the required level by this many people or fewer.
pub const KEY_PERSON_MAX: usize = 2;

/// A person as the reports need them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub department: Option<String>,
    pub position_id: Option<i64>,
    pub manager_id: Option<i64>,
}

/// A course that develops a competency to a level.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseStep {
    pub course_id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub competency: String,
    /// The level the course brings the competency to.
    pub level: i32,
    pub completed: bool,
}

/// The evidence of an organization by person and competency (ledger ids beside the items).
#[derive(Debug, Default)]
pub struct Ledger {
    by_user: HashMap<i64, HashMap<String, Entries>>,
}

/// The evidence of one person for one competency.
#[derive(Debug, Default)]
pub struct Entries {
    pub ids: Vec<i64>,
    pub items: Vec<Evidence>,
}

impl Ledger {
    /// Adds a piece of evidence.
    pub fn insert(&mut self, user_id: i64, competency: &str, id: i64, evidence: Evidence) {
        let entries = self
            .by_user
            .entry(user_id)
            .or_default()
            .entry(competency.to_string())
            .or_default();
        entries.ids.push(id);
        entries.items.push(evidence);
    }

    /// A person's evidence of a competency.
    pub fn get(&self, user_id: i64, competency: &str) -> Option<&Entries> {
        self.by_user.get(&user_id)?.get(competency)
    }

    /// Every (person, competency) with evidence.
    pub fn keys(&self) -> impl Iterator<Item = (i64, &str)> {
        self.by_user
            .iter()
            .flat_map(|(u, m)| m.keys().map(move |c| (*u, c.as_str())))
    }
}

/// Everything the reports read, loaded once.
#[derive(Debug, Default)]
pub struct OrgData {
    pub rule: Option<LevelRule>,
    pub exam_outranks: bool,
    pub people: Vec<Person>,
    pub positions: HashMap<i64, position::Model>,
    pub requirements: HashMap<i64, Vec<requirement::Model>>,
    pub evidence: Ledger,
    pub competency_names: HashMap<String, (String, String)>,
    /// Competency → courses that develop it (published, visible to the organization).
    pub courses: HashMap<String, Vec<CourseStep>>,
    /// (user, course) completed.
    pub completed: HashSet<(i64, i64)>,
    /// Course code → (course, the codes of its prerequisites), for the visible courses.
    pub prerequisites: HashMap<String, (CourseStep, Vec<String>)>,
    pub now: DateTime<Utc>,
}

impl OrgData {
    /// Loads an organization's people, positions, evidence and the courses that develop
    /// competencies.
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        org_id: i64,
        platform_org_id: i64,
    ) -> AppResult<OrgData> {
        let org = organization::Entity::find_by_id(org_id)
            .one(conn)
            .await?
            .ok_or(AppError::NotFound)?;
        let people = user::Entity::find()
            .filter(user::Column::OrgId.eq(org_id))
            .filter(user::Column::Status.ne("deactivated"))
            .all(conn)
            .await?
            .into_iter()
            .map(|u| Person {
                id: u.id,
                name: u.display_name,
                department: u.department,
                position_id: u.position_id,
                manager_id: u.manager_id,
            })
            .collect();
        let positions: HashMap<i64, position::Model> = position::Entity::find()
            .filter(position::Column::OrgId.eq(org_id))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut requirements: HashMap<i64, Vec<requirement::Model>> = HashMap::new();
        for r in requirement::Entity::find()
            .filter(
                requirement::Column::PositionId
                    .is_in(positions.keys().copied().collect::<Vec<_>>()),
            )
            .all(conn)
            .await?
        {
            requirements.entry(r.position_id).or_default().push(r);
        }
        let mut ledger = Ledger::default();
        for e in evidence::Entity::find()
            .filter(evidence::Column::OrgId.eq(org_id))
            .filter(evidence::Column::SupersededAt.is_null())
            .all(conn)
            .await?
        {
            ledger.insert(
                e.user_id,
                &e.competency_id,
                e.id,
                Evidence {
                    level: e.level,
                    source: e.source,
                    at: e.evidence_date.unwrap_or(e.recorded_at),
                },
            );
        }
        let competency_names = competency::Entity::find()
            .all(conn)
            .await?
            .into_iter()
            .map(|c| (c.id, (c.name, c.name_zh)))
            .collect();
        let visible: HashMap<i64, course::Model> = course::Entity::find()
            .filter(course::Column::OrgId.is_in([org_id, platform_org_id]))
            .filter(course::Column::PublishedVersionId.is_not_null())
            .all(conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut courses: HashMap<String, Vec<CourseStep>> = HashMap::new();
        for link in course_competency::Entity::find()
            .filter(
                course_competency::Column::CourseId
                    .is_in(visible.keys().copied().collect::<Vec<_>>()),
            )
            .all(conn)
            .await?
        {
            if let Some(c) = visible.get(&link.course_id) {
                courses
                    .entry(link.competency_id.clone())
                    .or_default()
                    .push(CourseStep {
                        course_id: c.id,
                        code: c.code.clone(),
                        title: c.title.clone(),
                        title_zh: c.title_zh.clone(),
                        competency: link.competency_id,
                        level: link.level,
                        completed: false,
                    });
            }
        }
        for list in courses.values_mut() {
            list.sort_by_key(|s| (s.level, s.code.clone()));
        }
        let mut prerequisites = HashMap::new();
        for c in visible.values() {
            let first = courses
                .values()
                .flatten()
                .find(|s| s.course_id == c.id)
                .cloned()
                .unwrap_or_else(|| CourseStep {
                    course_id: c.id,
                    code: c.code.clone(),
                    title: c.title.clone(),
                    title_zh: c.title_zh.clone(),
                    competency: String::new(),
                    level: c.level,
                    completed: false,
                });
            let before: Vec<String> =
                serde_json::from_value(c.prerequisites.clone()).unwrap_or_default();
            prerequisites.insert(c.code.clone(), (first, before));
        }
        let completed = enrolment::Entity::find()
            .filter(enrolment::Column::OrgId.eq(org_id))
            .filter(enrolment::Column::CompletedAt.is_not_null())
            .all(conn)
            .await?
            .into_iter()
            .map(|e| (e.user_id, e.course_id))
            .collect();
        Ok(OrgData {
            rule: LevelRule::parse(&org.level_rule, org.mastery_count),
            exam_outranks: org.exam_outranks_ratings,
            people,
            positions,
            requirements,
            evidence: ledger,
            competency_names,
            courses,
            completed,
            prerequisites,
            now: Utc::now(),
        })
    }

    /// A person's current level of a competency and the ledger ids it rests on.
    pub fn level(&self, user_id: i64, competency: &str) -> (Option<i32>, Vec<i64>) {
        let Some(entries) = self.evidence.get(user_id, competency) else {
            return (None, Vec::new());
        };
        match current_level(
            &entries.items,
            self.rule.unwrap_or(LevelRule::Latest),
            self.exam_outranks,
            self.now,
        ) {
            Some((level, used)) => (Some(level), used.iter().map(|&i| entries.ids[i]).collect()),
            None => (None, Vec::new()),
        }
    }

    fn names(&self, competency: &str) -> (String, String) {
        self.competency_names
            .get(competency)
            .cloned()
            .unwrap_or_else(|| (competency.to_string(), competency.to_string()))
    }
}

/// One required competency of a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompetencyGap {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    pub required: i32,
    /// None without evidence.
    pub current: Option<i32>,
    /// Levels missing (0 when met).
    pub gap: i32,
    pub weight: f64,
    pub mandatory: bool,
    /// The ledger entries the current level rests on.
    pub evidence_ids: Vec<i64>,
}

/// A person's gaps against their position.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonGap {
    pub user_id: i64,
    pub name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub position_name: Option<String>,
    /// The roll-up rule in force.
    pub rule: String,
    pub competencies: Vec<CompetencyGap>,
    /// Every mandatory requirement met.
    pub meets: bool,
    /// The largest gap of a mandatory requirement.
    pub max_gap: i32,
    /// Sum of gap × weight.
    pub weighted_gap: f64,
    /// Courses that close the gaps, in order.
    pub learning_path: Vec<CourseStep>,
}

/// The gaps of one person (pure, over loaded data).
pub fn person_gap(data: &OrgData, person: &Person) -> PersonGap {
    gaps_of(data, person, true)
}

/// The gaps; without `detail`, no names or learning path (the organization report needs only
/// the levels).
pub(crate) fn gaps_of(data: &OrgData, person: &Person, detail: bool) -> PersonGap {
    let position = person.position_id.and_then(|id| data.positions.get(&id));
    let reqs = person
        .position_id
        .and_then(|id| data.requirements.get(&id))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut competencies: Vec<CompetencyGap> = reqs
        .iter()
        .map(|r| {
            let (current, evidence_ids) = data.level(person.id, &r.competency_id);
            let (name, name_zh) = if detail {
                data.names(&r.competency_id)
            } else {
                (String::new(), String::new())
            };
            CompetencyGap {
                gap: (r.level - current.unwrap_or(0)).max(0),
                competency: r.competency_id.clone(),
                name,
                name_zh,
                required: r.level,
                current,
                weight: r.weight,
                mandatory: r.mandatory,
                evidence_ids,
            }
        })
        .collect();
    competencies.sort_by(|a, b| b.gap.cmp(&a.gap).then(a.competency.cmp(&b.competency)));
    let max_gap = competencies
        .iter()
        .filter(|c| c.mandatory)
        .map(|c| c.gap)
        .max()
        .unwrap_or(0);
    let weighted_gap = competencies
        .iter()
        .map(|c| f64::from(c.gap) * c.weight)
        .sum();
    // The path: for each gap (largest first), the courses from the current level up to the
    // required one, lower levels first (they are the higher ones' prerequisites).
    let mut path: Vec<CourseStep> = Vec::new();
    for c in competencies.iter().filter(|c| detail && c.gap > 0) {
        for step in data.courses.get(&c.competency).into_iter().flatten() {
            if step.level > c.current.unwrap_or(0)
                && step.level <= c.required
                && !path.iter().any(|p| p.course_id == step.course_id)
            {
                let mut step = step.clone();
                step.completed = data.completed.contains(&(person.id, step.course_id));
                path.push(step);
            }
        }
    }
    let gaps: HashMap<&str, i32> = competencies
        .iter()
        .map(|c| (c.competency.as_str(), c.gap))
        .collect();
    let path = order_path(data, person.id, path, &gaps);
    PersonGap {
        user_id: person.id,
        name: person.name.clone(),
        department: person.department.clone(),
        position: position.map(|p| p.code.clone()),
        position_name: position.map(|p| p.name.clone()),
        rule: data.rule.unwrap_or(LevelRule::Latest).name().into(),
        meets: max_gap == 0 && position.is_some(),
        max_gap,
        weighted_gap,
        competencies,
        learning_path: path,
    }
}

/// Orders a learning path: every course after its prerequisites (a prerequisite not yet
/// completed joins the path, even when it develops another competency), and among the courses
/// that may come next, the one for the largest gap first, then the lower level, then the code.
fn order_path(
    data: &OrgData,
    user_id: i64,
    mut path: Vec<CourseStep>,
    gaps: &HashMap<&str, i32>,
) -> Vec<CourseStep> {
    // Add missing prerequisites, transitively.
    let mut i = 0;
    while i < path.len() {
        let before = data
            .prerequisites
            .get(&path[i].code)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        for code in before {
            if path.iter().any(|p| p.code == code) {
                continue;
            }
            if let Some((step, _)) = data.prerequisites.get(&code) {
                if !data.completed.contains(&(user_id, step.course_id)) {
                    path.push(step.clone());
                }
            }
        }
        i += 1;
    }
    let in_path: HashSet<String> = path.iter().map(|p| p.code.clone()).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut ordered = Vec::with_capacity(path.len());
    while !path.is_empty() {
        let ready = |s: &CourseStep| {
            data.prerequisites
                .get(&s.code)
                .map(|(_, b)| b.as_slice())
                .unwrap_or_default()
                .iter()
                .all(|p| !in_path.contains(p) || placed.contains(p))
        };
        let key = |s: &CourseStep| {
            (
                -gaps.get(s.competency.as_str()).copied().unwrap_or(0),
                s.level,
                s.code.clone(),
            )
        };
        // A cycle of prerequisites (refused by the content checks) cannot stall the path.
        let next = path
            .iter()
            .enumerate()
            .filter(|(_, s)| ready(s))
            .min_by_key(|(_, s)| key(s))
            .or_else(|| path.iter().enumerate().min_by_key(|(_, s)| key(s)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let step = path.remove(next);
        placed.insert(step.code.clone());
        ordered.push(step);
    }
    ordered
}

/// A department's heatmap and what it lacks most.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentGap {
    pub department: String,
    /// The columns: every competency some member's position requires.
    pub competencies: Vec<String>,
    pub competency_names: Vec<(String, String)>,
    /// One row per person: the gap per column (None where the position does not require it).
    pub rows: Vec<HeatmapRow>,
    /// Competencies by total gap, most lacking first: (competency, people short, total gap).
    pub most_lacking: Vec<Lacking>,
}

/// A competency a group lacks.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Lacking {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    /// People short of their position's level.
    pub people: usize,
    /// Levels missing in all.
    pub levels: i32,
}

/// A row of the heatmap.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatmapRow {
    pub user_id: i64,
    pub name: String,
    pub position: Option<String>,
    pub cells: Vec<Option<i32>>,
    pub total_gap: i32,
}

/// The heatmap of the given people (a department, or a manager's reports).
pub fn department_gap(data: &OrgData, department: &str, people: &[&Person]) -> DepartmentGap {
    let gaps: Vec<PersonGap> = people.iter().map(|p| person_gap(data, p)).collect();
    let mut columns: Vec<String> = gaps
        .iter()
        .flat_map(|g| g.competencies.iter().map(|c| c.competency.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut lacking: BTreeMap<String, (usize, i32)> = BTreeMap::new();
    for g in &gaps {
        for c in &g.competencies {
            let e = lacking.entry(c.competency.clone()).or_default();
            if c.gap > 0 {
                e.0 += 1;
                e.1 += c.gap;
            }
        }
    }
    // Columns ordered by how much is lacking, so the heatmap reads left to right.
    columns.sort_by(|a, b| {
        let (x, y) = (
            lacking.get(a).map_or(0, |v| v.1),
            lacking.get(b).map_or(0, |v| v.1),
        );
        y.cmp(&x).then(a.cmp(b))
    });
    let mut rows: Vec<HeatmapRow> = gaps
        .iter()
        .map(|g| HeatmapRow {
            user_id: g.user_id,
            name: g.name.clone(),
            position: g.position.clone(),
            cells: columns
                .iter()
                .map(|c| {
                    g.competencies
                        .iter()
                        .find(|x| &x.competency == c)
                        .map(|x| x.gap)
                })
                .collect(),
            total_gap: g.competencies.iter().map(|c| c.gap).sum(),
        })
        .collect();
    rows.sort_by(|a, b| b.total_gap.cmp(&a.total_gap).then(a.name.cmp(&b.name)));
    let mut most_lacking: Vec<Lacking> = lacking
        .into_iter()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(c, (n, t))| {
            let (name, name_zh) = data.names(&c);
            Lacking {
                competency: c,
                name,
                name_zh,
                people: n,
                levels: t,
            }
        })
        .collect();
    most_lacking.sort_by(|a, b| {
        b.levels
            .cmp(&a.levels)
            .then(a.competency.cmp(&b.competency))
    });
    DepartmentGap {
        department: department.to_string(),
        competency_names: columns.iter().map(|c| data.names(c)).collect(),
        competencies: columns,
        rows,
        most_lacking,
    }
}

/// Sorts a heatmap's rows: `name`, `position`, or by total gap (the default, largest first).
pub fn sort_rows(rows: &mut [HeatmapRow], by: Option<&str>) {
    match by {
        Some("name") => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("position") => {
            rows.sort_by(|a, b| a.position.cmp(&b.position).then(a.name.cmp(&b.name)))
        }
        _ => rows.sort_by(|a, b| b.total_gap.cmp(&a.total_gap).then(a.name.cmp(&b.name))),
    }
}

/// How staffed a position is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PositionStaffing {
    pub position: String,
    pub name: String,
    pub name_zh: String,
    pub category: String,
    pub headcount: i32,
    pub assigned: usize,
    /// Meet every mandatory requirement.
    pub meets: usize,
    /// Within one level on every mandatory requirement.
    pub within_one: usize,
    pub further: usize,
    /// Planned headcount not yet met by people who meet the position.
    pub shortfall: i32,
}

/// What to do about a competency gap.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recommendation {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    /// People whose position requires more than they have.
    pub need_training: usize,
    pub average_gap: f64,
    pub highest_required: i32,
    /// `internal` (a course exists and the gap is small) or `external` (hire or train outside).
    pub action: String,
    /// Why, in plain words (English; the pages translate the action).
    pub reasons: Vec<String>,
    /// The courses that reach the level, when training internally.
    pub courses: Vec<String>,
}

/// A competency few people hold at the level their positions require.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyPersonRisk {
    pub competency: String,
    pub name: String,
    /// Empty for the whole organization.
    pub department: String,
    pub required_level: i32,
    pub holders: Vec<String>,
}

/// The organization report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationGap {
    pub people: usize,
    pub rule: String,
    pub positions: Vec<PositionStaffing>,
    pub recommendations: Vec<Recommendation>,
    pub key_person_risks: Vec<KeyPersonRisk>,
}

/// The organization report (pure, over loaded data).
pub fn organization_gap(data: &OrgData) -> OrganizationGap {
    let gaps: Vec<PersonGap> = data
        .people
        .iter()
        .map(|p| gaps_of(data, p, false))
        .collect();
    let mut positions: Vec<PositionStaffing> = data
        .positions
        .values()
        .map(|p| {
            let members: Vec<&PersonGap> = gaps
                .iter()
                .filter(|g| g.position.as_deref() == Some(p.code.as_str()))
                .collect();
            let meets = members.iter().filter(|g| g.max_gap == 0).count();
            let within_one = members.iter().filter(|g| g.max_gap == 1).count();
            PositionStaffing {
                position: p.code.clone(),
                name: p.name.clone(),
                name_zh: p.name_zh.clone(),
                category: p.category_id.clone(),
                headcount: p.headcount,
                assigned: members.len(),
                meets,
                within_one,
                further: members.len() - meets - within_one,
                shortfall: (p.headcount - i32::try_from(meets).unwrap_or(i32::MAX)).max(0),
            }
        })
        .collect();
    positions.sort_by(|a, b| {
        b.shortfall
            .cmp(&a.shortfall)
            .then(a.position.cmp(&b.position))
    });
    // Per competency: who is short, by how much, and whether a course reaches the level.
    let mut short: BTreeMap<String, (usize, i32, i32)> = BTreeMap::new();
    for g in &gaps {
        for c in g.competencies.iter().filter(|c| c.gap > 0) {
            let e = short.entry(c.competency.clone()).or_default();
            e.0 += 1;
            e.1 += c.gap;
            e.2 = e.2.max(c.required);
        }
    }
    let mut recommendations: Vec<Recommendation> = short
        .into_iter()
        .map(|(competency, (n, total, highest))| {
            #[allow(clippy::cast_precision_loss)]
            let average_gap = f64::from(total) / n as f64;
            let reaching: Vec<String> = data
                .courses
                .get(&competency)
                .into_iter()
                .flatten()
                .filter(|s| s.level >= highest)
                .map(|s| s.code.clone())
                .collect();
            let mut reasons = Vec::new();
            let course_ok = !reaching.is_empty();
            if course_ok {
                reasons.push(format!(
                    "courses reach level {highest}: {}",
                    reaching.join(", ")
                ));
            } else {
                reasons.push(format!("no course in the catalog reaches level {highest}"));
            }
            let small = average_gap < f64::from(LARGE_GAP);
            reasons.push(format!(
                "the average gap is {average_gap:.1} level(s) across {n} people ({})",
                if small {
                    "small enough to train"
                } else {
                    "large"
                }
            ));
            let (name, name_zh) = data.names(&competency);
            Recommendation {
                action: if course_ok && small {
                    "internal"
                } else {
                    "external"
                }
                .into(),
                competency,
                name,
                name_zh,
                need_training: n,
                average_gap,
                highest_required: highest,
                reasons,
                courses: reaching,
            }
        })
        .collect();
    recommendations.sort_by(|a, b| {
        b.need_training
            .cmp(&a.need_training)
            .then(a.competency.cmp(&b.competency))
    });
    OrganizationGap {
        people: data.people.len(),
        rule: data.rule.unwrap_or(LevelRule::Latest).name().into(),
        positions,
        recommendations,
        key_person_risks: key_person_risks(data, &gaps),
    }
}

/// Competencies that only one or two people hold at the level their positions require, in the
/// organization and in each department.
fn key_person_risks(data: &OrgData, gaps: &[PersonGap]) -> Vec<KeyPersonRisk> {
    // Competency → (required level: the most common requirement) and holders.
    let mut required: HashMap<String, i32> = HashMap::new();
    for reqs in data.requirements.values() {
        for r in reqs {
            let e = required.entry(r.competency_id.clone()).or_insert(r.level);
            *e = (*e).min(r.level);
        }
    }
    let departments: HashMap<i64, String> = data
        .people
        .iter()
        .filter_map(|p| p.department.clone().map(|d| (p.id, d)))
        .collect();
    let needed_in: HashSet<(String, String)> = gaps
        .iter()
        .filter_map(|g| g.department.clone().map(|d| (d, g)))
        .flat_map(|(d, g)| {
            g.competencies
                .iter()
                .map(move |c| (d.clone(), c.competency.clone()))
        })
        .collect();
    // Each person's level per competency, computed once from the ledger.
    let mut holders_of: HashMap<&str, Vec<&Person>> = HashMap::new();
    let by_id: HashMap<i64, &Person> = data.people.iter().map(|p| (p.id, p)).collect();
    for (user_id, competency) in data.evidence.keys() {
        let Some(needed) = required.get(competency) else {
            continue;
        };
        let Some(person) = by_id.get(&user_id) else {
            continue;
        };
        if data
            .level(user_id, competency)
            .0
            .is_some_and(|l| l >= *needed)
        {
            holders_of.entry(competency).or_default().push(person);
        }
    }
    let mut risks = Vec::new();
    let mut sorted: Vec<(&String, &i32)> = required.iter().collect();
    sorted.sort();
    for (competency, level) in sorted {
        let mut holders = holders_of.remove(competency.as_str()).unwrap_or_default();
        holders.sort_by_key(|p| p.id);
        let (name, _) = data.names(competency);
        if holders.len() <= KEY_PERSON_MAX {
            risks.push(KeyPersonRisk {
                competency: competency.clone(),
                name: name.clone(),
                department: String::new(),
                required_level: *level,
                holders: holders.iter().map(|p| p.name.clone()).collect(),
            });
        }
        let mut by_department: BTreeMap<&str, Vec<&Person>> = BTreeMap::new();
        for h in &holders {
            if let Some(d) = departments.get(&h.id) {
                by_department.entry(d.as_str()).or_default().push(h);
            }
        }
        for (department, people) in by_department {
            if people.len() <= KEY_PERSON_MAX
                && needed_in.contains(&(department.to_string(), competency.clone()))
            {
                risks.push(KeyPersonRisk {
                    competency: competency.clone(),
                    name: name.clone(),
                    department: department.to_string(),
                    required_level: *level,
                    holders: people.iter().map(|p| p.name.clone()).collect(),
                });
            }
        }
    }
    risks
}

/// The people a manager sees: direct and indirect reports.
pub fn reports_of(data: &OrgData, manager_id: i64) -> Vec<&Person> {
    let mut out = Vec::new();
    let mut frontier = vec![manager_id];
    let mut seen: HashSet<i64> = HashSet::from([manager_id]);
    while let Some(m) = frontier.pop() {
        for p in data.people.iter().filter(|p| p.manager_id == Some(m)) {
            if seen.insert(p.id) {
                out.push(p);
                frontier.push(p.id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(position: i64, competency: &str, level: i32) -> requirement::Model {
        requirement::Model {
            id: 0,
            position_id: position,
            competency_id: competency.into(),
            level,
            weight: 1.0,
            mandatory: true,
        }
    }

    fn person(id: i64, department: &str, manager: Option<i64>) -> Person {
        Person {
            id,
            name: format!("P{id}"),
            department: Some(department.into()),
            position_id: Some(1),
            manager_id: manager,
        }
    }

    fn data() -> OrgData {
        let now = Utc::now();
        let mut d = OrgData {
            rule: Some(LevelRule::Latest),
            exam_outranks: true,
            now,
            ..Default::default()
        };
        d.positions.insert(
            1,
            position::Model {
                id: 1,
                org_id: 1,
                code: "guide".into(),
                name: "Guide".into(),
                name_zh: "导购".into(),
                category_id: "shopping-guide".into(),
                headcount: 3,
                created_at: now,
                updated_at: now,
                learning_map: None,
            },
        );
        d.requirements
            .insert(1, vec![req(1, "a", 2), req(1, "b", 3)]);
        d.people = vec![
            person(1, "S1", None),
            person(2, "S1", Some(1)),
            person(3, "S2", Some(2)),
        ];
        let ev = |level| Evidence {
            level,
            source: "exam".into(),
            at: now,
        };
        // P1 meets both; P2 is one short on b; P3 has nothing.
        d.evidence.insert(1, "a", 1, ev(3));
        d.evidence.insert(1, "b", 2, ev(3));
        d.evidence.insert(2, "a", 3, ev(2));
        d.evidence.insert(2, "b", 4, ev(2));
        d.courses.insert(
            "b".into(),
            vec![CourseStep {
                course_id: 7,
                code: "b-301".into(),
                title: "B".into(),
                title_zh: "B".into(),
                competency: "b".into(),
                level: 3,
                completed: false,
            }],
        );
        d
    }

    fn step(id: i64, code: &str, competency: &str, level: i32) -> CourseStep {
        CourseStep {
            course_id: id,
            code: code.into(),
            title: code.into(),
            title_zh: code.into(),
            competency: competency.into(),
            level,
            completed: false,
        }
    }

    #[test]
    fn a_learning_path_puts_prerequisites_first_then_the_largest_gap() {
        let mut d = data();
        // P3 has nothing: gap 2 on a, 3 on b. a-201 (a, level 2) needs x-101 (another
        // competency, not required); b-101, b-201 and b-301 build b; b-301 needs a-201.
        d.courses.insert("a".into(), vec![step(1, "a-201", "a", 2)]);
        d.courses.insert(
            "b".into(),
            vec![
                step(2, "b-101", "b", 1),
                step(3, "b-201", "b", 2),
                step(4, "b-301", "b", 3),
            ],
        );
        for (s, before) in [
            (step(1, "a-201", "a", 2), vec!["x-101"]),
            (step(2, "b-101", "b", 1), vec![]),
            (step(3, "b-201", "b", 2), vec!["b-101"]),
            (step(4, "b-301", "b", 3), vec!["b-201", "a-201"]),
            (step(5, "x-101", "x", 1), vec![]),
        ] {
            d.prerequisites.insert(
                s.code.clone(),
                (s, before.into_iter().map(String::from).collect()),
            );
        }
        let p3 = person_gap(&d, &d.people[2]);
        let order: Vec<&str> = p3.learning_path.iter().map(|s| s.code.as_str()).collect();
        // b's gap (3) leads; a-201 waits for x-101, and b-301 for a-201.
        assert_eq!(order, vec!["b-101", "b-201", "x-101", "a-201", "b-301"]);
        // A completed prerequisite is not added again.
        d.completed.insert((3, 5));
        let p3 = person_gap(&d, &d.people[2]);
        assert!(!p3.learning_path.iter().any(|s| s.code == "x-101"));
    }

    #[test]
    fn people_positions_and_recommendations_on_known_data() {
        let d = data();
        let p2 = person_gap(&d, &d.people[1]);
        assert_eq!(p2.max_gap, 1);
        assert_eq!(p2.competencies[0].competency, "b");
        assert_eq!(
            p2.learning_path
                .iter()
                .map(|s| s.code.as_str())
                .collect::<Vec<_>>(),
            vec!["b-301"]
        );
        let org = organization_gap(&d);
        let guide = &org.positions[0];
        assert_eq!(
            (
                guide.assigned,
                guide.meets,
                guide.within_one,
                guide.further,
                guide.shortfall
            ),
            (3, 1, 1, 1, 2)
        );
        let a = org
            .recommendations
            .iter()
            .find(|r| r.competency == "a")
            .unwrap();
        // Only P3 lacks a (gap 2) and no course develops it: external.
        assert_eq!((a.need_training, a.action.as_str()), (1, "external"));
        let b = org
            .recommendations
            .iter()
            .find(|r| r.competency == "b")
            .unwrap();
        // P2 (gap 1) and P3 (gap 3) lack b: an average of 2 and a course reaching 3: internal.
        assert_eq!((b.need_training, b.action.as_str()), (2, "internal"));
        assert!(b.reasons.iter().any(|r| r.contains("b-301")));
        // Only P1 holds b at level 3: a key-person risk in the organization and in S1.
        assert!(org
            .key_person_risks
            .iter()
            .any(|r| r.competency == "b" && r.department.is_empty() && r.holders == vec!["P1"]));
        assert!(org
            .key_person_risks
            .iter()
            .any(|r| r.competency == "b" && r.department == "S1"));
    }

    #[test]
    fn heatmaps_sort_by_need_and_managers_see_indirect_reports() {
        let d = data();
        let people: Vec<&Person> = d.people.iter().collect();
        let heat = department_gap(&d, "all", &people);
        assert_eq!(heat.competencies, vec!["b", "a"], "most lacking first");
        assert_eq!(heat.rows[0].name, "P3");
        assert_eq!(heat.rows[0].cells, vec![Some(3), Some(2)]);
        assert_eq!(
            (
                heat.most_lacking[0].competency.as_str(),
                heat.most_lacking[0].people,
                heat.most_lacking[0].levels
            ),
            ("b", 2, 4)
        );
        let reports: Vec<i64> = reports_of(&d, 1).iter().map(|p| p.id).collect();
        assert_eq!(reports, vec![2, 3]);
        assert!(reports_of(&d, 3).is_empty());
    }
}
