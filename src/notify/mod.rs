//! Email: a durable outbox written in the same transaction as the change that causes a message,
//! delivered over SMTP by a background worker with retries.
pub mod entity;
pub mod handlers;
pub mod mailer;
pub mod service;
pub mod worker;

pub use mailer::{EmailContent, Mailer, Recipient};

/// Registers the outbox routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list_outbox)
        .service(handlers::retry_outbox);
}
