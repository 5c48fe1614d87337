//! Certification exams: eligibility, drawing, timed attempts, answers, grading and results.
//!
//! The answer key never leaves the server while an attempt is open: learners get
//! [`grading::present`] views only; keys appear in the trainers' review.
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::entities::{accommodation, attempt, attempt_question, evidence, statistics_cache};
use super::gift::QuestionKind;
use super::grading::{self, Presentation};
use crate::catalog::content::{BlueprintSection, EvidenceBand};
use crate::catalog::entities::{certification, course, enrolment, question};
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult, Msg};
use crate::notify::{EmailContent, Mailer, Recipient};

/// Answers saved this long after the deadline still count (network latency), never more.
pub const SAVE_GRACE_SECONDS: i64 = 5;

/// The rules of a certification's exam.
#[derive(Debug, Clone, Deserialize)]
pub struct ExamRules {
    pub validity_months: u32,
    pub pass_percent: f64,
    pub excellent_percent: f64,
    #[serde(default)]
    pub min_competency_percent: f64,
    pub max_attempts: u32,
    pub cooldown_hours: u32,
    pub time_limit_minutes: u32,
    pub on_timeout: String,
    #[serde(default)]
    pub grace_minutes: u32,
    pub counted_attempt: String,
    #[serde(default = "crate::catalog::content::default_review")]
    pub review: String,
    pub evidence_bands: Option<Vec<EvidenceBand>>,
}

pub(crate) fn rules(cert: &certification::Model) -> AppResult<ExamRules> {
    serde_json::from_value(cert.settings.clone()).map_err(AppError::internal)
}

fn blueprint(cert: &certification::Model) -> AppResult<Vec<BlueprintSection>> {
    serde_json::from_value(cert.blueprint.clone()).map_err(AppError::internal)
}

/// The level a per-competency percentage evidences: by the certification's bands, else 80% or
/// more the certified level, 60-79% one below, under 60% two below; never under 1.
pub fn evidenced_level(certified: i32, percent: f64, bands: Option<&[EvidenceBand]>) -> i32 {
    let default = [
        EvidenceBand {
            min_percent: 80.0,
            offset: 0,
        },
        EvidenceBand {
            min_percent: 60.0,
            offset: -1,
        },
        EvidenceBand {
            min_percent: 0.0,
            offset: -2,
        },
    ];
    let bands = bands.filter(|b| !b.is_empty()).unwrap_or(&default);
    let offset = bands
        .iter()
        .filter(|b| percent + 1e-9 >= b.min_percent)
        .map(|b| b.offset)
        .max()
        .unwrap_or(-2);
    (certified + offset).max(1)
}

pub(crate) async fn visible_certification<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    id: i64,
) -> AppResult<certification::Model> {
    let cert = certification::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if cert.org_id != viewer.platform_org_id && cert.org_id != viewer.org_id {
        return Err(AppError::NotFound);
    }
    Ok(cert)
}

async fn extras<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    cert_id: i64,
) -> Result<(i64, i64), DbErr> {
    let rows = accommodation::Entity::find()
        .filter(accommodation::Column::UserId.eq(user_id))
        .filter(accommodation::Column::CertificationId.eq(cert_id))
        .all(conn)
        .await?;
    Ok((
        rows.iter().map(|a| i64::from(a.extra_minutes)).sum(),
        rows.iter().map(|a| i64::from(a.extra_attempts)).sum(),
    ))
}

/// The courses a person has completed, as (owner organization, code).
async fn completed_codes<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
) -> Result<HashSet<(i64, String)>, DbErr> {
    let done: Vec<i64> = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.eq(user_id))
        .filter(enrolment::Column::CompletedAt.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|e| e.course_id)
        .collect();
    Ok(course::Entity::find()
        .filter(course::Column::Id.is_in(done))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.org_id, c.code))
        .collect())
}

/// Required courses of a certification not among the completed ones (codes): a code names a
/// course of the certification's owner or, for an organization's own certification, of the
/// platform catalog.
fn missing_for(
    cert: &certification::Model,
    completed: &HashSet<(i64, String)>,
    platform_org_id: i64,
) -> Vec<String> {
    let required: Vec<String> =
        serde_json::from_value(cert.required_courses.clone()).unwrap_or_default();
    required
        .into_iter()
        .filter(|code| {
            !completed.contains(&(cert.org_id, code.clone()))
                && !completed.contains(&(platform_org_id, code.clone()))
        })
        .collect()
}

/// A person's attempts, accommodations and completed courses, read once for every certification.
struct Standing {
    attempts: HashMap<i64, Vec<attempt::Model>>,
    extra_attempts: HashMap<i64, i64>,
    completed: HashSet<(i64, String)>,
}

async fn standing<C: ConnectionTrait>(conn: &C, user_id: i64) -> Result<Standing, DbErr> {
    let mut attempts: HashMap<i64, Vec<attempt::Model>> = HashMap::new();
    for a in attempt::Entity::find()
        .filter(attempt::Column::UserId.eq(user_id))
        .order_by_asc(attempt::Column::Number)
        .all(conn)
        .await?
    {
        attempts.entry(a.certification_id).or_default().push(a);
    }
    let mut extra_attempts: HashMap<i64, i64> = HashMap::new();
    for g in accommodation::Entity::find()
        .filter(accommodation::Column::UserId.eq(user_id))
        .all(conn)
        .await?
    {
        *extra_attempts.entry(g.certification_id).or_default() += i64::from(g.extra_attempts);
    }
    Ok(Standing {
        attempts,
        extra_attempts,
        completed: completed_codes(conn, user_id).await?,
    })
}

/// When the person may start again after an attempt: the later of its finish and its start plus
/// the time limit, plus the cool-down.
fn available_after(a: &attempt::Model, rules: &ExamRules) -> DateTime<Utc> {
    let end = a
        .finished_at
        .unwrap_or(a.deadline_at)
        .max(a.started_at + Duration::minutes(i64::from(rules.time_limit_minutes)));
    end + Duration::hours(i64::from(rules.cooldown_hours))
}

/// A certification as a learner sees it, with where they stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificationView {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub description: String,
    pub category: String,
    pub level: i32,
    pub time_limit_minutes: u32,
    pub pass_percent: f64,
    pub question_count: u32,
    pub max_attempts: i64,
    pub attempts_used: u64,
    /// Required courses not yet completed (codes).
    pub missing_courses: Vec<String>,
    /// An attempt in progress.
    pub open_attempt_id: Option<i64>,
    /// No new attempt before this instant.
    pub available_at: Option<DateTime<Utc>>,
    /// Whether an attempt can start now.
    pub can_start: bool,
    /// `passed`, `failed`, `pending` or `not_attempted`, from the attempt that counts.
    pub status: String,
    /// The pledge your organization asks you to accept before starting (send
    /// `{"pledge": true}` with the attempt POST).
    pub pledge: Option<String>,
    /// After this many switches away from the exam it is submitted (your organization's rule).
    pub max_switches: Option<i32>,
    /// Your first graded attempt's score and your best, in percent (both kept, whichever
    /// attempt counts).
    pub first_percent: Option<f64>,
    pub best_percent: Option<f64>,
}

/// The certifications a person can see, and where they stand in each.
pub async fn list_certifications(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> AppResult<Vec<CertificationView>> {
    let certs = certification::Entity::find()
        .filter(certification::Column::OrgId.is_in([viewer.platform_org_id, viewer.org_id]))
        .filter(certification::Column::Status.eq("published"))
        .order_by_asc(certification::Column::CategoryId)
        .order_by_asc(certification::Column::Level)
        .all(db)
        .await?;
    let standing = standing(db, viewer.user_id).await?;
    let controls = super::controls::all_of(db, viewer.org_id).await?;
    certs
        .iter()
        .map(|cert| {
            certification_view(
                &standing,
                cert,
                controls.get(&cert.id).cloned().unwrap_or_default(),
                viewer.platform_org_id,
            )
        })
        .collect()
}

fn certification_view(
    standing: &Standing,
    cert: &certification::Model,
    controls: super::controls::Controls,
    platform_org_id: i64,
) -> AppResult<CertificationView> {
    let r = rules(cert)?;
    let attempts: &[attempt::Model] = standing.attempts.get(&cert.id).map_or(&[], Vec::as_slice);
    let now = Utc::now();
    let extra_attempts = standing.extra_attempts.get(&cert.id).copied().unwrap_or(0);
    let max_attempts = i64::from(r.max_attempts) + extra_attempts;
    let open = attempts
        .iter()
        .find(|a| a.status == "open" && a.submit_until > now)
        .map(|a| a.id);
    let available_at = attempts
        .iter()
        .filter(|a| a.status != "open")
        .map(|a| available_after(a, &r))
        .max()
        .filter(|t| *t > now);
    let missing = missing_for(cert, &standing.completed, platform_org_id);
    let used = attempts.len() as u64;
    let counted = counted_result(attempts, &r.counted_attempt, r.pass_percent);
    let graded: Vec<&attempt::Model> = attempts
        .iter()
        .filter(|a| a.status == "graded" || a.status == "abandoned")
        .collect();
    let bp = blueprint(cert)?;
    Ok(CertificationView {
        id: cert.id,
        code: cert.code.clone(),
        title: cert.title.clone(),
        title_zh: cert.title_zh.clone(),
        description: cert.description.clone(),
        category: cert.category_id.clone(),
        level: cert.level,
        time_limit_minutes: r.time_limit_minutes,
        pass_percent: r.pass_percent,
        question_count: bp.iter().map(|b| b.easy + b.medium + b.hard).sum(),
        max_attempts,
        attempts_used: used,
        can_start: open.is_some()
            || (missing.is_empty() && available_at.is_none() && (used as i64) < max_attempts),
        missing_courses: missing,
        open_attempt_id: open,
        available_at,
        status: counted.to_string(),
        pledge: controls.pledge,
        max_switches: controls.max_switches,
        first_percent: graded.first().and_then(|a| a.percent),
        best_percent: graded
            .iter()
            .filter_map(|a| a.percent)
            .max_by(f64::total_cmp),
    })
}

/// The outcome that counts under the certification's rule (highest, first, last, average).
pub fn counted_result(attempts: &[attempt::Model], rule: &str, pass_percent: f64) -> &'static str {
    if attempts.iter().any(|a| a.status == "pending") {
        return "pending";
    }
    let finished: Vec<&attempt::Model> = attempts
        .iter()
        .filter(|a| a.status == "graded" || a.status == "abandoned")
        .collect();
    let (Some(first), Some(last)) = (finished.first(), finished.last()) else {
        return "not_attempted";
    };
    let passed = match rule {
        "first" => first.passed == Some(true),
        "last" => last.passed == Some(true),
        // The mean of the attempts' percentages against the pass mark (an abandoned attempt
        // counts as 0%).
        "average" => {
            let mean = finished
                .iter()
                .map(|a| {
                    if a.status == "abandoned" {
                        0.0
                    } else {
                        a.percent.unwrap_or(0.0)
                    }
                })
                .sum::<f64>()
                / finished.len() as f64;
            mean + 1e-9 >= pass_percent
        }
        _ => finished.iter().any(|a| a.passed == Some(true)),
    };
    if passed {
        "passed"
    } else {
        "failed"
    }
}

/// The published courses whose banks a certification draws from: the owner's, and for an
/// organization's certification the platform's too.
pub(crate) async fn bank_courses<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    cert: &certification::Model,
) -> Result<Vec<i64>, DbErr> {
    let owners: Vec<i64> = if cert.org_id == viewer.platform_org_id {
        vec![cert.org_id]
    } else {
        vec![cert.org_id, viewer.platform_org_id]
    };
    course::Entity::find()
        .select_only()
        .column(course::Column::Id)
        .filter(course::Column::OrgId.is_in(owners))
        .filter(course::Column::PublishedVersionId.is_not_null())
        .into_tuple::<i64>()
        .all(conn)
        .await
}

/// What is drawn: for each blueprint cell, questions from the banks of the certification's owner
/// (and, for an organization's certification, the platform's too), the person's least-seen first.
async fn draw<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    cert: &certification::Model,
    rng: &mut ChaCha8Rng,
) -> AppResult<Vec<question::Model>> {
    let course_ids = bank_courses(conn, viewer, cert).await?;
    let seen: HashMap<String, u32> = {
        let mine: Vec<i64> = attempt::Entity::find()
            .filter(attempt::Column::UserId.eq(viewer.user_id))
            .all(conn)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        let drawn: Vec<i64> = attempt_question::Entity::find()
            .filter(attempt_question::Column::AttemptId.is_in(mine))
            .all(conn)
            .await?
            .into_iter()
            .map(|q| q.question_id)
            .collect();
        let mut counts = HashMap::new();
        for q in question::Entity::find()
            .filter(question::Column::Id.is_in(drawn))
            .all(conn)
            .await?
        {
            *counts.entry(q.external_id).or_insert(0) += 1;
        }
        counts
    };
    let sections = blueprint(cert)?;
    // Every candidate of every cell in one query, grouped by (competency, difficulty).
    let competencies: Vec<String> = sections.iter().map(|s| s.competency.clone()).collect();
    let mut cells: HashMap<(String, String), Vec<question::Model>> = HashMap::new();
    for q in question::Entity::find()
        .filter(question::Column::CourseId.is_in(course_ids))
        .filter(question::Column::IsCurrent.eq(true))
        .filter(question::Column::CompetencyId.is_in(competencies))
        .filter(question::Column::Qtype.ne("description"))
        .order_by_asc(question::Column::Id)
        .all(conn)
        .await?
    {
        let competency = q.competency_id.clone().unwrap_or_default();
        cells
            .entry((competency, q.difficulty.clone()))
            .or_default()
            .push(q);
    }
    let mut picked = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    for section in sections {
        for (difficulty, n) in [
            ("easy", section.easy),
            ("medium", section.medium),
            ("hard", section.hard),
        ] {
            if n == 0 {
                continue;
            }
            let mut candidates: Vec<(u32, u64, question::Model)> = cells
                .get(&(section.competency.clone(), difficulty.to_string()))
                .into_iter()
                .flatten()
                .filter(|q| !used.contains(&q.external_id))
                .cloned()
                .map(|q| {
                    (
                        seen.get(&q.external_id).copied().unwrap_or(0),
                        rng.gen::<u64>(),
                        q,
                    )
                })
                .collect();
            if candidates.len() < n as usize {
                return Err(AppError::Conflict(
                    Msg::new("error.blueprint_unfillable")
                        .arg("competency", &section.competency)
                        .arg("difficulty", difficulty)
                        .arg("needed", n)
                        .arg("available", candidates.len()),
                ));
            }
            candidates.sort_by_key(|(seen, key, _)| (*seen, *key));
            for (_, _, q) in candidates.into_iter().take(n as usize) {
                used.insert(q.external_id.clone());
                picked.push(q);
            }
        }
    }
    Ok(picked)
}

/// A person's attempts at a certification, in order.
async fn attempts_for<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    cert_id: i64,
) -> Result<Vec<attempt::Model>, DbErr> {
    attempt::Entity::find()
        .filter(attempt::Column::UserId.eq(user_id))
        .filter(attempt::Column::CertificationId.eq(cert_id))
        .order_by_asc(attempt::Column::Number)
        .all(conn)
        .await
}

/// Refuses a start when no attempt is left or the cool-down has not passed.
fn may_start(
    attempts: &[attempt::Model],
    r: &ExamRules,
    extra_attempts: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if attempts.len() as i64 >= i64::from(r.max_attempts) + extra_attempts {
        return Err(AppError::Conflict(Msg::new("error.exam_no_attempts_left")));
    }
    if let Some(until) = attempts
        .iter()
        .map(|a| available_after(a, r))
        .max()
        .filter(|t| *t > now)
    {
        return Err(AppError::Conflict(
            Msg::new("error.exam_cooldown").arg("time", until.format("%Y-%m-%d %H:%M UTC")),
        ));
    }
    Ok(())
}

/// Starts an attempt, or answers the one already open (`false`).
pub async fn start(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    cert_id: i64,
    pledge: bool,
) -> AppResult<(AttemptView, bool)> {
    // An attempt whose time is over is graded before anything else.
    sweep_user(db, mailer, viewer.user_id).await?;
    // Checks and the draw read outside the write transaction, so that on SQLite the database's
    // one writer is held only for the inserts; the attempts are read again inside it, so two
    // concurrent starts still open one attempt.
    let cert = visible_certification(db, viewer, cert_id).await?;
    let r = rules(&cert)?;
    let attempts = attempts_for(db, viewer.user_id, cert.id).await?;
    if let Some(open) = attempts.iter().find(|a| a.status == "open") {
        return Ok((attempt_view(db, mailer, viewer, open.id).await?, false));
    }
    let missing = missing_for(
        &cert,
        &completed_codes(db, viewer.user_id).await?,
        viewer.platform_org_id,
    );
    if !missing.is_empty() {
        return Err(AppError::Conflict(
            Msg::new("error.exam_courses_missing").arg("courses", missing.join(", ")),
        ));
    }
    let (extra_minutes, extra_attempts) = extras(db, viewer.user_id, cert.id).await?;
    may_start(&attempts, &r, extra_attempts, Utc::now())?;
    let controls = super::controls::of(db, viewer.org_id, cert.id).await?;
    super::controls::check_pledge(&controls, pledge)?;
    let seed: i64 = rand::random::<i64>() & 0x7fff_ffff_ffff_ffff;
    let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
    let mut drawn = draw(db, viewer, &cert, &mut rng).await?;
    drawn.shuffle(&mut rng);

    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let attempts = attempts_for(&txn, viewer.user_id, cert.id).await?;
    if let Some(open) = attempts.iter().find(|a| a.status == "open") {
        let id = open.id;
        txn.commit().await?;
        return Ok((attempt_view(db, mailer, viewer, id).await?, false));
    }
    may_start(&attempts, &r, extra_attempts, now)?;
    let deadline = now + Duration::minutes(i64::from(r.time_limit_minutes) + extra_minutes);
    let submit_until = if r.on_timeout == "grace" {
        deadline + Duration::minutes(i64::from(r.grace_minutes))
    } else {
        deadline
    };
    let a = attempt::ActiveModel {
        id: NotSet,
        org_id: Set(viewer.org_id),
        user_id: Set(viewer.user_id),
        certification_id: Set(cert.id),
        number: Set(i32::try_from(attempts.len() + 1).unwrap_or(i32::MAX)),
        status: Set("open".into()),
        seed: Set(seed),
        started_at: Set(now),
        deadline_at: Set(deadline),
        submit_until: Set(submit_until),
        finished_at: Set(None),
        score: Set(None),
        max_score: Set(drawn.iter().map(marks_of).sum()),
        percent: Set(None),
        passed: Set(None),
        competencies: Set(None),
        receipt: Set(None),
        finish_reason: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut rows = Vec::new();
    for (i, q) in drawn.iter().enumerate() {
        let max_mark = marks_of(q);
        let kind: QuestionKind =
            serde_json::from_value(q.answer_data.clone()).map_err(AppError::internal)?;
        let mut order = grading::option_ids(&kind);
        order.shuffle(&mut rng);
        rows.push(attempt_question::ActiveModel {
            id: NotSet,
            attempt_id: Set(a.id),
            position: Set(i32::try_from(i + 1).unwrap_or(i32::MAX)),
            question_id: Set(q.id),
            option_order: Set(json!(order)),
            response: Set(None),
            answered_at: Set(None),
            flagged: Set(false),
            mark: Set(None),
            max_mark: Set(max_mark),
            graded_by: Set(None),
            comment: Set(None),
        });
    }
    if !rows.is_empty() {
        attempt_question::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "exam.started",
            target_type: "attempt",
            target_id: Some(a.id.to_string()),
            after: Some(
                json!({"certification": cert.code, "seed": seed, "questions": drawn.len(), "pledge": controls.pledge, "max_switches": controls.max_switches}),
            ),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok((attempt_view(db, mailer, viewer, a.id).await?, true))
}

/// The marks a question is worth: its `points` tag (an Excel bank's score column), else 1.
fn marks_of(q: &question::Model) -> f64 {
    serde_json::from_value::<Vec<String>>(q.tags.clone())
        .unwrap_or_default()
        .iter()
        .find_map(|t| t.strip_prefix("points=")?.parse::<f64>().ok())
        .filter(|p| *p > 0.0 && *p <= 100.0)
        .unwrap_or(1.0)
}

/// A question of an open attempt, as the learner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptQuestionView {
    /// The `{question_id}` of the answer PUT.
    pub id: i64,
    pub position: i32,
    pub title: Option<String>,
    pub text: String,
    /// How to answer: the type and, for choices, `options` with stable ids.
    pub answer: Presentation,
    /// The saved response, in the form of the answer PUT.
    #[schema(value_type = Object)]
    pub response: Option<Value>,
    /// Whether a response is saved.
    pub answered: bool,
    pub flagged: bool,
}

/// An attempt as its learner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: i64,
    pub certification_id: i64,
    pub certification_title: String,
    /// open, pending, graded or abandoned.
    pub status: String,
    pub started_at: DateTime<Utc>,
    /// Answers are accepted until then.
    pub deadline_at: DateTime<Utc>,
    /// Submitting is accepted until then.
    pub submit_until: DateTime<Utc>,
    /// The server's clock, so a page can count down against it.
    pub server_time: DateTime<Utc>,
    pub answered: usize,
    pub questions: Vec<AttemptQuestionView>,
}

async fn owned_attempt<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    id: i64,
) -> AppResult<attempt::Model> {
    let a = attempt::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if a.user_id != viewer.user_id {
        return Err(AppError::NotFound);
    }
    Ok(a)
}

/// The learner's view of their attempt (graded first if its time is over). Never the key.
pub async fn attempt_view(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    id: i64,
) -> AppResult<AttemptView> {
    let mut a = owned_attempt(db, viewer, id).await?;
    if a.status == "open" && a.submit_until < Utc::now() {
        finalize(db, mailer, a.id, "timeout").await?;
        a = owned_attempt(db, viewer, id).await?;
    }
    let cert = certification::Entity::find_by_id(a.certification_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .order_by_asc(attempt_question::Column::Position)
        .all(db)
        .await?;
    // Once finished, the questions stay hidden unless the review policy shows them.
    let hidden = a.status != "open" && !shows_questions(&rules(&cert)?, &a);
    let ids: Vec<i64> = if hidden {
        Vec::new()
    } else {
        rows.iter().map(|r| r.question_id).collect()
    };
    let questions: HashMap<i64, question::Model> = question::Entity::find()
        .filter(question::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let mut out = Vec::new();
    for r in &rows {
        let Some(q) = questions.get(&r.question_id) else {
            continue;
        };
        let kind: QuestionKind =
            serde_json::from_value(q.answer_data.clone()).map_err(AppError::internal)?;
        let order: Vec<String> = serde_json::from_value(r.option_order.clone()).unwrap_or_default();
        let option_ids = grading::OptionIds::new(a.seed, q.id);
        out.push(AttemptQuestionView {
            id: q.id,
            position: r.position,
            title: None,
            text: q.text.clone(),
            answer: grading::present(&kind, &order, Some(&option_ids)),
            response: r
                .response
                .as_ref()
                .map(|v| grading::response_to_public(&kind, v, &option_ids)),
            answered: r.response.is_some(),
            flagged: r.flagged,
        });
    }
    Ok(AttemptView {
        id: a.id,
        certification_id: cert.id,
        certification_title: cert.title,
        status: a.status,
        started_at: a.started_at,
        deadline_at: a.deadline_at,
        submit_until: a.submit_until,
        server_time: Utc::now(),
        answered: rows.iter().filter(|r| r.response.is_some()).count(),
        questions: out,
    })
}

/// The answer shapes of question revisions and the seeds of attempts, kept in memory for the
/// answer-save path. A revision
/// is never changed once written (edits add a new revision), so an entry never goes stale; the
/// map is per service (ids belong to one database) and is emptied when it reaches its cap.
#[derive(Clone, Default)]
pub struct QuestionKinds(
    std::sync::Arc<std::sync::RwLock<HashMap<i64, std::sync::Arc<QuestionKind>>>>,
    std::sync::Arc<std::sync::RwLock<HashMap<i64, i64>>>,
);

impl QuestionKinds {
    /// Revisions kept at most.
    const CAP: usize = 20_000;

    /// The answer shape of a question revision; `None` when there is no such revision.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        question_id: i64,
    ) -> AppResult<Option<std::sync::Arc<QuestionKind>>> {
        if let Some(hit) = self
            .0
            .read()
            .ok()
            .and_then(|map| map.get(&question_id).cloned())
        {
            return Ok(Some(hit));
        }
        let Some(q) = question::Entity::find_by_id(question_id).one(db).await? else {
            return Ok(None);
        };
        let kind: std::sync::Arc<QuestionKind> =
            std::sync::Arc::new(serde_json::from_value(q.answer_data).map_err(AppError::internal)?);
        if let Ok(mut map) = self.0.write() {
            if map.len() >= Self::CAP {
                map.clear();
            }
            map.insert(question_id, kind.clone());
        }
        Ok(Some(kind))
    }

    /// The secret seed of an attempt (its option ids derive from it); `None` when there is no
    /// such attempt. A seed never changes, so it is kept once read.
    pub async fn seed(&self, db: &DatabaseConnection, attempt_id: i64) -> AppResult<Option<i64>> {
        if let Some(hit) = self
            .1
            .read()
            .ok()
            .and_then(|map| map.get(&attempt_id).copied())
        {
            return Ok(Some(hit));
        }
        let Some(seed) = attempt::Entity::find_by_id(attempt_id)
            .select_only()
            .column(attempt::Column::Seed)
            .into_tuple::<i64>()
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        if let Ok(mut map) = self.1.write() {
            if map.len() >= Self::CAP {
                map.clear();
            }
            map.insert(attempt_id, seed);
        }
        Ok(Some(seed))
    }
}

/// Saves one answer of an open attempt (idempotent: the last save wins).
pub async fn save_answer(
    db: &DatabaseConnection,
    kinds: &QuestionKinds,
    viewer: &Viewer,
    attempt_id: i64,
    question_id: i64,
    response: Value,
) -> AppResult<()> {
    // The hot path is one update that also checks ownership, the open status and the deadline;
    // the question's answer shape comes from memory after its first use. The reasons for a
    // refusal are looked up only when the update changed nothing.
    let kind = kinds.get(db, question_id).await?;
    let seed = match &kind {
        Some(k) if grading::has_options(k) && !response.is_null() => {
            kinds.seed(db, attempt_id).await?
        }
        _ => None,
    };
    let response = match (&kind, seed) {
        (Some(k), Some(seed)) => {
            grading::response_to_internal(k, &response, &grading::OptionIds::new(seed, question_id))
        }
        _ => response,
    };
    let stored = match (&kind, response.is_null()) {
        (_, true) => None,
        (Some(kind), false) => match grading::check_shape(kind, &response) {
            Ok(()) => Some(response),
            Err(e) => {
                // Say nothing about the question to someone else's attempt, and a closed
                // attempt is closed whatever the response.
                let a = owned_attempt(db, viewer, attempt_id).await?;
                if a.status != "open"
                    || Utc::now() > a.deadline_at + Duration::seconds(SAVE_GRACE_SECONDS)
                {
                    return Err(AppError::Conflict(Msg::new("error.attempt_closed")));
                }
                return Err(AppError::Validation(vec![crate::error::FieldIssue::new(
                    "response",
                    Msg::new(e.0),
                )]));
            }
        },
        (None, false) => None,
    };
    let now = Utc::now();
    let updated = attempt_question::Entity::update_many()
        .col_expr(attempt_question::Column::Response, Expr::value(stored))
        .col_expr(attempt_question::Column::AnsweredAt, Expr::value(now))
        .filter(attempt_question::Column::AttemptId.eq(attempt_id))
        .filter(attempt_question::Column::QuestionId.eq(question_id))
        .filter(
            attempt_question::Column::AttemptId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(attempt::Column::Id)
                    .from(attempt::Entity)
                    .and_where(attempt::Column::Id.eq(attempt_id))
                    .and_where(attempt::Column::UserId.eq(viewer.user_id))
                    .and_where(attempt::Column::Status.eq("open"))
                    .and_where(
                        attempt::Column::DeadlineAt
                            .gte(now - Duration::seconds(SAVE_GRACE_SECONDS)),
                    )
                    .to_owned(),
            ),
        )
        .exec(db)
        .await?;
    if updated.rows_affected == 1 && kind.is_some() {
        return Ok(());
    }
    let a = owned_attempt(db, viewer, attempt_id).await?;
    if a.status != "open" || now > a.deadline_at + Duration::seconds(SAVE_GRACE_SECONDS) {
        return Err(AppError::Conflict(Msg::new("error.attempt_closed")));
    }
    Err(AppError::NotFound)
}

/// Submits an attempt (idempotent: a second submit answers the same result).
pub async fn submit(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    attempt_id: i64,
) -> AppResult<ResultView> {
    let a = owned_attempt(db, viewer, attempt_id).await?;
    if a.status == "open" {
        if Utc::now() > a.submit_until + Duration::seconds(SAVE_GRACE_SECONDS) {
            finalize(db, mailer, a.id, "timeout").await?;
        } else {
            finalize(db, mailer, a.id, "submitted").await?;
        }
    }
    result(db, viewer, attempt_id, false).await
}

/// Grades an open attempt once: the status flips from `open` in one statement, so concurrent
/// submits (or the sweep) grade it exactly once.
pub async fn finalize(
    db: &DatabaseConnection,
    mailer: &Mailer,
    attempt_id: i64,
    reason: &str,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let claimed = attempt::Entity::update_many()
        .col_expr(attempt::Column::Status, Expr::value("grading"))
        .filter(attempt::Column::Id.eq(attempt_id))
        .filter(attempt::Column::Status.eq("open"))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(());
    }
    let a = attempt::Entity::find_by_id(attempt_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let cert = certification::Entity::find_by_id(a.certification_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let r = rules(&cert)?;
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .order_by_asc(attempt_question::Column::Position)
        .all(&txn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.question_id).collect();
    let questions: HashMap<i64, question::Model> = question::Entity::find()
        .filter(question::Column::Id.is_in(ids))
        .all(&txn)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let now = Utc::now();
    let abandoned = reason == "timeout" && r.on_timeout == "abandon";
    let mut hasher = Sha256::new();
    for row in &rows {
        let Some(q) = questions.get(&row.question_id) else {
            continue;
        };
        let kind: QuestionKind =
            serde_json::from_value(q.answer_data.clone()).map_err(AppError::internal)?;
        hasher.update(format!(
            "{}:{}\n",
            q.id,
            row.response
                .as_ref()
                .map_or("null".to_string(), Value::to_string)
        ));
        let mark = if abandoned {
            Some(0.0)
        } else {
            grading::fraction(&kind, row.response.as_ref()).map(|f| f * row.max_mark)
        };
        attempt_question::Entity::update_many()
            .col_expr(attempt_question::Column::Mark, Expr::value(mark))
            .filter(attempt_question::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    let mut active = a.clone().into_active_model();
    active.finished_at = Set(Some(now));
    active.receipt = Set(Some(hex::encode(hasher.finalize())));
    active.finish_reason = Set(Some(if abandoned {
        "abandoned".into()
    } else {
        reason.to_string()
    }));
    active.update(&txn).await?;
    let outcome = settle(&txn, mailer, attempt_id, abandoned).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(a.org_id),
            actor_user_id: Some(a.user_id),
            action: "exam.finished",
            target_type: "attempt",
            target_id: Some(a.id.to_string()),
            after: Some(json!({"reason": reason, "status": outcome.status, "score": outcome.score, "percent": outcome.percent, "passed": outcome.passed})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    // A certificate issued above gets its PDF now, outside the write transaction, without
    // making the learner wait for it.
    crate::certificates::service::render_in_background(db, mailer.public_url(), Some(a.user_id));
    Ok(())
}

/// An attempt's totals after [`settle`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    pub status: &'static str,
    pub score: f64,
    pub percent: f64,
    pub passed: Option<bool>,
}

/// Computes an attempt's totals from its stored marks: score, per-competency results, pass or
/// fail (none while an essay awaits its mark). When final, records the competency evidence and
/// queues the result email (one per outcome).
pub async fn settle<C: ConnectionTrait>(
    conn: &C,
    mailer: &Mailer,
    attempt_id: i64,
    abandoned: bool,
) -> AppResult<Outcome> {
    let a = attempt::Entity::find_by_id(attempt_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let cert = certification::Entity::find_by_id(a.certification_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let r = rules(&cert)?;
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .all(conn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.question_id).collect();
    let competency_of: HashMap<i64, String> = question::Entity::find()
        .filter(question::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|q| (q.id, q.competency_id.unwrap_or_default()))
        .collect();
    let mut per_competency: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut score = 0.0;
    let mut pending = false;
    for row in &rows {
        match row.mark {
            Some(m) => score += m,
            None => pending = true,
        }
        let entry = per_competency
            .entry(
                competency_of
                    .get(&row.question_id)
                    .cloned()
                    .unwrap_or_default(),
            )
            .or_default();
        entry.0 += row.mark.unwrap_or(0.0);
        entry.1 += row.max_mark;
    }
    let percent = if a.max_score > 0.0 {
        score / a.max_score * 100.0
    } else {
        0.0
    };
    let competencies: Vec<Value> = per_competency
        .iter()
        .map(|(id, (earned, possible))| {
            let p = if *possible > 0.0 { earned / possible * 100.0 } else { 0.0 };
            json!({"id": id, "earned": earned, "possible": possible, "percent": p, "level": evidenced_level(cert.level, p, r.evidence_bands.as_deref())})
        })
        .collect();
    let meets_minimums = competencies
        .iter()
        .all(|c| c["percent"].as_f64().unwrap_or(0.0) + 1e-9 >= r.min_competency_percent);
    let passed = if pending {
        None
    } else {
        Some(!abandoned && percent + 1e-9 >= r.pass_percent && meets_minimums)
    };
    let status = if abandoned {
        "abandoned"
    } else if pending {
        "pending"
    } else {
        "graded"
    };
    let now = Utc::now();
    let mut active = a.clone().into_active_model();
    active.status = Set(status.into());
    active.score = Set(Some(score));
    active.percent = Set(Some(percent));
    active.passed = Set(passed);
    active.competencies = Set(Some(json!(competencies)));
    let a = active.update(conn).await?;
    // Any change of an outcome makes the certification's cached statistics stale.
    statistics_cache::Entity::delete_many()
        .filter(statistics_cache::Column::CertificationId.eq(a.certification_id))
        .exec(conn)
        .await?;
    if !pending && !abandoned {
        // The evidence of this attempt is its latest outcome: a regrade supersedes the earlier
        // rows (the ledger keeps them).
        evidence::Entity::update_many()
            .col_expr(evidence::Column::SupersededAt, Expr::value(now))
            .filter(evidence::Column::Source.eq("exam"))
            .filter(evidence::Column::SourceId.eq(a.id))
            .filter(evidence::Column::SupersededAt.is_null())
            .exec(conn)
            .await?;
        for c in &competencies {
            evidence::ActiveModel {
                id: NotSet,
                org_id: Set(a.org_id),
                user_id: Set(a.user_id),
                competency_id: Set(c["id"].as_str().unwrap_or_default().to_string()),
                level: Set(i32::try_from(c["level"].as_i64().unwrap_or(1)).unwrap_or(1)),
                source: Set("exam".into()),
                source_id: Set(Some(a.id)),
                percent: Set(c["percent"].as_f64()),
                recorded_by: Set(None),
                recorded_at: Set(now),
                note: Set(Some(format!(
                    "{} · {:.0}%",
                    cert.code,
                    c["percent"].as_f64().unwrap_or(0.0)
                ))),
                provider: Set(None),
                attachment: Set(None),
                evidence_date: Set(a.finished_at),
                superseded_at: Set(None),
            }
            .insert(conn)
            .await?;
        }
    }
    if let Some(user) = crate::auth::entities::user::Entity::find_by_id(a.user_id)
        .one(conn)
        .await?
    {
        let lang = crate::i18n::Lang::from_tag(&user.language).unwrap_or_default();
        let title = if lang == crate::i18n::Lang::ZhCn && !cert.title_zh.is_empty() {
            cert.title_zh.clone()
        } else {
            cert.title.clone()
        };
        let content = EmailContent::ExamResult {
            certification_title: title,
            passed,
            score: format!("{score:.1}"),
            max_score: format!("{:.0}", a.max_score),
            percent: format!("{percent:.0}"),
            link: mailer.link(&format!("/exams/{}/result", a.id)),
        };
        let recipient = Recipient {
            email: user.email,
            name: user.display_name,
            lang,
        };
        let key = match passed {
            Some(p) => format!("exam-result:{}:{p}", a.id),
            None => format!("exam-result:{}:pending", a.id),
        };
        mailer
            .enqueue(conn, Some(a.org_id), &key, &recipient, &content)
            .await?;
    }
    if !pending {
        // The certification status may have changed: issue, renew or revoke its certificate
        // in this same transaction.
        crate::certificates::service::on_outcome(conn, mailer, &a).await?;
    }
    Ok(Outcome {
        status,
        score,
        percent,
        passed,
    })
}

/// Grades a person's attempts whose time is over.
async fn sweep_user(db: &DatabaseConnection, mailer: &Mailer, user_id: i64) -> AppResult<()> {
    let expired = attempt::Entity::find()
        .filter(attempt::Column::UserId.eq(user_id))
        .filter(attempt::Column::Status.eq("open"))
        .filter(attempt::Column::SubmitUntil.lt(Utc::now()))
        .all(db)
        .await?;
    for a in expired {
        finalize(db, mailer, a.id, "timeout").await?;
    }
    Ok(())
}

/// Grades every attempt whose time is over (the background sweep); answers how many.
pub async fn sweep(db: &DatabaseConnection, mailer: &Mailer) -> AppResult<usize> {
    let expired = attempt::Entity::find()
        .filter(attempt::Column::Status.eq("open"))
        .filter(attempt::Column::SubmitUntil.lt(Utc::now()))
        .all(db)
        .await?;
    let n = expired.len();
    for a in expired {
        finalize(db, mailer, a.id, "timeout").await?;
    }
    Ok(n)
}

/// Runs the sweep every `every` (`TALENTCERT_SWEEP_SECONDS`, default half a minute) until the
/// process ends; every instance sweeps, and grading takes a row lock, so an attempt is graded
/// once whichever instance gets there first.
pub async fn run_sweeper(db: DatabaseConnection, mailer: Mailer, every: std::time::Duration) {
    let mut round: u64 = 0;
    // Certificate expiry reminders about every five minutes.
    let reminder_rounds = (300 / every.as_secs().max(1)).max(1);
    loop {
        if round.is_multiple_of(reminder_rounds) {
            match crate::certificates::service::send_reminders(&db, &mailer).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminders = n, "queued certificate expiry reminders"),
                Err(err) => tracing::warn!(error = ?err, "certificate reminders failed"),
            }
        }
        round = round.wrapping_add(1);
        match sweep(&db, &mailer).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(attempts = n, "graded attempts whose time was over"),
            Err(err) => tracing::warn!(error = ?err, "attempt sweep failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// A competency's share of a result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompetencyResult {
    pub id: String,
    pub earned: f64,
    pub possible: f64,
    pub percent: f64,
    /// The level this result evidences.
    pub level: i32,
}

/// One question of a result, as far as the review policy shows it (never the key to learners).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultQuestion {
    pub position: i32,
    pub text: String,
    pub mark: Option<f64>,
    pub max_mark: f64,
}

/// An attempt's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub attempt_id: i64,
    pub certification_id: i64,
    /// open, pending, graded or abandoned.
    pub status: String,
    /// Null while essays await grading (or the attempt is open).
    pub passed: Option<bool>,
    pub excellent: bool,
    pub score: Option<f64>,
    pub max_score: f64,
    pub percent: Option<f64>,
    pub competencies: Vec<CompetencyResult>,
    /// SHA-256 of the submitted responses.
    pub receipt: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `submitted`, `timeout`, `abandoned` or `integrity_limit` (the organization's switch
    /// limit was reached).
    pub finish_reason: Option<String>,
    /// Per-question marks, when the certification's review policy shows them.
    pub questions: Option<Vec<ResultQuestion>>,
}

/// Whether the learner sees the questions of a finished attempt (with their marks, never the
/// keys): only under the `after-submit` and `after-pass` review policies. Under `secure` (the
/// default) the score and per-competency feedback are all, so the bank does not leak.
fn shows_questions(r: &ExamRules, a: &attempt::Model) -> bool {
    a.status != "open"
        && (r.review == "after-submit" || (r.review == "after-pass" && a.passed == Some(true)))
}

/// An attempt's result for its learner (or, `as_staff`, a trainer or admin of its organization).
pub async fn result(
    db: &DatabaseConnection,
    viewer: &Viewer,
    attempt_id: i64,
    as_staff: bool,
) -> AppResult<ResultView> {
    let a = attempt::Entity::find_by_id(attempt_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let allowed = a.user_id == viewer.user_id || (as_staff && a.org_id == viewer.org_id);
    if !allowed {
        return Err(AppError::NotFound);
    }
    let cert = certification::Entity::find_by_id(a.certification_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let r = rules(&cert)?;
    let show_marks = shows_questions(&r, &a);
    let questions = if show_marks || as_staff {
        let rows = attempt_question::Entity::find()
            .filter(attempt_question::Column::AttemptId.eq(a.id))
            .order_by_asc(attempt_question::Column::Position)
            .all(db)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.question_id).collect();
        let texts: HashMap<i64, String> = question::Entity::find()
            .filter(question::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|q| (q.id, q.text))
            .collect();
        Some(
            rows.into_iter()
                .map(|row| ResultQuestion {
                    position: row.position,
                    text: texts.get(&row.question_id).cloned().unwrap_or_default(),
                    mark: row.mark,
                    max_mark: row.max_mark,
                })
                .collect(),
        )
    } else {
        None
    };
    let competencies: Vec<CompetencyResult> = a
        .competencies
        .clone()
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default();
    Ok(ResultView {
        attempt_id: a.id,
        certification_id: a.certification_id,
        excellent: a.passed == Some(true) && a.percent.unwrap_or(0.0) + 1e-9 >= r.excellent_percent,
        status: a.status,
        passed: a.passed,
        score: a.score,
        max_score: a.max_score,
        percent: a.percent,
        competencies,
        receipt: a.receipt,
        finished_at: a.finished_at,
        finish_reason: a.finish_reason,
        questions,
    })
}

/// A question in a trainer's review, with the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewQuestion {
    /// The question revision id.
    pub id: i64,
    pub external_id: String,
    pub position: i32,
    pub text: String,
    pub competency: Option<String>,
    pub difficulty: String,
    pub answer: Presentation,
    #[schema(value_type = Object)]
    pub response: Option<Value>,
    /// A response that earns full marks, in the form of the answer PUT.
    #[schema(value_type = Object)]
    pub correct_response: Value,
    pub mark: Option<f64>,
    pub max_mark: f64,
}

/// An attempt as trainers and admins review it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub attempt_id: i64,
    pub user_id: i64,
    pub status: String,
    pub seed: i64,
    pub questions: Vec<ReviewQuestion>,
}

/// Every question of an attempt of the viewer's organization, with the learner's answer, the
/// mark and the key.
pub async fn review<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    attempt_id: i64,
) -> AppResult<ReviewView> {
    let a = attempt::Entity::find_by_id(attempt_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if a.org_id != viewer.org_id {
        return Err(AppError::NotFound);
    }
    // The key is never shown to the person sitting the attempt while it is open, even when that
    // person is a trainer.
    if a.user_id == viewer.user_id && a.finished_at.is_none() {
        return Err(AppError::Forbidden(Msg::new("error.review_while_open")));
    }
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .order_by_asc(attempt_question::Column::Position)
        .all(conn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.question_id).collect();
    let questions: HashMap<i64, question::Model> = question::Entity::find()
        .filter(question::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let mut out = Vec::new();
    for row in rows {
        let Some(q) = questions.get(&row.question_id) else {
            continue;
        };
        let kind: QuestionKind =
            serde_json::from_value(q.answer_data.clone()).map_err(AppError::internal)?;
        let order: Vec<String> =
            serde_json::from_value(row.option_order.clone()).unwrap_or_default();
        let option_ids = grading::OptionIds::new(a.seed, q.id);
        out.push(ReviewQuestion {
            id: q.id,
            external_id: q.external_id.clone(),
            position: row.position,
            text: q.text.clone(),
            competency: q.competency_id.clone(),
            difficulty: q.difficulty.clone(),
            answer: grading::present(&kind, &order, Some(&option_ids)),
            response: row
                .response
                .as_ref()
                .map(|v| grading::response_to_public(&kind, v, &option_ids)),
            correct_response: grading::response_to_public(
                &kind,
                &grading::correct_response(&kind),
                &option_ids,
            ),
            mark: row.mark,
            max_mark: row.max_mark,
        });
    }
    Ok(ReviewView {
        attempt_id: a.id,
        user_id: a.user_id,
        status: a.status,
        seed: a.seed,
        questions: out,
    })
}

/// How many attempts a certification has (for statistics and listings).
pub async fn attempt_count<C: ConnectionTrait>(conn: &C, cert_id: i64) -> Result<u64, DbErr> {
    attempt::Entity::find()
        .filter(attempt::Column::CertificationId.eq(cert_id))
        .count(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_questions_marks_come_from_its_points_tag() {
        let q = |tags: serde_json::Value| question::Model {
            id: 1,
            course_id: 1,
            external_id: "q".into(),
            revision: 1,
            is_current: true,
            competency_id: None,
            difficulty: "easy".into(),
            qtype: "true_false".into(),
            title: None,
            text: "t".into(),
            format: "moodle".into(),
            answer_data: json!({}),
            general_feedback: None,
            category: None,
            tags,
            content_hash: String::new(),
            created_at: Utc::now(),
        };
        assert_eq!(marks_of(&q(json!(["competency=x", "points=2.5"]))), 2.5);
        assert_eq!(marks_of(&q(json!(["competency=x"]))), 1.0);
        assert_eq!(marks_of(&q(json!(["points=-4"]))), 1.0);
    }

    fn finished(status: &str, percent: f64, passed: bool) -> attempt::Model {
        let now = Utc::now();
        attempt::Model {
            id: 1,
            org_id: 1,
            user_id: 1,
            certification_id: 1,
            number: 1,
            status: status.into(),
            seed: 0,
            started_at: now,
            deadline_at: now,
            submit_until: now,
            finished_at: Some(now),
            score: Some(percent),
            max_score: 100.0,
            percent: Some(percent),
            passed: Some(passed),
            competencies: None,
            receipt: None,
            finish_reason: None,
        }
    }

    #[test]
    fn the_counted_attempt_follows_the_rule() {
        let tries = [
            finished("graded", 60.0, false),
            finished("graded", 85.0, true),
            finished("graded", 65.0, false),
        ];
        assert_eq!(counted_result(&tries, "highest", 70.0), "passed");
        assert_eq!(counted_result(&tries, "first", 70.0), "failed");
        assert_eq!(counted_result(&tries, "last", 70.0), "failed");
        assert_eq!(counted_result(&tries, "average", 70.0), "passed", "mean 70");
        assert_eq!(counted_result(&tries, "average", 71.0), "failed");
        let with_abandoned = [
            finished("graded", 90.0, true),
            finished("abandoned", 0.0, false),
        ];
        assert_eq!(
            counted_result(&with_abandoned, "average", 70.0),
            "failed",
            "mean 45"
        );
        assert_eq!(counted_result(&[], "highest", 70.0), "not_attempted");
        let mut pending = finished("pending", 50.0, false);
        pending.passed = None;
        assert_eq!(
            counted_result(&[finished("graded", 90.0, true), pending], "highest", 70.0),
            "pending"
        );
    }

    #[test]
    fn evidence_bands() {
        assert_eq!(evidenced_level(3, 85.0, None), 3);
        assert_eq!(evidenced_level(3, 80.0, None), 3);
        assert_eq!(evidenced_level(3, 79.9, None), 2);
        assert_eq!(evidenced_level(3, 60.0, None), 2);
        assert_eq!(evidenced_level(3, 10.0, None), 1);
        assert_eq!(evidenced_level(2, 0.0, None), 1, "never under 1");
        let custom = [
            EvidenceBand {
                min_percent: 90.0,
                offset: 0,
            },
            EvidenceBand {
                min_percent: 0.0,
                offset: -1,
            },
        ];
        assert_eq!(evidenced_level(4, 85.0, Some(&custom)), 3);
    }
}

/// The expected mark (share of full marks) of a random answer, where one is meaningful.
pub fn random_guess(kind: &QuestionKind) -> Option<f64> {
    match kind {
        QuestionKind::MultipleChoice {
            single: true,
            choices,
        } if !choices.is_empty() => Some(
            choices
                .iter()
                .map(|c| c.weight.max(0.0) / 100.0)
                .sum::<f64>()
                / choices.len() as f64,
        ),
        QuestionKind::TrueFalse { .. } => Some(0.5),
        QuestionKind::Matching { pairs, distractors } if !pairs.is_empty() => {
            Some(1.0 / (pairs.len() + distractors.len()) as f64)
        }
        _ => None,
    }
}

/// A question's figures with what identifies it for a trainer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionReport {
    #[serde(flatten)]
    pub figures: super::statistics::QuestionStatistics,
    pub text: String,
    pub competency: Option<String>,
    pub difficulty: String,
}

/// A certification's statistics.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatisticsReport {
    pub certification_id: i64,
    /// `organization` (your organization's attempts) or `all` (the platform's own view).
    pub scope: String,
    /// When the figures were computed (they are kept until a graded attempt changes them).
    pub computed_at: DateTime<Utc>,
    pub test: super::statistics::TestStatistics,
    pub questions: Vec<QuestionReport>,
    /// Questions with problems, worst first.
    pub item_health: Vec<QuestionReport>,
}

/// Statistics over the graded attempts of a certification: all of them for the owner of a
/// platform certification's platform trainers, else the viewer's organization's only.
pub async fn statistics(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
) -> AppResult<StatisticsReport> {
    use super::statistics::{question_statistics, test_statistics, AttemptMarks, ItemMark};
    let cert = visible_certification(db, viewer, cert_id).await?;
    let all = cert.org_id == viewer.org_id;
    let mut query = attempt::Entity::find()
        .filter(attempt::Column::CertificationId.eq(cert.id))
        .filter(attempt::Column::Status.eq("graded"));
    if !all {
        query = query.filter(attempt::Column::OrgId.eq(viewer.org_id));
    }
    let scope_org_id = if all { 0 } else { viewer.org_id };
    let count = i64::try_from(query.clone().count(db).await?).unwrap_or(i64::MAX);
    if let Some(cached) = statistics_cache::Entity::find_by_id((cert.id, scope_org_id))
        .one(db)
        .await?
    {
        if cached.attempts == count {
            if let Ok(report) = serde_json::from_value::<StatisticsReport>(cached.report) {
                return Ok(report);
            }
        }
    }
    let attempts = query.all(db).await?;
    let ids: Vec<i64> = attempts.iter().map(|a| a.id).collect();
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.is_in(ids))
        .all(db)
        .await?;
    let qids: Vec<i64> = rows
        .iter()
        .map(|r| r.question_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let questions: HashMap<i64, question::Model> = question::Entity::find()
        .filter(question::Column::Id.is_in(qids))
        .all(db)
        .await?
        .into_iter()
        .map(|q| (q.id, q))
        .collect();
    let guesses: HashMap<i64, Option<f64>> = questions
        .iter()
        .map(|(id, q)| {
            (
                *id,
                serde_json::from_value::<QuestionKind>(q.answer_data.clone())
                    .ok()
                    .and_then(|k| random_guess(&k)),
            )
        })
        .collect();
    let mut by_attempt: HashMap<i64, Vec<ItemMark>> = HashMap::new();
    for r in &rows {
        let Some(q) = questions.get(&r.question_id) else {
            continue;
        };
        by_attempt.entry(r.attempt_id).or_default().push(ItemMark {
            question: q.external_id.clone(),
            cell: format!(
                "{}/{}",
                q.competency_id.clone().unwrap_or_default(),
                q.difficulty
            ),
            mark: r.mark.unwrap_or(0.0),
            max: r.max_mark,
            random_guess: guesses.get(&q.id).copied().flatten(),
        });
    }
    let marks: Vec<AttemptMarks> = attempts
        .iter()
        .map(|a| AttemptMarks {
            total: a.score.unwrap_or(0.0),
            items: by_attempt.remove(&a.id).unwrap_or_default(),
        })
        .collect();
    let latest: HashMap<&str, &question::Model> = {
        let mut m: HashMap<&str, &question::Model> = HashMap::new();
        for q in questions.values() {
            let e = m.entry(q.external_id.as_str()).or_insert(q);
            if q.revision > e.revision {
                *e = q;
            }
        }
        m
    };
    let questions: Vec<QuestionReport> = question_statistics(&marks)
        .into_iter()
        .map(|figures| {
            let q = latest.get(figures.question.as_str());
            QuestionReport {
                text: q.map(|q| q.text.clone()).unwrap_or_default(),
                competency: q.and_then(|q| q.competency_id.clone()),
                difficulty: q.map(|q| q.difficulty.clone()).unwrap_or_default(),
                figures,
            }
        })
        .collect();
    let mut item_health: Vec<QuestionReport> = questions
        .iter()
        .filter(|q| !q.figures.problems.is_empty())
        .map(|q| QuestionReport {
            figures: q.figures.clone(),
            text: q.text.clone(),
            competency: q.competency.clone(),
            difficulty: q.difficulty.clone(),
        })
        .collect();
    item_health.sort_by(|a, b| {
        a.figures
            .discrimination
            .unwrap_or(0.0)
            .total_cmp(&b.figures.discrimination.unwrap_or(0.0))
    });
    let report = StatisticsReport {
        certification_id: cert.id,
        scope: if all { "all" } else { "organization" }.to_string(),
        computed_at: Utc::now(),
        test: test_statistics(&marks),
        questions,
        item_health,
    };
    let row = statistics_cache::ActiveModel {
        certification_id: Set(cert.id),
        scope_org_id: Set(scope_org_id),
        attempts: Set(i64::try_from(attempts.len()).unwrap_or(i64::MAX)),
        report: Set(json!(report)),
        computed_at: Set(report.computed_at),
    };
    statistics_cache::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                statistics_cache::Column::CertificationId,
                statistics_cache::Column::ScopeOrgId,
            ])
            .update_columns([
                statistics_cache::Column::Attempts,
                statistics_cache::Column::Report,
                statistics_cache::Column::ComputedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(report)
}

/// Kinds of integrity signal an exam page may report.
pub const EVENT_KINDS: [&str; 7] = [
    "focus_lost",
    "focus_back",
    "visibility_hidden",
    "fullscreen_exit",
    "copy",
    "paste",
    "reload",
];
/// At most this many signals are recorded per attempt (a page in a loop cannot flood the log).
pub const MAX_EVENTS: u64 = 500;

/// An integrity signal as the exam page reports it, with where it came from.
#[derive(Debug, Clone)]
pub struct Signal {
    pub kind: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What became of a signal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignalOutcome {
    /// False once the attempt holds [`MAX_EVENTS`] signals.
    pub recorded: bool,
    /// Switches away from the exam so far (a blur and a hide together count once).
    pub switches: u32,
    /// The organization's limit, if it set one.
    pub max_switches: Option<i32>,
    /// The limit was reached: the attempt was submitted with the answers saved.
    pub submitted: bool,
}

/// Records an integrity signal of an open attempt in the audit log (with the address and the
/// browser it came from), for the trainers' review. When the organization set a switch limit
/// and this signal reaches it, the attempt is submitted on the answers saved.
pub async fn record_event(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    attempt_id: i64,
    signal: Signal,
) -> AppResult<SignalOutcome> {
    let a = owned_attempt(db, viewer, attempt_id).await?;
    if a.status != "open" {
        return Err(AppError::Conflict(Msg::new("error.attempt_closed")));
    }
    // Past its time the attempt is settled by its timeout rule, never by a signal.
    if Utc::now() > a.submit_until + Duration::seconds(SAVE_GRACE_SECONDS) {
        finalize(db, mailer, a.id, "timeout").await?;
        return Err(AppError::Conflict(Msg::new("error.attempt_closed")));
    }
    let recorded = crate::audit::entity::Entity::find()
        .filter(crate::audit::entity::Column::Action.eq("exam.event"))
        .filter(crate::audit::entity::Column::TargetId.eq(a.id.to_string()))
        .count(db)
        .await?;
    let controls = super::controls::of(db, a.org_id, a.certification_id).await?;
    // Under a switch limit, leaving is always recorded (other signals cannot crowd it out).
    let counts = controls.max_switches.is_some()
        && super::controls::LEAVE_KINDS.contains(&signal.kind.as_str());
    let mut outcome = SignalOutcome {
        recorded: recorded < MAX_EVENTS || counts,
        switches: 0,
        max_switches: None,
        submitted: false,
    };
    if outcome.recorded {
        crate::audit::record(
            db,
            crate::audit::AuditEvent {
                org_id: Some(a.org_id),
                actor_user_id: Some(viewer.user_id),
                action: "exam.event",
                target_type: "attempt",
                target_id: Some(a.id.to_string()),
                after: Some(json!({"kind": signal.kind, "detail": signal.detail, "user_agent": signal.user_agent})),
                ip: signal.ip,
                ..Default::default()
            },
        )
        .await?;
    }
    outcome.max_switches = controls.max_switches;
    if let Some(limit) = controls.max_switches {
        let signals: Vec<(DateTime<Utc>, String)> = attempt_signals(db, viewer, a.id)
            .await?
            .into_iter()
            .map(|s| (s.at, s.kind))
            .collect();
        outcome.switches = super::controls::count_switches(&signals);
        if i64::from(outcome.switches) >= i64::from(limit) {
            finalize(db, mailer, a.id, "integrity_limit").await?;
            outcome.submitted = true;
        }
    }
    Ok(outcome)
}

/// Flags or unflags a question of an open attempt (a note to self for the navigator).
pub async fn set_flag(
    db: &DatabaseConnection,
    viewer: &Viewer,
    attempt_id: i64,
    question_id: i64,
    flagged: bool,
) -> AppResult<()> {
    let a = owned_attempt(db, viewer, attempt_id).await?;
    if a.status != "open" {
        return Err(AppError::Conflict(Msg::new("error.attempt_closed")));
    }
    let updated = attempt_question::Entity::update_many()
        .col_expr(attempt_question::Column::Flagged, Expr::value(flagged))
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .filter(attempt_question::Column::QuestionId.eq(question_id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Extra time or attempts for one person.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user_id: i64,
    pub extra_minutes: i32,
    pub extra_attempts: i32,
    pub reason: String,
}

/// Grants an accommodation to a person of the granter's organization (HR or trainers), audited.
pub async fn grant_accommodation(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
    grant: Grant,
) -> AppResult<accommodation::Model> {
    let txn = crate::db::begin_write(db).await?;
    let cert = visible_certification(&txn, viewer, cert_id).await?;
    let person = crate::auth::entities::user::Entity::find_by_id(grant.user_id)
        .filter(crate::auth::entities::user::Column::OrgId.eq(viewer.org_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = accommodation::ActiveModel {
        id: NotSet,
        org_id: Set(viewer.org_id),
        user_id: Set(person.id),
        certification_id: Set(cert.id),
        extra_minutes: Set(grant.extra_minutes),
        extra_attempts: Set(grant.extra_attempts),
        reason: Set(grant.reason.clone()),
        granted_by: Set(viewer.user_id),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "exam.accommodation_granted",
            target_type: "user",
            target_id: Some(person.id.to_string()),
            after: Some(json!({"certification": cert.code, "extra_minutes": grant.extra_minutes, "extra_attempts": grant.extra_attempts, "reason": grant.reason})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// An answer waiting for a trainer's mark.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradingItem {
    pub attempt_id: i64,
    pub question_id: i64,
    pub certification_title: String,
    pub learner: String,
    pub question: String,
    #[schema(value_type = Object)]
    pub response: Option<Value>,
    pub max_mark: f64,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Essay answers of the viewer's organization waiting for a mark, oldest first.
pub async fn grading_queue(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> AppResult<Vec<GradingItem>> {
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::OrgId.eq(viewer.org_id))
        .filter(attempt::Column::Status.eq("pending"))
        .order_by_asc(attempt::Column::FinishedAt)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for a in attempts {
        let cert = certification::Entity::find_by_id(a.certification_id)
            .one(db)
            .await?
            .ok_or(AppError::NotFound)?;
        let learner = crate::auth::entities::user::Entity::find_by_id(a.user_id)
            .one(db)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default();
        let rows = attempt_question::Entity::find()
            .filter(attempt_question::Column::AttemptId.eq(a.id))
            .filter(attempt_question::Column::Mark.is_null())
            .all(db)
            .await?;
        for row in rows {
            let text = question::Entity::find_by_id(row.question_id)
                .one(db)
                .await?
                .map(|q| q.text)
                .unwrap_or_default();
            out.push(GradingItem {
                attempt_id: a.id,
                question_id: row.question_id,
                certification_title: cert.title.clone(),
                learner: learner.clone(),
                question: text,
                response: row.response,
                max_mark: row.max_mark,
                finished_at: a.finished_at,
            });
        }
    }
    Ok(out)
}

/// Marks an essay answer (trainers of the attempt's organization); when the last one is marked
/// the attempt's result becomes final. Audited.
pub async fn grade_answer(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    attempt_id: i64,
    question_id: i64,
    mark: f64,
    comment: Option<String>,
) -> AppResult<Outcome> {
    let txn = crate::db::begin_write(db).await?;
    let a = attempt::Entity::find_by_id(attempt_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if a.org_id != viewer.org_id {
        return Err(AppError::NotFound);
    }
    if a.status != "pending" && a.status != "graded" {
        return Err(AppError::Conflict(Msg::new("error.attempt_not_gradable")));
    }
    let row = attempt_question::Entity::find()
        .filter(attempt_question::Column::AttemptId.eq(a.id))
        .filter(attempt_question::Column::QuestionId.eq(question_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !(0.0..=row.max_mark).contains(&mark) || !mark.is_finite() {
        return Err(AppError::Validation(vec![crate::error::FieldIssue::new(
            "mark",
            Msg::new("validation.range")
                .arg("min", 0)
                .arg("max", row.max_mark),
        )]));
    }
    let before = row.mark;
    let mut active = row.into_active_model();
    active.mark = Set(Some(mark));
    active.graded_by = Set(Some(viewer.user_id));
    active.comment = Set(comment);
    active.update(&txn).await?;
    let outcome = settle(&txn, mailer, a.id, false).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(a.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "exam.graded",
            target_type: "attempt",
            target_id: Some(a.id.to_string()),
            before: Some(json!({"question": question_id, "mark": before})),
            after: Some(json!({"question": question_id, "mark": mark, "status": outcome.status, "passed": outcome.passed})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    crate::certificates::service::render_after_commit(db, mailer.public_url(), Some(a.user_id))
        .await;
    Ok(outcome)
}

/// One attempt a regrade changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegradeChange {
    pub attempt_id: i64,
    pub user_id: i64,
    pub old_mark: Option<f64>,
    pub new_mark: Option<f64>,
    pub old_passed: Option<bool>,
    pub new_passed: Option<bool>,
}

/// What a regrade did (or, in a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegradeReport {
    pub dry_run: bool,
    pub question: String,
    pub attempts_checked: usize,
    pub changes: Vec<RegradeChange>,
}

/// Regrades every finished attempt that drew any revision of a question with the question's
/// current key. A dry run lists every change of mark and of pass/fail and writes nothing. Only
/// the editors of the question's course may regrade (so a platform question is the platform's
/// decision); only attempts the editor's organization may see are touched. Audited with reason.
pub async fn regrade(
    db: &DatabaseConnection,
    mailer: &Mailer,
    viewer: &Viewer,
    course_id: i64,
    external_id: &str,
    reason: &str,
    dry_run: bool,
) -> AppResult<RegradeReport> {
    let txn = crate::db::begin_write(db).await?;
    crate::catalog::service::editable_course(&txn, viewer, course_id).await?;
    let revisions = question::Entity::find()
        .filter(question::Column::CourseId.eq(course_id))
        .filter(question::Column::ExternalId.eq(external_id))
        .all(&txn)
        .await?;
    let current = revisions
        .iter()
        .find(|q| q.is_current)
        .ok_or(AppError::NotFound)?;
    let kind: QuestionKind =
        serde_json::from_value(current.answer_data.clone()).map_err(AppError::internal)?;
    let ids: Vec<i64> = revisions.iter().map(|q| q.id).collect();
    let rows = attempt_question::Entity::find()
        .filter(attempt_question::Column::QuestionId.is_in(ids))
        .all(&txn)
        .await?;
    let attempt_ids: Vec<i64> = rows.iter().map(|r| r.attempt_id).collect();
    let mut scope = attempt::Entity::find()
        .filter(attempt::Column::Id.is_in(attempt_ids))
        .filter(attempt::Column::Status.is_in(["graded", "pending"]));
    if viewer.org_id != viewer.platform_org_id {
        scope = scope.filter(attempt::Column::OrgId.eq(viewer.org_id));
    }
    let attempts: HashMap<i64, attempt::Model> = scope
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut changes = Vec::new();
    for row in rows.iter().filter(|r| attempts.contains_key(&r.attempt_id)) {
        let new_mark = grading::fraction(&kind, row.response.as_ref()).map(|f| f * row.max_mark);
        // An essay keeps the mark a person gave it.
        if matches!(kind, QuestionKind::Essay) || new_mark == row.mark {
            continue;
        }
        let Some(a) = attempts.get(&row.attempt_id) else {
            continue;
        };
        let old_passed = a.passed;
        // A dry run regrades for real inside the transaction and rolls it back, so what it
        // reports is exactly what the regrade would do (per-competency minimums, the counted
        // attempt, certificates) and nothing of it stays.
        attempt_question::Entity::update_many()
            .col_expr(attempt_question::Column::Mark, Expr::value(new_mark))
            .filter(attempt_question::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
        let new_passed = settle(&txn, mailer, a.id, false).await?.passed;
        changes.push(RegradeChange {
            attempt_id: a.id,
            user_id: a.user_id,
            old_mark: row.mark,
            new_mark,
            old_passed,
            new_passed,
        });
    }
    if dry_run {
        txn.rollback().await?;
    } else {
        crate::audit::record(
            &txn,
            crate::audit::AuditEvent {
                org_id: Some(viewer.org_id),
                actor_user_id: Some(viewer.user_id),
                action: "exam.regraded",
                target_type: "question",
                target_id: Some(external_id.to_string()),
                after: Some(json!({"reason": reason, "changes": changes})),
                ..Default::default()
            },
        )
        .await?;
        txn.commit().await?;
        crate::certificates::service::render_after_commit(db, mailer.public_url(), None).await;
    }
    Ok(RegradeReport {
        dry_run,
        question: external_id.to_string(),
        attempts_checked: attempts.len(),
        changes,
    })
}

/// How many current questions the banks hold for one blueprint cell.
async fn available_for<C: ConnectionTrait>(
    conn: &C,
    course_ids: &[i64],
    competency: &str,
    difficulty: &str,
) -> Result<u64, DbErr> {
    question::Entity::find()
        .filter(question::Column::CourseId.is_in(course_ids.to_vec()))
        .filter(question::Column::IsCurrent.eq(true))
        .filter(question::Column::CompetencyId.eq(competency))
        .filter(question::Column::Difficulty.eq(difficulty))
        .filter(question::Column::Qtype.ne("description"))
        .count(conn)
        .await
}

/// What keeps a blueprint from being drawn for a certification: no questions at all, or a cell
/// the banks cannot fill (named `{field}[i].{difficulty}`, with what is needed and available).
pub(crate) async fn blueprint_issues<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    cert: &certification::Model,
    sections: &[BlueprintSection],
    field: &str,
) -> AppResult<Vec<crate::error::FieldIssue>> {
    let course_ids = bank_courses(conn, viewer, cert).await?;
    let mut issues = Vec::new();
    if sections.is_empty() || sections.iter().all(|s| s.easy + s.medium + s.hard == 0) {
        issues.push(crate::error::FieldIssue::new(
            field.to_string(),
            Msg::new("validation.blueprint_empty"),
        ));
    }
    for (i, s) in sections.iter().enumerate() {
        for (difficulty, n) in [("easy", s.easy), ("medium", s.medium), ("hard", s.hard)] {
            if n == 0 {
                continue;
            }
            let have = available_for(conn, &course_ids, &s.competency, difficulty).await?;
            if u64::from(n) > have {
                issues.push(crate::error::FieldIssue::new(
                    format!("{field}[{i}].{difficulty}"),
                    Msg::new("validation.blueprint_unfillable")
                        .arg("needed", n)
                        .arg("available", have),
                ));
            }
        }
    }
    Ok(issues)
}

/// Replaces a certification's blueprint (trainers of its owner), refusing one the banks cannot
/// fill: every problem is named by section and difficulty. Audited with before and after.
pub async fn set_blueprint(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
    sections: Vec<BlueprintSection>,
) -> AppResult<Vec<BlueprintSection>> {
    let txn = crate::db::begin_write(db).await?;
    let cert = visible_certification(&txn, viewer, cert_id).await?;
    if cert.org_id != viewer.org_id || !viewer.is_trainer {
        let key = if cert.org_id == viewer.platform_org_id {
            "error.platform_content"
        } else {
            "error.forbidden_role"
        };
        return Err(AppError::Forbidden(Msg::new(key)));
    }
    let issues = blueprint_issues(&txn, viewer, &cert, &sections, "sections").await?;
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let before = cert.blueprint.clone();
    let mut active = cert.into_active_model();
    active.blueprint = Set(json!(sections));
    active.updated_at = Set(Utc::now());
    // Edited in the pages: a content import keeps it unless forced.
    active.source_hash = Set(None);
    let cert = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "certification.blueprint_changed",
            target_type: "certification",
            target_id: Some(cert.id.to_string()),
            before: Some(before),
            after: Some(cert.blueprint.clone()),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(sections)
}

/// A certification's blueprint with what the banks hold for each cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlueprintCell {
    pub competency: String,
    pub easy: u32,
    pub medium: u32,
    pub hard: u32,
    pub available_easy: u64,
    pub available_medium: u64,
    pub available_hard: u64,
}

/// The blueprint of a certification the viewer can see, with the banks' supply per cell.
pub async fn get_blueprint(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
) -> AppResult<Vec<BlueprintCell>> {
    let cert = visible_certification(db, viewer, cert_id).await?;
    let course_ids = bank_courses(db, viewer, &cert).await?;
    let mut out = Vec::new();
    for s in blueprint(&cert)? {
        out.push(BlueprintCell {
            available_easy: available_for(db, &course_ids, &s.competency, "easy").await?,
            available_medium: available_for(db, &course_ids, &s.competency, "medium").await?,
            available_hard: available_for(db, &course_ids, &s.competency, "hard").await?,
            competency: s.competency,
            easy: s.easy,
            medium: s.medium,
            hard: s.hard,
        });
    }
    Ok(out)
}

/// A certification as its trainers see it in their list.
#[derive(Debug, Serialize)]
pub struct TrainerCertification {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub category: String,
    pub level: i32,
    pub status: String,
    pub question_count: u32,
    /// Whether the viewer's organization owns it (and its trainers may edit the blueprint).
    pub editable: bool,
    /// Graded attempts the viewer may analyse.
    pub graded_attempts: i64,
}

/// The certifications a trainer works with: the platform's and their organization's, with the
/// number of graded attempts each (one query for all the counts).
pub async fn trainer_certifications(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> AppResult<Vec<TrainerCertification>> {
    use sea_orm::SelectColumns;
    let certs = certification::Entity::find()
        .filter(certification::Column::OrgId.is_in([viewer.platform_org_id, viewer.org_id]))
        .order_by_asc(certification::Column::CategoryId)
        .order_by_asc(certification::Column::Level)
        .all(db)
        .await?;
    let counts: HashMap<i64, i64> = attempt::Entity::find()
        .select_only()
        .select_column(attempt::Column::CertificationId)
        .column_as(attempt::Column::Id.count(), "n")
        .filter(attempt::Column::OrgId.eq(viewer.org_id))
        .filter(attempt::Column::Status.eq("graded"))
        .group_by(attempt::Column::CertificationId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    certs
        .into_iter()
        .map(|c| {
            let question_count = blueprint(&c)?
                .iter()
                .map(|s| s.easy + s.medium + s.hard)
                .sum();
            Ok(TrainerCertification {
                editable: c.org_id == viewer.org_id && viewer.is_trainer,
                graded_attempts: counts.get(&c.id).copied().unwrap_or(0),
                id: c.id,
                code: c.code,
                title: c.title,
                title_zh: c.title_zh,
                category: c.category_id,
                level: c.level,
                status: c.status,
                question_count,
            })
        })
        .collect()
}

/// What the blueprint editor shows: one row per competency of the certification's job
/// category (and any other competency the blueprint draws from), with the draws and the
/// banks' supply per difficulty.
#[derive(Debug, Serialize)]
pub struct BlueprintEditor {
    pub certification_id: i64,
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub level: i32,
    pub editable: bool,
    pub rows: Vec<BlueprintRow>,
    /// The exam rules (`certifications.settings`) and the courses required first.
    pub rules: Value,
    pub required_courses: Vec<String>,
    /// The viewer's organization's integrity controls of it.
    pub controls: super::controls::Controls,
}

/// One competency's row of the blueprint editor.
#[derive(Debug, Serialize)]
pub struct BlueprintRow {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    pub easy: u32,
    pub medium: u32,
    pub hard: u32,
    pub available_easy: u64,
    pub available_medium: u64,
    pub available_hard: u64,
}

/// The blueprint editor's data for a certification the viewer can see.
pub async fn blueprint_editor(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
) -> AppResult<BlueprintEditor> {
    let cert = visible_certification(db, viewer, cert_id).await?;
    let course_ids = bank_courses(db, viewer, &cert).await?;
    let sections = blueprint(&cert)?;
    let categories = crate::catalog::service::categories(db).await?;
    let mut names: HashMap<String, (String, String)> = HashMap::new();
    // The category's own competencies first, in the model's order.
    let mut order: Vec<String> = Vec::new();
    for c in categories {
        for k in c.competencies {
            if c.id == cert.category_id {
                order.push(k.id.clone());
            }
            names.insert(k.id, (k.name, k.name_zh));
        }
    }
    for s in &sections {
        if !order.contains(&s.competency) {
            order.push(s.competency.clone());
        }
    }
    let mut rows = Vec::new();
    for competency in order {
        let drawn = sections.iter().find(|s| s.competency == competency);
        let (name, name_zh) = names
            .get(&competency)
            .cloned()
            .unwrap_or_else(|| (competency.clone(), competency.clone()));
        rows.push(BlueprintRow {
            available_easy: available_for(db, &course_ids, &competency, "easy").await?,
            available_medium: available_for(db, &course_ids, &competency, "medium").await?,
            available_hard: available_for(db, &course_ids, &competency, "hard").await?,
            easy: drawn.map_or(0, |s| s.easy),
            medium: drawn.map_or(0, |s| s.medium),
            hard: drawn.map_or(0, |s| s.hard),
            competency,
            name,
            name_zh,
        });
    }
    Ok(BlueprintEditor {
        certification_id: cert.id,
        code: cert.code,
        title: cert.title,
        title_zh: cert.title_zh,
        level: cert.level,
        editable: cert.org_id == viewer.org_id && viewer.is_trainer,
        rows,
        required_courses: serde_json::from_value(cert.required_courses).unwrap_or_default(),
        rules: cert.settings,
        controls: super::controls::of(db, viewer.org_id, cert.id).await?,
    })
}

/// An integrity signal recorded during an attempt, shown to trainers beside it.
#[derive(Debug, Serialize)]
pub struct AttemptSignal {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: Option<String>,
    /// The address and the browser the signal came from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The integrity signals of an attempt of the viewer's organization, in order.
pub async fn attempt_signals(
    db: &DatabaseConnection,
    viewer: &Viewer,
    attempt_id: i64,
) -> AppResult<Vec<AttemptSignal>> {
    let a = attempt::Entity::find_by_id(attempt_id)
        .filter(attempt::Column::OrgId.eq(viewer.org_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = crate::audit::entity::Entity::find()
        .filter(crate::audit::entity::Column::Action.eq("exam.event"))
        .filter(crate::audit::entity::Column::TargetType.eq("attempt"))
        .filter(crate::audit::entity::Column::TargetId.eq(a.id.to_string()))
        .filter(crate::audit::entity::Column::OrgId.eq(a.org_id))
        .order_by_asc(crate::audit::entity::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let after = r.after.unwrap_or(Value::Null);
            AttemptSignal {
                at: r.created_at,
                kind: after
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                detail: after
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                user_agent: after
                    .get("user_agent")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ip: r.ip,
            }
        })
        .collect())
}
