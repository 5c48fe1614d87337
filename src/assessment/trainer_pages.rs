//! Trainers' exam pages: their certifications, the blueprint editor (which says when the banks
//! cannot fill a blueprint), item statistics with a chart and the item-health list, the essay
//! grading queue, and the review of one attempt beside its integrity signals.
use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exam::{self, AttemptSignal, BlueprintEditor, StatisticsReport, TrainerCertification};
use super::grading::Presentation;
use crate::auth::{CurrentUser, PageForm, RequireRole, Trainer};
use crate::catalog::content::BlueprintSection;
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult, Msg};
use crate::i18n::{t, Lang};
use crate::startup::AppState;
use crate::web::pages::render;
use crate::web::request_lang;

fn viewer(state: &AppState, user: &CurrentUser) -> Viewer {
    Viewer::of(user, state.platform_org_id)
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

#[derive(Serialize)]
struct CertificationsPage {
    items: Vec<TrainerCertification>,
    queue: usize,
}

/// The certifications a trainer works with, and how many essays wait for a mark.
#[get("/trainer/certifications")]
pub async fn certifications_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
) -> AppResult<HttpResponse> {
    let v = viewer(&state, &trainer);
    let page = CertificationsPage {
        items: exam::trainer_certifications(&state.db, &v).await?,
        queue: exam::grading_queue(&state.db, &v).await?.len(),
    };
    render(
        &state,
        &req,
        Some(&trainer),
        StatusCode::OK,
        "trainer_certifications.html",
        page,
    )
}

#[derive(Serialize)]
struct BlueprintPage {
    editor: BlueprintEditor,
    rows: Vec<RowView>,
    total: u32,
    saved: bool,
    errors: Vec<String>,
}

/// A row of the editor as the template draws it.
#[derive(Serialize)]
struct RowView {
    competency: String,
    name: String,
    name_zh: String,
    cells: [CellView; 3],
}

#[derive(Serialize)]
struct CellView {
    difficulty: &'static str,
    count: u32,
    available: u64,
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

/// The editor's page, showing what the trainer typed (not what is stored) beside problems.
fn blueprint_view(
    mut editor: BlueprintEditor,
    saved: bool,
    errors: Vec<String>,
    typed: Option<&HashMap<String, [u32; 3]>>,
) -> BlueprintPage {
    if let Some(typed) = typed {
        for row in &mut editor.rows {
            if let Some([e, m, h]) = typed.get(&row.competency) {
                (row.easy, row.medium, row.hard) = (*e, *m, *h);
            }
        }
    }
    let total = editor.rows.iter().map(|r| r.easy + r.medium + r.hard).sum();
    let rows = editor
        .rows
        .iter()
        .map(|r| RowView {
            competency: r.competency.clone(),
            name: r.name.clone(),
            name_zh: r.name_zh.clone(),
            cells: [
                CellView {
                    difficulty: "easy",
                    count: r.easy,
                    available: r.available_easy,
                },
                CellView {
                    difficulty: "medium",
                    count: r.medium,
                    available: r.available_medium,
                },
                CellView {
                    difficulty: "hard",
                    count: r.hard,
                    available: r.available_hard,
                },
            ],
        })
        .collect();
    BlueprintPage {
        editor,
        rows,
        total,
        saved,
        errors,
    }
}

/// The blueprint editor: questions to draw per competency and difficulty, beside what the
/// banks hold.
#[get("/trainer/certifications/{id}/blueprint")]
pub async fn blueprint_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    query: web::Query<SavedQuery>,
) -> AppResult<HttpResponse> {
    let editor =
        exam::blueprint_editor(&state.db, &viewer(&state, &trainer), path.into_inner()).await?;
    render(
        &state,
        &req,
        Some(&trainer),
        StatusCode::OK,
        "blueprint.html",
        blueprint_view(editor, query.saved.is_some(), Vec::new(), None),
    )
}

/// Reads the editor's fields (`easy.{competency}`, `medium.…`, `hard.…`), in the editor's order.
fn typed_counts(
    editor: &BlueprintEditor,
    fields: &[(String, String)],
    lang: Lang,
) -> (HashMap<String, [u32; 3]>, Vec<String>) {
    let mut typed = HashMap::new();
    let mut errors = Vec::new();
    for row in &editor.rows {
        let mut counts = [0u32; 3];
        for (i, difficulty) in ["easy", "medium", "hard"].iter().enumerate() {
            let name = format!("{difficulty}.{}", row.competency);
            let raw = fields
                .iter()
                .find(|(k, _)| *k == name)
                .map_or("", |(_, v)| v.trim());
            if raw.is_empty() {
                continue;
            }
            match raw.parse::<u32>() {
                Ok(n) if n <= 100 => counts[i] = n,
                _ => errors.push(format!(
                    "{} · {}: {}",
                    row_name(row, lang),
                    t(lang, &format!("difficulty.{difficulty}"), &[]),
                    t(
                        lang,
                        "validation.range",
                        &[("min", "0".into()), ("max", "100".into())]
                    )
                )),
            }
        }
        typed.insert(row.competency.clone(), counts);
    }
    (typed, errors)
}

fn row_name(row: &exam::BlueprintRow, lang: Lang) -> String {
    match lang {
        Lang::ZhCn if !row.name_zh.is_empty() => row.name_zh.clone(),
        _ => row.name.clone(),
    }
}

/// Saves the blueprint; one the banks cannot fill is refused, naming each short cell.
#[post("/trainer/certifications/{id}/blueprint")]
pub async fn blueprint_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &trainer);
    let lang = request_lang(&req);
    let editor = exam::blueprint_editor(&state.db, &v, id).await?;
    if !editor.editable {
        return Err(AppError::Forbidden(Msg::new("error.platform_content")));
    }
    let (typed, errors) = typed_counts(&editor, &form.0, lang);
    if !errors.is_empty() {
        return render(
            &state,
            &req,
            Some(&trainer),
            StatusCode::UNPROCESSABLE_ENTITY,
            "blueprint.html",
            blueprint_view(editor, false, errors, Some(&typed)),
        );
    }
    let rows: Vec<&exam::BlueprintRow> = editor
        .rows
        .iter()
        .filter(|r| {
            typed
                .get(&r.competency)
                .is_some_and(|c| c.iter().sum::<u32>() > 0)
        })
        .collect();
    let sections: Vec<BlueprintSection> = rows
        .iter()
        .filter_map(|r| {
            typed.get(&r.competency).map(|[e, m, h]| BlueprintSection {
                competency: r.competency.clone(),
                easy: *e,
                medium: *m,
                hard: *h,
            })
        })
        .collect();
    match exam::set_blueprint(&state.db, &v, id, sections).await {
        Ok(_) => Ok(redirect(format!(
            "/trainer/certifications/{id}/blueprint?saved=1"
        ))),
        Err(AppError::Validation(issues)) => {
            // Field names are `sections[i].difficulty`: name the competency instead.
            let errors = issues
                .iter()
                .map(|issue| {
                    let cell = issue
                        .field
                        .strip_prefix("sections[")
                        .and_then(|rest| rest.split_once("]."))
                        .and_then(|(i, d)| Some((rows.get(i.parse::<usize>().ok()?)?, d)));
                    match cell {
                        Some((row, difficulty)) => format!(
                            "{} · {}: {}",
                            row_name(row, lang),
                            t(lang, &format!("difficulty.{difficulty}"), &[]),
                            issue.message.render(lang)
                        ),
                        None => issue.message.render(lang),
                    }
                })
                .collect();
            let editor = exam::blueprint_editor(&state.db, &v, id).await?;
            render(
                &state,
                &req,
                Some(&trainer),
                StatusCode::UNPROCESSABLE_ENTITY,
                "blueprint.html",
                blueprint_view(editor, false, errors, Some(&typed)),
            )
        }
        Err(other) => Err(other),
    }
}

/// Reads a number field of a page form; a missing or malformed one is an error naming it.
fn number<T: std::str::FromStr>(
    fields: &[(String, String)],
    name: &str,
    lang: Lang,
    errors: &mut Vec<String>,
) -> Option<T> {
    let raw = fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim());
    match raw.parse::<T>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(format!(
                "{}: {}",
                t(lang, &format!("rules.{name}"), &[]),
                t(lang, "validation.mark_number", &[])
            ));
            None
        }
    }
}

fn text(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// The exam rules typed in the rules form.
fn rules_from_form(
    fields: &[(String, String)],
    lang: Lang,
    errors: &mut Vec<String>,
) -> Option<super::authoring::RulesInput> {
    let validity_months = number(fields, "validity_months", lang, errors);
    let pass_percent = number(fields, "pass_percent", lang, errors);
    let excellent_percent = number(fields, "excellent_percent", lang, errors);
    let min_competency_percent = number(fields, "min_competency_percent", lang, errors);
    let max_attempts = number(fields, "max_attempts", lang, errors);
    let cooldown_hours = number(fields, "cooldown_hours", lang, errors);
    let time_limit_minutes = number(fields, "time_limit_minutes", lang, errors);
    let grace_minutes = number(fields, "grace_minutes", lang, errors);
    Some(super::authoring::RulesInput {
        validity_months: validity_months?,
        required_courses: text(fields, "required_courses")
            .split([',', ' ', '，'])
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        pass_percent: pass_percent?,
        excellent_percent: excellent_percent?,
        min_competency_percent: min_competency_percent?,
        max_attempts: max_attempts?,
        cooldown_hours: cooldown_hours?,
        time_limit_minutes: time_limit_minutes?,
        on_timeout: text(fields, "on_timeout"),
        grace_minutes: grace_minutes?,
        counted_attempt: text(fields, "counted_attempt"),
        review: text(fields, "review"),
        evidence_bands: None,
    })
}

/// Problems of a refused edit, as sentences naming the field.
fn issue_lines(issues: &[crate::error::FieldIssue], lang: Lang) -> Vec<String> {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
        .collect()
}

async fn refused(
    state: &AppState,
    req: &HttpRequest,
    trainer: &CurrentUser,
    id: i64,
    errors: Vec<String>,
) -> AppResult<HttpResponse> {
    let editor = exam::blueprint_editor(&state.db, &viewer(state, trainer), id).await?;
    render(
        state,
        req,
        Some(trainer),
        StatusCode::UNPROCESSABLE_ENTITY,
        "blueprint.html",
        blueprint_view(editor, false, errors, None),
    )
}

/// Saves a certification's exam rules from the rules form (its owner's trainers).
#[post("/trainer/certifications/{id}/rules")]
pub async fn rules_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let lang = request_lang(&req);
    let editor = exam::blueprint_editor(&state.db, &viewer(&state, &trainer), id).await?;
    if !editor.editable {
        return Err(AppError::Forbidden(Msg::new("error.platform_content")));
    }
    let mut errors = Vec::new();
    let Some(mut rules) = rules_from_form(&form.0, lang, &mut errors) else {
        return refused(&state, &req, &trainer, id, errors).await;
    };
    // The form does not edit evidence bands: the certification keeps its own.
    rules.evidence_bands =
        serde_json::from_value(editor.rules["evidence_bands"].clone()).unwrap_or_default();
    match super::authoring::set_rules(&state.db, &viewer(&state, &trainer), id, rules).await {
        Ok(_) => Ok(redirect(format!(
            "/trainer/certifications/{id}/blueprint?saved=1"
        ))),
        Err(AppError::Validation(issues)) => {
            refused(&state, &req, &trainer, id, issue_lines(&issues, lang)).await
        }
        Err(other) => Err(other),
    }
}

/// Copies a certification (a platform one, or the organization's own) as a new certification
/// of the trainer's organization, with its rules and blueprint, to adapt from there.
#[post("/trainer/certifications/{id}/copy")]
pub async fn copy_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let lang = request_lang(&req);
    let v = viewer(&state, &trainer);
    let source = exam::visible_certification(&state.db, &v, id).await?;
    let rules: super::authoring::RulesInput =
        serde_json::from_value(source.settings.clone()).map_err(AppError::internal)?;
    let input = super::authoring::NewCertification {
        code: text(&form.0, "code"),
        category: source.category_id.clone(),
        level: source.level,
        title: text(&form.0, "title"),
        title_zh: source.title_zh.clone(),
        description: source.description.clone(),
        description_zh: source.description_zh.clone(),
        rules: super::authoring::RulesInput {
            required_courses: serde_json::from_value(source.required_courses.clone())
                .unwrap_or_default(),
            ..rules
        },
        blueprint: serde_json::from_value(source.blueprint.clone()).map_err(AppError::internal)?,
    };
    match super::authoring::create(&state.db, &v, input).await {
        Ok(saved) => Ok(redirect(format!(
            "/trainer/certifications/{}/blueprint?saved=1",
            saved.id
        ))),
        Err(AppError::Validation(issues)) => {
            refused(&state, &req, &trainer, id, issue_lines(&issues, lang)).await
        }
        Err(AppError::Conflict(msg)) => {
            refused(&state, &req, &trainer, id, vec![msg.render(lang)]).await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct ControlsForm {
    #[serde(default)]
    max_switches: String,
    #[serde(default)]
    pledge: String,
}

/// Saves the organization's integrity controls of a certification from its page (trainers).
#[post("/trainer/certifications/{id}/controls")]
pub async fn controls_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<ControlsForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let lang = request_lang(&req);
    let raw = form.0.max_switches.trim();
    let max_switches = if raw.is_empty() {
        None
    } else {
        match raw.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let line = format!("max_switches: {}", t(lang, "validation.mark_number", &[]));
                return refused(&state, &req, &trainer, id, vec![line]).await;
            }
        }
    };
    let input = super::controls::ControlsInput {
        max_switches,
        pledge: Some(form.0.pledge.clone()),
    };
    match super::controls::set(
        &state.db,
        &viewer(&state, &trainer),
        &trainer.actor(&req),
        id,
        &input,
    )
    .await
    {
        Ok(_) => Ok(redirect(format!(
            "/trainer/certifications/{id}/blueprint?saved=1"
        ))),
        Err(AppError::Validation(issues)) => {
            refused(&state, &req, &trainer, id, issue_lines(&issues, lang)).await
        }
        Err(other) => Err(other),
    }
}

/// A point of the facility/discrimination chart.
#[derive(Serialize)]
struct ChartPoint {
    x: f64,
    y: f64,
    label: String,
    problem: bool,
}

#[derive(Serialize)]
struct StatisticsPage {
    certification: Option<TrainerCertification>,
    report: StatisticsReport,
    points: Vec<ChartPoint>,
}

/// Chart geometry (SVG user units): the plot area inside the axes.
const CHART_LEFT: f64 = 48.0;
const CHART_TOP: f64 = 12.0;
const CHART_WIDTH: f64 = 560.0;
const CHART_HEIGHT: f64 = 240.0;

/// Places each question by facility (x, 0–100 %) and discrimination (y, −100–100 %).
fn chart_points(report: &StatisticsReport) -> Vec<ChartPoint> {
    report
        .questions
        .iter()
        .filter_map(|q| {
            let f = q.figures.facility?;
            let d = q.figures.discrimination?.clamp(-100.0, 100.0);
            Some(ChartPoint {
                x: CHART_LEFT + f.clamp(0.0, 100.0) / 100.0 * CHART_WIDTH,
                y: CHART_TOP + (100.0 - d) / 200.0 * CHART_HEIGHT,
                label: format!("{} · F {f:.0}% · D {d:.0}%", q.figures.question),
                problem: !q.figures.problems.is_empty(),
            })
        })
        .collect()
}

/// Item statistics: the test figures, a facility/discrimination chart, the questions that
/// misbehave and the whole table.
#[get("/trainer/certifications/{id}/statistics")]
pub async fn statistics_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &trainer);
    let report = exam::statistics(&state.db, &v, id).await?;
    let certification = exam::trainer_certifications(&state.db, &v)
        .await?
        .into_iter()
        .find(|c| c.id == id);
    render(
        &state,
        &req,
        Some(&trainer),
        StatusCode::OK,
        "statistics.html",
        StatisticsPage {
            certification,
            points: chart_points(&report),
            report,
        },
    )
}

#[derive(Serialize)]
struct GradingPage {
    items: Vec<exam::GradingItem>,
    graded: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GradedQuery {
    graded: Option<String>,
}

/// Essays waiting for a mark, oldest first, each with a marking form.
#[get("/trainer/grading")]
pub async fn grading_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    query: web::Query<GradedQuery>,
) -> AppResult<HttpResponse> {
    let items = exam::grading_queue(&state.db, &viewer(&state, &trainer)).await?;
    render(
        &state,
        &req,
        Some(&trainer),
        StatusCode::OK,
        "grading.html",
        GradingPage {
            items,
            graded: query.graded.is_some(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct GradeForm {
    mark: String,
    #[serde(default)]
    comment: String,
}

/// Marks one essay from the queue.
#[post("/trainer/grading/{attempt}/{question}")]
pub async fn grade_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<GradeForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (attempt_id, question_id) = path.into_inner();
    let v = viewer(&state, &trainer);
    let lang = request_lang(&req);
    let mark = form.0.mark.trim().replace(',', ".").parse::<f64>();
    let comment = Some(form.0.comment.trim().chars().take(2000).collect::<String>())
        .filter(|c| !c.is_empty());
    let outcome = match mark {
        Ok(mark) if mark.is_finite() => {
            exam::grade_answer(
                &state.db,
                &state.mailer,
                &v,
                attempt_id,
                question_id,
                mark,
                comment,
            )
            .await
        }
        _ => Err(AppError::field("mark", "validation.mark_number")),
    };
    match outcome {
        Ok(_) => Ok(redirect("/trainer/grading?graded=1".to_string())),
        Err(AppError::Validation(issues)) => {
            let error = issues
                .iter()
                .map(|i| i.message.render(lang))
                .collect::<Vec<_>>()
                .join(" ");
            let items = exam::grading_queue(&state.db, &v).await?;
            render(
                &state,
                &req,
                Some(&trainer),
                StatusCode::UNPROCESSABLE_ENTITY,
                "grading.html",
                GradingPage {
                    items,
                    graded: false,
                    error: Some(error),
                },
            )
        }
        Err(other) => Err(other),
    }
}

/// A question of the review page, with the responses put into words.
#[derive(Serialize)]
struct ReviewRow {
    position: i32,
    external_id: String,
    text: String,
    competency: Option<String>,
    difficulty: String,
    kind: &'static str,
    response: String,
    correct: String,
    mark: Option<f64>,
    max_mark: f64,
}

#[derive(Serialize)]
struct ReviewPage {
    attempt_id: i64,
    learner: String,
    status: String,
    seed: i64,
    questions: Vec<ReviewRow>,
    signals: Vec<AttemptSignal>,
}

fn option_text(options: &[super::grading::OptionView], id: &str) -> String {
    options
        .iter()
        .find(|o| o.id == id)
        .map_or_else(|| id.to_string(), |o| o.text.clone())
}

/// A response as a trainer reads it: the options' texts rather than their ids.
fn describe(answer: &Presentation, response: Option<&Value>, lang: Lang) -> String {
    let Some(value) = response.filter(|v| !v.is_null()) else {
        return "—".to_string();
    };
    match (answer, value) {
        (Presentation::SingleChoice { options }, Value::String(id)) => option_text(options, id),
        (Presentation::MultipleChoice { options }, Value::Array(ids)) => {
            let texts: Vec<String> = ids
                .iter()
                .filter_map(Value::as_str)
                .map(|id| option_text(options, id))
                .collect();
            if texts.is_empty() {
                t(lang, "review.none_ticked", &[])
            } else {
                texts.join(" · ")
            }
        }
        (Presentation::TrueFalse, Value::Bool(b)) => {
            t(lang, if *b { "review.true" } else { "review.false" }, &[])
        }
        (Presentation::Matching { items, options }, Value::Object(map)) => items
            .iter()
            .map(|i| {
                let chosen = map
                    .get(&i.id)
                    .and_then(Value::as_str)
                    .map_or_else(|| "—".to_string(), |o| option_text(options, o));
                format!("{} → {chosen}", i.text)
            })
            .collect::<Vec<_>>()
            .join(" · "),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn kind_of(answer: &Presentation) -> &'static str {
    match answer {
        Presentation::SingleChoice { .. } => "single_choice",
        Presentation::MultipleChoice { .. } => "multiple_choice",
        Presentation::TrueFalse => "true_false",
        Presentation::ShortAnswer => "short_answer",
        Presentation::Numerical => "numerical",
        Presentation::Matching { .. } => "matching",
        Presentation::Essay => "essay",
        Presentation::Description => "description",
    }
}

/// One attempt as trainers review it: every question, the answer, the key and the mark, and
/// the integrity signals recorded while it was open (evidence, never a verdict).
#[get("/trainer/attempts/{id}")]
pub async fn review_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &trainer);
    let lang = request_lang(&req);
    let review = exam::review(&state.db, &v, id).await?;
    let signals = exam::attempt_signals(&state.db, &v, id).await?;
    let learner = crate::auth::entities::user::Entity::find_by_id(review.user_id)
        .one(&state.db)
        .await?
        .map_or_else(|| review.user_id.to_string(), |u| u.display_name);
    let questions = review
        .questions
        .into_iter()
        .map(|q| ReviewRow {
            response: describe(&q.answer, q.response.as_ref(), lang),
            correct: match q.answer {
                Presentation::Essay => t(lang, "review.trainer_marks", &[]),
                _ => describe(&q.answer, Some(&q.correct_response), lang),
            },
            kind: kind_of(&q.answer),
            position: q.position,
            external_id: q.external_id,
            text: q.text,
            competency: q.competency,
            difficulty: q.difficulty,
            mark: q.mark,
            max_mark: q.max_mark,
        })
        .collect();
    render(
        &state,
        &req,
        Some(&trainer),
        StatusCode::OK,
        "attempt_review.html",
        ReviewPage {
            attempt_id: review.attempt_id,
            learner,
            status: review.status,
            seed: review.seed,
            questions,
            signals,
        },
    )
}

/// Registers the trainers' exam pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(certifications_page)
        .service(blueprint_page)
        .service(blueprint_submit)
        .service(rules_submit)
        .service(controls_submit)
        .service(copy_submit)
        .service(statistics_page)
        .service(grading_page)
        .service(grade_submit)
        .service(review_page);
}
