//! Learning records as xAPI 1.0.3 statements, for a Learning Record Store or a data warehouse:
//! course launched (enrolled) and completed, lesson completed, exam attempted, passed or failed
//! (with the score), certificate earned.
//!
//! Statements are derived from the records the service keeps anyway (enrolments, lesson
//! completions, attempts, certificates), never stored twice. Each has a stable id (a UUID v5 of
//! the service's public URL and the record), so exporting the same period twice, or pushing it to
//! an LRS twice, gives the same statements: an LRS keeps one of each.
pub mod lrs;

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoSimpleExpr, QueryFilter,
    QuerySelect,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::assessment::entities::attempt;
use crate::auth::entities::user;
use crate::auth::{AdminOrHr, RequireRole};
use crate::catalog::entities::{certification, course, enrolment, lesson, lesson_completion};
use crate::certificates::entities::certificate;
use crate::error::{AppError, AppResult, FieldIssue, Msg, Problem};
use crate::startup::AppState;

/// The xAPI version the statements follow.
pub const VERSION: &str = "1.0.3";

/// A verb: its IRI and its display names.
struct Verb {
    short: &'static str,
    id: &'static str,
    en: &'static str,
    zh: &'static str,
}

const LAUNCHED: Verb = Verb {
    short: "launched",
    id: "http://adlnet.gov/expapi/verbs/launched",
    en: "launched",
    zh: "开始学习",
};
const COMPLETED: Verb = Verb {
    short: "completed",
    id: "http://adlnet.gov/expapi/verbs/completed",
    en: "completed",
    zh: "完成",
};
const ATTEMPTED: Verb = Verb {
    short: "attempted",
    id: "http://adlnet.gov/expapi/verbs/attempted",
    en: "attempted",
    zh: "参加考试",
};
const PASSED: Verb = Verb {
    short: "passed",
    id: "http://adlnet.gov/expapi/verbs/passed",
    en: "passed",
    zh: "通过",
};
const FAILED: Verb = Verb {
    short: "failed",
    id: "http://adlnet.gov/expapi/verbs/failed",
    en: "failed",
    zh: "未通过",
};
const EARNED: Verb = Verb {
    short: "earned",
    id: "http://id.tincanapi.com/verb/earned",
    en: "earned",
    zh: "获得",
};

/// Every verb, for the `verb` filter.
const VERBS: [&Verb; 6] = [&LAUNCHED, &COMPLETED, &ATTEMPTED, &PASSED, &FAILED, &EARNED];

/// Which statements to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Only statements whose event happened after this time (RFC 3339), exclusive.
    pub since: Option<DateTime<Utc>>,
    /// Only statements whose event happened at or before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Only this verb: `launched`, `completed`, `attempted`, `passed`, `failed`, `earned`, or
    /// its IRI.
    pub verb: Option<String>,
    /// Statements per page: 1–1000 (default 100).
    pub limit: Option<u64>,
    /// Statements to skip (the `more` link carries it).
    pub offset: Option<u64>,
}

/// One learner, as an xAPI agent.
struct Person {
    name: String,
    email: String,
}

/// The statements of an organization whose event falls in (`since`, `until`], oldest first
/// (ties by id).
pub async fn statements(
    db: &DatabaseConnection,
    public_url: &str,
    org_id: i64,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> AppResult<Vec<Value>> {
    // Statements show their time to the millisecond, so a time given back (e.g. the last one
    // seen) stands for its whole millisecond: `since` excludes it, `until` includes it.
    let since = since.map(end_of_millisecond);
    let until = until.map(end_of_millisecond);
    let in_window = |t: DateTime<Utc>| since.is_none_or(|s| t > s) && until.is_none_or(|u| t <= u);
    // The window goes into each query, so a relay round reads only what is new.
    let after = |column: sea_orm::sea_query::SimpleExpr| match since {
        Some(s) => sea_orm::sea_query::Expr::expr(column).gt(s),
        None => sea_orm::sea_query::SimpleExpr::Constant(true.into()),
    };
    let before = |column: sea_orm::sea_query::SimpleExpr| match until {
        Some(u) => sea_orm::sea_query::Expr::expr(column).lte(u),
        None => sea_orm::sea_query::SimpleExpr::Constant(true.into()),
    };
    let enrolments = enrolment::Entity::find()
        .filter(enrolment::Column::OrgId.eq(org_id))
        .filter(
            Condition::any()
                .add(after(enrolment::Column::EnrolledAt.into_simple_expr()))
                .add(after(enrolment::Column::CompletedAt.into_simple_expr())),
        )
        .filter(before(enrolment::Column::EnrolledAt.into_simple_expr()))
        .all(db)
        .await?;
    let completions = lesson_completion::Entity::find()
        .filter(
            lesson_completion::Column::UserId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(user::Column::Id)
                    .from(user::Entity)
                    .and_where(user::Column::OrgId.eq(org_id))
                    .to_owned(),
            ),
        )
        .filter(after(
            lesson_completion::Column::CompletedAt.into_simple_expr(),
        ))
        .filter(before(
            lesson_completion::Column::CompletedAt.into_simple_expr(),
        ))
        .all(db)
        .await?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::OrgId.eq(org_id))
        .filter(
            Condition::any()
                .add(after(attempt::Column::StartedAt.into_simple_expr()))
                .add(after(attempt::Column::FinishedAt.into_simple_expr())),
        )
        .filter(before(attempt::Column::StartedAt.into_simple_expr()))
        .all(db)
        .await?;
    #[derive(sea_orm::FromQueryResult)]
    struct Issued {
        id: i64,
        code: String,
        user_id: i64,
        certification_id: i64,
        issued_at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    }
    let issued = certificate::Entity::find()
        .select_only()
        .columns([
            certificate::Column::Id,
            certificate::Column::Code,
            certificate::Column::UserId,
            certificate::Column::CertificationId,
            certificate::Column::IssuedAt,
            certificate::Column::ValidUntil,
        ])
        .filter(certificate::Column::OrgId.eq(org_id))
        .filter(after(certificate::Column::IssuedAt.into_simple_expr()))
        .filter(before(certificate::Column::IssuedAt.into_simple_expr()))
        .into_model::<Issued>()
        .all(db)
        .await?;
    // Nothing new (the relay's usual round): no need to read people and the catalog.
    if enrolments.is_empty() && completions.is_empty() && attempts.is_empty() && issued.is_empty() {
        return Ok(Vec::new());
    }
    let people: HashMap<i64, Person> = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.id,
                Person {
                    name: u.display_name,
                    email: u.email,
                },
            )
        })
        .collect();
    let courses: HashMap<i64, course::Model> = course::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let certifications: HashMap<i64, certification::Model> = certification::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut out = Vec::new();
    let course_activity = |c: &course::Model| {
        json!({
            "objectType": "Activity",
            "id": format!("{public_url}/courses/{}", c.id),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/course",
                "name": {"en-US": c.title, "zh-CN": c.title_zh},
                "extensions": {"https://talentcert.dev/xapi/course-code": c.code},
            }
        })
    };

    for e in enrolments {
        let (Some(p), Some(c)) = (people.get(&e.user_id), courses.get(&e.course_id)) else {
            continue;
        };
        if in_window(e.enrolled_at) {
            out.push(statement(
                public_url,
                &format!("enrolment/{}/launched", e.id),
                p,
                &LAUNCHED,
                course_activity(c),
                None,
                None,
                e.enrolled_at,
            ));
        }
        if let Some(done) = e.completed_at.filter(|t| in_window(*t)) {
            out.push(statement(
                public_url,
                &format!("enrolment/{}/completed", e.id),
                p,
                &COMPLETED,
                course_activity(c),
                Some(json!({"completion": true})),
                None,
                done,
            ));
        }
    }

    // Lesson titles from each course's published version.
    let versions: Vec<i64> = completions
        .iter()
        .filter_map(|l| {
            courses
                .get(&l.course_id)
                .and_then(|c| c.published_version_id)
        })
        .collect();
    let titles: HashMap<(i64, String), (String, Option<String>)> = lesson::Entity::find()
        .filter(lesson::Column::CourseVersionId.is_in(versions))
        .all(db)
        .await?
        .into_iter()
        .map(|l| ((l.course_version_id, l.slug), (l.title, l.title_zh)))
        .collect();
    for l in completions {
        let (Some(p), Some(c)) = (people.get(&l.user_id), courses.get(&l.course_id)) else {
            continue;
        };
        if !in_window(l.completed_at) {
            continue;
        }
        let (title, title_zh) = c
            .published_version_id
            .and_then(|v| titles.get(&(v, l.lesson_slug.clone())))
            .cloned()
            .unwrap_or_else(|| (l.lesson_slug.clone(), None));
        let lesson = json!({
            "objectType": "Activity",
            "id": format!("{public_url}/courses/{}/lessons/{}", c.id, l.lesson_slug),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/lesson",
                "name": {"en-US": title, "zh-CN": title_zh.unwrap_or_else(|| title.clone())},
            }
        });
        out.push(statement(
            public_url,
            &format!("lesson/{}/{}/{}", l.user_id, l.course_id, l.lesson_slug),
            p,
            &COMPLETED,
            lesson,
            Some(json!({"completion": true})),
            Some(json!({"contextActivities": {"parent": [course_activity(c)]}})),
            l.completed_at,
        ));
    }

    let exam_activity = |c: &certification::Model| {
        json!({
            "objectType": "Activity",
            "id": format!("{public_url}/certifications/{}", c.id),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"en-US": c.title, "zh-CN": c.title_zh},
                "extensions": {
                    "https://talentcert.dev/xapi/certification-code": c.code,
                    "https://talentcert.dev/xapi/level": c.level,
                },
            }
        })
    };
    for a in attempts {
        let (Some(p), Some(c)) = (
            people.get(&a.user_id),
            certifications.get(&a.certification_id),
        ) else {
            continue;
        };
        let attempt_context =
            json!({"registration": uuid_of(public_url, &format!("attempt/{}", a.id)).to_string()});
        if in_window(a.started_at) {
            out.push(statement(
                public_url,
                &format!("attempt/{}/attempted", a.id),
                p,
                &ATTEMPTED,
                exam_activity(c),
                None,
                Some(attempt_context.clone()),
                a.started_at,
            ));
        }
        let (Some(finished), Some(passed)) = (a.finished_at, a.passed) else {
            continue;
        };
        if !in_window(finished) {
            continue;
        }
        let raw = a.score.unwrap_or(0.0);
        let scaled = if a.max_score > 0.0 {
            (raw / a.max_score).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let duration = finished - a.started_at;
        out.push(statement(
            public_url,
            &format!("attempt/{}/result", a.id),
            p,
            if passed { &PASSED } else { &FAILED },
            exam_activity(c),
            Some(json!({
                "score": {"scaled": scaled, "raw": raw, "min": 0.0, "max": a.max_score},
                "success": passed,
                "completion": true,
                "duration": format!("PT{}S", duration.num_seconds().max(0)),
            })),
            Some(attempt_context),
            finished,
        ));
    }

    for c in issued {
        let (Some(p), Some(cert)) = (
            people.get(&c.user_id),
            certifications.get(&c.certification_id),
        ) else {
            continue;
        };
        if !in_window(c.issued_at) {
            continue;
        }
        let badge = json!({
            "objectType": "Activity",
            "id": format!("{public_url}/verify/{}", c.code),
            "definition": {
                "type": "https://w3id.org/xapi/tla/activity-types/badge",
                "name": {"en-US": cert.title, "zh-CN": cert.title_zh},
                "extensions": {
                    "https://talentcert.dev/xapi/valid-until": c.valid_until.to_rfc3339(),
                    "https://talentcert.dev/xapi/credential": format!("{public_url}/api/v1/certificates/{}/credential", c.code),
                },
            }
        });
        out.push(statement(
            public_url,
            &format!("certificate/{}", c.id),
            p,
            &EARNED,
            badge,
            Some(json!({"success": true, "completion": true})),
            Some(json!({"contextActivities": {"parent": [exam_activity(cert)]}})),
            c.issued_at,
        ));
    }
    out.sort_by(|a, b| {
        (a["timestamp"].as_str(), a["id"].as_str())
            .cmp(&(b["timestamp"].as_str(), b["id"].as_str()))
    });
    Ok(out)
}

/// The last instant of the millisecond `t` falls in.
fn end_of_millisecond(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.timestamp_subsec_nanos();
    t - chrono::Duration::nanoseconds(i64::from(nanos % 1_000_000))
        + chrono::Duration::nanoseconds(999_999)
}

/// A stable statement id: the same record always gives the same id, on every instance.
fn uuid_of(public_url: &str, key: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{public_url}/xapi/{key}").as_bytes(),
    )
}

#[allow(clippy::too_many_arguments)]
fn statement(
    public_url: &str,
    key: &str,
    person: &Person,
    verb: &Verb,
    object: Value,
    result: Option<Value>,
    context: Option<Value>,
    at: DateTime<Utc>,
) -> Value {
    let mut context = context.unwrap_or_else(|| json!({}));
    context["platform"] = json!("talentcert");
    let mut s = json!({
        "id": uuid_of(public_url, key).to_string(),
        "actor": {
            "objectType": "Agent",
            "name": person.name,
            "mbox": format!("mailto:{}", person.email),
        },
        "verb": {"id": verb.id, "display": {"en-US": verb.en, "zh-CN": verb.zh}},
        "object": object,
        "context": context,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "version": VERSION,
    });
    if let Some(result) = result {
        s["result"] = result;
    }
    s
}

/// The organization's learning records as xAPI statements, oldest first, in the format of an
/// LRS's statement query (`{"statements": [...], "more": "<next page or empty>"}`), so tools that
/// read an LRS read this too (admins and HR).
#[utoipa::path(
    tag = "interop",
    params(StatementQuery),
    responses(
        (status = 200, description = "An xAPI StatementResult", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    ),
    security(("bearer" = []), ("session" = []))
)]
#[get("/api/v1/xapi/statements")]
pub async fn list_statements(
    state: web::Data<AppState>,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<StatementQuery>,
) -> AppResult<HttpResponse> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::Validation(vec![FieldIssue::new(
            "limit",
            Msg::new("validation.range").arg("min", 1).arg("max", 1000),
        )]));
    }
    let verb = match query.verb.as_deref() {
        None => None,
        Some(v) => Some(
            VERBS
                .iter()
                .find(|verb| verb.short == v || verb.id == v)
                .ok_or_else(|| AppError::BadRequest(Msg::new("error.xapi_verb").arg("verb", v)))?
                .id,
        ),
    };
    let public_url = &state.settings.public_url;
    let mut all = statements(
        &state.db,
        public_url,
        staff.org_id,
        query.since,
        query.until,
    )
    .await?;
    if let Some(verb) = verb {
        all.retain(|s| s["verb"]["id"] == verb);
    }
    let offset = usize::try_from(query.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(100);
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let more = if offset.saturating_add(limit) < all.len() {
        let mut next = format!(
            "/api/v1/xapi/statements?limit={limit}&offset={}",
            offset + limit
        );
        if let Some(since) = query.since {
            next.push_str(&format!("&since={}", urlencode(&since.to_rfc3339())));
        }
        if let Some(until) = query.until {
            next.push_str(&format!("&until={}", urlencode(&until.to_rfc3339())));
        }
        if let Some(v) = &query.verb {
            next.push_str(&format!("&verb={}", urlencode(v)));
        }
        next
    } else {
        String::new()
    };
    Ok(HttpResponse::Ok()
        .insert_header(("X-Experience-API-Version", VERSION))
        .json(json!({"statements": page, "more": more})))
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|pair| pair.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_statements)
        .service(lrs::get_lrs)
        .service(lrs::put_lrs);
}
