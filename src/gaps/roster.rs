//! The staff roster: a CSV exported from an HR system or Excel (UTF-8 with or without BOM,
//! GB18030 from Chinese Excel, UTF-16 "Unicode text"), previewed (what would be created,
//! updated and deactivated, and every problem by line and column) and committed all or nothing.
//!
//! Header: `employee_id,name,email,department,manager_employee_id,position,language`
//! (`language` optional, columns in any order). People are matched by employee id, then by
//! email; new people are invited by email. `mode=full` treats the file as the whole roster of
//! the departments it names and deactivates roster-created learners of those departments who
//! are missing, never admins, HR or trainers.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::entities::position;
use crate::auth::entities::{user, user_role};
use crate::auth::model::{DisplayName, Email, Role};
use crate::error::{AppError, AppResult, Msg};
use crate::i18n::Lang;
use crate::notify::Mailer;

/// The columns of a roster file.
pub const COLUMNS: [&str; 7] = [
    "employee_id",
    "name",
    "email",
    "department",
    "manager_employee_id",
    "position",
    "language",
];

/// A problem with one cell (or line) of the file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowProblem {
    /// The line of the file (1 is the header).
    pub line: u64,
    pub column: String,
    pub message: String,
}

/// A person the import creates or changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterChange {
    pub line: u64,
    pub employee_id: String,
    pub name: String,
    pub email: String,
    pub department: String,
    /// What changes for an existing person (field names).
    pub fields: Vec<String>,
}

/// A person a full import deactivates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterDeactivation {
    pub user_id: i64,
    pub employee_id: Option<String>,
    pub name: String,
    pub department: Option<String>,
}

/// What an import does (or, in a preview, would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterReport {
    pub dry_run: bool,
    /// `merge` or `full`.
    pub mode: String,
    /// `utf-8`, `utf-8 (BOM)`, `gb18030` or `utf-16`.
    pub encoding: String,
    pub rows: usize,
    pub created: Vec<RosterChange>,
    pub updated: Vec<RosterChange>,
    pub unchanged: usize,
    pub deactivated: Vec<RosterDeactivation>,
    pub problems: Vec<RowProblem>,
}

/// Decodes a roster file: UTF-8 (a BOM is dropped), UTF-16 with a BOM, or GB18030.
pub fn decode(bytes: &[u8]) -> Option<(String, &'static str)> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .ok()
            .map(|s| (s.to_string(), "utf-8 (BOM)"));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let (text, _, errors) = encoding_rs::UTF_16LE.decode(bytes);
        return (!errors).then(|| (text.into_owned(), "utf-16"));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some((s.to_string(), "utf-8"));
    }
    let (text, _, errors) = encoding_rs::GB18030.decode(bytes);
    (!errors).then(|| (text.into_owned(), "gb18030"))
}

/// One parsed, valid-so-far line.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    line: u64,
    employee_id: String,
    name: String,
    email: String,
    department: String,
    manager: Option<String>,
    position: Option<String>,
    language: Option<Lang>,
}

fn problem(line: u64, column: &str, message: Msg, lang: Lang) -> RowProblem {
    RowProblem {
        line,
        column: column.to_string(),
        message: message.render(lang),
    }
}

/// Reads the CSV text into rows, with every problem of form (not yet of meaning).
pub(crate) fn parse(text: &str, lang: Lang) -> (Vec<Row>, Vec<RowProblem>) {
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(_) => {
            problems.push(problem(1, "", Msg::new("roster.unreadable"), lang));
            return (Vec::new(), problems);
        }
    };
    let index: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            problems.push(problem(
                1,
                h,
                Msg::new("roster.unknown_column").arg("columns", COLUMNS.join(",")),
                lang,
            ));
        }
    }
    for c in &COLUMNS[..6] {
        if !index.contains_key(c) {
            problems.push(problem(1, c, Msg::new("roster.missing_column"), lang));
        }
    }
    if !problems.is_empty() {
        return (Vec::new(), problems);
    }
    let mut rows = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut emails: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(problem(line, "", Msg::new("roster.unreadable"), lang));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            problems.push(problem(
                line,
                "",
                Msg::new("roster.field_count")
                    .arg("expected", headers.len())
                    .arg("found", record.len()),
                lang,
            ));
            continue;
        }
        let cell = |c: &str| {
            index
                .get(c)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
                .to_string()
        };
        let mut ok = true;
        let employee_id = cell("employee_id");
        if employee_id.is_empty() || employee_id.chars().count() > 64 {
            problems.push(problem(
                line,
                "employee_id",
                Msg::new("validation.length").arg("min", 1).arg("max", 64),
                lang,
            ));
            ok = false;
        } else if let Some(first) = ids.insert(employee_id.clone(), line) {
            problems.push(problem(
                line,
                "employee_id",
                Msg::new("roster.duplicate").arg("line", first),
                lang,
            ));
            ok = false;
        }
        let name = match DisplayName::parse("name", &cell("name")) {
            Ok(n) => n.as_str().to_string(),
            Err(issue) => {
                problems.push(problem(line, "name", issue.message, lang));
                ok = false;
                String::new()
            }
        };
        let email = match Email::parse("email", &cell("email")) {
            Ok(e) => {
                let e = e.as_str().to_string();
                if let Some(first) = emails.insert(e.clone(), line) {
                    problems.push(problem(
                        line,
                        "email",
                        Msg::new("roster.duplicate").arg("line", first),
                        lang,
                    ));
                    ok = false;
                }
                e
            }
            Err(issue) => {
                problems.push(problem(line, "email", issue.message, lang));
                ok = false;
                String::new()
            }
        };
        let department = cell("department");
        if department.is_empty() || department.chars().count() > 100 {
            problems.push(problem(
                line,
                "department",
                Msg::new("validation.length").arg("min", 1).arg("max", 100),
                lang,
            ));
            ok = false;
        }
        let manager = Some(cell("manager_employee_id")).filter(|m| !m.is_empty());
        if manager.as_deref() == Some(employee_id.as_str()) {
            problems.push(problem(
                line,
                "manager_employee_id",
                Msg::new("roster.own_manager"),
                lang,
            ));
            ok = false;
        }
        let language = match cell("language").as_str() {
            "" => None,
            tag => match Lang::from_tag(tag) {
                Some(l) => Some(l),
                None => {
                    problems.push(problem(
                        line,
                        "language",
                        Msg::new("validation.language"),
                        lang,
                    ));
                    ok = false;
                    None
                }
            },
        };
        if ok {
            rows.push(Row {
                line,
                employee_id,
                name,
                email,
                department,
                manager,
                position: Some(cell("position").to_lowercase()).filter(|p| !p.is_empty()),
                language,
            });
        }
    }
    (rows, problems)
}

/// What the import will write, worked out against the organization's people.
struct Plan {
    report: RosterReport,
    rows: Vec<Row>,
    /// Existing user per row line.
    matched: HashMap<u64, user::Model>,
    positions: HashMap<String, i64>,
    /// Employee id → user id for managers outside the file.
    existing_ids: HashMap<String, i64>,
    deactivate: Vec<user::Model>,
}

async fn plan<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    text: &str,
    encoding: &str,
    full: bool,
    dry_run: bool,
    lang: Lang,
) -> AppResult<Plan> {
    let (rows, mut problems) = parse(text, lang);
    let people = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .all(conn)
        .await?;
    let by_employee: HashMap<&str, &user::Model> = people
        .iter()
        .filter_map(|u| u.employee_id.as_deref().map(|e| (e, u)))
        .collect();
    let by_email: HashMap<&str, &user::Model> =
        people.iter().map(|u| (u.email.as_str(), u)).collect();
    let positions: HashMap<String, i64> = position::Entity::find()
        .filter(position::Column::OrgId.eq(org_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.code, p.id))
        .collect();
    let position_codes: HashMap<i64, &str> =
        positions.iter().map(|(c, id)| (*id, c.as_str())).collect();
    // Emails of accounts in other organizations (say only that the address is taken).
    let emails: Vec<String> = rows.iter().map(|r| r.email.clone()).collect();
    let taken: HashSet<String> = user::Entity::find()
        .filter(user::Column::Email.is_in(emails))
        .filter(user::Column::OrgId.ne(org_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect();
    let file_ids: HashSet<&str> = rows.iter().map(|r| r.employee_id.as_str()).collect();
    let mut matched = HashMap::new();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut unchanged = 0;
    let mut good = Vec::new();
    for row in &rows {
        let mut ok = true;
        if taken.contains(&row.email) {
            problems.push(problem(
                row.line,
                "email",
                Msg::new("error.email_taken"),
                lang,
            ));
            ok = false;
        }
        if let Some(code) = &row.position {
            if !positions.contains_key(code) {
                problems.push(problem(
                    row.line,
                    "position",
                    Msg::new("roster.unknown_position").arg("code", code.clone()),
                    lang,
                ));
                ok = false;
            }
        }
        if let Some(m) = &row.manager {
            if !file_ids.contains(m.as_str()) && !by_employee.contains_key(m.as_str()) {
                problems.push(problem(
                    row.line,
                    "manager_employee_id",
                    Msg::new("roster.unknown_manager").arg("id", m.clone()),
                    lang,
                ));
                ok = false;
            }
        }
        let existing = by_employee
            .get(row.employee_id.as_str())
            .or_else(|| by_email.get(row.email.as_str()))
            .copied();
        if let Some(u) = existing {
            if let Some(other) = by_email.get(row.email.as_str()) {
                if other.id != u.id {
                    problems.push(problem(
                        row.line,
                        "email",
                        Msg::new("roster.email_other_person"),
                        lang,
                    ));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let change = RosterChange {
            line: row.line,
            employee_id: row.employee_id.clone(),
            name: row.name.clone(),
            email: row.email.clone(),
            department: row.department.clone(),
            fields: Vec::new(),
        };
        match existing {
            None => created.push(change),
            Some(u) => {
                let mut fields = Vec::new();
                let manager_now = u
                    .manager_id
                    .and_then(|id| people.iter().find(|p| p.id == id))
                    .and_then(|p| p.employee_id.clone());
                if u.display_name != row.name {
                    fields.push("name".to_string());
                }
                if u.email != row.email {
                    fields.push("email".to_string());
                }
                if u.employee_id.as_deref() != Some(row.employee_id.as_str()) {
                    fields.push("employee_id".to_string());
                }
                if u.department.as_deref() != Some(row.department.as_str()) {
                    fields.push("department".to_string());
                }
                if manager_now != row.manager {
                    fields.push("manager_employee_id".to_string());
                }
                if u.position_id
                    .and_then(|id| position_codes.get(&id).copied())
                    != row.position.as_deref()
                {
                    fields.push("position".to_string());
                }
                if row.language.is_some_and(|l| l.tag() != u.language) {
                    fields.push("language".to_string());
                }
                if u.status == "deactivated" {
                    fields.push("status".to_string());
                }
                if fields.is_empty() {
                    unchanged += 1;
                } else {
                    updated.push(RosterChange { fields, ..change });
                }
                matched.insert(row.line, u.clone());
            }
        }
        good.push(row.clone());
    }
    // Manager chains must end: the final graph (file rows over existing people) has no loop.
    let mut manager_of: HashMap<String, String> = people
        .iter()
        .filter_map(|u| {
            let e = u.employee_id.clone()?;
            let m = u
                .manager_id
                .and_then(|id| people.iter().find(|p| p.id == id))?
                .employee_id
                .clone()?;
            Some((e, m))
        })
        .collect();
    for row in &rows {
        match &row.manager {
            Some(m) => manager_of.insert(row.employee_id.clone(), m.clone()),
            None => manager_of.remove(&row.employee_id),
        };
    }
    for row in &rows {
        let mut seen = vec![row.employee_id.clone()];
        let mut at = row.employee_id.clone();
        while let Some(next) = manager_of.get(&at) {
            if *next == row.employee_id {
                seen.push(next.clone());
                problems.push(problem(
                    row.line,
                    "manager_employee_id",
                    Msg::new("roster.manager_cycle").arg("chain", seen.join(" → ")),
                    lang,
                ));
                break;
            }
            if seen.contains(next) || seen.len() > 10_000 {
                break;
            }
            seen.push(next.clone());
            at = next.clone();
        }
    }
    // A full import: roster-created learners of the named departments who are missing.
    let mut deactivate = Vec::new();
    if full {
        let departments: BTreeSet<&str> = rows.iter().map(|r| r.department.as_str()).collect();
        let kept: HashSet<i64> = matched.values().map(|u| u.id).collect();
        let candidates: Vec<&user::Model> = people
            .iter()
            .filter(|u| u.from_roster && u.status != "deactivated" && !kept.contains(&u.id))
            .filter(|u| {
                u.department
                    .as_deref()
                    .is_some_and(|d| departments.contains(d))
            })
            .collect();
        let ids: Vec<i64> = candidates.iter().map(|u| u.id).collect();
        let staff: HashSet<i64> = user_role::Entity::find()
            .filter(user_role::Column::UserId.is_in(ids))
            .filter(user_role::Column::Role.ne(Role::Learner.as_str()))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        deactivate = candidates
            .into_iter()
            .filter(|u| !staff.contains(&u.id))
            .cloned()
            .collect();
    }
    problems.sort_by_key(|p| p.line);
    let report = RosterReport {
        dry_run,
        mode: if full { "full" } else { "merge" }.into(),
        encoding: encoding.into(),
        rows: rows.len(),
        created,
        updated,
        unchanged,
        deactivated: deactivate
            .iter()
            .map(|u| RosterDeactivation {
                user_id: u.id,
                employee_id: u.employee_id.clone(),
                name: u.display_name.clone(),
                department: u.department.clone(),
            })
            .collect(),
        problems,
    };
    let existing_ids = people
        .iter()
        .filter_map(|u| u.employee_id.clone().map(|e| (e, u.id)))
        .collect();
    Ok(Plan {
        report,
        rows: good,
        matched,
        positions,
        existing_ids,
        deactivate,
    })
}

/// Who imports, for invitations and the audit log.
pub struct Importer<'a> {
    pub principal: &'a crate::auth::service::Principal,
    pub invitation_days: i64,
}

/// Previews or commits a roster file. A commit with any problem writes nothing (422 naming
/// every problem).
pub async fn import(
    db: &DatabaseConnection,
    mailer: &Mailer,
    importer: &Importer<'_>,
    bytes: &[u8],
    full: bool,
    dry_run: bool,
    lang: Lang,
) -> AppResult<RosterReport> {
    let org_id = importer.principal.org_id;
    let (text, encoding) =
        decode(bytes).ok_or_else(|| AppError::BadRequest(Msg::new("roster.encoding")))?;
    let txn = crate::db::begin_write(db).await?;
    let plan = plan(&txn, org_id, &text, encoding, full, dry_run, lang).await?;
    if dry_run {
        return Ok(plan.report);
    }
    if !plan.report.problems.is_empty() {
        return Err(AppError::Validation(
            plan.report
                .problems
                .iter()
                .map(|p| {
                    crate::error::FieldIssue::new(
                        format!("line {}: {}", p.line, p.column),
                        Msg::new("roster.problem").arg("message", p.message.clone()),
                    )
                })
                .collect(),
        ));
    }
    let now = Utc::now();
    let mut ids: HashMap<String, i64> = plan.existing_ids.clone();
    let mut new_people = Vec::new();
    for row in &plan.rows {
        let position_id = row
            .position
            .as_ref()
            .and_then(|c| plan.positions.get(c))
            .copied();
        let saved = match plan.matched.get(&row.line) {
            Some(u) => {
                let mut active = u.clone().into_active_model();
                active.display_name = Set(row.name.clone());
                active.email = Set(row.email.clone());
                active.employee_id = Set(Some(row.employee_id.clone()));
                active.department = Set(Some(row.department.clone()));
                active.position_id = Set(position_id);
                if let Some(l) = row.language {
                    active.language = Set(l.tag().to_string());
                }
                if u.status == "deactivated" {
                    active.status = Set(if u.password_hash.is_some() {
                        "active"
                    } else {
                        "invited"
                    }
                    .into());
                }
                active.updated_at = Set(now);
                active.update(&txn).await?
            }
            None => {
                let new = crate::auth::service::NewUser {
                    email: Email::parse("email", &row.email)
                        .map_err(|i| AppError::Validation(vec![i]))?,
                    display_name: DisplayName::parse("name", &row.name)
                        .map_err(|i| AppError::Validation(vec![i]))?,
                    language: row.language.unwrap_or_default(),
                    roles: vec![Role::Learner],
                    password_hash: None,
                };
                let u = crate::auth::service::insert_user(&txn, org_id, &new).await?;
                let mut active = u.into_active_model();
                active.employee_id = Set(Some(row.employee_id.clone()));
                active.department = Set(Some(row.department.clone()));
                active.position_id = Set(position_id);
                active.from_roster = Set(true);
                let u = active.update(&txn).await?;
                new_people.push(u.clone());
                u
            }
        };
        ids.insert(row.employee_id.clone(), saved.id);
    }
    // Managers, once everyone exists.
    for row in &plan.rows {
        let Some(&id) = ids.get(&row.employee_id) else {
            continue;
        };
        let manager_id = row.manager.as_ref().and_then(|m| ids.get(m)).copied();
        user::Entity::update_many()
            .col_expr(
                user::Column::ManagerId,
                sea_orm::sea_query::Expr::value(manager_id),
            )
            .filter(user::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    for u in &plan.deactivate {
        let mut active = u.clone().into_active_model();
        active.status = Set("deactivated".into());
        active.token_version = Set(u.token_version + 1);
        active.updated_at = Set(now);
        active.update(&txn).await?;
    }
    for u in &new_people {
        crate::auth::onboarding::issue_invitation(
            &txn,
            mailer,
            u,
            Some(importer.principal),
            importer.invitation_days,
        )
        .await?;
    }
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(org_id),
            actor_user_id: Some(importer.principal.id),
            action: "roster.imported",
            target_type: "roster",
            after: Some(json!({
                "mode": plan.report.mode,
                "created": plan.report.created.len(),
                "updated": plan.report.updated.len(),
                "deactivated": plan.report.deactivated.len(),
            })),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(plan.report)
}

/// The organization's roster as CSV (UTF-8 with a BOM so Excel reads the names).
pub async fn export<C: ConnectionTrait>(conn: &C, org_id: i64) -> AppResult<Vec<u8>> {
    let people = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Status.ne("deactivated"))
        .all(conn)
        .await?;
    let codes: HashMap<i64, String> = position::Entity::find()
        .filter(position::Column::OrgId.eq(org_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect();
    let employee: HashMap<i64, String> = people
        .iter()
        .filter_map(|u| u.employee_id.clone().map(|e| (u.id, e)))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    w.write_record(COLUMNS).map_err(err)?;
    for u in &people {
        w.write_record([
            u.employee_id.as_deref().unwrap_or_default(),
            &u.display_name,
            &u.email,
            u.department.as_deref().unwrap_or_default(),
            u.manager_id
                .and_then(|m| employee.get(&m))
                .map_or("", String::as_str),
            u.position_id
                .and_then(|p| codes.get(&p))
                .map_or("", String::as_str),
            &u.language,
        ])
        .map_err(err)?;
    }
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend(
        w.into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encodings_are_recognised() {
        let text = "employee_id,name\nE1,张伟\n";
        assert_eq!(decode(text.as_bytes()).unwrap().1, "utf-8");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(text.as_bytes());
        assert_eq!(decode(&bom).unwrap(), (text.to_string(), "utf-8 (BOM)"));
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        assert_eq!(decode(&gb).unwrap(), (text.to_string(), "gb18030"));
    }

    #[test]
    fn quoted_fields_duplicates_and_bad_cells_are_reported_by_line_and_column() {
        let csv = "employee_id,name,email,department,manager_employee_id,position\n\
                   E1,\"Wang, Wei\",wang@x.test,\"Store 1\nNorth\",,\n\
                   E1,Li,li@x.test,Store 1,,\n\
                   E3,,not-an-email,Store 1,E3,\n";
        let (rows, problems) = parse(csv, Lang::En);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Wang, Wei");
        assert_eq!(rows[0].department, "Store 1\nNorth");
        let cells: Vec<(u64, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert!(cells.contains(&(4, "employee_id")), "{problems:?}");
        assert!(cells.contains(&(5, "name")), "{problems:?}");
        assert!(cells.contains(&(5, "email")), "{problems:?}");
        assert!(cells.contains(&(5, "manager_employee_id")), "{problems:?}");
    }

    #[test]
    fn a_missing_column_is_named() {
        let (_, problems) = parse("employee_id,name,email\nE1,A,a@x.test\n", Lang::En);
        let columns: Vec<&str> = problems.iter().map(|p| p.column.as_str()).collect();
        assert_eq!(
            columns,
            vec!["department", "manager_employee_id", "position"]
        );
    }
}
