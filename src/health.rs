//! Liveness and readiness probes.
use actix_web::{get, web, HttpResponse};
use sea_orm::{ConnectionTrait, TransactionTrait};
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
    // One probe at a time: probes never hold more than one pooled connection, however many
    // arrive (the wait counts against the probe's own time limit).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let check = async {
        let _turn = ONE_AT_A_TIME.lock().await;
        state.db.ping().await?;
        // SQLite answers a ping while another process holds its file locked; taking the write
        // lock (then rolling back) tells whether writes would go through. The connection waits
        // for the lock at most 2 s (not the service's 10 s), so it is back in the pool before
        // the probe gives up.
        if state.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let txn = state.db.begin().await?;
            txn.execute_unprepared("PRAGMA busy_timeout = 2000").await?;
            let took = txn
                .execute_unprepared("DELETE FROM talentcert_write_lock WHERE id = -1")
                .await;
            txn.execute_unprepared(&format!(
                "PRAGMA busy_timeout = {}",
                crate::db::SQLITE_BUSY_TIMEOUT.as_millis()
            ))
            .await?;
            txn.rollback().await?;
            took?;
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
