//! JSON API of the catalog: categories, courses, lessons, enrolment and progress, authoring.
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bank::{self, BankImport};
use super::content::{AREAS, LESSON_KINDS};
use super::service::{
    self, CategoryView, CourseCard, CourseDetail, CourseFilter, EnrolmentView, LearningItem,
    LessonInput, LessonView, NewCourse, Viewer,
};
use super::study;
use crate::auth::{AdminOrHr, CurrentUser, RequireRole, Trainer, TrainerOrAdmin};
use crate::error::{AppError, AppResult, FieldIssue, Msg, Problem};
use crate::pagination::{bounds, Page};
use crate::startup::AppState;
use crate::web::ApiJson;

fn viewer(state: &AppState, user: &CurrentUser) -> Viewer {
    Viewer::of(user, state.platform_org_id)
}

/// Every job category with its competency model.
#[utoipa::path(
    tag = "catalog",
    responses((status = 200, body = Page<CategoryView>), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/job-categories")]
pub async fn list_categories(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = service::categories(&state.db).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Filters of the course list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CourseQuery {
    /// A job category id, e.g. `user-operation`.
    category: Option<String>,
    /// An area, e.g. `mall-operation` or `foundation`.
    area: Option<String>,
    /// A competency id: courses that develop it.
    competency: Option<String>,
    /// The level a course brings its competencies to (1-5).
    level: Option<i32>,
    /// Words in the title, summary (English or Chinese) or code.
    q: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// The courses you can see: the shared catalog and your organization's own.
#[utoipa::path(
    tag = "catalog",
    params(CourseQuery),
    responses((status = 200, body = Page<CourseCard>), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/courses")]
pub async fn list_courses(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<CourseQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = bounds(query.limit, query.offset)?;
    if let Some(level) = query.level {
        if !(1..=5).contains(&level) {
            return Err(AppError::Validation(vec![FieldIssue::new(
                "level",
                Msg::new("validation.range").arg("min", 1).arg("max", 5),
            )]));
        }
    }
    let filter = CourseFilter {
        category: query.category.clone(),
        area: query.area.clone(),
        competency: query.competency.clone(),
        level: query.level,
        q: query.q.clone(),
        limit,
        offset,
    };
    let (items, total) = service::list_courses(&state.db, &viewer(&state, &user), &filter).await?;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Which version of a course to show.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionQuery {
    /// `draft`: the unpublished draft (its editors only).
    version: Option<String>,
}

/// A course with its lessons and your progress.
#[utoipa::path(
    tag = "catalog",
    params(("id" = i64, Path, description = "Course id"), VersionQuery),
    responses((status = 200, body = CourseDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/courses/{id}")]
pub async fn get_course(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<VersionQuery>,
) -> AppResult<HttpResponse> {
    let draft = query.version.as_deref() == Some("draft");
    let detail =
        service::course_detail(&state.db, &viewer(&state, &user), path.into_inner(), draft).await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// A competency a course develops.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevelopsInput {
    pub competency: String,
    pub level: i32,
}

/// A new course of your organization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCourseRequest {
    /// 2-64 lowercase letters, digits and hyphens, unique in your organization.
    pub code: String,
    pub title: String,
    pub title_zh: Option<String>,
    pub summary: String,
    pub summary_zh: Option<String>,
    /// A job category id.
    pub category: String,
    /// An area; default: the category.
    pub area: Option<String>,
    /// 1-5.
    pub level: i32,
    pub estimated_minutes: Option<i32>,
    #[serde(default)]
    pub develops: Vec<DevelopsInput>,
}

/// A course just created or changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseRef {
    pub id: i64,
    pub code: String,
    pub title: String,
    /// `draft` until published.
    pub status: &'static str,
}

fn check_text(issues: &mut Vec<FieldIssue>, field: &str, value: &str, max: usize) {
    let n = value.trim().chars().count();
    if n == 0 || n > max {
        issues.push(FieldIssue::new(
            field,
            Msg::new("validation.length").arg("min", 1).arg("max", max),
        ));
    }
}

/// Creates a course of your organization (a draft, without lessons yet).
#[utoipa::path(
    tag = "authoring",
    request_body = CreateCourseRequest,
    responses(
        (status = 201, body = CourseRef), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "The code is taken", body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/courses")]
pub async fn create_course(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    body: ApiJson<CreateCourseRequest>,
) -> AppResult<HttpResponse> {
    let b = body.0;
    let mut issues = Vec::new();
    if crate::auth::model::Slug::parse("code", &b.code).is_err() {
        issues.push(FieldIssue::new("code", Msg::new("validation.slug")));
    }
    check_text(&mut issues, "title", &b.title, 300);
    check_text(&mut issues, "summary", &b.summary, 2000);
    let area = b.area.clone().unwrap_or_else(|| b.category.clone());
    if !AREAS.contains(&area.as_str()) {
        issues.push(FieldIssue::new("area", Msg::new("validation.unknown_area")));
    }
    if !(1..=5).contains(&b.level) {
        issues.push(FieldIssue::new(
            "level",
            Msg::new("validation.range").arg("min", 1).arg("max", 5),
        ));
    }
    for (i, d) in b.develops.iter().enumerate() {
        if !(1..=5).contains(&d.level) {
            issues.push(FieldIssue::new(
                format!("develops[{i}].level"),
                Msg::new("validation.range").arg("min", 1).arg("max", 5),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let new = NewCourse {
        code: b.code.trim().to_string(),
        title: b.title.trim().to_string(),
        title_zh: b.title_zh.unwrap_or_default().trim().to_string(),
        summary: b.summary.trim().to_string(),
        summary_zh: b.summary_zh.unwrap_or_default().trim().to_string(),
        category: b.category,
        area,
        level: b.level,
        estimated_minutes: b.estimated_minutes.unwrap_or(30).clamp(1, 10_000),
        develops: b
            .develops
            .into_iter()
            .map(|d| (d.competency, d.level))
            .collect(),
    };
    let c = service::create_course(&state.db, &viewer(&state, &trainer), new).await?;
    Ok(HttpResponse::Created().json(CourseRef {
        id: c.id,
        code: c.code,
        title: c.title,
        status: "draft",
    }))
}

/// Where to copy a course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyCourseRequest {
    /// The code of the copy in your organization.
    pub code: String,
}

/// Copies a course you can see (e.g. from the shared catalog) into your organization as a draft,
/// with its lessons and question bank, to adapt it.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    request_body = CopyCourseRequest,
    responses(
        (status = 201, body = CourseRef), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/courses/{id}/copy")]
pub async fn copy_course(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    body: ApiJson<CopyCourseRequest>,
) -> AppResult<HttpResponse> {
    let code = crate::auth::model::Slug::parse("code", &body.0.code)
        .map_err(|i| AppError::Validation(vec![i]))?;
    let c = service::copy_course(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        code.as_str(),
    )
    .await?;
    Ok(HttpResponse::Created().json(CourseRef {
        id: c.id,
        code: c.code,
        title: c.title,
        status: "draft",
    }))
}

/// A lesson of the draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonRequest {
    pub title: String,
    pub title_zh: Option<String>,
    /// operational-skills, data-and-tools or practical-case.
    pub kind: String,
    pub estimated_minutes: Option<i32>,
    /// Markdown (CommonMark with tables); rendered and sanitised for readers.
    pub body_markdown: String,
    /// Order in the course; default: last.
    pub position: Option<i32>,
}

/// A lesson as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonRef {
    pub id: i64,
    pub slug: String,
    pub position: i32,
    pub title: String,
}

/// Creates or replaces a lesson in the course's draft (the published version is untouched until
/// the draft is published).
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id"), ("slug" = String, Path, description = "Lesson slug")),
    request_body = LessonRequest,
    responses(
        (status = 200, body = LessonRef), (status = 401, body = Problem),
        (status = 403, description = "Not an editor of this course (platform content is edited by the platform)", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/courses/{id}/lessons/{slug}")]
pub async fn put_lesson(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<(i64, String)>,
    body: ApiJson<LessonRequest>,
) -> AppResult<HttpResponse> {
    let (course_id, slug) = path.into_inner();
    let b = body.0;
    let mut issues = Vec::new();
    if crate::auth::model::Slug::parse("slug", &slug).is_err() {
        issues.push(FieldIssue::new("slug", Msg::new("validation.slug")));
    }
    check_text(&mut issues, "title", &b.title, 300);
    if !LESSON_KINDS.contains(&b.kind.as_str()) {
        issues.push(FieldIssue::new("kind", Msg::new("validation.lesson_kind")));
    }
    if b.body_markdown.len() > 200_000 {
        issues.push(FieldIssue::new(
            "body_markdown",
            Msg::new("validation.length")
                .arg("min", 1)
                .arg("max", 200_000),
        ));
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let input = LessonInput {
        title: b.title.trim().to_string(),
        title_zh: b.title_zh.filter(|t| !t.trim().is_empty()),
        kind: b.kind,
        estimated_minutes: b.estimated_minutes.unwrap_or(10).clamp(1, 600),
        body_md: b.body_markdown,
        position: b.position,
    };
    let l = service::put_lesson(
        &state.db,
        &viewer(&state, &trainer),
        course_id,
        &slug,
        input,
    )
    .await?;
    Ok(HttpResponse::Ok().json(LessonRef {
        id: l.id,
        slug: l.slug,
        position: l.position,
        title: l.title,
    }))
}

/// Removes a lesson from the course's draft.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id"), ("slug" = String, Path, description = "Lesson slug")),
    responses((status = 204, description = "Removed"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[delete("/api/v1/courses/{id}/lessons/{slug}")]
pub async fn delete_lesson(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    let (course_id, slug) = path.into_inner();
    service::delete_lesson(&state.db, &viewer(&state, &trainer), course_id, &slug).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The version number just published.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub version: i32,
}

/// Publishes the draft: it becomes a new version, the one learners see.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, body = Published), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "No draft, or a draft without lessons", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/courses/{id}/publish")]
pub async fn publish_course(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let version = service::publish(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(Published { version }))
}

/// Enrols you in a course (again: no change, 200).
#[utoipa::path(
    tag = "learning",
    params(("id" = i64, Path, description = "Course id")),
    responses((status = 201, body = EnrolmentView), (status = 200, body = EnrolmentView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/courses/{id}/enrolment")]
pub async fn enrol(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (view, created) =
        service::enrol(&state.db, &viewer(&state, &user), path.into_inner()).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Your courses and your progress in each, most recently active first.
#[utoipa::path(
    tag = "learning",
    responses((status = 200, body = Page<LearningItem>), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/me/learning")]
pub async fn my_learning(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    let items = service::my_learning(&state.db, &viewer(&state, &user)).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// A lesson to read, its Markdown rendered and sanitised.
#[utoipa::path(
    tag = "learning",
    params(("id" = i64, Path, description = "Lesson id")),
    responses((status = 200, body = LessonView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/lessons/{id}")]
pub async fn get_lesson(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let lesson = service::open_lesson(&state.db, &viewer(&state, &user), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(lesson))
}

/// Marks a lesson complete (enrolling you if needed) and answers your progress in the course.
#[utoipa::path(
    tag = "learning",
    params(("id" = i64, Path, description = "Lesson id")),
    responses((status = 200, body = EnrolmentView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/lessons/{id}/completion")]
pub async fn complete_lesson(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let progress =
        service::complete_lesson(&state.db, &viewer(&state, &user), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(progress))
}

/// The course's question bank as Moodle GIFT (its editors only: it holds the answers).
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "GIFT text", content_type = "text/plain"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/courses/{id}/questions.gift")]
pub async fn get_gift(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let text = bank::export_gift(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// Replaces the course's question bank with a GIFT file: questions are matched by `[id:]`,
/// changed ones get a new revision (attempts keep the revision they used), missing ones are
/// retired. Each question needs `[tag:competency=...]` (one the course develops) and
/// `[tag:difficulty=easy|medium|hard]`. Every problem is answered at once, naming its line.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    request_body(content = String, content_type = "text/plain", description = "GIFT text"),
    responses(
        (status = 200, body = BankImport), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, description = "Problems by line", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/courses/{id}/questions.gift")]
pub async fn put_gift(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    let _ = &req;
    let text = std::str::from_utf8(&body.0)
        .map_err(|_| AppError::BadRequest(Msg::new("error.not_utf8")))?;
    let summary = bank::import_gift(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        text,
    )
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// The course's question bank as a Moodle XML question export, for the types Moodle and GIFT
/// share (its editors only: it holds the answers). `[id:]` becomes `<idnumber>`, tags `<tags>`.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "Moodle XML", content_type = "application/xml"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/courses/{id}/questions.xml")]
pub async fn get_moodle_xml(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let xml =
        bank::export_moodle_xml(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(xml))
}

/// Replaces the course's question bank with a Moodle XML question export, exactly as the GIFT
/// upload does (same matching by id, revisions, retirements and checks). Types GIFT cannot hold
/// (cloze, calculated, drag and drop…) are refused by name and line. No DTDs.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    request_body(content = String, content_type = "application/xml", description = "Moodle XML"),
    responses(
        (status = 200, body = BankImport), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, description = "Problems by line", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/courses/{id}/questions.xml")]
pub async fn put_moodle_xml(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    let text = std::str::from_utf8(&body.0)
        .map_err(|_| AppError::BadRequest(Msg::new("error.not_utf8")))?;
    let summary = bank::import_moodle_xml(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        text,
    )
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Changes to a course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCourseRequest {
    pub title: Option<String>,
    pub title_zh: Option<String>,
    pub summary: Option<String>,
    pub summary_zh: Option<String>,
    pub level: Option<i32>,
    pub estimated_minutes: Option<i32>,
    pub develops: Option<Vec<DevelopsInput>>,
}

/// Changes a course's description (its editors only).
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    request_body = UpdateCourseRequest,
    responses((status = 200, body = CourseRef), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[patch("/api/v1/courses/{id}")]
pub async fn update_course(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    body: ApiJson<UpdateCourseRequest>,
) -> AppResult<HttpResponse> {
    let b = body.0;
    let mut issues = Vec::new();
    if let Some(t) = &b.title {
        check_text(&mut issues, "title", t, 300);
    }
    if let Some(s) = &b.summary {
        check_text(&mut issues, "summary", s, 2000);
    }
    if let Some(level) = b.level {
        if !(1..=5).contains(&level) {
            issues.push(FieldIssue::new(
                "level",
                Msg::new("validation.range").arg("min", 1).arg("max", 5),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let changes = service::CourseChanges {
        title: b.title,
        title_zh: b.title_zh,
        summary: b.summary,
        summary_zh: b.summary_zh,
        level: b.level,
        estimated_minutes: b.estimated_minutes.map(|m| m.clamp(1, 10_000)),
        develops: b
            .develops
            .map(|d| d.into_iter().map(|d| (d.competency, d.level)).collect()),
    };
    let c = service::update_course(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        changes,
    )
    .await?;
    let status = if c.published_version_id.is_some() {
        "published"
    } else {
        "draft"
    };
    Ok(HttpResponse::Ok().json(CourseRef {
        id: c.id,
        code: c.code,
        title: c.title,
        status,
    }))
}

/// A heartbeat from a lesson page: the server credits the time since the page's last report by
/// its own clock (at most one minute per interval), so replayed or hurried heartbeats earn
/// nothing. Answers your time on the lesson and what its completion still needs.
#[utoipa::path(
    tag = "learning",
    params(("id" = i64, Path, description = "Lesson id")),
    request_body = study::Heartbeat,
    responses((status = 200, body = study::LessonTime), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/lessons/{id}/heartbeat")]
pub async fn heartbeat(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: ApiJson<study::Heartbeat>,
) -> AppResult<HttpResponse> {
    let time = study::heartbeat(
        &state.db,
        &viewer(&state, &user),
        path.into_inner(),
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(time))
}

/// Sets your organization's minimum effective study time for a lesson before it can be marked
/// complete (0 removes it; shipped lessons have none). Trainers and admins; audited.
#[utoipa::path(
    tag = "learning",
    params(("id" = i64, Path, description = "Lesson id")),
    request_body = study::TimeRuleInput,
    responses((status = 200, body = study::LessonTime), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/lessons/{id}/time-rule")]
pub async fn put_time_rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: RequireRole<TrainerOrAdmin>,
    path: web::Path<i64>,
    body: ApiJson<study::TimeRuleInput>,
) -> AppResult<HttpResponse> {
    let time = study::set_rule(
        &state.db,
        &viewer(&state, &staff),
        &staff.actor(&req),
        path.into_inner(),
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(time))
}

/// Query of the study-time report.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StudyQuery {
    /// `person` (default), `department` or `course`.
    pub by: Option<String>,
    /// Only this department.
    pub department: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// Study time measured by the server, per person, department or course: effective time (the
/// page visible, capped per lesson) and total time (HR and admins).
#[utoipa::path(
    tag = "learning",
    params(StudyQuery),
    responses((status = 200, body = Page<study::StudyRow>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/reports/study-time")]
pub async fn study_report(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<StudyQuery>,
) -> AppResult<HttpResponse> {
    let by = study::GroupBy::parse(query.by.as_deref())?;
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let items =
        study::report_rows(&state.db, staff.org_id, by, query.department.as_deref()).await?;
    if format == crate::export::Format::Json {
        let total = items.len() as u64;
        return Ok(HttpResponse::Ok().json(Page { items, total }));
    }
    let mut rows = vec![[
        "key",
        "name",
        "department",
        "effective_minutes",
        "total_minutes",
        "lessons",
        "people",
    ]
    .map(String::from)
    .to_vec()];
    for r in &items {
        rows.push(vec![
            r.key.clone(),
            r.label.clone(),
            r.department.clone().unwrap_or_default(),
            r.effective_minutes.to_string(),
            r.total_minutes.to_string(),
            r.lessons.to_string(),
            r.people.to_string(),
        ]);
    }
    crate::export::table_response("study-time", format, rows)
}

/// The course's question bank as an Excel workbook in the documented template (one row per
/// question: type, stem, options, answer, score, competency, difficulty, explanation, then id,
/// title, tags, format, category; a second sheet explains them). Its editors only.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/courses/{id}/questions.xlsx")]
pub async fn get_xlsx(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let bytes = bank::export_xlsx(&state.db, &viewer(&state, &trainer), id).await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::export::XLSX_TYPE)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"questions-{id}.xlsx\""),
        ))
        .body(bytes))
}

/// Replaces the course's question bank with an Excel workbook in the template, exactly as the
/// GIFT upload does (matching by id, revisions, retirements and checks). Every bad row is
/// reported with its row and column; nothing is written on error.
#[utoipa::path(
    tag = "authoring",
    params(("id" = i64, Path, description = "Course id")),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "The workbook"),
    responses(
        (status = 200, body = BankImport), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, description = "Problems by row", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/courses/{id}/questions.xlsx")]
pub async fn put_xlsx(
    state: web::Data<AppState>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    let summary = bank::import_xlsx(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}
