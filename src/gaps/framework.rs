//! Competency models as Moodle's competency framework CSV (the format of Moodle's
//! `tool_lpimportcsv`): one framework row (the job category), one row per competency, and one
//! child row per proficiency level whose description holds the level's indicators.
//!
//! Unlike Moodle, which silently drops rows it cannot use, the import reports every bad row by
//! line and changes nothing unless the whole file is good. Names and descriptions travel in one
//! language per file (`en` or `zh-CN`); new competencies are refused (they need a value demand
//! and a business level, which the format cannot carry: add them in `course-content/`).
use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::roster::RowProblem;
use crate::catalog::entities::{competency, job_category};
use crate::error::{AppError, AppResult, FieldIssue, Msg};
use crate::i18n::Lang;

/// Moodle's column headers, in its order.
pub const HEADERS: [&str; 14] = [
    "Parent ID number",
    "ID number",
    "Short name",
    "Description",
    "Description format",
    "Scale values",
    "Scale configuration",
    "Rule type (optional)",
    "Rule outcome (optional)",
    "Rule config (optional)",
    "Cross-referenced competency ID numbers",
    "Exported ID (optional)",
    "Is framework",
    "Taxonomy",
];

/// Moodle's plain-text description format.
const FORMAT_PLAIN: &str = "2";
const SCALE_VALUES: &str = "Level 1,Level 2,Level 3,Level 4,Level 5";
/// Level 2 (associate) is the default and proficiency starts there.
const SCALE_CONFIGURATION: &str = r#"[{"scaleid":"0"},{"id":1,"scaledefault":0,"proficient":0},{"id":2,"scaledefault":1,"proficient":1},{"id":3,"scaledefault":0,"proficient":1},{"id":4,"scaledefault":0,"proficient":1},{"id":5,"scaledefault":0,"proficient":1}]"#;

fn level_id(competency: &str, level: u8) -> String {
    format!("{competency}.L{level}")
}

fn pick(lang: Lang, en: &str, zh: &str) -> String {
    if lang == Lang::ZhCn && !zh.is_empty() {
        zh.to_string()
    } else {
        en.to_string()
    }
}

/// The category's model as Moodle framework CSV.
pub async fn export<C: ConnectionTrait>(
    conn: &C,
    category_id: &str,
    lang: Lang,
) -> AppResult<Vec<u8>> {
    let category = job_category::Entity::find_by_id(category_id.to_string())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let competencies = competency::Entity::find()
        .filter(competency::Column::CategoryId.eq(category_id))
        .order_by_asc(competency::Column::Position)
        .all(conn)
        .await?;
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    w.write_record(HEADERS).map_err(err)?;
    let row =
        |parent: &str, id: &str, name: &str, description: &str, framework: bool| -> [String; 14] {
            [
                parent.to_string(),
                id.to_string(),
                name.to_string(),
                description.to_string(),
                FORMAT_PLAIN.to_string(),
                if framework {
                    SCALE_VALUES.into()
                } else {
                    String::new()
                },
                if framework {
                    SCALE_CONFIGURATION.into()
                } else {
                    String::new()
                },
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                id.to_string(),
                if framework { "1".into() } else { String::new() },
                if framework {
                    "competency,level".into()
                } else {
                    String::new()
                },
            ]
        };
    w.write_record(row(
        "",
        &category.id,
        &pick(lang, &category.name, &category.name_zh),
        &pick(lang, &category.description, &category.description_zh),
        true,
    ))
    .map_err(err)?;
    for c in &competencies {
        w.write_record(row(
            "",
            &c.id,
            &pick(lang, &c.name, &c.name_zh),
            &pick(lang, &c.description, &c.description_zh),
            false,
        ))
        .map_err(err)?;
        for (level, indicators) in levels_of(&c.levels) {
            w.write_record(row(
                &c.id,
                &level_id(&c.id, level),
                &format!("Level {level}"),
                &indicators.join("\n"),
                false,
            ))
            .map_err(err)?;
        }
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))
}

/// The stored levels: level → indicators.
fn levels_of(levels: &Value) -> BTreeMap<u8, Vec<String>> {
    levels
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let level = u8::try_from(l["level"].as_u64()?).ok()?;
            let indicators = l["indicators"]
                .as_array()?
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            Some((level, indicators))
        })
        .collect()
}

/// What an import changed (or, in a dry run, would change).
#[derive(Debug, Serialize, ToSchema)]
pub struct FrameworkReport {
    pub dry_run: bool,
    pub category: String,
    pub language: String,
    pub competencies: usize,
    /// Competencies whose name, description or indicators change.
    pub changed: Vec<String>,
    pub problems: Vec<RowProblem>,
}

struct Parsed {
    name: String,
    description: String,
    line: u64,
}

/// A framework CSV read and checked against the category's competencies (`existing`, by id):
/// every bad row by line and column, and what the good rows say.
struct Checked {
    problems: Vec<RowProblem>,
    competencies: BTreeMap<String, Parsed>,
    levels: BTreeMap<String, BTreeMap<u8, (Vec<String>, u64)>>,
}

/// Reads a framework CSV of the category `category_id`, with no database.
fn check_rows<V>(
    text: &str,
    category_id: &str,
    existing: &HashMap<String, V>,
    message_lang: Lang,
) -> Checked {
    let mut problems = Vec::new();
    macro_rules! push {
        ($line:expr, $column:expr, $msg:expr) => {
            problems.push(RowProblem {
                line: $line,
                column: $column.to_string(),
                message: $msg.render(message_lang),
            })
        };
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(_) => Vec::new(),
    };
    let index: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let col = |name: &str| index.get(name.to_lowercase().as_str()).copied();
    for h in HEADERS.iter().take(5).chain([&HEADERS[12]]) {
        if col(h).is_none() {
            push!(1, h, Msg::new("roster.missing_column"));
        }
    }
    let mut framework_rows = 0;
    let mut competencies: BTreeMap<String, Parsed> = BTreeMap::new();
    let mut levels: BTreeMap<String, BTreeMap<u8, (Vec<String>, u64)>> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    if problems.is_empty() {
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    push!(
                        e.position().map_or(0, |p| p.line()),
                        "",
                        Msg::new("roster.unreadable")
                    );
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let cell = |name: &str| {
                col(name)
                    .and_then(|i| record.get(i))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            let id = cell("ID number");
            let parent = cell("Parent ID number");
            let name = cell("Short name");
            let description = cell("Description");
            let format = cell("Description format");
            if !["", "0", "1", "2", "4"].contains(&format.as_str()) {
                push!(line, "Description format", Msg::new("framework.format"));
            }
            if id.is_empty() {
                push!(
                    line,
                    "ID number",
                    Msg::new("validation.length").arg("min", 1).arg("max", 100)
                );
                continue;
            }
            if !seen.insert(id.clone()) {
                push!(
                    line,
                    "ID number",
                    Msg::new("framework.duplicate").arg("id", id.clone())
                );
                continue;
            }
            if name.is_empty() || name.chars().count() > 100 {
                push!(
                    line,
                    "Short name",
                    Msg::new("validation.length").arg("min", 1).arg("max", 100)
                );
            }
            if !cell("Is framework").is_empty() && cell("Is framework") != "0" {
                framework_rows += 1;
                if id != category_id {
                    push!(
                        line,
                        "ID number",
                        Msg::new("framework.wrong_framework")
                            .arg("category", category_id.to_string())
                    );
                }
                continue;
            }
            if parent.is_empty() {
                if !existing.contains_key(&id) {
                    push!(
                        line,
                        "ID number",
                        Msg::new("framework.new_competency").arg("id", id.clone())
                    );
                    continue;
                }
                if description.is_empty() {
                    push!(
                        line,
                        "Description",
                        Msg::new("validation.length").arg("min", 1).arg("max", 5000)
                    );
                }
                competencies.insert(
                    id,
                    Parsed {
                        name,
                        description,
                        line,
                    },
                );
            } else {
                let level = id
                    .strip_prefix(&format!("{parent}.L"))
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=5).contains(n));
                let Some(level) = level else {
                    push!(
                        line,
                        "ID number",
                        Msg::new("framework.level_id").arg("expected", level_id(&parent, 1))
                    );
                    continue;
                };
                let indicators: Vec<String> = description
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                if indicators.is_empty() {
                    push!(line, "Description", Msg::new("framework.indicators"));
                }
                levels
                    .entry(parent)
                    .or_default()
                    .insert(level, (indicators, line));
            }
        }
        if framework_rows != 1 {
            push!(
                1,
                "Is framework",
                Msg::new("framework.one_framework").arg("found", framework_rows)
            );
        }
        for (parent, by_level) in &levels {
            if !competencies.contains_key(parent) {
                let line = by_level.values().next().map_or(0, |v| v.1);
                push!(
                    line,
                    "Parent ID number",
                    Msg::new("framework.unknown_parent").arg("id", parent.clone())
                );
            }
        }
        for (id, c) in &competencies {
            let count = levels.get(id).map_or(0, BTreeMap::len);
            if count != 5 {
                push!(
                    c.line,
                    "ID number",
                    Msg::new("framework.five_levels").arg("found", count)
                );
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    Checked {
        problems,
        competencies,
        levels,
    }
}

/// Checks a framework CSV of the category `category_id` whose competencies are `known`, with no
/// database (for fuzzing). Answers the number of problems; `None` when the bytes are not text.
pub fn check_only(bytes: &[u8], category_id: &str, known: &[&str]) -> Option<usize> {
    let (text, _) = super::roster::decode(bytes)?;
    let existing: HashMap<String, ()> = known.iter().map(|k| (k.to_string(), ())).collect();
    Some(
        check_rows(&text, category_id, &existing, Lang::En)
            .problems
            .len(),
    )
}

/// Checks a framework CSV against the category's model and, unless a dry run or any row is
/// bad, writes the names, descriptions and indicators in one transaction.
pub async fn import(
    db: &DatabaseConnection,
    category_id: &str,
    bytes: &[u8],
    lang: Lang,
    dry_run: bool,
    message_lang: Lang,
) -> AppResult<FrameworkReport> {
    let (text, _) = super::roster::decode(bytes)
        .ok_or_else(|| AppError::BadRequest(Msg::new("roster.encoding")))?;
    let txn = crate::db::begin_write(db).await?;
    let category = job_category::Entity::find_by_id(category_id.to_string())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let existing: HashMap<String, competency::Model> = competency::Entity::find()
        .filter(competency::Column::CategoryId.eq(category_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let Checked {
        problems,
        competencies,
        levels,
    } = check_rows(&text, &category.id, &existing, message_lang);
    let mut changed = Vec::new();
    for (id, c) in &competencies {
        let Some(old) = existing.get(id) else {
            continue;
        };
        let (old_name, old_description) = match lang {
            Lang::ZhCn => (&old.name_zh, &old.description_zh),
            Lang::En => (&old.name, &old.description),
        };
        let new_levels: Vec<Value> = levels
            .get(id)
            .map(|m| {
                m.iter()
                    .map(|(l, (ind, _))| json!({"level": l, "indicators": ind}))
                    .collect()
            })
            .unwrap_or_default();
        let indicators_change =
            lang == Lang::En && levels_of(&old.levels) != levels_of(&json!(new_levels));
        if *old_name != c.name || *old_description != c.description || indicators_change {
            changed.push(id.clone());
            if problems.is_empty() && !dry_run {
                let mut active = old.clone().into_active_model();
                match lang {
                    Lang::ZhCn => {
                        active.name_zh = Set(c.name.clone());
                        active.description_zh = Set(c.description.clone());
                    }
                    Lang::En => {
                        active.name = Set(c.name.clone());
                        active.description = Set(c.description.clone());
                        active.levels = Set(json!(new_levels));
                    }
                }
                active.update(&txn).await?;
            }
        }
    }
    let report = FrameworkReport {
        dry_run,
        category: category.id.clone(),
        language: lang.tag().to_string(),
        competencies: competencies.len(),
        changed,
        problems,
    };
    if !report.problems.is_empty() && !dry_run {
        return Err(AppError::Validation(
            report
                .problems
                .iter()
                .map(|p| {
                    FieldIssue::new(
                        format!("line {}: {}", p.line, p.column),
                        Msg::new("roster.problem").arg("message", p.message.clone()),
                    )
                })
                .collect(),
        ));
    }
    if !dry_run {
        crate::audit::record(
            &txn,
            crate::audit::AuditEvent {
                action: "competency_model.imported",
                target_type: "job_category",
                target_id: Some(category.id),
                after: Some(json!({"language": report.language, "changed": report.changed})),
                ..Default::default()
            },
        )
        .await?;
        txn.commit().await?;
    }
    Ok(report)
}
