//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.
use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{
    assessment, audit, auth, catalog, certificates, error, gaps, health, notify, pagination,
};

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "talentcert API",
        description = "Talent certification and learning management for private-domain operations teams. \
            Authenticate with `POST /api/v1/auth/login` and send `Authorization: Bearer <access_token>`, \
            or use the page session cookie together with the `X-CSRF-Token` header on state-changing requests. \
            Errors are RFC 9457 problem+json; lists answer `{\"items\": [...], \"total\": N}`."
    ),
    paths(
        health::healthz,
        health::readyz,
        auth::handlers::login,
        auth::handlers::logout,
        auth::handlers::me,
        auth::handlers::update_me,
        auth::handlers::list_users,
        auth::handlers::create_user,
        auth::handlers::get_user,
        auth::handlers::update_user,
        auth::handlers::set_user_roles,
        auth::handlers::list_organizations,
        auth::handlers::create_organization,
        auth::onboarding_handlers::create_invitation,
        auth::onboarding_handlers::list_invitations,
        auth::onboarding_handlers::revoke_invitation,
        auth::onboarding_handlers::accept_invitation,
        auth::onboarding_handlers::request_password_reset,
        auth::onboarding_handlers::confirm_password_reset,
        audit::list_audit,
        notify::handlers::list_outbox,
        notify::handlers::retry_outbox,
        catalog::handlers::list_categories,
        catalog::handlers::list_courses,
        catalog::handlers::get_course,
        catalog::handlers::create_course,
        catalog::handlers::update_course,
        catalog::handlers::copy_course,
        catalog::handlers::put_lesson,
        catalog::handlers::delete_lesson,
        catalog::handlers::publish_course,
        catalog::handlers::enrol,
        catalog::handlers::my_learning,
        catalog::handlers::get_lesson,
        catalog::handlers::complete_lesson,
        catalog::handlers::heartbeat,
        catalog::handlers::put_time_rule,
        catalog::handlers::study_report,
        catalog::handlers::get_gift,
        catalog::handlers::put_gift,
        catalog::handlers::get_moodle_xml,
        catalog::handlers::put_moodle_xml,
        catalog::handlers::get_xlsx,
        catalog::handlers::put_xlsx,
        crate::xapi::list_statements,
        crate::xapi::lrs::get_lrs,
        crate::xapi::lrs::put_lrs,
        assessment::handlers::list_certifications,
        assessment::handlers::start_attempt,
        assessment::handlers::get_attempt,
        assessment::handlers::save_answer,
        assessment::handlers::submit_attempt,
        assessment::handlers::get_result,
        assessment::handlers::review_attempt,
        assessment::handlers::certification_statistics,
        assessment::handlers::attempt_event,
        assessment::handlers::flag_question,
        assessment::handlers::grant_accommodation,
        assessment::handlers::grading_queue,
        assessment::handlers::grade_answer,
        assessment::handlers::regrade,
        assessment::handlers::get_blueprint,
        assessment::handlers::put_blueprint,
        assessment::handlers::create_certification,
        assessment::handlers::put_rules,
        assessment::handlers::get_controls,
        assessment::handlers::put_controls,
        certificates::handlers::my_certificates,
        certificates::handlers::org_certificates,
        certificates::handlers::export_certificates,
        certificates::handlers::certificate_pdf,
        certificates::handlers::certificate_credential,
        certificates::handlers::revoke_certificate,
        certificates::handlers::reissue_certificate,
        certificates::handlers::set_disclosure,
        certificates::handlers::verify_code,
        certificates::handlers::verify_upload,
        certificates::handlers::jwks,
        certificates::handlers::issuer,
        certificates::handlers::status_list,
        gaps::handlers::export_framework,
        gaps::handlers::import_framework,
        gaps::handlers::import_roster,
        gaps::handlers::export_roster,
        gaps::handlers::list_positions,
        gaps::handlers::save_position,
        gaps::handlers::apply_template,
        gaps::handlers::person_gap,
        gaps::handlers::department_gap,
        gaps::handlers::organization_gap,
        gaps::handlers::record_evidence,
        gaps::handlers::list_evidence,
        gaps::handlers::set_level_rule,
        gaps::handlers::assign_path,
        gaps::handlers::list_paths,
        gaps::handlers::get_learning_map,
        gaps::handlers::put_learning_map,
        gaps::handlers::my_learning_map,
        gaps::handlers::department_dashboard,
    ),
    components(schemas(error::Problem, error::ProblemField, pagination::Page<auth::handlers::UserResponse>)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Signing in and the current user"),
        (name = "admin", description = "Users, roles and the audit log of an organization"),
        (name = "platform", description = "Organizations (platform admins)"),
        (name = "catalog", description = "Job categories, competency models and courses"),
        (name = "learning", description = "Enrolment, lessons and progress"),
        (name = "authoring", description = "Courses, lessons and question banks (trainers)"),
        (name = "exams", description = "Certifications, timed attempts, answers and results"),
        (name = "certificates", description = "Issued certificates: PDF, signed credential, revocation"),
        (name = "gaps", description = "Roster, positions, evidence and gap analysis"),
        (name = "verification", description = "Public verification, published keys, issuer profiles and status lists"),
        (name = "health", description = "Probes")
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::extract::SESSION_COOKIE,
                "The page session; state-changing requests also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// The OpenAPI document.
#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .json(ApiDoc::openapi())
}
