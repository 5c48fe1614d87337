//! JSON API of exams: certifications, attempts, answers, results, reviews.
use actix_web::{get, post, put, web, HttpResponse};
use serde_json::Value;

use super::authoring::{self, CertificationRules, NewCertification, RulesInput};
use super::controls;
use super::exam::{self, AttemptView, CertificationView, ResultView, ReviewView};
use crate::auth::{CurrentUser, Role};
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult, Msg, Problem};
use crate::pagination::Page;
use crate::startup::AppState;
use crate::web::ApiJson;

fn viewer(state: &AppState, user: &CurrentUser) -> Viewer {
    Viewer::of(user, state.platform_org_id)
}

/// The certifications you can sit, and where you stand in each.
#[utoipa::path(
    tag = "exams",
    responses((status = 200, body = Page<CertificationView>), (status = 401, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certifications")]
pub async fn list_certifications(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = exam::list_certifications(&state.db, &viewer(&state, &user)).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// Starts an attempt (201), or answers the attempt already open (200). Refused with the reason
/// (409) when required courses are missing, in cool-down, or out of attempts.
/// The optional body of an attempt start.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// `true`: you accept the pledge your organization set for this certification (see
    /// `pledge` in the certification list). Needed only when one is set.
    pub pledge: Option<bool>,
}

#[utoipa::path(
    tag = "exams",
    request_body(content = Option<StartRequest>, description = "Optional: `{\"pledge\": true}` when your organization asks for a pledge"),
    params(("id" = i64, Path, description = "Certification id")),
    responses(
        (status = 201, body = AttemptView), (status = 200, description = "The attempt already open", body = AttemptView),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/certifications/{id}/attempts")]
pub async fn start_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: crate::web::ApiBytes,
) -> AppResult<HttpResponse> {
    // The body is optional: empty, or `{"pledge": true}`.
    let start: StartRequest = if body.0.iter().all(u8::is_ascii_whitespace) {
        StartRequest::default()
    } else {
        crate::web::parse_json(&body.0)?
    };
    let (view, created) = exam::start(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
        start.pledge.unwrap_or(false),
    )
    .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Your attempt: its questions (never the key), your saved answers, the server's deadline.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id")),
    responses((status = 200, body = AttemptView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/attempts/{id}")]
pub async fn get_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let view = exam::attempt_view(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Saves one answer. The body is the response itself: an option id as the attempt shows it
/// (`"opt-3f9a0c21d7"`; every attempt has its own ids) for single choice, a list of them for
/// multiple choice, `true`/`false`, text, a number, or `{"i0": "opt-…", …}` (item id to option
/// id) for matching; `null` clears it. Refused (409) after the deadline.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id"), ("question_id" = i64, Path, description = "Question id from the attempt")),
    request_body(content = Object, description = "The response"),
    responses(
        (status = 204, description = "Saved"), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "The attempt is closed", body = Problem), (status = 422, description = "The response does not fit the question", body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/attempts/{id}/answers/{question_id}")]
pub async fn save_answer(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
    body: ApiJson<Value>,
) -> AppResult<HttpResponse> {
    let (attempt_id, question_id) = path.into_inner();
    exam::save_answer(
        &state.db,
        &state.question_kinds,
        &viewer(&state, &user),
        attempt_id,
        question_id,
        body.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submits and grades the attempt; a second submit answers the same result.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id")),
    responses((status = 200, body = ResultView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/attempts/{id}/submit")]
pub async fn submit_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let view = exam::submit(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The attempt's result: pass or fail (null while essays await grading), score, and the level
/// each competency evidences. Trainers, HR and admins of the organization may read it too.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id")),
    responses((status = 200, body = ResultView), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/attempts/{id}/result")]
pub async fn get_result(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let staff = user.has(Role::Trainer) || user.has(Role::Admin) || user.has(Role::Hr);
    let view = exam::result(&state.db, &viewer(&state, &user), path.into_inner(), staff).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Every question of an attempt with the learner's answer, the mark and `correct_response`
/// (trainers and admins of the attempt's organization).
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id")),
    responses((status = 200, body = ReviewView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/attempts/{id}/review")]
pub async fn review_attempt(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    if !(user.has(Role::Trainer) || user.has(Role::Admin)) {
        return Err(AppError::Forbidden(Msg::new("error.forbidden_role")));
    }
    let view = exam::review(&state.db, &viewer(&state, &user), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Item statistics of a certification (Moodle's quiz statistics definitions), over its graded
/// attempts: your organization's, or all of them for the platform's own trainers.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    responses((status = 200, body = exam::StatisticsReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certifications/{id}/statistics")]
pub async fn certification_statistics(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let report = exam::statistics(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// An integrity signal from the exam page.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptEvent {
    /// focus_lost, focus_back, visibility_hidden, fullscreen_exit, copy, paste or reload.
    pub kind: String,
    /// A short note (at most 200 characters).
    pub detail: Option<String>,
}

/// Records an integrity signal (focus lost, copy, paste…) of your open attempt; trainers see them
/// in the audit log of the attempt. At most 500 per attempt are kept.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id")),
    request_body = AttemptEvent,
    responses(
        (status = 200, body = exam::SignalOutcome), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/attempts/{id}/events")]
pub async fn attempt_event(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: ApiJson<AttemptEvent>,
) -> AppResult<HttpResponse> {
    let event = body.0;
    if !exam::EVENT_KINDS.contains(&event.kind.as_str()) {
        return Err(AppError::field("kind", "validation.event_kind"));
    }
    let signal = exam::Signal {
        kind: event.kind,
        detail: event.detail.map(|d| d.chars().take(200).collect()),
        ip: crate::auth::extract::client_ip(&req),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect()),
    };
    let outcome = exam::record_event(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
        signal,
    )
    .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Flags (true) or unflags (false) a question of your open attempt.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id"), ("question_id" = i64, Path, description = "Question id")),
    request_body(content = bool, description = "Flagged or not"),
    responses((status = 204, description = "Saved"), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/attempts/{id}/flags/{question_id}")]
pub async fn flag_question(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
    body: ApiJson<Value>,
) -> AppResult<HttpResponse> {
    let (attempt_id, question_id) = path.into_inner();
    let flagged = body
        .0
        .as_bool()
        .ok_or_else(|| AppError::field("flagged", "validation.response_bool"))?;
    exam::set_flag(
        &state.db,
        &viewer(&state, &user),
        attempt_id,
        question_id,
        flagged,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Extra time or attempts for one person.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccommodationRequest {
    pub user_id: i64,
    /// 0-240 minutes.
    #[serde(default)]
    pub extra_minutes: i32,
    /// 0-10 attempts.
    #[serde(default)]
    pub extra_attempts: i32,
    pub reason: String,
}

/// An accommodation granted.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccommodationView {
    pub id: i64,
    pub user_id: i64,
    pub certification_id: i64,
    pub extra_minutes: i32,
    pub extra_attempts: i32,
    pub reason: String,
}

/// Grants a person of your organization extra time or attempts at a certification (HR and
/// trainers; audited).
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    request_body = AccommodationRequest,
    responses((status = 201, body = AccommodationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/certifications/{id}/accommodations")]
pub async fn grant_accommodation(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    body: ApiJson<AccommodationRequest>,
) -> AppResult<HttpResponse> {
    if !(user.has(Role::Hr) || user.has(Role::Trainer)) {
        return Err(AppError::Forbidden(Msg::new("error.forbidden_role")));
    }
    let b = body.0;
    let mut issues = Vec::new();
    if !(0..=240).contains(&b.extra_minutes) {
        issues.push(crate::error::FieldIssue::new(
            "extra_minutes",
            Msg::new("validation.range").arg("min", 0).arg("max", 240),
        ));
    }
    if !(0..=10).contains(&b.extra_attempts) {
        issues.push(crate::error::FieldIssue::new(
            "extra_attempts",
            Msg::new("validation.range").arg("min", 0).arg("max", 10),
        ));
    }
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        issues.push(crate::error::FieldIssue::new(
            "reason",
            Msg::new("validation.length").arg("min", 1).arg("max", 500),
        ));
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let grant = exam::Grant {
        user_id: b.user_id,
        extra_minutes: b.extra_minutes,
        extra_attempts: b.extra_attempts,
        reason: b.reason.trim().to_string(),
    };
    let row =
        exam::grant_accommodation(&state.db, &viewer(&state, &user), path.into_inner(), grant)
            .await?;
    Ok(HttpResponse::Created().json(AccommodationView {
        id: row.id,
        user_id: row.user_id,
        certification_id: row.certification_id,
        extra_minutes: row.extra_minutes,
        extra_attempts: row.extra_attempts,
        reason: row.reason,
    }))
}

/// Essay answers of your organization waiting for a mark (trainers).
#[utoipa::path(
    tag = "exams",
    responses((status = 200, body = Page<exam::GradingItem>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/grading")]
pub async fn grading_queue(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
) -> AppResult<HttpResponse> {
    let items = exam::grading_queue(&state.db, &viewer(&state, &trainer)).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// A trainer's mark for an answer.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeRequest {
    /// 0 to the question's maximum mark.
    pub mark: f64,
    pub comment: Option<String>,
}

/// Marks an answer (an essay, or corrects a mark); the result becomes final when no answer is
/// left unmarked. Audited.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Attempt id"), ("question_id" = i64, Path, description = "Question id")),
    request_body = GradeRequest,
    responses((status = 200, body = exam::Outcome), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/attempts/{id}/grades/{question_id}")]
pub async fn grade_answer(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<(i64, i64)>,
    body: ApiJson<GradeRequest>,
) -> AppResult<HttpResponse> {
    let (attempt_id, question_id) = path.into_inner();
    let b = body.0;
    let comment = b.comment.map(|c| c.chars().take(2000).collect());
    let outcome = exam::grade_answer(
        &state.db,
        &state.mailer,
        &viewer(&state, &trainer),
        attempt_id,
        question_id,
        b.mark,
        comment,
    )
    .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// A regrade request.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegradeRequest {
    /// Why (kept in the audit log).
    pub reason: String,
    /// List the changes without writing them. Default: true.
    pub dry_run: Option<bool>,
}

/// Regrades the attempts that drew a question with its current key (correct the key first by
/// saving the bank): a dry run lists every change of mark and pass/fail; then the regrade. Audited.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Course id"), ("external_id" = String, Path, description = "The question's GIFT id")),
    request_body = RegradeRequest,
    responses((status = 200, body = exam::RegradeReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/courses/{id}/questions/{external_id}/regrade")]
pub async fn regrade(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<(i64, String)>,
    body: ApiJson<RegradeRequest>,
) -> AppResult<HttpResponse> {
    let (course_id, external_id) = path.into_inner();
    let b = body.0;
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        return Err(AppError::Validation(vec![crate::error::FieldIssue::new(
            "reason",
            Msg::new("validation.length").arg("min", 1).arg("max", 500),
        )]));
    }
    let report = exam::regrade(
        &state.db,
        &state.mailer,
        &viewer(&state, &trainer),
        course_id,
        &external_id,
        b.reason.trim(),
        b.dry_run.unwrap_or(true),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The exam blueprint of a certification, with how many questions the banks hold per cell
/// (trainers).
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    responses((status = 200, body = Page<exam::BlueprintCell>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certifications/{id}/blueprint")]
pub async fn get_blueprint(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let items =
        exam::get_blueprint(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    let total = items.len() as u64;
    Ok(HttpResponse::Ok().json(Page { items, total }))
}

/// A blueprint section: how many questions of each difficulty to draw for a competency.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueprintSectionInput {
    pub competency: String,
    #[serde(default)]
    pub easy: u32,
    #[serde(default)]
    pub medium: u32,
    #[serde(default)]
    pub hard: u32,
}

/// A new blueprint.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueprintRequest {
    pub sections: Vec<BlueprintSectionInput>,
}

/// Replaces a certification's blueprint (trainers of its owner); a blueprint the banks cannot
/// fill is refused, naming each short cell. Audited.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    request_body = BlueprintRequest,
    responses((status = 200, description = "Saved"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/certifications/{id}/blueprint")]
pub async fn put_blueprint(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<i64>,
    body: ApiJson<BlueprintRequest>,
) -> AppResult<HttpResponse> {
    let sections = body
        .0
        .sections
        .into_iter()
        .map(|s| crate::catalog::content::BlueprintSection {
            competency: s.competency,
            easy: s.easy.min(100),
            medium: s.medium.min(100),
            hard: s.hard.min(100),
        })
        .collect();
    let saved = exam::set_blueprint(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        sections,
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sections": saved })))
}

/// Creates a certification of your organization (trainers): its identity, exam rules and
/// blueprint, checked like a content file; every problem is answered at once, and a blueprint
/// the banks cannot fill is refused. Audited.
#[utoipa::path(
    tag = "exams",
    request_body = NewCertification,
    responses((status = 201, body = CertificationRules), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[post("/api/v1/certifications")]
pub async fn create_certification(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    body: ApiJson<NewCertification>,
) -> AppResult<HttpResponse> {
    let saved = authoring::create(&state.db, &viewer(&state, &trainer), body.0).await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Replaces the exam rules of a certification your organization owns (trainers): validity,
/// required courses, pass and excellent lines, per-competency minimum, attempts, cool-down,
/// time limit and what happens at timeout, the counted attempt, the review policy and evidence
/// bands. Open attempts keep their deadline. Audited with before and after.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    request_body = RulesInput,
    responses((status = 200, body = CertificationRules), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/certifications/{id}/rules")]
pub async fn put_rules(
    state: web::Data<AppState>,
    trainer: crate::auth::RequireRole<crate::auth::Trainer>,
    path: web::Path<i64>,
    body: ApiJson<RulesInput>,
) -> AppResult<HttpResponse> {
    let saved = authoring::set_rules(
        &state.db,
        &viewer(&state, &trainer),
        path.into_inner(),
        body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Your organization's integrity controls of a certification (trainers and admins): a switch
/// limit and a pledge, both off unless set.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    responses((status = 200, body = controls::Controls), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/certifications/{id}/controls")]
pub async fn get_controls(
    state: web::Data<AppState>,
    staff: crate::auth::RequireRole<crate::auth::TrainerOrAdmin>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let v = viewer(&state, &staff);
    let cert = exam::visible_certification(&state.db, &v, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(controls::of(&state.db, v.org_id, cert.id).await?))
}

/// Sets your organization's integrity controls of a certification (trainers and admins): after
/// `max_switches` switches away from the exam the attempt is submitted on the answers saved;
/// a `pledge` must be accepted before starting. `null` turns a control off. Audited.
#[utoipa::path(
    tag = "exams",
    params(("id" = i64, Path, description = "Certification id")),
    request_body = controls::ControlsInput,
    responses((status = 200, body = controls::Controls), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("session" = []))
)]
#[put("/api/v1/certifications/{id}/controls")]
pub async fn put_controls(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    staff: crate::auth::RequireRole<crate::auth::TrainerOrAdmin>,
    path: web::Path<i64>,
    body: ApiJson<controls::ControlsInput>,
) -> AppResult<HttpResponse> {
    let saved = controls::set(
        &state.db,
        &viewer(&state, &staff),
        &staff.actor(&req),
        path.into_inner(),
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}
