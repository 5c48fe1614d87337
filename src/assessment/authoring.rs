//! Certifications authored by trainers: an organization's own certifications (created from the
//! same fields as a content file) and the exam rules of any certification its trainers own
//! (time limit, what happens at timeout, pass and excellent lines, per-competency minimum,
//! attempts, cool-down, the counted attempt, the review policy, required courses, evidence
//! bands). The checks are the content files' ([`rule_problems`]), every problem at once;
//! a blueprint the banks cannot fill is refused. Edits are audited with before and after, and a
//! content import keeps page edits of platform certifications unless forced.
use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::exam::{blueprint_issues, visible_certification};
use crate::catalog::content::{rule_problems, BlueprintSection, CertificationSpec, EvidenceBand};
use crate::catalog::entities::{certification, course, job_category};
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult, FieldIssue, Msg};

/// The exam rules of a certification, as trainers edit them (the fields of a content file
/// other than its identity and blueprint).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    pub validity_months: u32,
    /// Course codes to complete before the first attempt.
    #[serde(default)]
    pub required_courses: Vec<String>,
    pub pass_percent: f64,
    /// Results at or above it are "with distinction".
    pub excellent_percent: f64,
    #[serde(default)]
    pub min_competency_percent: f64,
    pub max_attempts: u32,
    pub cooldown_hours: u32,
    pub time_limit_minutes: u32,
    /// `auto-submit`, `grace` or `abandon`.
    pub on_timeout: String,
    #[serde(default)]
    pub grace_minutes: u32,
    /// `highest`, `first`, `last` or `average`.
    pub counted_attempt: String,
    /// `secure` (default), `score-only`, `none`, `after-submit` or `after-pass`.
    #[serde(default = "crate::catalog::content::default_review")]
    pub review: String,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub evidence_bands: Option<Vec<EvidenceBand>>,
}

/// A new certification of the trainer's organization.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCertification {
    /// Lowercase letters, digits and hyphens, unique in the organization.
    pub code: String,
    /// The job category (e.g. `user-operation`).
    pub category: String,
    /// The level certified, 1–5.
    pub level: i32,
    pub title: String,
    #[serde(default)]
    pub title_zh: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub description_zh: String,
    /// The exam rules.
    pub rules: RulesInput,
    /// Sections drawing questions per competency and difficulty.
    #[schema(value_type = Vec<Object>)]
    pub blueprint: Vec<BlueprintSection>,
}

/// A certification as its trainers see it after an edit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificationRules {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub level: i32,
    pub category: String,
    pub rules: Value,
    pub required_courses: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub blueprint: Value,
}

fn spec_of(
    code: &str,
    category: &str,
    level: i32,
    title: &str,
    r: &RulesInput,
    blueprint: Vec<BlueprintSection>,
) -> CertificationSpec {
    CertificationSpec {
        code: code.to_string(),
        category: category.to_string(),
        level,
        title: title.to_string(),
        title_zh: String::new(),
        description: String::new(),
        description_zh: String::new(),
        validity_months: r.validity_months,
        required_courses: r.required_courses.clone(),
        pass_percent: r.pass_percent,
        excellent_percent: r.excellent_percent,
        min_competency_percent: r.min_competency_percent,
        max_attempts: r.max_attempts,
        cooldown_hours: r.cooldown_hours,
        time_limit_minutes: r.time_limit_minutes,
        on_timeout: r.on_timeout.clone(),
        grace_minutes: r.grace_minutes,
        counted_attempt: r.counted_attempt.clone(),
        review: r.review.clone(),
        evidence_bands: r.evidence_bands.clone(),
        blueprint,
    }
}

fn rule_issues(spec: &CertificationSpec) -> Vec<FieldIssue> {
    rule_problems(spec)
        .into_iter()
        .map(|(field, problem)| {
            FieldIssue::new(
                field,
                Msg::new("validation.certification_rule").arg("detail", problem),
            )
        })
        .collect()
}

/// Required courses that are not courses the organization can take.
async fn course_issues<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    codes: &[String],
) -> AppResult<Vec<FieldIssue>> {
    let known: HashSet<String> = course::Entity::find()
        .filter(course::Column::OrgId.is_in([viewer.org_id, viewer.platform_org_id]))
        .filter(course::Column::Code.is_in(codes.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.code)
        .collect();
    Ok(codes
        .iter()
        .enumerate()
        .filter(|(_, c)| !known.contains(*c))
        .map(|(i, c)| {
            FieldIssue::new(
                format!("required_courses[{i}]"),
                Msg::new("validation.course_unknown").arg("code", c),
            )
        })
        .collect())
}

fn view(c: &certification::Model) -> CertificationRules {
    CertificationRules {
        id: c.id,
        code: c.code.clone(),
        title: c.title.clone(),
        level: c.level,
        category: c.category_id.clone(),
        rules: c.settings.clone(),
        required_courses: serde_json::from_value(c.required_courses.clone()).unwrap_or_default(),
        blueprint: c.blueprint.clone(),
    }
}

/// Creates a certification of the viewer's organization (a platform trainer's is a platform
/// certification). Audited.
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    input: NewCertification,
) -> AppResult<CertificationRules> {
    let code = input.code.trim().to_string();
    let mut issues = Vec::new();
    let code_ok = (2..=64).contains(&code.len())
        && !code.starts_with('-')
        && !code.ends_with('-')
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !code_ok {
        issues.push(FieldIssue::new("code", Msg::new("validation.slug")));
    }
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        issues.push(FieldIssue::new(
            "title",
            Msg::new("validation.length").arg("min", 1).arg("max", 200),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    if job_category::Entity::find_by_id(input.category.clone())
        .one(&txn)
        .await?
        .is_none()
    {
        issues.push(FieldIssue::new("category", Msg::new("validation.category")));
    }
    let spec = spec_of(
        &code,
        &input.category,
        input.level,
        &title,
        &input.rules,
        input.blueprint.clone(),
    );
    issues.extend(rule_issues(&spec));
    issues.extend(course_issues(&txn, viewer, &input.rules.required_courses).await?);
    let now = Utc::now();
    let draft = certification::Model {
        id: 0,
        org_id: viewer.org_id,
        code: code.clone(),
        category_id: input.category.clone(),
        level: input.level,
        title: title.clone(),
        title_zh: input.title_zh.trim().to_string(),
        description: input.description.trim().to_string(),
        description_zh: input.description_zh.trim().to_string(),
        settings: crate::catalog::import::settings_of(&spec),
        blueprint: json!(input.blueprint),
        required_courses: json!(input.rules.required_courses),
        status: "published".into(),
        source_hash: None,
        created_at: now,
        updated_at: now,
    };
    issues.extend(blueprint_issues(&txn, viewer, &draft, &input.blueprint, "blueprint").await?);
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let taken = certification::Entity::find()
        .filter(certification::Column::OrgId.eq(viewer.org_id))
        .filter(certification::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(AppError::Conflict(Msg::new(
            "error.certification_code_taken",
        )));
    }
    let mut active = draft.into_active_model();
    active.id = NotSet;
    let saved = active.insert(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "certification.created",
            target_type: "certification",
            target_id: Some(saved.id.to_string()),
            after: Some(json!({"code": saved.code, "settings": saved.settings, "blueprint": saved.blueprint})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(&saved))
}

/// Replaces the exam rules of a certification the viewer's organization owns (trainers).
/// Attempts already started keep the deadline they were given; the new rules apply to grading
/// and attempts from now on. Audited with before and after.
pub async fn set_rules(
    db: &DatabaseConnection,
    viewer: &Viewer,
    cert_id: i64,
    input: RulesInput,
) -> AppResult<CertificationRules> {
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
    let spec = spec_of(
        &cert.code,
        &cert.category_id,
        cert.level,
        &cert.title,
        &input,
        Vec::new(),
    );
    let mut issues = rule_issues(&spec);
    issues.extend(course_issues(&txn, viewer, &input.required_courses).await?);
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let before = json!({"settings": cert.settings, "required_courses": cert.required_courses});
    let mut active = cert.into_active_model();
    active.settings = Set(crate::catalog::import::settings_of(&spec));
    active.required_courses = Set(json!(input.required_courses));
    active.updated_at = Set(Utc::now());
    active.source_hash = Set(None);
    let saved = active.update(&txn).await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "certification.rules_changed",
            target_type: "certification",
            target_id: Some(saved.id.to_string()),
            before: Some(before),
            after: Some(
                json!({"settings": saved.settings, "required_courses": saved.required_courses}),
            ),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(&saved))
}
