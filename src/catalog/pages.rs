//! Pages of the catalog: browsing, a course, a lesson, my learning; and the trainer's course
//! editor (course description, lessons with Markdown preview, question bank as GIFT, publishing).
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::bank;
use super::content::{AREAS, LESSON_KINDS};
use super::service::{
    self, CategoryView, CourseCard, CourseDetail, CourseFilter, LearningItem, LessonInput,
    LessonView, NewCourse, Viewer,
};
use crate::auth::{CurrentUser, PageForm, RequireRole, Trainer};
use crate::error::{AppError, AppResult};
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

#[derive(Deserialize)]
struct CatalogQuery {
    category: Option<String>,
    level: Option<i32>,
    q: Option<String>,
    competency: Option<String>,
    area: Option<String>,
}

#[derive(Serialize)]
struct CatalogPage {
    categories: Vec<CategoryView>,
    courses: Vec<CourseCard>,
    total: u64,
    category: String,
    level: i32,
    q: String,
    competency: String,
    area: String,
    areas: Vec<&'static str>,
}

/// The catalog: filter by category, level, competency and words.
#[get("/catalog")]
pub async fn catalog_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    query: web::Query<CatalogQuery>,
) -> AppResult<HttpResponse> {
    let nonempty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let filter = CourseFilter {
        category: nonempty(&query.category),
        area: nonempty(&query.area),
        competency: nonempty(&query.competency),
        level: query.level.filter(|l| (1..=5).contains(l)),
        q: nonempty(&query.q),
        limit: 200,
        offset: 0,
    };
    let (courses, total) =
        service::list_courses(&state.db, &viewer(&state, &user), &filter).await?;
    let page = CatalogPage {
        categories: service::categories(&state.db).await?,
        courses,
        total,
        category: filter.category.unwrap_or_default(),
        level: filter.level.unwrap_or(0),
        q: filter.q.unwrap_or_default(),
        competency: filter.competency.unwrap_or_default(),
        area: filter.area.unwrap_or_default(),
        areas: AREAS.to_vec(),
    };
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "catalog.html",
        page,
    )
}

#[derive(Serialize)]
struct CoursePage {
    course: CourseDetail,
}

/// A course: what it develops, its lessons, your progress.
#[get("/courses/{id}")]
pub async fn course_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let course =
        service::course_detail(&state.db, &viewer(&state, &user), path.into_inner(), false).await?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "course.html",
        CoursePage { course },
    )
}

#[derive(Deserialize)]
struct EmptyForm {}

/// Enrols from the course page.
#[post("/courses/{id}/enrol")]
pub async fn enrol_submit(
    state: web::Data<AppState>,
    _form: PageForm<EmptyForm>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (view, _) = service::enrol(&state.db, &viewer(&state, &user), id).await?;
    Ok(redirect(match view.next_lesson_id {
        Some(lesson) => format!("/lessons/{lesson}"),
        None => format!("/courses/{id}"),
    }))
}

#[derive(Serialize)]
struct LessonPage {
    lesson: LessonView,
}

/// The lesson reader.
#[get("/lessons/{id}")]
pub async fn lesson_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let lesson = service::open_lesson(&state.db, &viewer(&state, &user), path.into_inner()).await?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "lesson.html",
        LessonPage { lesson },
    )
}

/// Marks a lesson complete from its page and moves on.
#[post("/lessons/{id}/complete")]
pub async fn complete_submit(
    state: web::Data<AppState>,
    _form: PageForm<EmptyForm>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &user);
    // Completing first: opening the lesson starts a new study interval.
    service::complete_lesson(&state.db, &v, id).await?;
    let lesson = service::open_lesson(&state.db, &v, id).await?;
    Ok(redirect(match lesson.next_lesson_id {
        Some(next) => format!("/lessons/{next}"),
        None => format!("/courses/{}", lesson.course_id),
    }))
}

#[derive(Serialize)]
struct LearningPage {
    items: Vec<LearningItem>,
}

/// My learning: enrolled courses with progress, and where to resume.
#[get("/learning")]
pub async fn learning_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let items = service::my_learning(&state.db, &viewer(&state, &user)).await?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "learning.html",
        LearningPage { items },
    )
}

#[derive(Serialize)]
struct TrainerPage {
    courses: Vec<CourseCard>,
    categories: Vec<CategoryView>,
    areas: Vec<&'static str>,
    error: Option<String>,
    form: NewCourseForm,
}

#[derive(Serialize, Deserialize, Default, Clone)]
struct NewCourseForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    title_zh: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    summary_zh: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    competency: String,
}

async fn own_courses(state: &AppState, user: &CurrentUser) -> AppResult<Vec<CourseCard>> {
    let v = viewer(state, user);
    let (all, _) = service::list_courses(
        &state.db,
        &v,
        &CourseFilter {
            limit: 200,
            ..Default::default()
        },
    )
    .await?;
    let own = if user.org_is_platform {
        "platform"
    } else {
        "organization"
    };
    Ok(all.into_iter().filter(|c| c.owner == own).collect())
}

async fn trainer_home(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    status: StatusCode,
    error: Option<String>,
    form: NewCourseForm,
) -> AppResult<HttpResponse> {
    let page = TrainerPage {
        courses: own_courses(state, user).await?,
        categories: service::categories(&state.db).await?,
        areas: AREAS.to_vec(),
        error,
        form,
    };
    render(state, req, Some(user), status, "trainer.html", page)
}

/// The trainer's courses and a form for a new one.
#[get("/trainer")]
pub async fn trainer_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
) -> AppResult<HttpResponse> {
    trainer_home(
        &state,
        &req,
        &trainer.user,
        StatusCode::OK,
        None,
        NewCourseForm::default(),
    )
    .await
}

/// Creates a course from the trainer page.
#[post("/trainer/courses")]
pub async fn trainer_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<NewCourseForm>,
    trainer: RequireRole<Trainer>,
) -> AppResult<HttpResponse> {
    let f = form.0;
    let level: i32 = f.level.parse().unwrap_or(0);
    let lang = request_lang(&req);
    let problem = if crate::auth::model::Slug::parse("code", &f.code).is_err() {
        Some(crate::i18n::t(lang, "validation.slug", &[]))
    } else if f.title.trim().is_empty() || f.summary.trim().is_empty() {
        Some(crate::i18n::t(lang, "trainer.error.required", &[]))
    } else if !(1..=5).contains(&level) {
        Some(crate::i18n::t(
            lang,
            "validation.range",
            &[("min", "1".into()), ("max", "5".into())],
        ))
    } else {
        None
    };
    if let Some(error) = problem {
        return trainer_home(
            &state,
            &req,
            &trainer.user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(error),
            f,
        )
        .await;
    }
    let area = if AREAS.contains(&f.area.as_str()) {
        f.area.clone()
    } else {
        f.category.clone()
    };
    let new = NewCourse {
        code: f.code.trim().to_string(),
        title: f.title.trim().to_string(),
        title_zh: f.title_zh.trim().to_string(),
        summary: f.summary.trim().to_string(),
        summary_zh: f.summary_zh.trim().to_string(),
        category: f.category.clone(),
        area,
        level,
        estimated_minutes: 30,
        develops: if f.competency.is_empty() {
            Vec::new()
        } else {
            vec![(f.competency.clone(), level)]
        },
    };
    match service::create_course(&state.db, &viewer(&state, &trainer), new).await {
        Ok(c) => Ok(redirect(format!("/trainer/courses/{}", c.id))),
        Err(err @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let detail = match &err {
                AppError::Validation(issues) => issues
                    .iter()
                    .map(|i| i.message.render(lang))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.problem(lang).detail,
            };
            trainer_home(
                &state,
                &req,
                &trainer.user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(detail),
                f,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Serialize)]
struct EditorPage {
    course: CourseDetail,
    /// For the question editor's competency list.
    categories: Vec<CategoryView>,
    gift: String,
    notice: Option<String>,
    error: Option<String>,
    errors: Vec<String>,
}

/// What the editor shows besides the course.
struct EditorState {
    status: StatusCode,
    /// The catalog key of the heading above `errors`.
    error_key: &'static str,
    notice: Option<String>,
    errors: Vec<String>,
    gift_text: Option<String>,
}

async fn editor(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    id: i64,
    shown: EditorState,
) -> AppResult<HttpResponse> {
    let EditorState {
        status,
        error_key,
        notice,
        errors,
        gift_text,
    } = shown;
    let v = viewer(state, user);
    service::editable_course(&state.db, &v, id).await?;
    let course = service::course_detail(&state.db, &v, id, true).await?;
    let gift = match gift_text {
        Some(text) => text,
        None => bank::export_gift(&state.db, &v, id).await?,
    };
    let error = (!errors.is_empty()).then(|| crate::i18n::t(request_lang(req), error_key, &[]));
    render(
        state,
        req,
        Some(user),
        status,
        "course_editor.html",
        EditorPage {
            course,
            categories: service::categories(&state.db).await?,
            gift,
            notice,
            error,
            errors,
        },
    )
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

/// The course editor: lessons of the draft, publishing, the question bank.
#[get("/trainer/courses/{id}")]
pub async fn editor_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    query: web::Query<NoticeQuery>,
) -> AppResult<HttpResponse> {
    let lang = request_lang(&req);
    let notice = match query.notice.as_deref() {
        Some(n @ ("published" | "saved" | "bank_saved")) => {
            Some(crate::i18n::t(lang, &format!("trainer.notice.{n}"), &[]))
        }
        _ => None,
    };
    editor(
        &state,
        &req,
        &trainer.user,
        path.into_inner(),
        EditorState {
            status: StatusCode::OK,
            error_key: "trainer.gift_errors",
            notice,
            errors: Vec::new(),
            gift_text: None,
        },
    )
    .await
}

/// Publishes the draft from the editor.
#[post("/trainer/courses/{id}/publish")]
pub async fn editor_publish(
    state: web::Data<AppState>,
    req: HttpRequest,
    _form: PageForm<EmptyForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    match service::publish(&state.db, &viewer(&state, &trainer), id).await {
        Ok(_) => Ok(redirect(format!("/trainer/courses/{id}?notice=published"))),
        Err(AppError::Conflict(msg)) => {
            let text = msg.render(request_lang(&req));
            editor(
                &state,
                &req,
                &trainer.user,
                id,
                EditorState {
                    status: StatusCode::CONFLICT,
                    error_key: "trainer.publish_failed",
                    notice: None,
                    errors: vec![text],
                    gift_text: None,
                },
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct GiftForm {
    #[serde(default)]
    gift: String,
}

/// Replaces the question bank from the editor's GIFT box; problems are listed by line.
#[post("/trainer/courses/{id}/questions")]
pub async fn editor_gift(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<GiftForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    match bank::import_gift(&state.db, &viewer(&state, &trainer), id, &form.0.gift).await {
        Ok(_) => Ok(redirect(format!("/trainer/courses/{id}?notice=bank_saved"))),
        Err(AppError::Validation(issues)) => {
            let lang = request_lang(&req);
            let errors = issues
                .iter()
                .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
                .collect();
            editor(
                &state,
                &req,
                &trainer.user,
                id,
                EditorState {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    error_key: "trainer.gift_errors",
                    notice: None,
                    errors,
                    gift_text: Some(form.0.gift),
                },
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// Builds one question of any type from the question editor's fields (type, text, competency,
/// difficulty, options with marks, answers, pairs) as GIFT.
fn question_from_form(fields: &[(String, String)]) -> Result<String, String> {
    use crate::assessment::gift::{
        Choice, GiftQuestion, NumericAnswer, Pair, QuestionKind, TextFormat,
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let all = |k: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let text = get("text");
    if text.is_empty() {
        return Err("text".into());
    }
    let options: Vec<(String, String)> = all("option")
        .into_iter()
        .zip(all("mark"))
        .filter(|(t, _)| !t.is_empty())
        .collect();
    let ty = get("type");
    let marks: Vec<f64> = options
        .iter()
        .map(|(_, m)| m.parse().unwrap_or(0.0))
        .collect();
    match ty.as_str() {
        "single_choice"
            if options.len() < 2 || marks.iter().filter(|m| **m >= 100.0).count() != 1 =>
        {
            return Err("option".into())
        }
        "multiple_choice" if options.len() < 2 || !marks.iter().any(|m| *m > 0.0) => {
            return Err("option".into())
        }
        "short_answer" if get("answers").trim().is_empty() => return Err("answers".into()),
        "matching"
            if all("left")
                .iter()
                .zip(all("right"))
                .filter(|(l, r)| !l.is_empty() && !r.is_empty())
                .count()
                < 2 =>
        {
            return Err("left".into())
        }
        _ => {}
    }
    let kind = match ty.as_str() {
        "single_choice" => QuestionKind::MultipleChoice {
            single: true,
            choices: options
                .iter()
                .map(|(t, m)| Choice {
                    text: t.clone(),
                    weight: if m == "100" { 100.0 } else { 0.0 },
                    feedback: None,
                })
                .collect(),
        },
        "multiple_choice" => QuestionKind::MultipleChoice {
            single: false,
            choices: options
                .iter()
                .map(|(t, m)| Choice {
                    text: t.clone(),
                    weight: m.parse().unwrap_or(0.0),
                    feedback: None,
                })
                .collect(),
        },
        "true_false" => QuestionKind::TrueFalse {
            answer: get("truth") == "true",
            feedback_wrong: None,
            feedback_right: None,
        },
        "short_answer" => QuestionKind::ShortAnswer {
            answers: get("answers")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| Choice {
                    text: l.to_string(),
                    weight: 100.0,
                    feedback: None,
                })
                .collect(),
        },
        "numerical" => QuestionKind::Numerical {
            answers: vec![NumericAnswer {
                value: get("value")
                    .replace(',', ".")
                    .parse()
                    .map_err(|_| "value".to_string())?,
                tolerance: get("tolerance").replace(',', ".").parse().unwrap_or(0.0),
                weight: 100.0,
                feedback: None,
            }],
        },
        "matching" => QuestionKind::Matching {
            pairs: all("left")
                .into_iter()
                .zip(all("right"))
                .filter(|(l, r)| !l.is_empty() && !r.is_empty())
                .map(|(left, right)| Pair { left, right })
                .collect(),
            distractors: Vec::new(),
        },
        "essay" => QuestionKind::Essay,
        _ => return Err("type".into()),
    };
    let q = GiftQuestion {
        line: 0,
        id: Some(get("id")).filter(|i| !i.is_empty()),
        tags: vec![
            format!("competency={}", get("competency")),
            format!("difficulty={}", get("difficulty")),
        ],
        category: None,
        title: None,
        format: TextFormat::Moodle,
        text,
        kind,
        general_feedback: None,
    };
    Ok(crate::assessment::gift::write(&[q]))
}

/// Adds one question, built in the question editor, to the course's draft bank. The whole
/// bank is checked as on a GIFT import, so a question the rules refuse is named with its reason.
#[post("/trainer/courses/{id}/question")]
pub async fn editor_question(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &trainer);
    let lang = request_lang(&req);
    let current = bank::export_gift(&state.db, &v, id).await?;
    let (gift, errors) = match question_from_form(&form.0) {
        Ok(q) => (format!("{}\n\n{q}", current.trim_end()), Vec::new()),
        Err(field) => (
            current.clone(),
            vec![format!(
                "{field}: {}",
                crate::i18n::t(lang, "editor.question_field", &[])
            )],
        ),
    };
    if errors.is_empty() {
        match bank::import_gift(&state.db, &v, id, &gift).await {
            Ok(_) => return Ok(redirect(format!("/trainer/courses/{id}?notice=bank_saved"))),
            Err(AppError::Validation(issues)) => {
                let errors = issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
                    .collect();
                return editor(
                    &state,
                    &req,
                    &trainer.user,
                    id,
                    EditorState {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        error_key: "trainer.gift_errors",
                        notice: None,
                        errors,
                        gift_text: Some(gift),
                    },
                )
                .await;
            }
            Err(other) => return Err(other),
        }
    }
    editor(
        &state,
        &req,
        &trainer.user,
        id,
        EditorState {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error_key: "trainer.gift_errors",
            notice: None,
            errors,
            gift_text: None,
        },
    )
    .await
}

#[derive(Serialize, Deserialize, Default, Clone)]
struct LessonForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    title_zh: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    estimated_minutes: String,
    #[serde(default)]
    body_markdown: String,
    /// `preview` shows the rendered lesson without saving.
    #[serde(default)]
    action: String,
}

#[derive(Serialize)]
struct LessonEditorPage {
    course_id: i64,
    course_title: String,
    form: LessonForm,
    kinds: Vec<&'static str>,
    preview_html: Option<String>,
    error: Option<String>,
    is_new: bool,
}

/// The lesson editor (new lesson, or `?slug=` to edit one of the draft).
#[get("/trainer/courses/{id}/lesson")]
pub async fn lesson_editor(
    state: web::Data<AppState>,
    req: HttpRequest,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
    query: web::Query<SlugQuery>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let v = viewer(&state, &trainer);
    service::editable_course(&state.db, &v, id).await?;
    let course = service::course_detail(&state.db, &v, id, true).await?;
    let mut form = LessonForm {
        kind: "operational-skills".into(),
        estimated_minutes: "10".into(),
        ..Default::default()
    };
    let mut is_new = true;
    if let Some(slug) = &query.slug {
        let item = course
            .lessons
            .iter()
            .find(|l| &l.slug == slug)
            .ok_or(AppError::NotFound)?;
        let lesson = service::open_lesson(&state.db, &v, item.id).await?;
        form = LessonForm {
            slug: lesson.slug,
            title: lesson.title,
            title_zh: lesson.title_zh.unwrap_or_default(),
            kind: lesson.kind,
            estimated_minutes: lesson.estimated_minutes.to_string(),
            body_markdown: lesson.body_markdown,
            action: String::new(),
        };
        is_new = false;
    }
    let page = LessonEditorPage {
        course_id: id,
        course_title: course.card.title,
        form,
        kinds: LESSON_KINDS.to_vec(),
        preview_html: None,
        error: None,
        is_new,
    };
    render(
        &state,
        &req,
        Some(&trainer.user),
        StatusCode::OK,
        "lesson_editor.html",
        page,
    )
}

#[derive(Deserialize)]
struct SlugQuery {
    slug: Option<String>,
}

/// Saves a lesson into the draft, or previews it (`action=preview`) without saving.
#[post("/trainer/courses/{id}/lesson")]
pub async fn lesson_save(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<LessonForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let f = form.0;
    let v = viewer(&state, &trainer);
    let c = service::editable_course(&state.db, &v, id).await?;
    let lang = request_lang(&req);
    let mut error = None;
    if crate::auth::model::Slug::parse("slug", &f.slug).is_err() {
        error = Some(crate::i18n::t(lang, "validation.slug", &[]));
    } else if f.title.trim().is_empty() {
        error = Some(crate::i18n::t(lang, "trainer.error.required", &[]));
    } else if !LESSON_KINDS.contains(&f.kind.as_str()) {
        error = Some(crate::i18n::t(lang, "validation.lesson_kind", &[]));
    }
    if f.action == "preview" || error.is_some() {
        let status = if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let page = LessonEditorPage {
            course_id: id,
            course_title: c.title,
            preview_html: Some(super::markdown::to_safe_html(&f.body_markdown)),
            form: f,
            kinds: LESSON_KINDS.to_vec(),
            error,
            is_new: false,
        };
        return render(
            &state,
            &req,
            Some(&trainer.user),
            status,
            "lesson_editor.html",
            page,
        );
    }
    let input = LessonInput {
        title: f.title.trim().to_string(),
        title_zh: Some(f.title_zh.trim().to_string()).filter(|t| !t.is_empty()),
        kind: f.kind.clone(),
        estimated_minutes: f.estimated_minutes.parse().unwrap_or(10).clamp(1, 600),
        body_md: f.body_markdown.clone(),
        position: None,
    };
    service::put_lesson(&state.db, &v, id, f.slug.trim(), input).await?;
    Ok(redirect(format!("/trainer/courses/{id}?notice=saved")))
}

#[derive(Deserialize)]
struct CourseMetaForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    title_zh: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    summary_zh: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    estimated_minutes: String,
}

/// Saves the course's description from the editor.
#[post("/trainer/courses/{id}/details")]
pub async fn editor_details(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<CourseMetaForm>,
    trainer: RequireRole<Trainer>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let f = form.0;
    let lang = request_lang(&req);
    let level: i32 = f.level.parse().unwrap_or(0);
    let problem = if f.title.trim().is_empty() || f.summary.trim().is_empty() {
        Some(crate::i18n::t(lang, "trainer.error.required", &[]))
    } else if !(1..=5).contains(&level) {
        Some(crate::i18n::t(
            lang,
            "validation.range",
            &[("min", "1".into()), ("max", "5".into())],
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        let shown = EditorState {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error_key: "trainer.details_failed",
            notice: None,
            errors: vec![problem],
            gift_text: None,
        };
        return editor(&state, &req, &trainer.user, id, shown).await;
    }
    let changes = service::CourseChanges {
        title: Some(f.title),
        title_zh: Some(f.title_zh),
        summary: Some(f.summary),
        summary_zh: Some(f.summary_zh),
        level: Some(level),
        estimated_minutes: f
            .estimated_minutes
            .parse::<i32>()
            .ok()
            .map(|m| m.clamp(1, 10_000)),
        develops: None,
    };
    service::update_course(&state.db, &viewer(&state, &trainer), id, changes).await?;
    Ok(redirect(format!("/trainer/courses/{id}?notice=saved")))
}

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(catalog_page)
        .service(course_page)
        .service(enrol_submit)
        .service(lesson_page)
        .service(complete_submit)
        .service(learning_page)
        .service(trainer_page)
        .service(trainer_create)
        .service(editor_page)
        .service(editor_publish)
        .service(editor_details)
        .service(editor_gift)
        .service(editor_question)
        .service(lesson_editor)
        .service(lesson_save);
}
