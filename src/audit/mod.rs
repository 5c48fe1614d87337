//! The append-only audit log of security- and grading-relevant actions.
//!
//! Every capability records through [`record`] inside the transaction of the action itself, so an
//! action and its audit entry commit or roll back together. The database refuses updates and
//! deletes of audit rows (triggers in the migration).
pub mod entity;
mod handlers;
pub mod service;

pub use service::{record, AuditEvent, ACTIONS};

/// Registers the audit routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::list_audit);
}

pub use handlers::__path_list_audit;
