//! Importing `course-content/` into the database: all or nothing, one import at a time,
//! idempotent by content hash; a changed course becomes a new version and changed questions new
//! revisions, while the versions and revisions that attempts refer to stay readable.
use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::content::{
    self, Catalog, CertificationContent, CertificationSpec, ContentError, CourseContent,
    ModelContent,
};
use super::entities::{
    certification, competency, content_import, course, course_competency, course_version,
    job_category, lesson, question,
};
use crate::assessment::gift::GiftQuestion;
use crate::auth::service::{organization_by_slug, PLATFORM_SLUG};

/// What an import did.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct ImportSummary {
    pub courses_created: usize,
    pub courses_updated: usize,
    pub courses_unchanged: usize,
    /// Courses edited in the pages since their last import, left as they are (use `--force`).
    pub conflicts: Vec<String>,
    pub questions_created: usize,
    pub questions_revised: usize,
    pub questions_retired: usize,
    pub certifications_created: usize,
    pub certifications_updated: usize,
    pub certifications_unchanged: usize,
    pub competencies: usize,
    /// Nothing changed since the last import: nothing was written.
    pub skipped: bool,
}

/// Why an import failed; nothing was written.
#[derive(Debug)]
pub enum ImportError {
    /// The files have problems (all of them).
    Content(Vec<ContentError>),
    Database(DbErr),
    Setup(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Content(errors) => {
                writeln!(f, "{} problem(s) in the content files:", errors.len())?;
                for e in errors {
                    writeln!(f, "  {e}")?;
                }
                Ok(())
            }
            ImportError::Database(e) => write!(f, "database error: {e}"),
            ImportError::Setup(m) => f.write_str(m),
        }
    }
}

impl From<DbErr> for ImportError {
    fn from(e: DbErr) -> ImportError {
        ImportError::Database(e)
    }
}

/// Options of an import.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImportOptions {
    /// Replace courses edited in the pages since their last import.
    pub force: bool,
}

/// Reports progress: (done, total, what).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, &str);

/// The hash of the last successful import.
pub async fn last_import_hash<C: ConnectionTrait>(conn: &C) -> Result<Option<String>, DbErr> {
    Ok(content_import::Entity::find()
        .order_by_desc(content_import::Column::Id)
        .one(conn)
        .await?
        .map(|i| i.content_hash))
}

/// Imports a content directory.
pub async fn import_dir(
    db: &DatabaseConnection,
    dir: &Path,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    let catalog = content::load(dir).map_err(ImportError::Content)?;
    import_catalog(db, &catalog, options, progress).await
}

/// Imports a loaded catalog in one transaction.
pub async fn import_catalog(
    db: &DatabaseConnection,
    catalog: &Catalog,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    let started = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // One import at a time across every instance; the lock ends with the transaction.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7272702)")
            .await?;
    }
    if !options.force && last_import_hash(&txn).await?.as_deref() == Some(catalog.hash.as_str()) {
        return Ok(ImportSummary {
            skipped: true,
            courses_unchanged: catalog.courses.len(),
            ..Default::default()
        });
    }
    let platform = organization_by_slug(&txn, PLATFORM_SLUG)
        .await?
        .ok_or_else(|| {
            ImportError::Setup(
                "the platform organization is missing; run `talentcert migrate`".into(),
            )
        })?;
    let mut summary = ImportSummary::default();
    for (position, model) in catalog.models.iter().enumerate() {
        import_model(&txn, model, position, &mut summary).await?;
    }
    let total = catalog.courses.len() + catalog.certifications.len();
    for (i, c) in catalog.courses.iter().enumerate() {
        progress(i, total, &c.spec.code);
        import_course(&txn, platform.id, c, options, &mut summary).await?;
    }
    for (i, cert) in catalog.certifications.iter().enumerate() {
        progress(catalog.courses.len() + i, total, &cert.spec.code);
        import_certification(&txn, platform.id, cert, options.force, &mut summary).await?;
    }
    progress(total, total, "");
    content_import::ActiveModel {
        id: NotSet,
        content_hash: Set(catalog.hash.clone()),
        started_at: Set(started),
        finished_at: Set(Utc::now()),
        summary: Set(json!(summary)),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(platform.id),
            action: "catalog.imported",
            target_type: "catalog",
            target_id: Some(catalog.hash.clone()),
            after: Some(json!(summary)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(summary)
}

async fn import_model<C: ConnectionTrait>(
    conn: &C,
    model: &ModelContent,
    position: usize,
    summary: &mut ImportSummary,
) -> Result<(), DbErr> {
    let s = &model.spec;
    let existing = job_category::Entity::find_by_id(s.id.clone())
        .one(conn)
        .await?;
    if existing
        .as_ref()
        .is_some_and(|c| c.content_hash == model.hash)
    {
        return Ok(());
    }
    let row = job_category::ActiveModel {
        id: Set(s.id.clone()),
        name: Set(s.name.clone()),
        name_zh: Set(s.name_zh.clone()),
        description: Set(s.description.clone()),
        description_zh: Set(s.description_zh.clone()),
        position: Set(i32::try_from(
            content::CATEGORIES
                .iter()
                .position(|c| *c == s.id)
                .unwrap_or(position),
        )
        .unwrap_or(0)),
        content_hash: Set(model.hash.clone()),
    };
    if existing.is_some() {
        row.update(conn).await?;
    } else {
        row.insert(conn).await?;
    }
    for (i, c) in s.competencies.iter().enumerate() {
        let row = competency::ActiveModel {
            id: Set(c.id.clone()),
            category_id: Set(s.id.clone()),
            name: Set(c.name.clone()),
            name_zh: Set(c.name_zh.clone()),
            description: Set(c.description.clone()),
            description_zh: Set(c.description_zh.clone()),
            value_demand: Set(c.value_demand.clone()),
            business_level: Set(c.business_level.clone()),
            levels: Set(json!(c.levels)),
            position: Set(i32::try_from(i).unwrap_or(0)),
        };
        // Competencies are never deleted: evidence and certificates refer to them.
        if competency::Entity::find_by_id(c.id.clone())
            .one(conn)
            .await?
            .is_some()
        {
            row.update(conn).await?;
        } else {
            row.insert(conn).await?;
        }
        summary.competencies += 1;
    }
    Ok(())
}

/// The stored form of a question, and its hash.
fn question_hash(q: &GiftQuestion) -> String {
    let canonical = json!({
        "title": q.title, "text": q.text, "format": q.format, "kind": q.kind,
        "general_feedback": q.general_feedback, "tags": q.tags, "category": q.category,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Writes a question revision.
pub async fn insert_question<C: ConnectionTrait>(
    conn: &C,
    course_id: i64,
    q: &GiftQuestion,
    external_id: &str,
    revision: i32,
) -> Result<question::Model, DbErr> {
    question::ActiveModel {
        id: NotSet,
        course_id: Set(course_id),
        external_id: Set(external_id.to_string()),
        revision: Set(revision),
        is_current: Set(true),
        competency_id: Set(q.tag("competency").map(str::to_string)),
        difficulty: Set(q.tag("difficulty").unwrap_or("medium").to_string()),
        qtype: Set(q.kind.type_name().to_string()),
        title: Set(q.title.clone()),
        text: Set(q.text.clone()),
        format: Set(serde_json::to_value(q.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "moodle".into())),
        answer_data: Set(json!(q.kind)),
        general_feedback: Set(q.general_feedback.clone()),
        category: Set(q.category.clone()),
        tags: Set(json!(q.tags)),
        content_hash: Set(question_hash(q)),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
}

/// Brings a course's bank to the given questions: unchanged ones stay, changed ones get a new
/// revision, missing ones are retired. Answers (created, revised, retired).
pub async fn sync_questions<C: ConnectionTrait>(
    conn: &C,
    course_id: i64,
    questions: &[GiftQuestion],
) -> Result<(usize, usize, usize), DbErr> {
    let current = question::Entity::find()
        .filter(question::Column::CourseId.eq(course_id))
        .filter(question::Column::IsCurrent.eq(true))
        .all(conn)
        .await?;
    let mut by_id: HashMap<String, question::Model> = current
        .into_iter()
        .map(|q| (q.external_id.clone(), q))
        .collect();
    let (mut created, mut revised) = (0, 0);
    for (i, q) in questions.iter().enumerate() {
        let external_id =
            q.id.clone()
                .unwrap_or_else(|| format!("course-{course_id}-q{}", i + 1));
        match by_id.remove(&external_id) {
            Some(existing) if existing.content_hash == question_hash(q) => {}
            Some(existing) => {
                let revision = existing.revision + 1;
                let mut old = existing.into_active_model();
                old.is_current = Set(false);
                old.update(conn).await?;
                insert_question(conn, course_id, q, &external_id, revision).await?;
                revised += 1;
            }
            None => {
                let latest = question::Entity::find()
                    .filter(question::Column::CourseId.eq(course_id))
                    .filter(question::Column::ExternalId.eq(external_id.as_str()))
                    .order_by_desc(question::Column::Revision)
                    .one(conn)
                    .await?
                    .map_or(0, |q| q.revision);
                insert_question(conn, course_id, q, &external_id, latest + 1).await?;
                created += 1;
            }
        }
    }
    let retired = by_id.len();
    for (_, gone) in by_id {
        let mut old = gone.into_active_model();
        old.is_current = Set(false);
        old.update(conn).await?;
    }
    Ok((created, revised, retired))
}

async fn import_course<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    c: &CourseContent,
    options: ImportOptions,
    summary: &mut ImportSummary,
) -> Result<(), DbErr> {
    let s = &c.spec;
    let existing = course::Entity::find()
        .filter(course::Column::OrgId.eq(org_id))
        .filter(course::Column::Code.eq(s.code.as_str()))
        .one(conn)
        .await?;
    if let Some(e) = &existing {
        if e.source_hash.as_deref() == Some(c.hash.as_str()) {
            summary.courses_unchanged += 1;
            return Ok(());
        }
        if e.edited_at.is_some() && !options.force {
            summary.conflicts.push(s.code.clone());
            return Ok(());
        }
    }
    let now = Utc::now();
    let mut row = course::ActiveModel {
        id: NotSet,
        org_id: Set(org_id),
        code: Set(s.code.clone()),
        category_id: Set(s.category.clone()),
        area: Set(s.area.clone()),
        level: Set(s.level),
        title: Set(s.title.clone()),
        title_zh: Set(s.title_zh.clone()),
        summary: Set(s.summary.clone()),
        summary_zh: Set(s.summary_zh.clone()),
        estimated_minutes: Set(s.estimated_minutes),
        prerequisites: Set(json!(s.prerequisites)),
        draft_version_id: Set(None),
        published_version_id: NotSet,
        source_hash: Set(Some(c.hash.clone())),
        edited_at: Set(None),
        copied_from: NotSet,
        created_at: NotSet,
        updated_at: Set(now),
    };
    let saved = match &existing {
        Some(e) => {
            row.id = Set(e.id);
            row.update(conn).await?
        }
        None => {
            row.created_at = Set(now);
            row.copied_from = Set(None);
            row.published_version_id = Set(None);
            row.insert(conn).await?
        }
    };
    let number = course_version::Entity::find()
        .filter(course_version::Column::CourseId.eq(saved.id))
        .order_by_desc(course_version::Column::Number)
        .one(conn)
        .await?
        .map_or(1, |v| v.number + 1);
    let published = s.status == "published";
    let version = course_version::ActiveModel {
        id: NotSet,
        course_id: Set(saved.id),
        number: Set(number),
        content_hash: Set(c.hash.clone()),
        meta: Set(json!(s)),
        created_by: Set(None),
        created_at: Set(now),
        published_at: Set(published.then_some(now)),
    }
    .insert(conn)
    .await?;
    let lessons: Vec<lesson::ActiveModel> = c
        .lessons
        .iter()
        .map(|l| lesson::ActiveModel {
            id: NotSet,
            course_version_id: Set(version.id),
            position: Set(l.position),
            slug: Set(l.slug.clone()),
            title: Set(l.front.title.clone()),
            title_zh: Set(l.front.title_zh.clone()),
            kind: Set(l.front.kind.clone()),
            estimated_minutes: Set(l.front.estimated_minutes.unwrap_or(10)),
            body_md: Set(l.body.clone()),
        })
        .collect();
    if !lessons.is_empty() {
        lesson::Entity::insert_many(lessons)
            .exec_without_returning(conn)
            .await?;
    }
    course_competency::Entity::delete_many()
        .filter(course_competency::Column::CourseId.eq(saved.id))
        .exec(conn)
        .await?;
    let develops: Vec<course_competency::ActiveModel> = s
        .develops
        .iter()
        .map(|d| course_competency::ActiveModel {
            course_id: Set(saved.id),
            competency_id: Set(d.competency.clone()),
            level: Set(d.level),
        })
        .collect();
    if !develops.is_empty() {
        course_competency::Entity::insert_many(develops)
            .exec_without_returning(conn)
            .await?;
    }
    let mut update = saved.clone().into_active_model();
    update.published_version_id = Set(if published {
        Some(version.id)
    } else {
        saved.published_version_id
    });
    update.draft_version_id = Set(if published { None } else { Some(version.id) });
    update.update(conn).await?;
    let (created, revised, retired) = sync_questions(conn, saved.id, &c.questions).await?;
    summary.questions_created += created;
    summary.questions_revised += revised;
    summary.questions_retired += retired;
    if existing.is_some() {
        summary.courses_updated += 1;
    } else {
        summary.courses_created += 1;
    }
    Ok(())
}

/// The exam rules of a certification as stored (`certifications.settings`).
pub fn settings_of(s: &CertificationSpec) -> serde_json::Value {
    json!({
        "validity_months": s.validity_months,
        "pass_percent": s.pass_percent,
        "excellent_percent": s.excellent_percent,
        "min_competency_percent": s.min_competency_percent,
        "max_attempts": s.max_attempts,
        "cooldown_hours": s.cooldown_hours,
        "time_limit_minutes": s.time_limit_minutes,
        "on_timeout": s.on_timeout,
        "grace_minutes": s.grace_minutes,
        "counted_attempt": s.counted_attempt,
        "review": s.review,
        "evidence_bands": s.evidence_bands,
    })
}

async fn import_certification<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    cert: &CertificationContent,
    force: bool,
    summary: &mut ImportSummary,
) -> Result<(), DbErr> {
    let s = &cert.spec;
    let existing = certification::Entity::find()
        .filter(certification::Column::OrgId.eq(org_id))
        .filter(certification::Column::Code.eq(s.code.as_str()))
        .one(conn)
        .await?;
    if existing
        .as_ref()
        .is_some_and(|e| e.source_hash.as_deref() == Some(cert.hash.as_str()))
    {
        summary.certifications_unchanged += 1;
        return Ok(());
    }
    // Rules or blueprint edited in the pages since the last import (no source hash): kept.
    if existing.as_ref().is_some_and(|e| e.source_hash.is_none()) && !force {
        summary.conflicts.push(format!("certification {}", s.code));
        return Ok(());
    }
    let now = Utc::now();
    let settings = settings_of(s);
    let mut row = certification::ActiveModel {
        id: NotSet,
        org_id: Set(org_id),
        code: Set(s.code.clone()),
        category_id: Set(s.category.clone()),
        level: Set(s.level),
        title: Set(s.title.clone()),
        title_zh: Set(s.title_zh.clone()),
        description: Set(s.description.clone()),
        description_zh: Set(s.description_zh.clone()),
        settings: Set(settings),
        blueprint: Set(json!(s.blueprint)),
        required_courses: Set(json!(s.required_courses)),
        status: Set("published".into()),
        source_hash: Set(Some(cert.hash.clone())),
        created_at: NotSet,
        updated_at: Set(now),
    };
    match existing {
        Some(e) => {
            row.id = Set(e.id);
            row.update(conn).await?;
            summary.certifications_updated += 1;
        }
        None => {
            row.created_at = Set(now);
            row.insert(conn).await?;
            summary.certifications_created += 1;
        }
    }
    Ok(())
}
