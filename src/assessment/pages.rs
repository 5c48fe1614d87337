//! Exam pages: certifications to sit, the timed exam (works without scripts; `static/exam.js`
//! adds autosave, a countdown tied to the server's deadline, a navigator and flags), results.
use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::exam::{self, AttemptView, CertificationView, ResultView};
use super::grading::Presentation;
use crate::auth::{CurrentUser, PageForm};
use crate::catalog::service::Viewer;
use crate::error::{AppError, AppResult};
use crate::startup::AppState;
use crate::web::pages::render;

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
    items: Vec<CertificationView>,
}

/// The certifications you can sit.
#[get("/certifications")]
pub async fn certifications_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = exam::list_certifications(&state.db, &viewer(&state, &user)).await?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "certifications.html",
        CertificationsPage { items },
    )
}

/// Starts (or resumes) an attempt and opens the exam.
/// The start form: the pledge checkbox, when the organization asks for one.
#[derive(Deserialize)]
pub struct StartForm {
    pledge: Option<String>,
}

#[post("/certifications/{id}/start")]
pub async fn start_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<StartForm>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let _ = &req;
    let (view, _) = exam::start(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
        form.0.pledge.as_deref() == Some("accepted"),
    )
    .await?;
    Ok(redirect(format!("/exams/{}", view.id)))
}

#[derive(Serialize)]
struct ExamPage {
    attempt: AttemptView,
    saved: bool,
    /// The deadline as a person reads it, for browsers without scripts.
    deadline_label: String,
    /// Who sits which attempt, printed faintly across the page so that a photographed question
    /// can be traced.
    watermark: String,
}

#[derive(Deserialize)]
struct ExamQuery {
    saved: Option<String>,
}

/// The exam.
#[get("/exams/{id}")]
pub async fn exam_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<ExamQuery>,
) -> AppResult<HttpResponse> {
    let attempt = exam::attempt_view(
        &state.db,
        &state.mailer,
        &viewer(&state, &user),
        path.into_inner(),
    )
    .await?;
    if attempt.status != "open" {
        return Ok(redirect(format!("/exams/{}/result", attempt.id)));
    }
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "exam.html",
        ExamPage {
            deadline_label: attempt.deadline_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            watermark: format!("{} · {} · #{}", user.display_name, user.email, attempt.id),
            attempt,
            saved: query.saved.is_some(),
        },
    )
}

/// Turns the exam form's fields into one response per question (the wire form of the API).
fn responses_from_form(attempt: &AttemptView, fields: &[(String, String)]) -> Vec<(i64, Value)> {
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, v) in fields {
        by_name.entry(k.as_str()).or_default().push(v.as_str());
    }
    let mut out = Vec::new();
    for q in &attempt.questions {
        let name = format!("q{}", q.id);
        let values = by_name.get(name.as_str()).cloned().unwrap_or_default();
        let first = values
            .first()
            .copied()
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let response = match &q.answer {
            Presentation::SingleChoice { .. } => first.map(|v| json!(v)),
            Presentation::MultipleChoice { .. } => {
                // A hidden marker says the question was on the form, so "none ticked" is an answer.
                by_name
                    .contains_key(format!("{name}.shown").as_str())
                    .then(|| json!(values))
            }
            Presentation::TrueFalse => first.map(|v| json!(v == "true")),
            Presentation::ShortAnswer | Presentation::Essay => first.map(|v| json!(v)),
            Presentation::Numerical => first
                .and_then(|v| v.replace(',', ".").parse::<f64>().ok())
                .map(|n| json!(n)),
            Presentation::Matching { items, .. } => {
                let map: serde_json::Map<String, Value> = items
                    .iter()
                    .filter_map(|i| {
                        by_name
                            .get(format!("{name}.{}", i.id).as_str())
                            .and_then(|v| v.first())
                            .filter(|v| !v.is_empty())
                            .map(|v| (i.id.clone(), json!(v)))
                    })
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Presentation::Description => None,
        };
        if let Some(r) = response {
            if q.response.as_ref() != Some(&r) {
                out.push((q.id, r));
            }
        }
    }
    out
}

/// Saves the whole exam form (works without scripts), and submits it when asked.
#[post("/exams/{id}/save")]
pub async fn exam_save(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let _ = &req;
    let id = path.into_inner();
    let v = viewer(&state, &user);
    let attempt = exam::attempt_view(&state.db, &state.mailer, &v, id).await?;
    let submit = form
        .0
        .iter()
        .any(|(k, val)| k == "action" && val == "submit");
    if attempt.status == "open" {
        for (question, response) in responses_from_form(&attempt, &form.0) {
            match exam::save_answer(&state.db, &state.question_kinds, &v, id, question, response)
                .await
            {
                // A malformed field (a hand-edited form) is skipped, not fatal to the others.
                Ok(()) | Err(AppError::Validation(_)) => {}
                Err(AppError::Conflict(_)) => break,
                Err(other) => return Err(other),
            }
        }
    }
    if submit {
        exam::submit(&state.db, &state.mailer, &v, id).await?;
        return Ok(redirect(format!("/exams/{id}/result")));
    }
    Ok(redirect(format!("/exams/{id}?saved=1")))
}

#[derive(Serialize)]
struct ResultPage {
    result: ResultView,
    certification: Option<CertificationView>,
    competency_names: HashMap<String, (String, String)>,
}

/// A result: pass or fail, score, and a bar per competency.
#[get("/exams/{id}/result")]
pub async fn result_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let v = viewer(&state, &user);
    let result = exam::result(&state.db, &v, path.into_inner(), false).await?;
    let certification = exam::list_certifications(&state.db, &v)
        .await?
        .into_iter()
        .find(|c| c.id == result.certification_id);
    let competency_names = crate::catalog::service::categories(&state.db)
        .await?
        .into_iter()
        .flat_map(|c| {
            c.competencies
                .into_iter()
                .map(|k| (k.id, (k.name, k.name_zh)))
        })
        .collect();
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "result.html",
        ResultPage {
            result,
            certification,
            competency_names,
        },
    )
}

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(certifications_page)
        .service(start_submit)
        .service(exam_page)
        .service(exam_save)
        .service(result_page);
}
