//! The catalog: competency models, courses and lessons, question banks, certifications; the
//! content importer; learning progress.
pub mod bank;
pub mod content;
pub mod entities;
pub mod export;
pub mod handlers;
pub mod import;
pub mod markdown;
pub mod pages;
pub mod service;
pub mod study;

/// Registers the catalog routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list_categories)
        .service(handlers::list_courses)
        .service(handlers::create_course)
        .service(handlers::get_course)
        .service(handlers::update_course)
        .service(handlers::copy_course)
        .service(handlers::put_lesson)
        .service(handlers::delete_lesson)
        .service(handlers::publish_course)
        .service(handlers::enrol)
        .service(handlers::my_learning)
        .service(handlers::get_lesson)
        .service(handlers::complete_lesson)
        .service(handlers::heartbeat)
        .service(handlers::put_time_rule)
        .service(handlers::study_report)
        .service(handlers::get_gift)
        .service(handlers::put_gift)
        .service(handlers::get_moodle_xml)
        .service(handlers::put_moodle_xml)
        .service(handlers::get_xlsx)
        .service(handlers::put_xlsx);
    pages::routes(cfg);
}
