//! Catalog rules: who sees which course, enrolment and progress, authoring drafts and versions.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::entities::{
    competency, course, course_competency, course_version, enrolment, job_category, lesson,
    lesson_completion, question,
};
use crate::auth::{CurrentUser, Role};
use crate::error::{AppError, AppResult, Msg};

/// Who is looking, and what they may do.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: i64,
    pub org_id: i64,
    pub platform_org_id: i64,
    pub is_trainer: bool,
}

impl Viewer {
    /// The viewer for a signed-in user.
    pub fn of(user: &CurrentUser, platform_org_id: i64) -> Viewer {
        Viewer {
            user_id: user.id,
            org_id: user.org_id,
            platform_org_id,
            is_trainer: user.has(Role::Trainer),
        }
    }

    /// Platform content and the viewer's own organization's content.
    fn sees(&self, course: &course::Model) -> bool {
        course.org_id == self.platform_org_id || course.org_id == self.org_id
    }

    /// A trainer of the organization that owns the course.
    pub fn edits(&self, course: &course::Model) -> bool {
        self.is_trainer && course.org_id == self.org_id
    }
}

/// A competency and the level a course brings it to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompetencyLevel {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub level: i32,
}

/// A course in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseCard {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub summary: String,
    pub summary_zh: String,
    pub category: String,
    pub area: String,
    pub level: i32,
    pub estimated_minutes: i32,
    pub lesson_count: usize,
    pub competencies: Vec<CompetencyLevel>,
    /// `platform` (shared catalog) or `organization` (your organization's own).
    pub owner: &'static str,
    /// `published` or `draft`.
    pub status: &'static str,
    /// Your progress, when you are enrolled (0-100).
    pub progress_percent: Option<u32>,
}

/// Filters of the course list.
#[derive(Debug, Default, Clone)]
pub struct CourseFilter {
    pub category: Option<String>,
    pub area: Option<String>,
    pub competency: Option<String>,
    pub level: Option<i32>,
    pub q: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

/// A category with its competencies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub description: String,
    pub description_zh: String,
    pub competencies: Vec<CompetencyView>,
}

/// A competency with its proficiency levels.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompetencyView {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub description: String,
    pub description_zh: String,
    /// marketing, sales-conversion or user-relationship.
    pub value_demand: String,
    /// construction, operation or conversion.
    pub business_level: String,
    /// `[{"level": 1, "indicators": [...]}, ...]`
    #[schema(value_type = Object)]
    pub levels: serde_json::Value,
}

/// Every job category with its competency model.
pub async fn categories<C: ConnectionTrait>(conn: &C) -> Result<Vec<CategoryView>, DbErr> {
    let cats = job_category::Entity::find()
        .order_by_asc(job_category::Column::Position)
        .all(conn)
        .await?;
    let comps = competency::Entity::find()
        .order_by_asc(competency::Column::Position)
        .all(conn)
        .await?;
    Ok(cats
        .into_iter()
        .map(|c| CategoryView {
            competencies: comps
                .iter()
                .filter(|k| k.category_id == c.id)
                .map(|k| CompetencyView {
                    id: k.id.clone(),
                    name: k.name.clone(),
                    name_zh: k.name_zh.clone(),
                    description: k.description.clone(),
                    description_zh: k.description_zh.clone(),
                    value_demand: k.value_demand.clone(),
                    business_level: k.business_level.clone(),
                    levels: k.levels.clone(),
                })
                .collect(),
            id: c.id,
            name: c.name,
            name_zh: c.name_zh,
            description: c.description,
            description_zh: c.description_zh,
        })
        .collect())
}

fn visibility(viewer: &Viewer) -> Condition {
    let own_or_platform = Condition::any()
        .add(course::Column::OrgId.eq(viewer.platform_org_id))
        .add(course::Column::OrgId.eq(viewer.org_id));
    // Drafts show to the trainers who may edit them only.
    let readable = if viewer.is_trainer {
        Condition::any()
            .add(course::Column::PublishedVersionId.is_not_null())
            .add(course::Column::OrgId.eq(viewer.org_id))
    } else {
        Condition::all().add(course::Column::PublishedVersionId.is_not_null())
    };
    Condition::all().add(own_or_platform).add(readable)
}

/// The version a viewer reads: the published one, or the draft for its editors when asked.
fn readable_version(viewer: &Viewer, c: &course::Model, want_draft: bool) -> Option<i64> {
    if viewer.edits(c) && (want_draft || c.published_version_id.is_none()) {
        c.draft_version_id.or(c.published_version_id)
    } else {
        c.published_version_id
    }
}

async fn competency_levels<C: ConnectionTrait>(
    conn: &C,
    course_ids: &[i64],
) -> Result<HashMap<i64, Vec<CompetencyLevel>>, DbErr> {
    let links = course_competency::Entity::find()
        .filter(course_competency::Column::CourseId.is_in(course_ids.to_vec()))
        .all(conn)
        .await?;
    let ids: BTreeSet<String> = links.iter().map(|l| l.competency_id.clone()).collect();
    let comps: HashMap<String, competency::Model> = competency::Entity::find()
        .filter(competency::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut out: HashMap<i64, Vec<CompetencyLevel>> = HashMap::new();
    for l in links {
        let (name, name_zh) = comps
            .get(&l.competency_id)
            .map_or((l.competency_id.clone(), l.competency_id.clone()), |c| {
                (c.name.clone(), c.name_zh.clone())
            });
        out.entry(l.course_id).or_default().push(CompetencyLevel {
            id: l.competency_id,
            name,
            name_zh,
            level: l.level,
        });
    }
    Ok(out)
}

async fn lesson_slugs<C: ConnectionTrait>(
    conn: &C,
    version_ids: &[i64],
) -> Result<HashMap<i64, Vec<(i64, String)>>, DbErr> {
    let rows = lesson::Entity::find()
        .filter(lesson::Column::CourseVersionId.is_in(version_ids.to_vec()))
        .order_by_asc(lesson::Column::Position)
        .all(conn)
        .await?;
    let mut out: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for l in rows {
        out.entry(l.course_version_id)
            .or_default()
            .push((l.id, l.slug));
    }
    Ok(out)
}

async fn completed_slugs<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    course_ids: &[i64],
) -> Result<HashMap<i64, BTreeSet<String>>, DbErr> {
    let rows = lesson_completion::Entity::find()
        .filter(lesson_completion::Column::UserId.eq(user_id))
        .filter(lesson_completion::Column::CourseId.is_in(course_ids.to_vec()))
        .all(conn)
        .await?;
    let mut out: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for r in rows {
        out.entry(r.course_id).or_default().insert(r.lesson_slug);
    }
    Ok(out)
}

fn percent(done: usize, total: usize) -> u32 {
    (done * 100)
        .checked_div(total)
        .map_or(0, |p| u32::try_from(p).unwrap_or(100))
}

/// Builds cards for courses (one query per kind of data, whatever the number of courses).
async fn cards<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    courses: Vec<course::Model>,
) -> Result<Vec<CourseCard>, DbErr> {
    let ids: Vec<i64> = courses.iter().map(|c| c.id).collect();
    let versions: Vec<i64> = courses
        .iter()
        .filter_map(|c| readable_version(viewer, c, false))
        .collect();
    let comps = competency_levels(conn, &ids).await?;
    let lessons = lesson_slugs(conn, &versions).await?;
    let done = completed_slugs(conn, viewer.user_id, &ids).await?;
    let enrolled: BTreeSet<i64> = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.eq(viewer.user_id))
        .filter(enrolment::Column::CourseId.is_in(ids.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| e.course_id)
        .collect();
    Ok(courses
        .into_iter()
        .map(|c| {
            let slugs = readable_version(viewer, &c, false)
                .and_then(|v| lessons.get(&v))
                .cloned()
                .unwrap_or_default();
            let completed = done
                .get(&c.id)
                .map_or(0, |d| slugs.iter().filter(|(_, s)| d.contains(s)).count());
            CourseCard {
                progress_percent: enrolled
                    .contains(&c.id)
                    .then(|| percent(completed, slugs.len())),
                lesson_count: slugs.len(),
                competencies: comps.get(&c.id).cloned().unwrap_or_default(),
                owner: if c.org_id == viewer.platform_org_id {
                    "platform"
                } else {
                    "organization"
                },
                status: if c.published_version_id.is_some() {
                    "published"
                } else {
                    "draft"
                },
                id: c.id,
                code: c.code,
                title: c.title,
                title_zh: c.title_zh,
                summary: c.summary,
                summary_zh: c.summary_zh,
                category: c.category_id,
                area: c.area,
                level: c.level,
                estimated_minutes: c.estimated_minutes,
            }
        })
        .collect())
}

/// The courses a viewer may see, filtered.
pub async fn list_courses<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    filter: &CourseFilter,
) -> Result<(Vec<CourseCard>, u64), DbErr> {
    let mut query = course::Entity::find().filter(visibility(viewer));
    if let Some(category) = &filter.category {
        query = query.filter(course::Column::CategoryId.eq(category.as_str()));
    }
    if let Some(area) = &filter.area {
        query = query.filter(course::Column::Area.eq(area.as_str()));
    }
    if let Some(level) = filter.level {
        query = query.filter(course::Column::Level.eq(level));
    }
    if let Some(comp) = &filter.competency {
        query = query.filter(
            course::Column::Id.in_subquery(
                Query::select()
                    .column(course_competency::Column::CourseId)
                    .from(course_competency::Entity)
                    .and_where(course_competency::Column::CompetencyId.eq(comp.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut any = Condition::any();
        for col in [
            course::Column::Title,
            course::Column::TitleZh,
            course::Column::Summary,
            course::Column::SummaryZh,
            course::Column::Code,
        ] {
            any = any.add(Expr::expr(Func::lower(Expr::col(col))).like(pattern.as_str()));
        }
        query = query.filter(any);
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_asc(course::Column::CategoryId)
        .order_by_asc(course::Column::Level)
        .order_by_asc(course::Column::Code)
        .limit(filter.limit)
        .offset(filter.offset)
        .all(conn)
        .await?;
    Ok((cards(conn, viewer, rows).await?, total))
}

/// A course the viewer may see, or 404.
pub async fn visible_course<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    id: i64,
) -> AppResult<course::Model> {
    let c = course::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !viewer.sees(&c) || (c.published_version_id.is_none() && !viewer.edits(&c)) {
        return Err(AppError::NotFound);
    }
    Ok(c)
}

/// A course the viewer may edit: 404 when they cannot see it, 403 when they may only read it.
pub async fn editable_course<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    id: i64,
) -> AppResult<course::Model> {
    let c = visible_course(conn, viewer, id).await?;
    if !viewer.edits(&c) {
        let key = if c.org_id == viewer.platform_org_id {
            "error.platform_content"
        } else {
            "error.forbidden_role"
        };
        return Err(AppError::Forbidden(Msg::new(key)));
    }
    Ok(c)
}

/// A lesson in a course outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonItem {
    pub id: i64,
    pub slug: String,
    pub position: i32,
    pub title: String,
    pub title_zh: Option<String>,
    /// operational-skills, data-and-tools or practical-case.
    pub kind: String,
    pub estimated_minutes: i32,
    pub completed: bool,
}

/// The viewer's enrolment in a course.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentView {
    pub course_id: i64,
    pub enrolled_at: DateTime<Utc>,
    pub progress_percent: u32,
    pub completed_lessons: usize,
    pub total_lessons: usize,
    /// Where to resume: the last lesson opened, else the first not completed.
    pub next_lesson_id: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A course with its outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseDetail {
    #[serde(flatten)]
    pub card: CourseCard,
    pub prerequisites: Vec<String>,
    /// The version shown (number).
    pub version: i32,
    pub lessons: Vec<LessonItem>,
    pub enrolment: Option<EnrolmentView>,
    /// Whether the viewer may edit this course.
    pub editable: bool,
    /// Whether an unpublished draft exists.
    pub has_draft: bool,
    /// When the course's question bank has this many current questions.
    pub question_count: u64,
}

async fn version_lessons<C: ConnectionTrait>(
    conn: &C,
    version_id: i64,
) -> Result<Vec<lesson::Model>, DbErr> {
    lesson::Entity::find()
        .filter(lesson::Column::CourseVersionId.eq(version_id))
        .order_by_asc(lesson::Column::Position)
        .all(conn)
        .await
}

async fn enrolment_view<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    c: &course::Model,
    lessons: &[lesson::Model],
) -> Result<Option<EnrolmentView>, DbErr> {
    let Some(e) = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.eq(viewer.user_id))
        .filter(enrolment::Column::CourseId.eq(c.id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let done = completed_slugs(conn, viewer.user_id, &[c.id])
        .await?
        .remove(&c.id)
        .unwrap_or_default();
    let completed = lessons.iter().filter(|l| done.contains(&l.slug)).count();
    let resume = e
        .last_lesson_slug
        .as_deref()
        .and_then(|s| lessons.iter().find(|l| l.slug == s));
    let next = match resume {
        Some(l) if !done.contains(&l.slug) => Some(l.id),
        _ => lessons
            .iter()
            .find(|l| !done.contains(&l.slug))
            .or(resume)
            .map(|l| l.id),
    };
    Ok(Some(EnrolmentView {
        course_id: c.id,
        enrolled_at: e.enrolled_at,
        progress_percent: percent(completed, lessons.len()),
        completed_lessons: completed,
        total_lessons: lessons.len(),
        next_lesson_id: next,
        completed_at: e.completed_at,
    }))
}

/// A course with its outline as the viewer sees it.
pub async fn course_detail<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    id: i64,
    want_draft: bool,
) -> AppResult<CourseDetail> {
    let c = visible_course(conn, viewer, id).await?;
    let version_id = readable_version(viewer, &c, want_draft).ok_or(AppError::NotFound)?;
    let version = course_version::Entity::find_by_id(version_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let lessons = version_lessons(conn, version_id).await?;
    let enrolment = enrolment_view(conn, viewer, &c, &lessons).await?;
    let done = completed_slugs(conn, viewer.user_id, &[c.id])
        .await?
        .remove(&c.id)
        .unwrap_or_default();
    let question_count = question::Entity::find()
        .filter(question::Column::CourseId.eq(c.id))
        .filter(question::Column::IsCurrent.eq(true))
        .count(conn)
        .await?;
    let prerequisites: Vec<String> =
        serde_json::from_value(c.prerequisites.clone()).unwrap_or_default();
    let editable = viewer.edits(&c);
    let has_draft = c.draft_version_id.is_some();
    let card = cards(conn, viewer, vec![c]).await?.remove(0);
    Ok(CourseDetail {
        card,
        prerequisites,
        version: version.number,
        lessons: lessons
            .into_iter()
            .map(|l| LessonItem {
                completed: done.contains(&l.slug),
                id: l.id,
                slug: l.slug,
                position: l.position,
                title: l.title,
                title_zh: l.title_zh,
                kind: l.kind,
                estimated_minutes: l.estimated_minutes,
            })
            .collect(),
        enrolment,
        editable,
        has_draft,
        question_count,
    })
}

/// Enrols the viewer (idempotent); answers the enrolment and whether it is new.
pub async fn enrol(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
) -> AppResult<(EnrolmentView, bool)> {
    let c = visible_course(db, viewer, course_id).await?;
    let version_id = c
        .published_version_id
        .ok_or_else(|| AppError::Conflict(Msg::new("error.course_not_published")))?;
    let result = enrolment::Entity::insert(enrolment::ActiveModel {
        id: NotSet,
        user_id: Set(viewer.user_id),
        course_id: Set(c.id),
        org_id: Set(viewer.org_id),
        enrolled_at: Set(Utc::now()),
        last_lesson_slug: Set(None),
        last_activity_at: Set(None),
        completed_at: Set(None),
    })
    .on_conflict(
        OnConflict::columns([enrolment::Column::UserId, enrolment::Column::CourseId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let lessons = version_lessons(db, version_id).await?;
    let view = enrolment_view(db, viewer, &c, &lessons)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((view, result > 0))
}

/// A lesson to read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonView {
    pub id: i64,
    pub course_id: i64,
    pub course_title: String,
    pub course_title_zh: String,
    pub slug: String,
    pub position: i32,
    pub title: String,
    pub title_zh: Option<String>,
    pub kind: String,
    pub estimated_minutes: i32,
    /// The Markdown source.
    pub body_markdown: String,
    /// The rendered, sanitised HTML.
    pub body_html: String,
    pub completed: bool,
    pub previous_lesson_id: Option<i64>,
    pub next_lesson_id: Option<i64>,
    pub lesson_count: usize,
    /// Your study time on this lesson as the server measured it, and any minimum before it
    /// can be completed.
    pub study_time: super::study::LessonTime,
}

pub(crate) async fn lesson_in_reach<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    lesson_id: i64,
) -> AppResult<(lesson::Model, course::Model, Vec<lesson::Model>)> {
    let l = lesson::Entity::find_by_id(lesson_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let version = course_version::Entity::find_by_id(l.course_version_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let c = course::Entity::find_by_id(version.course_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !viewer.sees(&c) {
        return Err(AppError::NotFound);
    }
    let readable = Some(version.id) == c.published_version_id || viewer.edits(&c);
    if !readable {
        return Err(AppError::NotFound);
    }
    let siblings = version_lessons(conn, version.id).await?;
    Ok((l, c, siblings))
}

/// Opens a lesson; an enrolled viewer resumes here next time.
pub async fn open_lesson(
    db: &DatabaseConnection,
    viewer: &Viewer,
    lesson_id: i64,
) -> AppResult<LessonView> {
    let (l, c, siblings) = lesson_in_reach(db, viewer, lesson_id).await?;
    enrolment::Entity::update_many()
        .col_expr(
            enrolment::Column::LastLessonSlug,
            Expr::value(l.slug.clone()),
        )
        .col_expr(enrolment::Column::LastActivityAt, Expr::value(Utc::now()))
        .filter(enrolment::Column::UserId.eq(viewer.user_id))
        .filter(enrolment::Column::CourseId.eq(c.id))
        .exec(db)
        .await?;
    let completed = lesson_completion::Entity::find_by_id((viewer.user_id, c.id, l.slug.clone()))
        .one(db)
        .await?
        .is_some();
    let study_time = super::study::opened(db, viewer, &l, &c).await?;
    let index = siblings.iter().position(|s| s.id == l.id).unwrap_or(0);
    Ok(LessonView {
        study_time,
        previous_lesson_id: index
            .checked_sub(1)
            .and_then(|i| siblings.get(i))
            .map(|s| s.id),
        next_lesson_id: siblings.get(index + 1).map(|s| s.id),
        lesson_count: siblings.len(),
        body_html: super::markdown::to_safe_html(&l.body_md),
        id: l.id,
        course_id: c.id,
        course_title: c.title,
        course_title_zh: c.title_zh,
        slug: l.slug,
        position: l.position,
        title: l.title,
        title_zh: l.title_zh,
        kind: l.kind,
        estimated_minutes: l.estimated_minutes,
        body_markdown: l.body_md,
        completed,
    })
}

/// Marks a lesson done (enrolling the viewer if needed); answers the course progress.
pub async fn complete_lesson(
    db: &DatabaseConnection,
    viewer: &Viewer,
    lesson_id: i64,
) -> AppResult<EnrolmentView> {
    let (l, c, siblings) = lesson_in_reach(db, viewer, lesson_id).await?;
    if Some(l.course_version_id) != c.published_version_id {
        return Err(AppError::Conflict(Msg::new("error.lesson_not_published")));
    }
    super::study::check_completion(db, viewer, &l, &c).await?;
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    enrolment::Entity::insert(enrolment::ActiveModel {
        id: NotSet,
        user_id: Set(viewer.user_id),
        course_id: Set(c.id),
        org_id: Set(viewer.org_id),
        enrolled_at: Set(now),
        last_lesson_slug: Set(Some(l.slug.clone())),
        last_activity_at: Set(Some(now)),
        completed_at: Set(None),
    })
    .on_conflict(
        OnConflict::columns([enrolment::Column::UserId, enrolment::Column::CourseId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    lesson_completion::Entity::insert(lesson_completion::ActiveModel {
        user_id: Set(viewer.user_id),
        course_id: Set(c.id),
        lesson_slug: Set(l.slug.clone()),
        completed_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            lesson_completion::Column::UserId,
            lesson_completion::Column::CourseId,
            lesson_completion::Column::LessonSlug,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let done = completed_slugs(&txn, viewer.user_id, &[c.id])
        .await?
        .remove(&c.id)
        .unwrap_or_default();
    let all_done = siblings.iter().all(|s| done.contains(&s.slug));
    let mut update = enrolment::Entity::update_many()
        .col_expr(
            enrolment::Column::LastLessonSlug,
            Expr::value(l.slug.clone()),
        )
        .col_expr(enrolment::Column::LastActivityAt, Expr::value(now))
        .filter(enrolment::Column::UserId.eq(viewer.user_id))
        .filter(enrolment::Column::CourseId.eq(c.id));
    if all_done {
        update = update
            .col_expr(enrolment::Column::CompletedAt, Expr::value(now))
            .filter(enrolment::Column::CompletedAt.is_null());
    }
    let updated = update.exec(&txn).await?;
    if all_done && updated.rows_affected > 0 {
        // A completed course is evidence of the levels it develops (the ledger of gap analysis).
        for link in course_competency::Entity::find()
            .filter(course_competency::Column::CourseId.eq(c.id))
            .all(&txn)
            .await?
        {
            crate::assessment::entities::evidence::ActiveModel {
                id: NotSet,
                org_id: Set(viewer.org_id),
                user_id: Set(viewer.user_id),
                competency_id: Set(link.competency_id),
                level: Set(link.level),
                source: Set("course".into()),
                source_id: Set(Some(c.id)),
                percent: Set(None),
                recorded_by: Set(None),
                recorded_at: Set(now),
                note: Set(Some(c.code.clone())),
                provider: Set(None),
                attachment: Set(None),
                evidence_date: Set(Some(now)),
                superseded_at: Set(None),
            }
            .insert(&txn)
            .await?;
        }
    }
    let view = enrolment_view(&txn, viewer, &c, &siblings)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(view)
}

/// A course the viewer is enrolled in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LearningItem {
    pub course: CourseCard,
    pub enrolment: EnrolmentView,
}

/// The viewer's courses, most recently active first.
pub async fn my_learning(db: &DatabaseConnection, viewer: &Viewer) -> AppResult<Vec<LearningItem>> {
    let enrolments = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.eq(viewer.user_id))
        .all(db)
        .await?;
    let ids: Vec<i64> = enrolments.iter().map(|e| e.course_id).collect();
    let courses = course::Entity::find()
        .filter(course::Column::Id.is_in(ids))
        .filter(visibility(viewer))
        .all(db)
        .await?;
    let mut items = Vec::new();
    for card in cards(db, viewer, courses.clone()).await? {
        let Some(c) = courses.iter().find(|c| c.id == card.id) else {
            continue;
        };
        let Some(version) = c.published_version_id else {
            continue;
        };
        let lessons = version_lessons(db, version).await?;
        if let Some(e) = enrolment_view(db, viewer, c, &lessons).await? {
            items.push(LearningItem {
                course: card,
                enrolment: e,
            });
        }
    }
    let activity: HashMap<i64, DateTime<Utc>> = enrolments
        .iter()
        .map(|e| (e.course_id, e.last_activity_at.unwrap_or(e.enrolled_at)))
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(activity.get(&i.course.id).copied()));
    Ok(items)
}

/// What a trainer writes for a new course.
#[derive(Debug, Clone)]
pub struct NewCourse {
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub summary: String,
    pub summary_zh: String,
    pub category: String,
    pub area: String,
    pub level: i32,
    pub estimated_minutes: i32,
    pub develops: Vec<(String, i32)>,
}

/// Checks that categories and competencies exist.
pub async fn check_references<C: ConnectionTrait>(
    conn: &C,
    category: &str,
    develops: &[(String, i32)],
) -> AppResult<()> {
    let mut issues = Vec::new();
    if job_category::Entity::find_by_id(category.to_string())
        .one(conn)
        .await?
        .is_none()
    {
        issues.push(crate::error::FieldIssue::new(
            "category",
            Msg::new("validation.unknown_category"),
        ));
    }
    for (i, (id, _)) in develops.iter().enumerate() {
        if competency::Entity::find_by_id(id.clone())
            .one(conn)
            .await?
            .is_none()
        {
            issues.push(crate::error::FieldIssue::new(
                format!("develops[{i}].competency"),
                Msg::new("validation.unknown_competency"),
            ));
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(issues))
    }
}

/// Creates a course of the viewer's organization, as a draft with no lessons yet.
pub async fn create_course(
    db: &DatabaseConnection,
    viewer: &Viewer,
    new: NewCourse,
) -> AppResult<course::Model> {
    let txn = crate::db::begin_write(db).await?;
    check_references(&txn, &new.category, &new.develops).await?;
    let taken = course::Entity::find()
        .filter(course::Column::OrgId.eq(viewer.org_id))
        .filter(course::Column::Code.eq(new.code.as_str()))
        .count(&txn)
        .await?;
    if taken > 0 {
        return Err(AppError::Conflict(Msg::new("error.course_code_taken")));
    }
    let now = Utc::now();
    let c = course::ActiveModel {
        id: NotSet,
        org_id: Set(viewer.org_id),
        code: Set(new.code.clone()),
        category_id: Set(new.category.clone()),
        area: Set(new.area.clone()),
        level: Set(new.level),
        title: Set(new.title.clone()),
        title_zh: Set(new.title_zh.clone()),
        summary: Set(new.summary.clone()),
        summary_zh: Set(new.summary_zh.clone()),
        estimated_minutes: Set(new.estimated_minutes),
        prerequisites: Set(json!([])),
        draft_version_id: Set(None),
        published_version_id: Set(None),
        source_hash: Set(None),
        edited_at: Set(Some(now)),
        copied_from: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    set_develops(&txn, c.id, &new.develops).await?;
    let version = course_version::ActiveModel {
        id: NotSet,
        course_id: Set(c.id),
        number: Set(1),
        content_hash: Set(String::new()),
        meta: Set(json!({"title": new.title, "code": new.code})),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        published_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut active = c.into_active_model();
    active.draft_version_id = Set(Some(version.id));
    let c = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "course.created",
            target_type: "course",
            target_id: Some(c.id.to_string()),
            after: Some(json!({"code": c.code, "title": c.title})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(c)
}

async fn set_develops<C: ConnectionTrait>(
    conn: &C,
    course_id: i64,
    develops: &[(String, i32)],
) -> Result<(), DbErr> {
    course_competency::Entity::delete_many()
        .filter(course_competency::Column::CourseId.eq(course_id))
        .exec(conn)
        .await?;
    let rows: Vec<course_competency::ActiveModel> = develops
        .iter()
        .map(|(id, level)| course_competency::ActiveModel {
            course_id: Set(course_id),
            competency_id: Set(id.clone()),
            level: Set(*level),
        })
        .collect();
    if !rows.is_empty() {
        course_competency::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The draft version of a course, created from the published one when there is none.
async fn ensure_draft<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    c: &course::Model,
) -> Result<i64, DbErr> {
    if let Some(draft) = c.draft_version_id {
        return Ok(draft);
    }
    let number = course_version::Entity::find()
        .filter(course_version::Column::CourseId.eq(c.id))
        .order_by_desc(course_version::Column::Number)
        .one(conn)
        .await?
        .map_or(1, |v| v.number + 1);
    let now = Utc::now();
    let draft = course_version::ActiveModel {
        id: NotSet,
        course_id: Set(c.id),
        number: Set(number),
        content_hash: Set(String::new()),
        meta: Set(json!({"title": c.title, "code": c.code})),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        published_at: Set(None),
    }
    .insert(conn)
    .await?;
    if let Some(published) = c.published_version_id {
        let copies: Vec<lesson::ActiveModel> = version_lessons(conn, published)
            .await?
            .into_iter()
            .map(|l| lesson::ActiveModel {
                id: NotSet,
                course_version_id: Set(draft.id),
                position: Set(l.position),
                slug: Set(l.slug),
                title: Set(l.title),
                title_zh: Set(l.title_zh),
                kind: Set(l.kind),
                estimated_minutes: Set(l.estimated_minutes),
                body_md: Set(l.body_md),
            })
            .collect();
        if !copies.is_empty() {
            lesson::Entity::insert_many(copies)
                .exec_without_returning(conn)
                .await?;
        }
    }
    course::Entity::update_many()
        .col_expr(course::Column::DraftVersionId, Expr::value(draft.id))
        .col_expr(course::Column::EditedAt, Expr::value(now))
        .col_expr(course::Column::UpdatedAt, Expr::value(now))
        .filter(course::Column::Id.eq(c.id))
        .exec(conn)
        .await?;
    Ok(draft.id)
}

/// A lesson as a trainer writes it.
#[derive(Debug, Clone)]
pub struct LessonInput {
    pub title: String,
    pub title_zh: Option<String>,
    pub kind: String,
    pub estimated_minutes: i32,
    pub body_md: String,
    pub position: Option<i32>,
}

/// Creates or replaces a lesson of the course's draft; answers the lesson.
pub async fn put_lesson(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    slug: &str,
    input: LessonInput,
) -> AppResult<lesson::Model> {
    let txn = crate::db::begin_write(db).await?;
    let c = editable_course(&txn, viewer, course_id).await?;
    let draft = ensure_draft(&txn, viewer, &c).await?;
    let existing = lesson::Entity::find()
        .filter(lesson::Column::CourseVersionId.eq(draft))
        .filter(lesson::Column::Slug.eq(slug))
        .one(&txn)
        .await?;
    let saved = match existing {
        Some(l) => {
            let position = input.position.unwrap_or(l.position);
            let mut active = l.into_active_model();
            active.title = Set(input.title);
            active.title_zh = Set(input.title_zh);
            active.kind = Set(input.kind);
            active.estimated_minutes = Set(input.estimated_minutes);
            active.body_md = Set(input.body_md);
            active.position = Set(position);
            active.update(&txn).await?
        }
        None => {
            let last = lesson::Entity::find()
                .filter(lesson::Column::CourseVersionId.eq(draft))
                .order_by_desc(lesson::Column::Position)
                .one(&txn)
                .await?
                .map_or(0, |l| l.position);
            lesson::ActiveModel {
                id: NotSet,
                course_version_id: Set(draft),
                position: Set(input.position.unwrap_or(last + 1)),
                slug: Set(slug.to_string()),
                title: Set(input.title),
                title_zh: Set(input.title_zh),
                kind: Set(input.kind),
                estimated_minutes: Set(input.estimated_minutes),
                body_md: Set(input.body_md),
            }
            .insert(&txn)
            .await?
        }
    };
    txn.commit().await?;
    Ok(saved)
}

/// Removes a lesson from the course's draft.
pub async fn delete_lesson(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    slug: &str,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let c = editable_course(&txn, viewer, course_id).await?;
    let draft = ensure_draft(&txn, viewer, &c).await?;
    let deleted = lesson::Entity::delete_many()
        .filter(lesson::Column::CourseVersionId.eq(draft))
        .filter(lesson::Column::Slug.eq(slug))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    txn.commit().await?;
    Ok(())
}

/// Publishes the draft: it becomes the version learners see.
pub async fn publish(db: &DatabaseConnection, viewer: &Viewer, course_id: i64) -> AppResult<i32> {
    let txn = crate::db::begin_write(db).await?;
    let c = editable_course(&txn, viewer, course_id).await?;
    let draft = c
        .draft_version_id
        .ok_or_else(|| AppError::Conflict(Msg::new("error.no_draft")))?;
    let lessons = version_lessons(&txn, draft).await?;
    if lessons.is_empty() {
        return Err(AppError::Conflict(Msg::new(
            "error.publish_without_lessons",
        )));
    }
    let now = Utc::now();
    let version = course_version::Entity::find_by_id(draft)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let number = version.number;
    let mut active = version.into_active_model();
    active.published_at = Set(Some(now));
    active.meta = Set(json!({"title": c.title, "code": c.code, "level": c.level}));
    active.update(&txn).await?;
    course::Entity::update_many()
        .col_expr(course::Column::PublishedVersionId, Expr::value(draft))
        .col_expr(
            course::Column::DraftVersionId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(course::Column::EditedAt, Expr::value(now))
        .col_expr(course::Column::UpdatedAt, Expr::value(now))
        .filter(course::Column::Id.eq(c.id))
        .exec(&txn)
        .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "course.published",
            target_type: "course",
            target_id: Some(c.id.to_string()),
            after: Some(json!({"version": number})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(number)
}

/// Copies a visible course (e.g. a platform course) into the viewer's organization as a draft,
/// with its lessons and questions, to adapt it.
pub async fn copy_course(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    code: &str,
) -> AppResult<course::Model> {
    let txn = crate::db::begin_write(db).await?;
    let source = visible_course(&txn, viewer, course_id).await?;
    if !viewer.is_trainer {
        return Err(AppError::Forbidden(Msg::new("error.forbidden_role")));
    }
    let taken = course::Entity::find()
        .filter(course::Column::OrgId.eq(viewer.org_id))
        .filter(course::Column::Code.eq(code))
        .count(&txn)
        .await?;
    if taken > 0 {
        return Err(AppError::Conflict(Msg::new("error.course_code_taken")));
    }
    let now = Utc::now();
    let copy = course::ActiveModel {
        id: NotSet,
        org_id: Set(viewer.org_id),
        code: Set(code.to_string()),
        category_id: Set(source.category_id.clone()),
        area: Set(source.area.clone()),
        level: Set(source.level),
        title: Set(source.title.clone()),
        title_zh: Set(source.title_zh.clone()),
        summary: Set(source.summary.clone()),
        summary_zh: Set(source.summary_zh.clone()),
        estimated_minutes: Set(source.estimated_minutes),
        prerequisites: Set(json!([])),
        draft_version_id: Set(None),
        published_version_id: Set(None),
        source_hash: Set(None),
        edited_at: Set(Some(now)),
        copied_from: Set(Some(source.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let develops: Vec<(String, i32)> = course_competency::Entity::find()
        .filter(course_competency::Column::CourseId.eq(source.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|d| (d.competency_id, d.level))
        .collect();
    set_develops(&txn, copy.id, &develops).await?;
    // The draft starts as the source's published lessons.
    let shadow = course::Model {
        id: copy.id,
        published_version_id: source.published_version_id,
        draft_version_id: None,
        ..copy.clone()
    };
    ensure_draft(&txn, viewer, &shadow).await?;
    let questions = question::Entity::find()
        .filter(question::Column::CourseId.eq(source.id))
        .filter(question::Column::IsCurrent.eq(true))
        .all(&txn)
        .await?;
    for q in questions {
        question::ActiveModel {
            id: NotSet,
            course_id: Set(copy.id),
            external_id: Set(q.external_id),
            revision: Set(1),
            is_current: Set(true),
            competency_id: Set(q.competency_id),
            difficulty: Set(q.difficulty),
            qtype: Set(q.qtype),
            title: Set(q.title),
            text: Set(q.text),
            format: Set(q.format),
            answer_data: Set(q.answer_data),
            general_feedback: Set(q.general_feedback),
            category: Set(q.category),
            tags: Set(q.tags),
            content_hash: Set(q.content_hash),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "course.copied",
            target_type: "course",
            target_id: Some(copy.id.to_string()),
            after: Some(json!({"from": source.id, "code": code})),
            ..Default::default()
        },
    )
    .await?;
    let copy = course::Entity::find_by_id(copy.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(copy)
}

/// Changes to a course's description.
#[derive(Debug, Default)]
pub struct CourseChanges {
    pub title: Option<String>,
    pub title_zh: Option<String>,
    pub summary: Option<String>,
    pub summary_zh: Option<String>,
    pub level: Option<i32>,
    pub estimated_minutes: Option<i32>,
    pub develops: Option<Vec<(String, i32)>>,
}

/// Changes a course (its editors only); marks it edited so an import will not overwrite it.
pub async fn update_course(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    changes: CourseChanges,
) -> AppResult<course::Model> {
    let txn = crate::db::begin_write(db).await?;
    let c = editable_course(&txn, viewer, course_id).await?;
    if let Some(develops) = &changes.develops {
        check_references(&txn, &c.category_id, develops).await?;
        set_develops(&txn, c.id, develops).await?;
    }
    let before = json!({"title": c.title, "summary": c.summary, "level": c.level});
    let now = Utc::now();
    let mut active = c.into_active_model();
    if let Some(v) = changes.title {
        active.title = Set(v.trim().to_string());
    }
    if let Some(v) = changes.title_zh {
        active.title_zh = Set(v.trim().to_string());
    }
    if let Some(v) = changes.summary {
        active.summary = Set(v.trim().to_string());
    }
    if let Some(v) = changes.summary_zh {
        active.summary_zh = Set(v.trim().to_string());
    }
    if let Some(v) = changes.level {
        active.level = Set(v);
    }
    if let Some(v) = changes.estimated_minutes {
        active.estimated_minutes = Set(v);
    }
    active.edited_at = Set(Some(now));
    active.updated_at = Set(now);
    let c = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "course.updated",
            target_type: "course",
            target_id: Some(c.id.to_string()),
            before: Some(before),
            after: Some(json!({"title": c.title, "summary": c.summary, "level": c.level})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(c)
}
