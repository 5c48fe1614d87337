//! HR and manager pages: the organization report, the roster import wizard (upload, preview
//! with every problem, commit), positions and templates, a department's heatmap, a person's
//! gaps with their evidence and learning path, and ratings.
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use base64::Engine;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::positions::{self, PositionView};
use super::report::{self, OrgData, OrganizationGap, PersonGap};
use super::roster::{self, RosterReport};
use super::svg;
use crate::auth::{AdminOrHr, CurrentUser, PageForm, RequireRole, Role};
use crate::error::{AppError, AppResult, Msg};
use crate::startup::AppState;
use crate::web::pages::render;
use crate::web::request_lang;

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

fn is_staff(user: &CurrentUser) -> bool {
    user.has(Role::Hr) || user.has(Role::Admin)
}

#[derive(Serialize)]
struct OrganizationPage {
    report: OrganizationGap,
    staffing_svg: String,
    /// Name, people, the name as a URL path segment.
    departments: Vec<(String, usize, String)>,
    rule: String,
    exam_outranks: bool,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct NoticeQuery {
    done: Option<String>,
}

/// HR's overview: positions against headcount, recommendations, key-person risks, departments.
#[get("/hr")]
pub async fn organization_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<NoticeQuery>,
) -> AppResult<HttpResponse> {
    let lang = request_lang(&req);
    let data = OrgData::load(&state.db, staff.org_id, state.platform_org_id).await?;
    let report = report::organization_gap(&data);
    let mut departments: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for p in &data.people {
        if let Some(d) = &p.department {
            *departments.entry(d.clone()).or_default() += 1;
        }
    }
    let notice = query
        .done
        .as_deref()
        .filter(|d| ["rule", "template", "position", "path"].contains(d))
        .map(|d| crate::i18n::t(lang, &format!("hr.done.{d}"), &[]));
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::OK,
        "hr.html",
        OrganizationPage {
            staffing_svg: svg::staffing(&report, lang),
            rule: data.rule.map_or("latest", |r| r.name()).to_string(),
            exam_outranks: data.exam_outranks,
            report,
            departments: departments
                .into_iter()
                .map(|(d, n)| {
                    let path = path_segment(&d);
                    (d, n, path)
                })
                .collect(),
            notice,
        },
    )
}

#[derive(Deserialize)]
struct RuleForm {
    rule: String,
    #[serde(default)]
    exam_outranks_ratings: Option<String>,
    #[serde(default)]
    mastery_count: Option<String>,
}

/// Saves the level rule from the HR page.
#[post("/hr/level-rule")]
pub async fn rule_submit(
    state: web::Data<AppState>,
    form: PageForm<RuleForm>,
    staff: RequireRole<AdminOrHr>,
) -> AppResult<HttpResponse> {
    let f = form.0;
    let input = super::handlers::LevelRuleInput {
        rule: f.rule,
        exam_outranks_ratings: Some(f.exam_outranks_ratings.is_some()),
        mastery_count: Some(
            f.mastery_count
                .as_deref()
                .and_then(|c| c.trim().parse::<i32>().ok())
                .unwrap_or(2),
        ),
    };
    super::handlers::save_level_rule(&state.db, &staff, input).await?;
    Ok(redirect("/hr?done=rule"))
}

#[derive(Serialize, Default)]
struct RosterPage {
    report: Option<RosterReport>,
    /// The previewed file, carried to the commit form.
    file_b64: String,
    mode: String,
    committed: bool,
    error: Option<String>,
}

/// The roster import wizard: upload a file.
#[get("/hr/roster")]
pub async fn roster_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
) -> AppResult<HttpResponse> {
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::OK,
        "hr_roster.html",
        RosterPage {
            mode: "merge".into(),
            ..Default::default()
        },
    )
}

/// Reads the wizard's fields: a `file` upload (preview), or the carried `file_b64` (commit),
/// and `mode`, `action` (the CSRF middleware has checked the form's token).
async fn roster_fields(
    req: &HttpRequest,
    payload: web::Payload,
) -> AppResult<(Vec<u8>, String, String)> {
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let (mut file, mut mode, mut action) = (Vec::new(), "merge".to_string(), "preview".to_string());
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|_| AppError::BadRequest(Msg::new("error.upload_unreadable")))?;
        let name = field.name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|_| AppError::BadRequest(Msg::new("error.upload_unreadable")))?;
            if bytes.len() + chunk.len() > 8 * 1024 * 1024 {
                return Err(AppError::BadRequest(
                    Msg::new("error.upload_too_large").arg("max", 8 * 1024),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" if !bytes.is_empty() => file = bytes,
            "file_b64" if !bytes.is_empty() => {
                file = base64::engine::general_purpose::STANDARD
                    .decode(bytes.trim_ascii())
                    .map_err(|_| AppError::BadRequest(Msg::new("error.upload_unreadable")))?;
            }
            "mode" => mode = String::from_utf8_lossy(&bytes).to_string(),
            "action" => action = String::from_utf8_lossy(&bytes).to_string(),
            _ => {}
        }
    }
    Ok((file, mode, action))
}

/// Previews or commits the uploaded roster.
#[post("/hr/roster")]
pub async fn roster_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let lang = request_lang(&req);
    let (file, mode, action) = roster_fields(&req, payload).await?;
    if file.is_empty() {
        return render(
            &state,
            &req,
            Some(&staff),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hr_roster.html",
            RosterPage {
                mode,
                error: Some(crate::i18n::t(lang, "validation.upload_missing", &[])),
                ..Default::default()
            },
        );
    }
    let full = mode == "full";
    let commit = action == "commit";
    let importer = roster::Importer {
        principal: &staff.user,
        invitation_days: state.settings.invitation_days,
    };
    let outcome = roster::import(
        &state.db,
        &state.mailer,
        &importer,
        &file,
        full,
        !commit,
        lang,
    )
    .await;
    let (status, page) = match outcome {
        Ok(report) => (
            StatusCode::OK,
            RosterPage {
                committed: !report.dry_run,
                file_b64: base64::engine::general_purpose::STANDARD.encode(&file),
                report: Some(report),
                mode,
                error: None,
            },
        ),
        Err(AppError::BadRequest(msg)) => (
            StatusCode::BAD_REQUEST,
            RosterPage {
                mode,
                error: Some(msg.render(lang)),
                ..Default::default()
            },
        ),
        Err(AppError::Validation(_)) => {
            // Problems appeared between preview and commit: show the preview again.
            let report =
                roster::import(&state.db, &state.mailer, &importer, &file, full, true, lang)
                    .await?;
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                RosterPage {
                    file_b64: base64::engine::general_purpose::STANDARD.encode(&file),
                    report: Some(report),
                    mode,
                    committed: false,
                    error: None,
                },
            )
        }
        Err(other) => return Err(other),
    };
    render(&state, &req, Some(&staff), status, "hr_roster.html", page)
}

#[derive(Serialize)]
struct PositionsPage {
    positions: Vec<PositionView>,
    templates: Vec<&'static str>,
    categories: Vec<crate::catalog::service::CategoryView>,
    error: Option<String>,
}

/// Positions, their requirements, and the organization-mode templates.
#[get("/hr/positions")]
pub async fn positions_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
) -> AppResult<HttpResponse> {
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::OK,
        "hr_positions.html",
        PositionsPage {
            positions: positions::list(&state.db, staff.org_id).await?,
            templates: positions::TEMPLATES.iter().map(|(m, _)| *m).collect(),
            categories: crate::catalog::service::categories(&state.db).await?,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct TemplateForm {
    mode: String,
}

/// Applies a template from the positions page.
#[post("/hr/positions/template")]
pub async fn template_submit(
    state: web::Data<AppState>,
    form: PageForm<TemplateForm>,
    staff: RequireRole<AdminOrHr>,
) -> AppResult<HttpResponse> {
    let txn = crate::db::begin_write(&state.db).await?;
    positions::apply_template(&txn, staff.org_id, Some(staff.id), &form.0.mode).await?;
    txn.commit().await?;
    Ok(redirect("/hr/positions"))
}

#[derive(Deserialize)]
struct PositionForm {
    code: String,
    name: String,
    #[serde(default)]
    name_zh: String,
    category: String,
    #[serde(default)]
    headcount: String,
    #[serde(default)]
    level: String,
}

/// Creates or replaces a position from the positions page.
#[post("/hr/positions")]
pub async fn position_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<PositionForm>,
    staff: RequireRole<AdminOrHr>,
) -> AppResult<HttpResponse> {
    let f = form.0;
    let input = positions::PositionInput {
        code: f.code,
        name: f.name,
        name_zh: Some(f.name_zh),
        category: f.category,
        headcount: f.headcount.trim().parse().ok(),
        level: f.level.trim().parse().ok(),
        requirements: Vec::new(),
    };
    match positions::save_one(&state.db, staff.org_id, staff.id, &input).await {
        Ok(_) => Ok(redirect("/hr/positions")),
        Err(AppError::Validation(issues)) => {
            let lang = request_lang(&req);
            let error = issues
                .iter()
                .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
                .collect::<Vec<_>>()
                .join(" · ");
            render(
                &state,
                &req,
                Some(&staff),
                StatusCode::UNPROCESSABLE_ENTITY,
                "hr_positions.html",
                PositionsPage {
                    positions: positions::list(&state.db, staff.org_id).await?,
                    templates: positions::TEMPLATES.iter().map(|(m, _)| *m).collect(),
                    categories: crate::catalog::service::categories(&state.db).await?,
                    error: Some(error),
                },
            )
        }
        Err(other) => Err(other),
    }
}

/// A value as one URL path segment (percent-encoded).
fn path_segment(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').replace('+', "%20"))
        .unwrap_or_default()
}

/// Saves a position's requirements from the positions page: `level.{competency}`,
/// `weight.{competency}`, `mandatory.{competency}` (checkbox), and the headcount.
#[post("/hr/positions/{code}/requirements")]
pub async fn requirements_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<Vec<(String, String)>>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let code = path.into_inner();
    let current = positions::list(&state.db, staff.org_id)
        .await?
        .into_iter()
        .find(|p| p.code == code)
        .ok_or(AppError::NotFound)?;
    let fields = form.0;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let requirements = current
        .requirements
        .iter()
        .map(|r| positions::RequirementInput {
            competency: r.competency.clone(),
            level: get(&format!("level.{}", r.competency))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            weight: get(&format!("weight.{}", r.competency))
                .and_then(|v| v.replace(',', ".").parse().ok()),
            mandatory: Some(get(&format!("mandatory.{}", r.competency)).is_some()),
        })
        .collect();
    let input = positions::PositionInput {
        code: current.code.clone(),
        name: current.name.clone(),
        name_zh: Some(current.name_zh.clone()),
        category: current.category.clone(),
        headcount: get("headcount")
            .and_then(|v| v.parse().ok())
            .or(Some(current.headcount)),
        level: None,
        requirements,
    };
    match positions::save_one(&state.db, staff.org_id, staff.id, &input).await {
        Ok(_) => Ok(redirect("/hr/positions")),
        Err(AppError::Validation(issues)) => {
            let lang = request_lang(&req);
            let error = issues
                .iter()
                .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
                .collect::<Vec<_>>()
                .join(" · ");
            render(
                &state,
                &req,
                Some(&staff),
                StatusCode::UNPROCESSABLE_ENTITY,
                "hr_positions.html",
                PositionsPage {
                    positions: positions::list(&state.db, staff.org_id).await?,
                    templates: positions::TEMPLATES.iter().map(|(m, _)| *m).collect(),
                    categories: crate::catalog::service::categories(&state.db).await?,
                    error: Some(error),
                },
            )
        }
        Err(other) => Err(other),
    }
}

#[derive(Serialize)]
struct DepartmentPage {
    sort: String,
    department: String,
    department_path: String,
    heatmap_svg: String,
    gap: report::DepartmentGap,
}

#[derive(Deserialize)]
struct SortQuery {
    sort: Option<String>,
}

/// A department's heatmap (HR, admins, and the department's managers), sortable by gap, name
/// or position.
#[get("/hr/departments/{name}")]
pub async fn department_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<SortQuery>,
) -> AppResult<HttpResponse> {
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let name = path.into_inner();
    super::handlers::may_see_department(&data, &user, &name)?;
    let members: Vec<&report::Person> = data
        .people
        .iter()
        .filter(|p| p.department.as_deref() == Some(name.as_str()))
        .collect();
    let mut gap = report::department_gap(&data, &name, &members);
    report::sort_rows(&mut gap.rows, query.sort.as_deref());
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "hr_department.html",
        DepartmentPage {
            heatmap_svg: svg::heatmap(&gap, request_lang(&req)),
            department_path: path_segment(&name),
            sort: query.sort.clone().unwrap_or_else(|| "gap".into()),
            department: name,
            gap,
        },
    )
}

#[derive(Serialize)]
struct PersonPage {
    levels_svg: String,
    gap: PersonGap,
    paths: Vec<super::handlers::PathProgress>,
    evidence: Vec<EvidenceRow>,
    can_assign: bool,
    can_rate: bool,
    rate_source: &'static str,
    reports: Vec<(i64, String)>,
    notice: Option<String>,
}

#[derive(Serialize)]
struct EvidenceRow {
    id: i64,
    competency: String,
    level: i32,
    source: String,
    date: String,
    note: String,
    used: bool,
}

/// A person's gaps, the evidence behind each level, their learning path; HR assigns it,
/// managers and the person rate.
#[get("/people/{id}/gaps")]
pub async fn person_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<NoticeQuery>,
) -> AppResult<HttpResponse> {
    use crate::assessment::entities::evidence;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let id = path.into_inner();
    let person = data
        .people
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound)?;
    let reports: Vec<&report::Person> = report::reports_of(&data, user.id);
    let manages = reports.iter().any(|p| p.id == id);
    if !(user.id == id || is_staff(&user) || manages) {
        return Err(AppError::NotFound);
    }
    let gap = report::person_gap(&data, person);
    let used: std::collections::HashSet<i64> = gap
        .competencies
        .iter()
        .flat_map(|c| c.evidence_ids.iter().copied())
        .collect();
    let evidence = evidence::Entity::find()
        .filter(evidence::Column::OrgId.eq(user.org_id))
        .filter(evidence::Column::UserId.eq(id))
        .filter(evidence::Column::SupersededAt.is_null())
        .order_by_desc(evidence::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| EvidenceRow {
            used: used.contains(&e.id),
            id: e.id,
            competency: e.competency_id,
            level: e.level,
            source: e.source,
            date: e
                .evidence_date
                .unwrap_or(e.recorded_at)
                .format("%Y-%m-%d")
                .to_string(),
            note: e.note.unwrap_or_default(),
        })
        .collect();
    let lang = request_lang(&req);
    let notice = query
        .done
        .as_deref()
        .filter(|d| ["path", "rated"].contains(d))
        .map(|d| crate::i18n::t(lang, &format!("hr.done.{d}"), &[]));
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "person_gaps.html",
        PersonPage {
            can_assign: is_staff(&user) && !gap.learning_path.is_empty(),
            can_rate: user.id == id || manages,
            rate_source: if user.id == id { "self" } else { "manager" },
            reports: reports.iter().map(|p| (p.id, p.name.clone())).collect(),
            paths: super::handlers::path_progress(&state, user.org_id, id).await?,
            levels_svg: svg::person_levels(&gap, lang),
            gap,
            evidence,
            notice,
        },
    )
}

#[derive(Deserialize)]
struct RateForm {
    competency: String,
    level: String,
    #[serde(default)]
    note: String,
}

/// A rating from the person page: the person rates themselves, a manager a report.
#[post("/people/{id}/ratings")]
pub async fn rate_submit(
    state: web::Data<AppState>,
    form: PageForm<RateForm>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    // The person rates themselves; anyone else rates as their manager (refused if not).
    let f = form.0;
    let input = super::handlers::EvidenceInput {
        user_id: id,
        competency: f.competency,
        level: f.level.trim().parse().unwrap_or(0),
        source: if user.id == id { "self" } else { "manager" }.into(),
        note: Some(f.note),
        provider: None,
        attachment: None,
        date: None,
    };
    super::handlers::record(&state, &user, input).await?;
    Ok(redirect(&format!("/people/{id}/gaps?done=rated")))
}

#[derive(Deserialize)]
struct EmptyForm {}

/// HR assigns the learning path from the person page (enrols in each course).
#[post("/people/{id}/learning-path")]
pub async fn assign_submit(
    state: web::Data<AppState>,
    _form: PageForm<EmptyForm>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    super::handlers::assign(&state, &staff, id).await?;
    Ok(redirect(&format!("/people/{id}/gaps?done=path")))
}

#[derive(Serialize)]
struct MapPage {
    map: Option<super::maps::MapView>,
    /// HR's editor: the stages as text, one line per stage.
    editor: Option<String>,
    error: Vec<String>,
    saved: bool,
}

/// One's learning map: the stages of one's position, what is done, what is next, the gaps.
#[get("/learning-map")]
pub async fn my_map_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let map =
        super::maps::for_learner(&state.db, user.org_id, state.platform_org_id, user.id).await?;
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "learning_map.html",
        MapPage {
            map,
            editor: None,
            error: Vec::new(),
            saved: false,
        },
    )
}

/// The editor's text of a map: a line per stage, `level | title | courses | certification`,
/// an optional course ending in `?`.
fn map_text(map: &super::maps::MapView) -> String {
    map.stages
        .iter()
        .map(|s| {
            let courses: Vec<String> = s
                .items
                .iter()
                .map(|i| {
                    if i.required {
                        i.code.clone()
                    } else {
                        format!("{}?", i.code)
                    }
                })
                .collect();
            format!(
                "{} | {} | {} | {}",
                s.level,
                s.title,
                courses.join(" "),
                s.certification
                    .as_ref()
                    .map(|c| c.code.clone())
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the editor's text; a malformed line is named.
fn parse_map_text(text: &str) -> Result<super::maps::MapInput, Vec<String>> {
    let mut stages = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let level = parts.first().and_then(|l| l.parse::<i32>().ok());
        match (level, parts.len()) {
            (Some(level), 2..=4) => stages.push(super::maps::MapStage {
                level,
                title: parts.get(1).map(|t| t.to_string()).unwrap_or_default(),
                title_zh: String::new(),
                items: parts
                    .get(2)
                    .map(|c| {
                        c.split_whitespace()
                            .map(|code| super::maps::MapItem {
                                course: code.trim_end_matches('?').to_string(),
                                required: !code.ends_with('?'),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                certification: parts
                    .get(3)
                    .filter(|c| !c.is_empty())
                    .map(|c| c.to_string()),
            }),
            _ => errors.push(format!(
                "line {}: level | title | courses | certification",
                n + 1
            )),
        }
    }
    if errors.is_empty() {
        Ok(super::maps::MapInput { stages })
    } else {
        Err(errors)
    }
}

/// HR's view and editor of a position's learning map.
#[get("/hr/positions/{id}/learning-map")]
pub async fn position_map_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> AppResult<HttpResponse> {
    let map = super::maps::get(
        &state.db,
        staff.org_id,
        state.platform_org_id,
        &path.into_inner(),
    )
    .await?;
    let editor = Some(map_text(&map));
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::OK,
        "learning_map.html",
        MapPage {
            map: Some(map),
            editor,
            error: Vec::new(),
            saved: query.done.is_some(),
        },
    )
}

#[derive(Deserialize)]
pub struct MapForm {
    #[serde(default)]
    stages: String,
    reset: Option<String>,
}

/// Saves HR's edit of a map (or returns to the generated one); problems are named.
#[post("/hr/positions/{id}/learning-map")]
pub async fn position_map_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: PageForm<MapForm>,
    staff: RequireRole<AdminOrHr>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let lang = request_lang(&req);
    let parsed = if form.0.reset.is_some() {
        Ok(super::maps::MapInput { stages: Vec::new() })
    } else {
        parse_map_text(&form.0.stages)
    };
    let error = match parsed {
        Ok(input) => {
            match super::maps::set(
                &state.db,
                staff.org_id,
                state.platform_org_id,
                staff.id,
                &id,
                input,
            )
            .await
            {
                Ok(_) => return Ok(redirect(&format!("/hr/positions/{id}/learning-map?done=1"))),
                Err(AppError::Validation(issues)) => issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message.render(lang)))
                    .collect(),
                Err(other) => return Err(other),
            }
        }
        Err(lines) => lines,
    };
    let map = super::maps::get(&state.db, staff.org_id, state.platform_org_id, &id).await?;
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::UNPROCESSABLE_ENTITY,
        "learning_map.html",
        MapPage {
            map: Some(map),
            editor: Some(form.0.stages.clone()),
            error,
            saved: false,
        },
    )
}

#[derive(Serialize)]
struct DashboardPage {
    d: super::dashboard::Dashboard,
    trend_svg: String,
    gaps_svg: String,
    department_path: String,
}

/// A store's or department's dashboard, with its charts (HR, admins, its managers).
#[get("/dashboards/departments/{name}")]
pub async fn dashboard_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let data = OrgData::load(&state.db, user.org_id, state.platform_org_id).await?;
    let name = path.into_inner();
    super::handlers::may_see_department(&data, &user, &name)?;
    let d = super::dashboard::build(&state.db, &data, &name).await?;
    let lang = request_lang(&req);
    let label = |key: &str| crate::i18n::t(lang, key, &[]);
    let trend_svg = super::dashboard::trend_svg(
        &d,
        [
            &label("dashboard.completion"),
            &label("dashboard.certification"),
            &label("dashboard.average_gap"),
        ],
    );
    let gaps_svg = super::dashboard::gaps_svg(&d, lang == crate::i18n::Lang::ZhCn);
    render(
        &state,
        &req,
        Some(&user),
        StatusCode::OK,
        "dashboard.html",
        DashboardPage {
            department_path: path_segment(&name),
            d,
            trend_svg,
            gaps_svg,
        },
    )
}

#[derive(Serialize)]
struct StudyPage {
    by: &'static str,
    rows: Vec<crate::catalog::study::StudyRow>,
}

#[derive(Deserialize)]
struct StudyQuery {
    by: Option<String>,
}

/// Study time measured by the server, per person, department or course (HR and admins).
#[get("/hr/study-time")]
pub async fn study_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: RequireRole<AdminOrHr>,
    query: web::Query<StudyQuery>,
) -> AppResult<HttpResponse> {
    use crate::catalog::study::GroupBy;
    let by = GroupBy::parse(query.by.as_deref())?;
    let rows = crate::catalog::study::report_rows(&state.db, staff.org_id, by, None).await?;
    render(
        &state,
        &req,
        Some(&staff),
        StatusCode::OK,
        "hr_study.html",
        StudyPage {
            by: match by {
                GroupBy::Person => "person",
                GroupBy::Department => "department",
                GroupBy::Course => "course",
            },
            rows,
        },
    )
}

/// One's own skills page.
#[get("/skills")]
pub async fn my_skills(user: CurrentUser) -> HttpResponse {
    redirect(&format!("/people/{}/gaps", user.id))
}

/// Registers the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(my_skills)
        .service(organization_page)
        .service(rule_submit)
        .service(roster_page)
        .service(roster_submit)
        .service(positions_page)
        .service(template_submit)
        .service(position_submit)
        .service(requirements_submit)
        .service(department_page)
        .service(person_page)
        .service(rate_submit)
        .service(assign_submit)
        .service(my_map_page)
        .service(position_map_page)
        .service(position_map_submit)
        .service(dashboard_page)
        .service(study_page);
}
