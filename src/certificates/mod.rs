//! Certificates: issuance when a certification is passed, the PDF, the signed Open Badges 3.0
//! credential, public verification, revocation, expiry and recertification.
pub mod code;
pub mod credential;
pub mod entities;
pub mod handlers;
pub mod keys;
pub mod limit;
pub mod pages;
pub mod pdf;
pub mod service;

/// Registers the certificate routes.
/// Verification by code, registered before all other routes (see `startup::routes`).
pub fn hot_routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::verify_code);
}

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(handlers::my_certificates)
        .service(handlers::org_certificates)
        .service(handlers::export_certificates)
        .service(handlers::certificate_pdf)
        .service(handlers::certificate_credential)
        .service(handlers::revoke_certificate)
        .service(handlers::reissue_certificate)
        .service(handlers::set_disclosure)
        .service(handlers::verify_upload)
        .service(handlers::jwks)
        .service(handlers::issuer)
        .service(handlers::status_list);
    pages::routes(cfg);
}
