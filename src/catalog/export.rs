//! Writing courses back to the file layout of `course-content/`, so that edits made in the pages
//! round-trip into the reviewed files.
use std::path::Path;

use anyhow::Context;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::bank::{current_questions, to_gift};
use super::content::{self, CourseSpec, Develops};
use super::entities::{course, course_competency, lesson};
use crate::assessment::gift;

#[derive(Serialize)]
struct LessonFrontOut<'a> {
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title_zh: Option<&'a str>,
    kind: &'a str,
    estimated_minutes: i32,
}

/// Writes one course (its draft when there is one, else its published version) into
/// `dir/courses/<code>/`, replacing what was there. Answers the folder written.
pub async fn export_course(
    db: &DatabaseConnection,
    c: &course::Model,
    dir: &Path,
) -> anyhow::Result<std::path::PathBuf> {
    let version = c
        .draft_version_id
        .or(c.published_version_id)
        .context("the course has no version to export")?;
    let develops = course_competency::Entity::find()
        .filter(course_competency::Column::CourseId.eq(c.id))
        .all(db)
        .await?
        .into_iter()
        .map(|d| Develops {
            competency: d.competency_id,
            level: d.level,
        })
        .collect();
    let spec = CourseSpec {
        code: c.code.clone(),
        title: c.title.clone(),
        title_zh: c.title_zh.clone(),
        summary: c.summary.clone(),
        summary_zh: c.summary_zh.clone(),
        category: c.category_id.clone(),
        area: c.area.clone(),
        level: c.level,
        estimated_minutes: c.estimated_minutes,
        prerequisites: serde_json::from_value(c.prerequisites.clone()).unwrap_or_default(),
        status: if c.published_version_id.is_some() {
            "published".into()
        } else {
            "draft".into()
        },
        develops,
    };
    let folder = dir.join("courses").join(&c.code);
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot replace {}", folder.display()))?;
    }
    std::fs::create_dir_all(folder.join("lessons"))?;
    std::fs::write(folder.join("course.toml"), toml::to_string(&spec)?)?;
    let lessons = lesson::Entity::find()
        .filter(lesson::Column::CourseVersionId.eq(version))
        .order_by_asc(lesson::Column::Position)
        .all(db)
        .await?;
    for (i, l) in lessons.iter().enumerate() {
        let front = toml::to_string(&LessonFrontOut {
            title: &l.title,
            title_zh: l.title_zh.as_deref(),
            kind: &l.kind,
            estimated_minutes: l.estimated_minutes,
        })?;
        let name = format!("{:02}-{}.md", i + 1, l.slug);
        std::fs::write(
            folder.join("lessons").join(name),
            format!("+++\n{front}+++\n\n{}\n", l.body_md.trim_end()),
        )?;
    }
    let questions = current_questions(db, c.id)
        .await?
        .iter()
        .map(to_gift)
        .collect::<Result<Vec<_>, _>>()?;
    if !questions.is_empty() {
        std::fs::write(folder.join("questions.gift"), gift::write(&questions))?;
    }
    // The files now hold the course as the database does: an import will not see a conflict.
    let written = content::load_course_dir(dir, &folder).map_err(|errors| {
        anyhow::anyhow!(
            "the exported course does not load back: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    course::Entity::update_many()
        .col_expr(
            course::Column::SourceHash,
            sea_orm::sea_query::Expr::value(written.hash),
        )
        .col_expr(
            course::Column::EditedAt,
            sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(course::Column::Id.eq(c.id))
        .exec(db)
        .await?;
    Ok(folder)
}
