//! A course's question bank as GIFT: export, and import that updates questions by their `[id:]`.
use std::collections::BTreeSet;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::content::DIFFICULTIES;
use super::entities::{course, course_competency, question};
use super::import::sync_questions;
use super::service::{editable_course, Viewer};
use crate::assessment::gift::{self, GiftQuestion, QuestionKind, TextFormat};
use crate::error::{AppError, AppResult, FieldIssue, Msg};

/// Turns a stored question back into GIFT form.
pub fn to_gift(q: &question::Model) -> Result<GiftQuestion, serde_json::Error> {
    Ok(GiftQuestion {
        line: 0,
        id: Some(q.external_id.clone()),
        tags: serde_json::from_value(q.tags.clone())?,
        category: q.category.clone(),
        title: q.title.clone(),
        format: serde_json::from_value(json!(q.format)).unwrap_or(TextFormat::Moodle),
        text: q.text.clone(),
        kind: serde_json::from_value::<QuestionKind>(q.answer_data.clone())?,
        general_feedback: q.general_feedback.clone(),
    })
}

/// The current questions of a course.
pub async fn current_questions<C: ConnectionTrait>(
    conn: &C,
    course_id: i64,
) -> Result<Vec<question::Model>, DbErr> {
    question::Entity::find()
        .filter(question::Column::CourseId.eq(course_id))
        .filter(question::Column::IsCurrent.eq(true))
        .order_by_asc(question::Column::Id)
        .all(conn)
        .await
}

/// The bank's current questions (editors of the course only: they hold the answers).
async fn bank_of(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
) -> AppResult<Vec<GiftQuestion>> {
    let c = editable_course(db, viewer, course_id).await?;
    let rows = current_questions(db, c.id).await?;
    rows.iter()
        .map(to_gift)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::internal)
}

/// The bank as a GIFT file (editors of the course only: it holds the answers).
pub async fn export_gift(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
) -> AppResult<String> {
    Ok(gift::write(&bank_of(db, viewer, course_id).await?))
}

/// The bank as a Moodle XML question export (editors of the course only).
pub async fn export_moodle_xml(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
) -> AppResult<String> {
    Ok(crate::assessment::moodle_xml::write(
        &bank_of(db, viewer, course_id).await?,
    ))
}

/// Problems of a question file, each naming its line (and column).
fn file_problems(errors: Vec<gift::GiftError>) -> AppError {
    problems_at("line", errors)
}

/// Problems of a question file, each naming its line or row (and column).
fn problems_at(unit: &str, errors: Vec<gift::GiftError>) -> AppError {
    AppError::Validation(
        errors
            .into_iter()
            .map(|e| {
                FieldIssue::new(
                    format!("{unit} {}", e.line),
                    Msg::new("validation.gift")
                        .arg("column", e.column)
                        .arg("detail", e.message),
                )
            })
            .collect(),
    )
}

/// Replaces a course's bank with a Moodle XML question export, as [`import_gift`] does.
pub async fn import_moodle_xml(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    source: &str,
) -> AppResult<BankImport> {
    let questions = crate::assessment::moodle_xml::parse(source).map_err(file_problems)?;
    import_questions(db, viewer, course_id, questions, "line").await
}

/// The bank as an Excel workbook in the documented template (editors of the course only).
pub async fn export_xlsx(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
) -> AppResult<Vec<u8>> {
    crate::assessment::xlsx_bank::write(&bank_of(db, viewer, course_id).await?)
}

/// Replaces a course's bank with an Excel workbook in the template, as [`import_gift`] does;
/// every problem names its row.
pub async fn import_xlsx(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    bytes: &[u8],
) -> AppResult<BankImport> {
    // Whose bank it is is checked before the file is read.
    editable_course(db, viewer, course_id).await?;
    let questions =
        crate::assessment::xlsx_bank::parse(bytes).map_err(|e| problems_at("row", e))?;
    import_questions(db, viewer, course_id, questions, "row").await
}

/// What a bank import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankImport {
    pub created: usize,
    pub revised: usize,
    pub retired: usize,
    /// Current questions after the import.
    pub total: usize,
}

/// Replaces a course's bank with a GIFT file: questions are matched by `[id:]` (new ids are
/// given to questions without one), changed ones get a new revision, missing ones are retired.
/// Every problem is answered at once, each naming its line.
pub async fn import_gift(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    source: &str,
) -> AppResult<BankImport> {
    let questions = gift::parse(source).map_err(file_problems)?;
    import_questions(db, viewer, course_id, questions, "line").await
}

/// Replaces a course's bank with parsed questions (from GIFT or Moodle XML).
async fn import_questions(
    db: &DatabaseConnection,
    viewer: &Viewer,
    course_id: i64,
    mut questions: Vec<GiftQuestion>,
    unit: &str,
) -> AppResult<BankImport> {
    let txn = crate::db::begin_write(db).await?;
    let c = editable_course(&txn, viewer, course_id).await?;
    let developed: BTreeSet<String> = course_competency::Entity::find()
        .filter(course_competency::Column::CourseId.eq(c.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|d| d.competency_id)
        .collect();
    let mut issues = Vec::new();
    let mut seen = BTreeSet::new();
    // Ids the file gives, so a generated one never takes a later question's.
    let given: BTreeSet<String> = questions.iter().filter_map(|q| q.id.clone()).collect();
    let mut next = 1;
    for q in &mut questions {
        let at = format!("{unit} {}", q.line);
        if let Some(points) = q.tag("points") {
            if !points.parse::<f64>().is_ok_and(|p| p > 0.0 && p <= 100.0) {
                issues.push(FieldIssue::new(
                    at.clone(),
                    Msg::new("validation.gift_points").arg("points", points),
                ));
            }
        }
        if matches!(q.kind, QuestionKind::Description) {
            continue;
        }
        match q.tag("competency") {
            Some(comp) if developed.contains(comp) => {}
            Some(comp) => issues.push(FieldIssue::new(
                at.clone(),
                Msg::new("validation.gift_competency").arg("competency", comp),
            )),
            None => issues.push(FieldIssue::new(
                at.clone(),
                Msg::new("validation.gift_no_competency"),
            )),
        }
        match q.tag("difficulty") {
            Some(d) if DIFFICULTIES.contains(&d) => {}
            _ => issues.push(FieldIssue::new(
                at.clone(),
                Msg::new("validation.gift_difficulty"),
            )),
        }
        if q.id.is_none() {
            let id = loop {
                let candidate = format!("{}-q{next:02}", c.code);
                next += 1;
                if !given.contains(&candidate) && !seen.contains(&candidate) {
                    break candidate;
                }
            };
            q.id = Some(id);
        }
        if let Some(id) = &q.id {
            if !seen.insert(id.clone()) {
                issues.push(FieldIssue::new(
                    at,
                    Msg::new("validation.gift_duplicate_id").arg("id", id),
                ));
            }
        }
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let (created, revised, retired) = sync_questions(&txn, c.id, &questions).await?;
    course::Entity::update_many()
        .col_expr(course::Column::EditedAt, Expr::value(Utc::now()))
        .filter(course::Column::Id.eq(c.id))
        .exec(&txn)
        .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "questions.imported",
            target_type: "course",
            target_id: Some(c.id.to_string()),
            after: Some(json!({"created": created, "revised": revised, "retired": retired})),
            ..Default::default()
        },
    )
    .await?;
    let total = current_questions(&txn, c.id).await?.len();
    txn.commit().await?;
    Ok(BankImport {
        created,
        revised,
        retired,
        total,
    })
}
