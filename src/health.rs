//! Liveness and readiness probes.
use actix_web::{get, web, HttpResponse};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, Problem};
use crate::startup::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(tag = "health", responses((status = 200, body = ProbeStatus)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(ProbeStatus { status: "ok" })
}

/// How long the readiness probe waits for the database before it answers 503.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The database answers, and takes writes, within a few seconds: the instance can take traffic.
#[utoipa::path(tag = "health", responses((status = 200, body = ProbeStatus), (status = 503, body = Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let check = async {
        state.db.ping().await?;
        // SQLite answers a ping while another process holds its file locked; taking the write
        // lock (then rolling back) tells whether writes would go through.
        if state.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            crate::db::begin_write(&state.db).await?.rollback().await?;
        }
        Ok::<(), sea_orm::DbErr>(())
    };
    match tokio::time::timeout(READY_WAIT, check).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(ProbeStatus { status: "ready" })),
        Ok(Err(e)) => Err(AppError::Unavailable(e.into())),
        Err(_) => Err(AppError::Unavailable(anyhow::anyhow!(
            "the database did not answer within {} s",
            READY_WAIT.as_secs()
        ))),
    }
}

/// Registers the probes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}
