//! JSON API of gap analysis: roster import and export, positions and templates, evidence and
//! ratings, the level rule, person / department / organization reports, learning paths.
use actix_web::http::header;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::dashboard;
use super::maps;
use super::positions::{self, PositionInput, PositionView};
use super::report::{self, DepartmentGap, OrgData, OrganizationGap, PersonGap};
use super::roster::{self, RosterReport};
use crate::assessment::entities::evidence;
use crate::auth::entities::organization;
use crate::auth::{AdminOrHr, CurrentUser, RequireRole, Role};
use crate::error::{AppError, AppResult, FieldIssue, Msg, Problem};
use crate::pagination::Page;
use crate::startup::AppState;
use crate::web::{request_lang, ApiJson};

fn is_staff(user: &CurrentUser) -> bool {
    user.has(Role::Hr) || user.has(Role::Admin)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RosterQuery {
    /// Preview only (default true): what would be created, updated, deactivated, and every problem.
    pub dry_run: Option<bool>,
    /// `merge` (default: create and update) or `full` (also deactivate roster-created learners of
    /// the departments in the file who are missing).
    pub mode: Option<String>,
}

/// Imports a roster CSV (HR and admins): header
/// `employee_id,name,email,department,manager_employee_id,position,language`; UTF-8 (with or
/// without BOM), GB18030 or UTF-16. A preview changes nothing; a commit is all or nothing and
/// invites the new people by email.
#[utoipa::path(
    tag = "gaps",
    params(RosterQuery),
    request_body(content = String, description = "The CSV file", content_type = "text/csv"),
    responses((status = 200, body = RosterReport), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/roster")]
pub async fn import_roster(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<RosterQuery>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    let full = match query.mode.as_deref() {
        None | Some("merge") => false,
        Some("full") => true,
        Some(_) => return Err(AppError::field("mode", "validation.roster_mode")),
    };
    let importer = roster::Importer {
        principal: &staff.user,
        invitation_days: state.settings.invitation_days,
    };
    let report = roster::import(
        &state.db,
        &state.mailer,
        &importer,
        &body.0,
        full,
        query.dry_run.unwrap_or(true),
        request_lang(&req),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The roster as CSV, in the import's format (HR and admins).
#[utoipa::path(
    tag = "gaps",
    params(FormatQuery),
    responses((status = 200, description = "The roster (CSV, or an Excel workbook with format=xlsx)", content_type = "text/csv"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/roster")]
pub async fn export_roster(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let csv = roster::export(&state.db, staff.org_id).await?;
    if format == crate::export::Format::Xlsx {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&csv));
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(String::from).collect()))
            .collect::<Result<Vec<Vec<String>>, _>>()
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        return crate::export::table_response("roster", format, rows);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"roster.csv\"",
        ))
        .body(csv))
}

/// The organization's positions and what each requires.
#[utoipa::path(
    tag = "gaps",
    responses((status = 200, body = Page<PositionView>), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/positions")]
pub async fn list_positions(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = positions::list(&state.db, user.org_id).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Creates a position (or replaces the one with the same code): every competency of the
/// category at `level` (default 2) unless listed in `requirements` (HR and admins; audited).
#[utoipa::path(
    tag = "gaps",
    request_body = PositionInput,
    responses((status = 201, body = PositionView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/positions")]
pub async fn save_position(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    body: ApiJson<PositionInput>,
) -> AppResult<HttpResponse> {
    let view = positions::save_one(&state.db, staff.org_id, staff.id, &body.0).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Creates the positions of an organization-mode template: `temporary-project`,
/// `supplier-empowerment` or `self-built` (HR and admins).
#[utoipa::path(
    tag = "gaps",
    params(("mode" = String, Path, description = "temporary-project, supplier-empowerment or self-built")),
    responses((status = 200, body = Page<PositionView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/positions/templates/{mode}")]
pub async fn apply_template(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let txn = crate::db::begin_write(&state.db).await?;
    positions::apply_template(&txn, staff.org_id, Some(staff.id), &path).await?;
    let items = positions::list(&txn, staff.org_id).await?;
    txn.commit().await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// May `viewer` see `target`'s gaps and evidence: themselves, HR and admins of the organization,
/// and their managers (direct or indirect).
fn may_see(data: &OrgData, viewer: &CurrentUser, target: i64) -> bool {
    viewer.id == target
        || is_staff(viewer)
        || report::reports_of(data, viewer.id)
            .iter()
            .any(|p| p.id == target)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FormatQuery {
    /// `json` (default), `csv` or `xlsx` (an Excel workbook).
    pub format: Option<String>,
    /// Department heatmap rows: `gap` (default: the largest total gap first), `name` or `position`.
    pub sort: Option<String>,
}

/// A person's gaps against their position: per competency required, current (with the evidence
/// it rests on) and gap, and the learning path that closes them. Self, HR, admins, managers.
#[utoipa::path(
    tag = "gaps",
    params(("user_id" = i64, Path, description = "The person's user id"), FormatQuery),
    responses((status = 200, body = PersonGap), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/gaps/people/{user_id}")]
pub async fn person_gap(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let id = path.into_inner();
    let person = data
        .people
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound)?;
    if !may_see(&data, &user, id) {
        return Err(AppError::NotFound);
    }
    let gap = report::person_gap(&data, person);
    if format != crate::export::Format::Json {
        let mut rows = vec![[
            "competency",
            "required",
            "current",
            "gap",
            "weight",
            "mandatory",
        ]
        .map(String::from)
        .to_vec()];
        for c in &gap.competencies {
            rows.push(vec![
                c.competency.clone(),
                c.required.to_string(),
                c.current.map(|l| l.to_string()).unwrap_or_default(),
                c.gap.to_string(),
                c.weight.to_string(),
                c.mandatory.to_string(),
            ]);
        }
        return crate::export::table_response(&format!("gaps-{id}"), format, rows);
    }
    Ok(HttpResponse::Ok().json(gap))
}

/// A department's heatmap (people × competencies, by gap) and what it lacks most: HR, admins,
/// and managers of that department.
#[utoipa::path(
    tag = "gaps",
    params(("name" = String, Path, description = "Department"), FormatQuery),
    responses((status = 200, body = DepartmentGap), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/gaps/departments/{name}")]
pub async fn department_gap(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let name = path.into_inner();
    may_see_department(&data, &user, &name)?;
    let members: Vec<&report::Person> = data
        .people
        .iter()
        .filter(|p| p.department.as_deref() == Some(name.as_str()))
        .collect();
    let mut heat = report::department_gap(&data, &name, &members);
    report::sort_rows(&mut heat.rows, query.sort.as_deref());
    if format != crate::export::Format::Json {
        let mut header = vec!["person".to_string(), "position".to_string()];
        header.extend(heat.competencies.iter().cloned());
        let mut rows = vec![header];
        for r in &heat.rows {
            let mut row = vec![r.name.clone(), r.position.clone().unwrap_or_default()];
            row.extend(
                r.cells
                    .iter()
                    .map(|c| c.map(|g| g.to_string()).unwrap_or_default()),
            );
            rows.push(row);
        }
        return crate::export::table_response("department-gaps", format, rows);
    }
    Ok(HttpResponse::Ok().json(heat))
}

/// The organization report: positions against planned headcount, what to train internally and
/// what to hire or train externally (with reasons), key-person risks (HR and admins).
#[utoipa::path(
    tag = "gaps",
    params(FormatQuery),
    responses((status = 200, body = OrganizationGap), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/gaps/organization")]
pub async fn organization_gap(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let data = OrgData::load(&state.db, staff.org_id, state.platform_org_id).await?;
    let report = report::organization_gap(&data);
    if format != crate::export::Format::Json {
        let mut rows = vec![[
            "position",
            "headcount",
            "assigned",
            "meets",
            "within_one",
            "further",
            "shortfall",
        ]
        .map(String::from)
        .to_vec()];
        for p in &report.positions {
            rows.push(vec![
                p.position.clone(),
                p.headcount.to_string(),
                p.assigned.to_string(),
                p.meets.to_string(),
                p.within_one.to_string(),
                p.further.to_string(),
                p.shortfall.to_string(),
            ]);
        }
        return crate::export::table_response("organization-gaps", format, rows);
    }
    Ok(HttpResponse::Ok().json(report))
}

/// A piece of evidence to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    pub user_id: i64,
    pub competency: String,
    /// 1–5.
    pub level: i32,
    /// `manager` (a manager rating a report), `self` (rating oneself) or `external` (HR records
    /// training or a certificate from outside).
    pub source: String,
    pub note: Option<String>,
    /// External: who delivered it.
    pub provider: Option<String>,
    /// External: a link to or the name of the document.
    pub attachment: Option<String>,
    /// When it was earned (default: now).
    pub date: Option<chrono::DateTime<Utc>>,
}

/// A ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceView {
    pub id: i64,
    pub user_id: i64,
    pub competency: String,
    pub level: i32,
    pub source: String,
    pub note: Option<String>,
    pub provider: Option<String>,
    pub attachment: Option<String>,
    pub date: chrono::DateTime<Utc>,
    pub recorded_by: Option<i64>,
    pub recorded_at: chrono::DateTime<Utc>,
    /// Replaced by a later outcome of the same source (a regrade); kept in the ledger.
    pub superseded: bool,
}

fn evidence_view(e: evidence::Model) -> EvidenceView {
    EvidenceView {
        date: e.evidence_date.unwrap_or(e.recorded_at),
        superseded: e.superseded_at.is_some(),
        id: e.id,
        user_id: e.user_id,
        competency: e.competency_id,
        level: e.level,
        source: e.source,
        note: e.note,
        provider: e.provider,
        attachment: e.attachment,
        recorded_by: e.recorded_by,
        recorded_at: e.recorded_at,
    }
}

/// Records evidence in the append-only ledger: a manager's rating of a report, a self rating,
/// or external training or a certificate (HR). Audited.
#[utoipa::path(
    tag = "gaps",
    request_body = EvidenceInput,
    responses((status = 201, body = EvidenceView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/evidence")]
pub async fn record_evidence(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<EvidenceInput>,
) -> AppResult<HttpResponse> {
    let row = record(&state, &user, body.0).await?;
    Ok(HttpResponse::Created().json(evidence_view(row)))
}

/// Checks who may record a piece of evidence (self, a manager of the person, HR for external
/// evidence) and what it says, then appends it to the ledger, audited (the API and the pages).
pub async fn record(
    state: &AppState,
    user: &CurrentUser,
    b: EvidenceInput,
) -> AppResult<evidence::Model> {
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    if !data.people.iter().any(|p| p.id == b.user_id) {
        return Err(AppError::NotFound);
    }
    let allowed = match b.source.as_str() {
        "self" => b.user_id == user.id,
        "manager" => report::reports_of(&data, user.id)
            .iter()
            .any(|p| p.id == b.user_id),
        "external" => is_staff(user),
        _ => return Err(AppError::field("source", "validation.evidence_source")),
    };
    if !allowed {
        return Err(AppError::Forbidden(Msg::new("error.evidence_not_allowed")));
    }
    let mut issues = Vec::new();
    if !(1..=5).contains(&b.level) {
        issues.push(FieldIssue::new(
            "level",
            Msg::new("validation.range").arg("min", 1).arg("max", 5),
        ));
    }
    if !data.competency_names.contains_key(&b.competency) {
        issues.push(FieldIssue::new(
            "competency",
            Msg::new("validation.competency"),
        ));
    }
    let clip = |s: Option<String>, n: usize| {
        s.map(|v| v.trim().chars().take(n).collect::<String>())
            .filter(|v| !v.is_empty())
    };
    if b.source == "external" && clip(b.provider.clone(), 200).is_none() {
        issues.push(FieldIssue::new(
            "provider",
            Msg::new("validation.length").arg("min", 1).arg("max", 200),
        ));
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    let row = evidence::ActiveModel {
        id: NotSet,
        org_id: Set(user.org_id),
        user_id: Set(b.user_id),
        competency_id: Set(b.competency.clone()),
        level: Set(b.level),
        source: Set(b.source.clone()),
        source_id: Set(None),
        percent: Set(None),
        recorded_by: Set(Some(user.id)),
        recorded_at: Set(now),
        note: Set(clip(b.note, 2000)),
        provider: Set(clip(b.provider, 200)),
        attachment: Set(clip(b.attachment, 500)),
        evidence_date: Set(Some(b.date.unwrap_or(now).min(now))),
        superseded_at: Set(None),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(user.org_id),
            actor_user_id: Some(user.id),
            action: "evidence.recorded",
            target_type: "user",
            target_id: Some(b.user_id.to_string()),
            after: Some(json!({"competency": b.competency, "level": b.level, "source": b.source})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EvidenceQuery {
    pub user_id: i64,
}

/// A person's evidence ledger, newest first (self, HR, admins, managers).
#[utoipa::path(
    tag = "gaps",
    params(EvidenceQuery),
    responses((status = 200, body = Page<EvidenceView>), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/evidence")]
pub async fn list_evidence(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<EvidenceQuery>,
) -> AppResult<HttpResponse> {
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    if !data.people.iter().any(|p| p.id == query.user_id) || !may_see(&data, &user, query.user_id) {
        return Err(AppError::NotFound);
    }
    let items: Vec<EvidenceView> = evidence::Entity::find()
        .filter(evidence::Column::OrgId.eq(user.org_id))
        .filter(evidence::Column::UserId.eq(query.user_id))
        .order_by_desc(evidence::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(evidence_view)
        .collect();
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// How evidence rolls up into current levels.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelRuleInput {
    /// latest, highest, average, decaying (half-life 180 days) or mastered.
    pub rule: String,
    /// Exam evidence outranks manager and self ratings. Default true.
    pub exam_outranks_ratings: Option<bool>,
    /// For `mastered`: pieces of evidence at a level that establish it (1–10). Default 2.
    pub mastery_count: Option<i32>,
}

/// Sets the organization's level rule (HR and admins; audited).
#[utoipa::path(
    tag = "gaps",
    request_body = LevelRuleInput,
    responses((status = 200, body = LevelRuleInput), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/organization/level-rule")]
pub async fn set_level_rule(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    body: ApiJson<LevelRuleInput>,
) -> AppResult<HttpResponse> {
    let org = save_level_rule(&state.db, &staff, body.0).await?;
    Ok(HttpResponse::Ok().json(LevelRuleInput {
        rule: org.level_rule,
        exam_outranks_ratings: Some(org.exam_outranks_ratings),
        mastery_count: Some(org.mastery_count),
    }))
}

/// Validates and saves the organization's level rule, audited (the API and the HR page).
pub async fn save_level_rule(
    db: &sea_orm::DatabaseConnection,
    staff: &CurrentUser,
    b: LevelRuleInput,
) -> AppResult<organization::Model> {
    let count = b.mastery_count.unwrap_or(2);
    if !super::levels::RULES.contains(&b.rule.as_str()) {
        return Err(AppError::Validation(vec![FieldIssue::new(
            "rule",
            Msg::new("validation.one_of").arg("values", super::levels::RULES.join(", ")),
        )]));
    }
    if !(1..=10).contains(&count) {
        return Err(AppError::Validation(vec![FieldIssue::new(
            "mastery_count",
            Msg::new("validation.range").arg("min", 1).arg("max", 10),
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    let org = organization::Entity::find_by_id(staff.org_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = json!({"rule": org.level_rule, "exam_outranks_ratings": org.exam_outranks_ratings, "mastery_count": org.mastery_count});
    let mut active = org.into_active_model();
    active.level_rule = Set(b.rule.clone());
    active.exam_outranks_ratings = Set(b.exam_outranks_ratings.unwrap_or(true));
    active.mastery_count = Set(count);
    let org = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(org.id),
            actor_user_id: Some(staff.id),
            action: "organization.level_rule_changed",
            target_type: "organization",
            target_id: Some(org.id.to_string()),
            before: Some(before),
            after: Some(json!({"rule": org.level_rule, "exam_outranks_ratings": org.exam_outranks_ratings, "mastery_count": org.mastery_count})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(org)
}

/// An assigned learning path.
#[derive(Debug, Serialize, ToSchema)]
pub struct LearningPathView {
    pub id: i64,
    pub user_id: i64,
    pub courses: Vec<i64>,
    pub assigned_at: chrono::DateTime<Utc>,
    /// Courses completed so far.
    pub completed: usize,
}

/// Assigns a person the learning path of their gaps, enrolling them in each course (HR and
/// admins; audited).
#[utoipa::path(
    tag = "gaps",
    params(("user_id" = i64, Path, description = "The person's user id")),
    responses((status = 201, body = LearningPathView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/gaps/people/{user_id}/learning-path")]
pub async fn assign_path(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let view = assign(&state, &staff, path.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Assigns a person the learning path of their gaps (enrolling them), audited.
pub async fn assign(state: &AppState, staff: &CurrentUser, id: i64) -> AppResult<LearningPathView> {
    use crate::catalog::entities::enrolment;
    let data = OrgData::load(&state.db, staff.org_id, state.platform_org_id).await?;
    let person = data
        .people
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound)?;
    let gap = report::person_gap(&data, person);
    if gap.learning_path.is_empty() {
        return Err(AppError::Conflict(Msg::new("error.no_learning_path")));
    }
    let courses: Vec<i64> = gap.learning_path.iter().map(|s| s.course_id).collect();
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    for course_id in &courses {
        enrolment::Entity::insert(enrolment::ActiveModel {
            id: NotSet,
            user_id: Set(id),
            course_id: Set(*course_id),
            org_id: Set(staff.org_id),
            enrolled_at: Set(now),
            last_lesson_slug: Set(None),
            last_activity_at: Set(None),
            completed_at: Set(None),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                enrolment::Column::UserId,
                enrolment::Column::CourseId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let row = super::entities::learning_path::ActiveModel {
        id: NotSet,
        org_id: Set(staff.org_id),
        user_id: Set(id),
        position_id: Set(person.position_id),
        courses: Set(json!(courses)),
        assigned_by: Set(Some(staff.id)),
        assigned_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(staff.org_id),
            actor_user_id: Some(staff.id),
            action: "learning_path.assigned",
            target_type: "user",
            target_id: Some(id.to_string()),
            after: Some(json!({"courses": courses})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    let completed = courses
        .iter()
        .filter(|c| data.completed.contains(&(id, **c)))
        .count();
    Ok(LearningPathView {
        id: row.id,
        user_id: id,
        courses,
        assigned_at: row.assigned_at,
        completed,
    })
}

/// A course of an assigned path and when it was completed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PathCourseProgress {
    pub course_id: i64,
    pub code: String,
    pub title: String,
    pub completed_at: Option<chrono::DateTime<Utc>>,
}

/// An assigned learning path and its progress over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct PathProgress {
    pub id: i64,
    pub assigned_at: chrono::DateTime<Utc>,
    pub courses: Vec<PathCourseProgress>,
    pub completed: usize,
    /// Percent of the path's courses completed.
    pub percent: f64,
    /// Completed courses by day since assignment: `[{"date", "completed"}]`, cumulative.
    pub timeline: Vec<serde_json::Value>,
}

/// The learning paths assigned to a person, each with its courses, what is completed and when
/// (self, HR, admins, managers).
pub async fn path_progress(
    state: &AppState,
    org_id: i64,
    user_id: i64,
) -> AppResult<Vec<PathProgress>> {
    use crate::catalog::entities::{course, enrolment};
    let paths = super::entities::learning_path::Entity::find()
        .filter(super::entities::learning_path::Column::OrgId.eq(org_id))
        .filter(super::entities::learning_path::Column::UserId.eq(user_id))
        .order_by_desc(super::entities::learning_path::Column::Id)
        .all(&state.db)
        .await?;
    let course_ids: Vec<i64> = paths
        .iter()
        .flat_map(|p| p.courses.as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_i64())
        .collect();
    let courses: std::collections::HashMap<i64, course::Model> = course::Entity::find()
        .filter(course::Column::Id.is_in(course_ids.clone()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let done: std::collections::HashMap<i64, chrono::DateTime<Utc>> = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.eq(user_id))
        .filter(enrolment::Column::CourseId.is_in(course_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|e| e.completed_at.map(|d| (e.course_id, d)))
        .collect();
    Ok(paths
        .into_iter()
        .map(|p| {
            let items: Vec<PathCourseProgress> = p
                .courses
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(serde_json::Value::as_i64)
                .map(|id| PathCourseProgress {
                    course_id: id,
                    code: courses.get(&id).map(|c| c.code.clone()).unwrap_or_default(),
                    title: courses
                        .get(&id)
                        .map(|c| c.title.clone())
                        .unwrap_or_default(),
                    completed_at: done.get(&id).copied(),
                })
                .collect();
            let mut dates: Vec<chrono::NaiveDate> = items
                .iter()
                .filter_map(|c| c.completed_at)
                .map(|d| d.date_naive())
                .collect();
            dates.sort();
            let mut timeline = Vec::new();
            for (n, d) in dates.iter().enumerate() {
                if dates.get(n + 1) != Some(d) {
                    timeline.push(json!({"date": d.to_string(), "completed": n + 1}));
                }
            }
            let completed = dates.len();
            #[allow(clippy::cast_precision_loss)]
            let percent = if items.is_empty() {
                0.0
            } else {
                completed as f64 / items.len() as f64 * 100.0
            };
            PathProgress {
                id: p.id,
                assigned_at: p.assigned_at,
                courses: items,
                completed,
                percent,
                timeline,
            }
        })
        .collect())
}

/// A person's assigned learning paths and their progress over time.
#[utoipa::path(
    tag = "gaps",
    params(("user_id" = i64, Path, description = "The person's user id")),
    responses((status = 200, body = Page<PathProgress>), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/gaps/people/{user_id}/learning-paths")]
pub async fn list_paths(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    if !data.people.iter().any(|p| p.id == id) || !may_see(&data, &user, id) {
        return Err(AppError::NotFound);
    }
    let items = path_progress(&state, user.org_id, id).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FrameworkQuery {
    /// The language of names and descriptions in the file: `en` (default) or `zh-CN`.
    pub lang: Option<String>,
    /// Import: check only (default false).
    pub dry_run: Option<bool>,
}

fn framework_lang(q: &FrameworkQuery) -> AppResult<crate::i18n::Lang> {
    match q.lang.as_deref() {
        None => Ok(crate::i18n::Lang::En),
        Some(tag) => crate::i18n::Lang::from_tag(tag)
            .ok_or_else(|| AppError::field("lang", "validation.language")),
    }
}

/// A job category's competency model as Moodle's competency framework CSV (one framework row,
/// a row per competency, a child row per level with its indicators).
#[utoipa::path(
    tag = "gaps",
    params(("id" = String, Path, description = "Job category"), FrameworkQuery),
    responses((status = 200, description = "The framework", content_type = "text/csv"), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/job-categories/{id}/framework.csv")]
pub async fn export_framework(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<FrameworkQuery>,
) -> AppResult<HttpResponse> {
    let lang = framework_lang(&query)?;
    let csv = super::framework::export(&state.db, &path, lang).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-framework.csv\"", path.as_str()),
        ))
        .body(csv))
}

/// Updates a competency model from Moodle framework CSV (the platform's trainers and admins):
/// every bad row is reported by line, and nothing changes unless the whole file is good.
#[utoipa::path(
    tag = "gaps",
    params(("id" = String, Path, description = "Job category"), FrameworkQuery),
    request_body(content = String, description = "The framework CSV", content_type = "text/csv"),
    responses((status = 200, body = super::framework::FrameworkReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/job-categories/{id}/framework.csv")]
pub async fn import_framework(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<FrameworkQuery>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    if user.org_id != state.platform_org_id || !(user.has(Role::Trainer) || user.has(Role::Admin)) {
        return Err(AppError::Forbidden(Msg::new("error.platform_content")));
    }
    let lang = framework_lang(&query)?;
    let report = super::framework::import(
        &state.db,
        &path,
        &body.0,
        lang,
        query.dry_run.unwrap_or(false),
        request_lang(&req),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(export_framework)
        .service(import_framework)
        .service(import_roster)
        .service(export_roster)
        .service(list_positions)
        .service(save_position)
        .service(apply_template)
        .service(person_gap)
        .service(department_gap)
        .service(organization_gap)
        .service(record_evidence)
        .service(list_evidence)
        .service(set_level_rule)
        .service(assign_path)
        .service(list_paths)
        .service(get_learning_map)
        .service(put_learning_map)
        .service(my_learning_map)
        .service(department_dashboard);
}

/// A position's learning map: stages by level, each with the courses that develop the
/// position's competencies to it (required or optional) and the certification that ends it;
/// generated from the requirements and the catalog until HR edits it (members of the
/// organization).
#[utoipa::path(
    tag = "gaps",
    params(("id" = String, Path, description = "Position id or code")),
    responses((status = 200, body = maps::MapView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/positions/{id}/learning-map")]
pub async fn get_learning_map(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let map = maps::get(
        &state.db,
        user.org_id,
        state.platform_org_id,
        &path.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(map))
}

/// Replaces a position's learning map (HR and admins): stages with course codes (required or
/// optional) and the certification that ends each; `{"stages": []}` returns to the generated
/// map. Unknown courses and certifications are named by their place. Audited.
#[utoipa::path(
    tag = "gaps",
    params(("id" = String, Path, description = "Position id or code")),
    request_body = maps::MapInput,
    responses((status = 200, body = maps::MapView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/positions/{id}/learning-map")]
pub async fn put_learning_map(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<String>,
    body: ApiJson<maps::MapInput>,
) -> AppResult<HttpResponse> {
    let map = maps::set(
        &state.db,
        staff.org_id,
        state.platform_org_id,
        staff.id,
        &path.into_inner(),
        body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(map))
}

/// Your position's learning map: what you have done, what is next, and your gap to each stage
/// (404 while you hold no position).
#[utoipa::path(
    tag = "gaps",
    responses((status = 200, body = maps::MapView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/me/learning-map")]
pub async fn my_learning_map(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let map = maps::for_learner(&state.db, user.org_id, state.platform_org_id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(map))
}

/// Who may see a department's reports: HR and admins, and managers of that department.
pub fn may_see_department(data: &OrgData, user: &CurrentUser, name: &str) -> AppResult<()> {
    if !data
        .people
        .iter()
        .any(|p| p.department.as_deref() == Some(name))
    {
        return Err(AppError::NotFound);
    }
    let manages = data
        .people
        .iter()
        .any(|p| p.id == user.id && p.department.as_deref() == Some(name))
        && !report::reports_of(data, user.id).is_empty();
    if is_staff(user) || manages {
        Ok(())
    } else {
        Err(AppError::Forbidden(Msg::new("error.forbidden_role")))
    }
}

/// A store's or department's dashboard (HR, admins and the department's managers): completion
/// rate of assigned learning, certification rate per position, average gap per competency,
/// and each by month for the last six months. Also as CSV or Excel (`format`).
#[utoipa::path(
    tag = "gaps",
    params(("name" = String, Path, description = "Department"), FormatQuery),
    responses((status = 200, body = dashboard::Dashboard), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/dashboards/departments/{name}")]
pub async fn department_dashboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let format = crate::export::Format::parse(query.format.as_deref())?;
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let name = path.into_inner();
    may_see_department(&data, &user, &name)?;
    let d = dashboard::build(&state.db, &data, &name).await?;
    if format == crate::export::Format::Json {
        return Ok(HttpResponse::Ok().json(d));
    }
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut rows = vec![["section", "name", "people", "value"]
        .map(String::from)
        .to_vec()];
    rows.push(vec![
        "completion_rate".into(),
        format!("{}/{}", d.assigned_completed, d.assigned_courses),
        d.people.to_string(),
        opt(d.completion_rate),
    ]);
    for p in &d.positions {
        rows.push(vec![
            "certification_rate".into(),
            p.position.clone(),
            p.people.to_string(),
            opt(p.rate),
        ]);
    }
    for c in &d.competencies {
        rows.push(vec![
            "average_gap".into(),
            c.competency.clone(),
            c.people.to_string(),
            c.average_gap.to_string(),
        ]);
    }
    for m in &d.trend {
        for (what, v) in [
            ("completion_rate", m.completion_rate),
            ("certification_rate", m.certification_rate),
            ("average_gap", m.average_gap),
        ] {
            rows.push(vec![
                format!("{}:{what}", m.month),
                String::new(),
                String::new(),
                opt(v),
            ]);
        }
    }
    crate::export::table_response(&format!("dashboard-{name}"), format, rows)
}
