//! An organization's integrity controls of a certification's exam, off unless its trainers or
//! admins turn them on (shipped certifications have none):
//!
//! - a switch limit: after N switches away from the exam (the page losing focus or being
//!   hidden; a blur and a hide within [`SWITCH_MERGE_SECONDS`] are one switch) the attempt is
//!   submitted and graded on the answers saved, and the result says why;
//! - a pledge the learner accepts before starting (`{"pledge": true}` on the attempt POST).
//!
//! Every signal is kept as evidence beside the attempt (with the address and browser it came
//! from); nothing is decided silently: the page shows the count and the limit as they grow.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::entities::exam_control;
use super::exam::visible_certification;
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult, FieldIssue, Msg};

/// Signals that count as leaving the exam.
pub const LEAVE_KINDS: [&str; 2] = ["focus_lost", "visibility_hidden"];
/// A blur and a hide this close together are one switch (a tab switch fires both).
pub const SWITCH_MERGE_SECONDS: i64 = 2;
/// The largest switch limit.
pub const MAX_SWITCH_LIMIT: u32 = 50;
/// The longest pledge, in characters.
pub const MAX_PLEDGE_CHARS: usize = 2_000;

/// The controls as set.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlsInput {
    /// Submit the attempt after this many switches away (1–50); none: no limit.
    pub max_switches: Option<u32>,
    /// Text the learner accepts before starting; none or empty: no pledge.
    pub pledge: Option<String>,
}

/// A certification's controls in an organization.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Controls {
    pub max_switches: Option<i32>,
    pub pledge: Option<String>,
}

/// The controls an organization set for a certification (none: all off).
pub async fn of<C: ConnectionTrait>(conn: &C, org_id: i64, cert_id: i64) -> AppResult<Controls> {
    Ok(exam_control::Entity::find_by_id((org_id, cert_id))
        .one(conn)
        .await?
        .map(|c| Controls {
            max_switches: c.max_switches,
            pledge: c.pledge,
        })
        .unwrap_or_default())
}

/// Every certification's controls in an organization.
pub async fn all_of<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
) -> AppResult<std::collections::HashMap<i64, Controls>> {
    Ok(exam_control::Entity::find()
        .filter(exam_control::Column::OrgId.eq(org_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.certification_id,
                Controls {
                    max_switches: c.max_switches,
                    pledge: c.pledge,
                },
            )
        })
        .collect())
}

/// Sets the viewer's organization's controls of a certification it can see (platform ones
/// too: the controls are the organization's, not the certification's). Audited.
pub async fn set(
    db: &DatabaseConnection,
    viewer: &Viewer,
    actor: &crate::auth::service::Actor,
    cert_id: i64,
    input: &ControlsInput,
) -> AppResult<Controls> {
    let mut issues = Vec::new();
    if input
        .max_switches
        .is_some_and(|n| !(1..=MAX_SWITCH_LIMIT).contains(&n))
    {
        issues.push(FieldIssue::new(
            "max_switches",
            Msg::new("validation.range")
                .arg("min", 1)
                .arg("max", MAX_SWITCH_LIMIT),
        ));
    }
    let pledge = input
        .pledge
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if pledge
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_PLEDGE_CHARS)
    {
        issues.push(FieldIssue::new(
            "pledge",
            Msg::new("validation.length")
                .arg("min", 1)
                .arg("max", MAX_PLEDGE_CHARS),
        ));
    }
    if !issues.is_empty() {
        return Err(AppError::Validation(issues));
    }
    let txn = crate::db::begin_write(db).await?;
    let cert = visible_certification(&txn, viewer, cert_id).await?;
    let before = of(&txn, viewer.org_id, cert.id).await?;
    exam_control::Entity::delete_by_id((viewer.org_id, cert.id))
        .exec(&txn)
        .await?;
    let max_switches = input.max_switches.and_then(|n| i32::try_from(n).ok());
    if max_switches.is_some() || pledge.is_some() {
        exam_control::Entity::insert(exam_control::ActiveModel {
            org_id: Set(viewer.org_id),
            certification_id: Set(cert.id),
            max_switches: Set(max_switches),
            pledge: Set(pledge.clone()),
            updated_by: Set(Some(viewer.user_id)),
            updated_at: Set(Utc::now()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let after = Controls {
        max_switches,
        pledge,
    };
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(viewer.org_id),
            actor_user_id: Some(viewer.user_id),
            action: "certification.controls_changed",
            target_type: "certification",
            target_id: Some(cert.id.to_string()),
            before: Some(json!(before)),
            after: Some(json!(after)),
            ip: actor.ip.clone(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Refuses a start without the pledge when the organization requires one.
pub fn check_pledge(controls: &Controls, accepted: bool) -> AppResult<()> {
    match &controls.pledge {
        Some(text) if !accepted => Err(AppError::Validation(vec![FieldIssue::new(
            "pledge",
            Msg::new("validation.pledge_required").arg("pledge", text),
        )])),
        _ => Ok(()),
    }
}

/// How many times the learner left the exam, from the signals in order: a leave signal within
/// [`SWITCH_MERGE_SECONDS`] of the previous one is the same switch.
pub fn count_switches(signals: &[(DateTime<Utc>, String)]) -> u32 {
    let mut count = 0;
    let mut last: Option<DateTime<Utc>> = None;
    for (at, kind) in signals {
        if !LEAVE_KINDS.contains(&kind.as_str()) {
            continue;
        }
        if last.is_none_or(|l| (*at - l).num_seconds().abs() >= SWITCH_MERGE_SECONDS) {
            count += 1;
        }
        last = Some(*at);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_blur_and_a_hide_together_are_one_switch() {
        let t = Utc::now();
        let s = |secs: i64, kind: &str| (t + Duration::milliseconds(secs), kind.to_string());
        let signals = vec![
            s(0, "visibility_hidden"),
            s(300, "focus_lost"),
            s(5_000, "focus_back"),
            s(9_000, "focus_lost"),
            s(20_000, "copy"),
            s(30_000, "visibility_hidden"),
        ];
        assert_eq!(count_switches(&signals), 3);
        assert_eq!(count_switches(&[]), 0);
    }

    #[test]
    fn a_pledge_is_needed_only_when_set() {
        let none = Controls::default();
        assert!(check_pledge(&none, false).is_ok());
        let set = Controls {
            max_switches: None,
            pledge: Some("I work alone.".into()),
        };
        assert!(check_pledge(&set, false).is_err());
        assert!(check_pledge(&set, true).is_ok());
    }
}
