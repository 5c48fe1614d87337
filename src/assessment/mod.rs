pub mod authoring;
pub mod controls;
pub mod entities;
pub mod exam;
pub mod gift;
pub mod grading;
pub mod handlers;
pub mod moodle_xml;
pub mod xlsx_bank;

/// Registers the exam routes.
/// The routes of a sitting exam, registered before all others (see `startup::routes`).
pub fn hot_routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::save_answer)
        .service(handlers::attempt_event);
}

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list_certifications)
        .service(handlers::start_attempt)
        .service(handlers::get_attempt)
        .service(handlers::submit_attempt)
        .service(handlers::get_result)
        .service(handlers::review_attempt)
        .service(handlers::certification_statistics)
        .service(handlers::flag_question)
        .service(handlers::grant_accommodation)
        .service(handlers::grading_queue)
        .service(handlers::grade_answer)
        .service(handlers::regrade)
        .service(handlers::get_blueprint)
        .service(handlers::put_blueprint)
        .service(handlers::create_certification)
        .service(handlers::put_rules)
        .service(handlers::get_controls)
        .service(handlers::put_controls);
    pages::routes(cfg);
    trainer_pages::routes(cfg);
}
pub mod pages;
pub mod statistics;
pub mod trainer_pages;
