//! Accounts, organizations, roles, sign-in, sessions and the extractors that guard handlers.
pub mod entities;
pub mod extract;
pub mod handlers;
pub mod model;
pub mod onboarding;
pub mod onboarding_handlers;
pub mod password;
pub mod seed;
pub mod service;
pub mod tokens;

pub use extract::{
    Admin, AdminOrHr, CurrentUser, Hr, Learner, MaybeUser, PageForm, PlatformAdmin, RequireRole,
    Trainer, TrainerOrAdmin,
};
pub use model::Role;

/// Registers the account routes of the JSON API.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::login)
        .service(handlers::logout)
        .service(handlers::me)
        .service(handlers::update_me)
        .service(handlers::list_users)
        .service(handlers::create_user)
        .service(handlers::get_user)
        .service(handlers::update_user)
        .service(handlers::set_user_roles)
        .service(handlers::list_organizations)
        .service(handlers::create_organization)
        .service(onboarding_handlers::create_invitation)
        .service(onboarding_handlers::list_invitations)
        .service(onboarding_handlers::revoke_invitation)
        .service(onboarding_handlers::accept_invitation)
        .service(onboarding_handlers::request_password_reset)
        .service(onboarding_handlers::confirm_password_reset);
}
