//! Gap analysis: the staff roster, positions and what they require, assessed levels from the
//! evidence ledger, gaps from a person to the whole organization, and learning paths.
pub mod dashboard;
pub mod demo;
pub mod entities;
pub mod framework;
pub mod handlers;
pub mod levels;
pub mod maps;
pub mod pages;
pub mod positions;
pub mod report;
pub mod roster;
pub mod svg;

/// Registers the gap-analysis routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    handlers::routes(cfg);
    pages::routes(cfg);
}
