//! `/metrics` in the Prometheus text format: requests and their latency per route and status
//! (this instance), and, read from the database at each scrape, open attempts and the email
//! outbox (every instance: the database is shared), and this instance's database pool.
//!
//! The endpoint is public unless `TALENTCERT_METRICS_TOKEN` is set; then a scraper sends
//! `Authorization: Bearer <token>`.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{get, http::header, web, HttpRequest, HttpResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use subtle::ConstantTimeEq;

use crate::error::{AppError, AppResult};
use crate::startup::AppState;

/// Request latency buckets in seconds: from a cached lookup to a slow report.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    open_attempts: IntGauge,
    outbox: IntGaugeVec,
    outbox_oldest_queued: IntGauge,
    pool: IntGaugeVec,
}

impl Metrics {
    /// A registry with every metric registered (fails only on a duplicate name, a bug).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("talentcert".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request (until its headers), by route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let open_attempts = IntGauge::new(
            "open_attempts",
            "Exam attempts open now (every instance: read from the database)",
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_messages",
                "Email outbox messages by status: queued and sending are the queue, dead ones failed for good",
            ),
            &["status"],
        )?;
        let outbox_oldest_queued = IntGauge::new(
            "outbox_oldest_queued_seconds",
            "Age of the oldest queued email, 0 when the queue is empty",
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "This instance's database connections: in_use, idle, and max (the pool's limit)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(open_attempts.clone()))?;
        registry.register(Box::new(outbox.clone()))?;
        registry.register(Box::new(outbox_oldest_queued.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            open_attempts,
            outbox,
            outbox_oldest_queued,
            pool,
        })
    }

    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Reads the database-wide figures and this instance's pool, then renders everything.
    pub async fn render(&self, db: &DatabaseConnection) -> AppResult<String> {
        use crate::assessment::entities::attempt;
        use crate::notify::entity as outbox;
        let open = attempt::Entity::find()
            .filter(attempt::Column::Status.eq("open"))
            .count(db)
            .await?;
        self.open_attempts
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        for (status, count) in crate::notify::service::counts(db, None).await? {
            self.outbox
                .with_label_values(&[status.as_str()])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let oldest = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("queued"))
            .order_by_asc(outbox::Column::CreatedAt)
            .one(db)
            .await?;
        self.outbox_oldest_queued.set(oldest.map_or(0, |m| {
            (chrono::Utc::now() - m.created_at).num_seconds().max(0)
        }));
        let (size, idle, max) = match db.get_database_backend() {
            DbBackend::Sqlite => {
                let p = db.get_sqlite_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            DbBackend::Postgres => {
                let p = db.get_postgres_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            DbBackend::MySql => (0, 0, 0),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(size.saturating_sub(idle)));
        self.pool.with_label_values(&["idle"]).set(i64::from(idle));
        self.pool.with_label_values(&["max"]).set(i64::from(max));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(AppError::internal)?;
        String::from_utf8(out).map_err(AppError::internal)
    }
}

/// Middleware: counts every request under its route pattern (`/api/v1/attempts/{id}`, so ids do
/// not multiply the series); paths that match no route count as `unmatched`.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res.request().match_pattern();
        state.metrics.observe(
            method.as_str(),
            route.as_deref().unwrap_or("unmatched"),
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// The metrics, in the Prometheus text format.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    if let Some(token) = &state.settings.metrics_token {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
            return Err(AppError::Unauthenticated);
        }
    }
    let text = state.metrics.render(&state.db).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
