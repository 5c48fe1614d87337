//! Study time, measured by the server.
//!
//! A lesson page reports activity: its opening, a heartbeat every [`HEARTBEAT_SECONDS`] while
//! it is visible (and one when it is hidden), and the lesson's completion. Credit is the
//! server's own clock between two reports, at most [`MAX_CREDIT_SECONDS`] per interval, so a
//! page with a fast clock or replayed heartbeats earns nothing more; the interval is claimed by
//! a compare-and-set on the report count, so two tabs or a replay credit it once.
//!
//! "Total" time is every credited interval. "Effective" time counts an interval only when the
//! page said it was visible at both of its ends (the page can only take credit away), and at
//! most [`effective_cap`] per lesson. An organization may require a minimum effective time
//! before a lesson can be marked complete ([`lesson_rule`]); shipped lessons have none.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::entities::{course, lesson, lesson_rule, study_time};
use super::service::{lesson_in_reach, Viewer};
use crate::auth::entities::user;
use crate::error::{AppError, AppResult, Msg};

/// How often a visible lesson page sends a heartbeat.
pub const HEARTBEAT_SECONDS: i64 = 30;
/// The most one interval between two reports can earn (two heartbeats' worth, so one lost
/// heartbeat costs nothing; a laptop asleep for an hour earns one minute, not an hour).
pub const MAX_CREDIT_SECONDS: i64 = 2 * HEARTBEAT_SECONDS;
/// The longest minimum study time an organization may require for a lesson (four hours).
pub const MAX_RULE_SECONDS: i32 = 4 * 3600;

/// The most effective time a lesson counts: twice its estimated reading time, and at least
/// ten minutes (reading slowly is fine; leaving a tab open all day is not study).
pub fn effective_cap(estimated_minutes: i32) -> i64 {
    (i64::from(estimated_minutes.max(0)) * 60 * 2).max(600)
}

fn cap_for(l: &lesson::Model) -> i64 {
    effective_cap(l.estimated_minutes)
}

/// The credit of one interval between reports, by the server's clock.
pub fn credit(last: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - last).num_seconds().clamp(0, MAX_CREDIT_SECONDS)
}

/// A heartbeat as the page sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Whether the page is visible now (`document.visibilityState`). Default true. A page may
    /// report `false` to give up credit; it can never earn more than the server measures.
    pub visible: Option<bool>,
}

/// A person's study time on a lesson, and what its completion needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonTime {
    pub lesson_id: i64,
    pub effective_seconds: i64,
    pub total_seconds: i64,
    /// The most effective time this lesson counts.
    pub effective_cap_seconds: i64,
    /// The organization's minimum effective time before completion (0: none).
    pub min_effective_seconds: i64,
    /// Seconds still to study before the lesson can be completed.
    pub remaining_seconds: i64,
    /// Send the next heartbeat after this many seconds.
    pub heartbeat_seconds: i64,
    /// The same times as `m:ss`, for pages.
    pub effective_clock: String,
    pub minimum_clock: String,
    pub remaining_clock: String,
}

async fn rule_of<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    course_id: i64,
    slug: &str,
) -> AppResult<i64> {
    Ok(
        lesson_rule::Entity::find_by_id((org_id, course_id, slug.to_string()))
            .one(conn)
            .await?
            .map_or(0, |r| i64::from(r.min_effective_seconds)),
    )
}

fn time_view(lesson_id: i64, row: Option<&study_time::Model>, cap: i64, min: i64) -> LessonTime {
    let effective = row.map_or(0, |r| r.effective_seconds);
    // A rule set on a version with a longer estimate never asks more than this one counts.
    let min = min.min(cap);
    LessonTime {
        lesson_id,
        effective_seconds: effective,
        total_seconds: row.map_or(0, |r| r.total_seconds),
        effective_cap_seconds: cap,
        min_effective_seconds: min,
        remaining_seconds: (min - effective).max(0),
        heartbeat_seconds: HEARTBEAT_SECONDS,
        effective_clock: minutes_text(effective),
        minimum_clock: minutes_text(min),
        remaining_clock: minutes_text((min - effective).max(0)),
    }
}

/// Records activity on a lesson: `opened` starts a new interval without credit (time between
/// two visits is not study); otherwise the interval since the last report is credited.
async fn report(
    db: &DatabaseConnection,
    viewer: &Viewer,
    l: &lesson::Model,
    c: &course::Model,
    visible: bool,
    opened: bool,
) -> AppResult<Option<study_time::Model>> {
    let key = (viewer.user_id, c.id, l.slug.clone());
    let now = Utc::now();
    let existing = study_time::Entity::find_by_id(key.clone()).one(db).await?;
    match existing {
        None => {
            study_time::Entity::insert(study_time::ActiveModel {
                user_id: Set(viewer.user_id),
                course_id: Set(c.id),
                lesson_slug: Set(l.slug.clone()),
                org_id: Set(viewer.org_id),
                effective_seconds: Set(0),
                total_seconds: Set(0),
                beats: Set(0),
                last_beat_at: Set(now),
                last_visible: Set(visible),
                first_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    study_time::Column::UserId,
                    study_time::Column::CourseId,
                    study_time::Column::LessonSlug,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
        Some(row) => {
            let gained = if opened {
                0
            } else {
                credit(row.last_beat_at, now)
            };
            let effective_gain = if row.last_visible && visible {
                gained.min((cap_for(l) - row.effective_seconds).max(0))
            } else {
                0
            };
            // Compare-and-set on the report count: of two reports that read the same interval
            // (two tabs, a replay), one credits it and the other nothing.
            study_time::Entity::update_many()
                .col_expr(
                    study_time::Column::TotalSeconds,
                    Expr::col(study_time::Column::TotalSeconds).add(gained),
                )
                .col_expr(
                    study_time::Column::EffectiveSeconds,
                    Expr::col(study_time::Column::EffectiveSeconds).add(effective_gain),
                )
                .col_expr(
                    study_time::Column::Beats,
                    Expr::col(study_time::Column::Beats).add(1),
                )
                .col_expr(study_time::Column::LastBeatAt, Expr::value(now))
                .col_expr(study_time::Column::LastVisible, Expr::value(visible))
                .filter(study_time::Column::UserId.eq(viewer.user_id))
                .filter(study_time::Column::CourseId.eq(c.id))
                .filter(study_time::Column::LessonSlug.eq(l.slug.clone()))
                .filter(study_time::Column::Beats.eq(row.beats))
                .exec(db)
                .await?;
        }
    }
    Ok(study_time::Entity::find_by_id(key).one(db).await?)
}

/// The lesson page was opened: a new interval starts (no credit for the time away).
pub async fn opened(
    db: &DatabaseConnection,
    viewer: &Viewer,
    l: &lesson::Model,
    c: &course::Model,
) -> AppResult<LessonTime> {
    let row = report(db, viewer, l, c, true, true).await?;
    let min = rule_of(db, viewer.org_id, c.id, &l.slug).await?;
    Ok(time_view(l.id, row.as_ref(), cap_for(l), min))
}

/// A heartbeat from a lesson page: credits the interval since the last report.
pub async fn heartbeat(
    db: &DatabaseConnection,
    viewer: &Viewer,
    lesson_id: i64,
    beat: &Heartbeat,
) -> AppResult<LessonTime> {
    let (l, c, _) = lesson_in_reach(db, viewer, lesson_id).await?;
    let row = report(db, viewer, &l, &c, beat.visible.unwrap_or(true), false).await?;
    let min = rule_of(db, viewer.org_id, c.id, &l.slug).await?;
    Ok(time_view(l.id, row.as_ref(), cap_for(&l), min))
}

/// Before a lesson is marked complete: credits the last interval (completing is activity), then
/// refuses when the organization's minimum effective time is not reached.
pub async fn check_completion(
    db: &DatabaseConnection,
    viewer: &Viewer,
    l: &lesson::Model,
    c: &course::Model,
) -> AppResult<()> {
    let min = rule_of(db, viewer.org_id, c.id, &l.slug).await?;
    let row = report(db, viewer, l, c, true, false).await?;
    let view = time_view(l.id, row.as_ref(), cap_for(l), min);
    if view.remaining_seconds > 0 {
        return Err(AppError::Conflict(
            Msg::new("error.lesson_min_time")
                .arg("minimum", minutes_text(view.min_effective_seconds))
                .arg("remaining", minutes_text(view.remaining_seconds)),
        ));
    }
    Ok(())
}

fn minutes_text(seconds: i64) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// A lesson's minimum study time as set by an organization.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRuleInput {
    /// Seconds of effective study before the lesson can be completed; 0 removes the rule.
    pub min_effective_seconds: i32,
}

/// Sets (or with 0 removes) the viewer's organization's minimum study time for a lesson; it
/// may not exceed what the lesson can count ([`effective_cap`]). Audited.
pub async fn set_rule(
    db: &DatabaseConnection,
    viewer: &Viewer,
    actor: &crate::auth::service::Actor,
    lesson_id: i64,
    input: &TimeRuleInput,
) -> AppResult<LessonTime> {
    let (l, c, _) = lesson_in_reach(db, viewer, lesson_id).await?;
    let cap = cap_for(&l);
    let wanted = input.min_effective_seconds;
    if !(0..=MAX_RULE_SECONDS).contains(&wanted) || i64::from(wanted) > cap {
        return Err(AppError::Validation(vec![crate::error::FieldIssue::new(
            "min_effective_seconds",
            Msg::new("validation.min_time_range").arg("max", cap.min(i64::from(MAX_RULE_SECONDS))),
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    let key = (viewer.org_id, c.id, l.slug.clone());
    let before = lesson_rule::Entity::find_by_id(key.clone())
        .one(&txn)
        .await?
        .map(|r| r.min_effective_seconds);
    lesson_rule::Entity::delete_by_id(key).exec(&txn).await?;
    if wanted > 0 {
        lesson_rule::Entity::insert(lesson_rule::ActiveModel {
            org_id: Set(viewer.org_id),
            course_id: Set(c.id),
            lesson_slug: Set(l.slug.clone()),
            min_effective_seconds: Set(wanted),
            updated_by: Set(Some(viewer.user_id)),
            updated_at: Set(Utc::now()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "lesson.time_rule_set",
            target_type: "lesson",
            target_id: Some(l.id.to_string()),
            before: Some(serde_json::json!({"min_effective_seconds": before})),
            after: Some(
                serde_json::json!({"course": c.code, "lesson": l.slug, "min_effective_seconds": wanted}),
            ),
            ip: actor.ip.clone(),
        },
    )
    .await?;
    txn.commit().await?;
    let row = study_time::Entity::find_by_id((viewer.user_id, c.id, l.slug.clone()))
        .one(db)
        .await?;
    Ok(time_view(l.id, row.as_ref(), cap, i64::from(wanted)))
}

/// How study time is grouped in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Person,
    Department,
    Course,
}

impl GroupBy {
    pub fn parse(s: Option<&str>) -> AppResult<GroupBy> {
        match s.unwrap_or("person") {
            "person" => Ok(GroupBy::Person),
            "department" => Ok(GroupBy::Department),
            "course" => Ok(GroupBy::Course),
            _ => Err(AppError::field("by", "validation.study_group")),
        }
    }
}

/// One row of a study-time report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StudyRow {
    /// The user id, department name or course code.
    pub key: String,
    pub label: String,
    /// For people: their department.
    pub department: Option<String>,
    pub effective_seconds: i64,
    pub total_seconds: i64,
    /// The same in minutes (one decimal), for people.
    pub effective_minutes: f64,
    pub total_minutes: f64,
    /// Lessons with any time.
    pub lessons: u64,
    /// People with any time.
    pub people: u64,
}

/// An organization's study time per person, department or course, most effective time first;
/// `department` narrows it to one department (a manager's view).
pub async fn report_rows<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    by: GroupBy,
    department: Option<&str>,
) -> AppResult<Vec<StudyRow>> {
    let rows = study_time::Entity::find()
        .filter(study_time::Column::OrgId.eq(org_id))
        .all(conn)
        .await?;
    let people: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let courses: HashMap<i64, (String, String)> = course::Entity::find()
        .filter(
            course::Column::Id.is_in(
                rows.iter()
                    .map(|r| r.course_id)
                    .collect::<std::collections::HashSet<_>>(),
            ),
        )
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, (c.code, c.title)))
        .collect();
    let mut groups: HashMap<String, (StudyRow, std::collections::HashSet<i64>)> = HashMap::new();
    for r in &rows {
        let Some(person) = people.get(&r.user_id) else {
            continue;
        };
        if department.is_some_and(|d| person.department.as_deref() != Some(d)) {
            continue;
        }
        let (key, label, dept) = match by {
            GroupBy::Person => (
                r.user_id.to_string(),
                person.display_name.clone(),
                person.department.clone(),
            ),
            GroupBy::Department => {
                let d = person.department.clone().unwrap_or_default();
                (d.clone(), d, None)
            }
            GroupBy::Course => {
                let (code, title) = courses.get(&r.course_id).cloned().unwrap_or_default();
                (code, title, None)
            }
        };
        let entry = groups.entry(key.clone()).or_insert_with(|| {
            (
                StudyRow {
                    key,
                    label,
                    department: dept,
                    effective_seconds: 0,
                    total_seconds: 0,
                    effective_minutes: 0.0,
                    total_minutes: 0.0,
                    lessons: 0,
                    people: 0,
                },
                std::collections::HashSet::new(),
            )
        });
        entry.0.effective_seconds += r.effective_seconds;
        entry.0.total_seconds += r.total_seconds;
        entry.0.lessons += 1;
        entry.1.insert(r.user_id);
    }
    let mut out: Vec<StudyRow> = groups
        .into_values()
        .map(|(mut row, people)| {
            row.people = people.len() as u64;
            row.effective_minutes = (row.effective_seconds as f64 / 6.0).round() / 10.0;
            row.total_minutes = (row.total_seconds as f64 / 6.0).round() / 10.0;
            row
        })
        .collect();
    out.sort_by(|a, b| {
        b.effective_seconds
            .cmp(&a.effective_seconds)
            .then_with(|| a.label.cmp(&b.label))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_interval_earns_the_server_time_up_to_the_cap() {
        let t = Utc::now();
        assert_eq!(credit(t, t + Duration::seconds(29)), 29);
        assert_eq!(credit(t, t + Duration::seconds(3600)), MAX_CREDIT_SECONDS);
        // A report stamped before the last one (clock skew between instances) earns nothing.
        assert_eq!(credit(t, t - Duration::seconds(10)), 0);
    }

    #[test]
    fn the_effective_cap_is_twice_the_estimate() {
        assert_eq!(effective_cap(15), 1800);
        assert_eq!(effective_cap(2), 600);
        assert_eq!(effective_cap(-3), 600);
    }
}
