//! Building the application: database, migrations, first-start data, keys, and the actix server.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::password::PasswordHasher;
use crate::auth::seed::{self, SeedReport};
use crate::auth::service::{load_or_create_secret, random_token};
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::error::{AppError, Msg};
use crate::notify::worker::OutboxWorker;
use crate::notify::Mailer;
use crate::templates::Templates;
use crate::{assessment, audit, auth, catalog, db, health, notify, openapi, web as pages};
use tokio::sync::Notify;

/// What every handler can reach.
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub tokens: TokenKeys,
    pub hasher: PasswordHasher,
    pub templates: Templates,
    pub mailer: Mailer,
    /// The platform organization, owner of the shared catalog.
    pub platform_org_id: i64,
    /// Wakes this instance's outbox worker when a message was queued (others poll).
    pub mail_wake: Arc<Notify>,
    /// Public verifications per client, per minute.
    pub verify_limiter: crate::certificates::limit::RateLimiter,
    /// Requests in flight (see `MAX_IN_FLIGHT`).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The answer shapes of question revisions, for the answer-save path.
    pub question_kinds: crate::assessment::exam::QuestionKinds,
    /// Request counts and latencies, served at `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

/// A built, bound, not yet running service.
pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    seed: SeedReport,
}

impl Application {
    /// Connects, migrates, seeds, and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        Application::build_with_listener(settings, listener).await
    }

    /// Like [`Application::build`], on a listener the caller bound.
    pub async fn build_with_listener(
        mut settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        if !settings.public_url_configured {
            settings.public_url = format!("http://{}", listener.local_addr()?);
        }
        let db = db::connect(&settings).await?;
        db::migrate(&db).await?;
        // At most one hash per core at a time, whatever the number of HTTP workers.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = PasswordHasher::new(cores)?;
        let platform = seed::ensure_platform(&db).await?;
        let seed = if settings.demo {
            seed::ensure_demo(&db, &hasher, &platform, settings.demo_password.as_deref()).await?
        } else {
            SeedReport::default()
        };
        if let Some(dir) = &settings.content_dir {
            import_catalog_at_start(&db, dir).await;
        }
        if settings.demo {
            match crate::gaps::demo::ensure_demo_staff(&db).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(people = n, "created the demo staff, positions and evidence")
                }
                Err(err) => tracing::warn!(error = %err, "could not create the demo staff"),
            }
        }
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone(),
            None => load_or_create_secret(&db, "jwt_hs256", random_token)
                .await
                .context("cannot read or store the token signing secret")?,
        };
        let tokens = TokenKeys::new(secret.as_bytes(), settings.token_ttl_seconds);
        let templates = Templates::load()?;
        let mailer = Mailer::new(templates.clone(), &settings.public_url);
        let mail_wake = Arc::new(Notify::new());
        let worker = OutboxWorker::new(db.clone(), &settings, mail_wake.clone())?;
        tokio::spawn(worker.run());
        tokio::spawn(crate::xapi::lrs::run(
            db.clone(),
            settings.public_url.clone(),
            settings.xapi,
        ));
        tokio::spawn(assessment::exam::run_sweeper(
            db.clone(),
            mailer.clone(),
            std::time::Duration::from_secs(settings.sweep_seconds),
        ));
        // Certificates committed without their PDF (a crash between the commit and the render).
        {
            let (db, url) = (db.clone(), settings.public_url.clone());
            tokio::spawn(async move {
                match crate::certificates::service::render_pending(&db, &url, None).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(certificates = n, "rendered pending certificate PDFs"),
                    Err(err) => tracing::warn!(error = %err, "could not render pending PDFs"),
                }
            });
        }
        let settings_limit = settings.verify_rate_limit;
        // The platform's signing key exists before the first certificate needs it.
        {
            let txn = db::begin_write(&db).await?;
            crate::certificates::keys::active(&txn, platform.id).await?;
            txn.commit().await?;
        }
        let state = web::Data::new(AppState {
            db,
            settings,
            tokens,
            hasher,
            templates,
            mailer,
            platform_org_id: platform.id,
            mail_wake,
            question_kinds: crate::assessment::exam::QuestionKinds::default(),
            metrics: crate::metrics::Metrics::new()?,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            verify_limiter: crate::certificates::limit::RateLimiter::new(
                settings_limit,
                std::time::Duration::from_secs(60),
            ),
        });
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone())?;
        Ok(Application {
            server,
            port,
            state,
            seed,
        })
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests read the database through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// What first-start seeding did.
    pub fn seed_report(&self) -> &SeedReport {
        &self.seed
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (in-flight requests finish) or [`ServerHandle::stop`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Requests handled at once by this process, beyond which requests wait their turn (in arrival
/// order) before anything is read or loaded for them. The database serves a few connections at a
/// time anyway; a thousand requests in flight only held their state while they waited (about
/// 85 MB in the 1,000-learner load, measured). Sign-ins and probes are not counted: a sign-in
/// waits on the password hasher, not the database, and must not hold up answer saves.
const MAX_IN_FLIGHT: usize = 64;

async fn limit_in_flight(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let exempt = matches!(
        req.path(),
        "/api/v1/auth/login" | "/login" | "/healthz" | "/readyz"
    ) || req.path().starts_with("/static/");
    let permits = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.in_flight.clone());
    let _permit = match permits {
        Some(permits) if !exempt => Some(
            permits
                .acquire_owned()
                .await
                .map_err(actix_web::error::ErrorServiceUnavailable)?,
        ),
        _ => None,
    };
    next.call(req).await
}

/// Adds `X-Request-Id` to every response, the id that also marks the request's log lines.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Registers every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The busiest routes first: actix tries routes in registration order and matches each
    // dynamic path with a regex, so a route registered late paid for every one before it (route
    // matching was 15% of the CPU of a verification lookup, measured with perf).
    assessment::hot_routes(cfg);
    crate::certificates::hot_routes(cfg);
    health::routes(cfg);
    cfg.service(crate::metrics::metrics);
    cfg.service(openapi::openapi_json);
    auth::routes(cfg);
    audit::routes(cfg);
    notify::routes(cfg);
    catalog::routes(cfg);
    assessment::routes(cfg);
    crate::certificates::routes(cfg);
    crate::gaps::routes(cfg);
    crate::xapi::routes(cfg);
    pages::pages::routes(cfg);
    pages::account_pages::routes(cfg);
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let workers = state.settings.workers;
    let max_body = state.settings.max_body_bytes;
    // Behind TLS (an https public URL), browsers are told to use nothing else for a year.
    let hsts = state.settings.secure_cookies();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                AppError::BadRequest(Msg::new("error.malformed_query").arg("detail", err)).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .configure(routes)
            .default_service(web::to(pages::errors::not_found))
            .wrap(from_fn(auth::extract::verify_form_csrf))
            .wrap(from_fn(limit_in_flight))
            .wrap(from_fn(pages::errors::localize_errors))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                         object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
                    )),
            )
            .wrap(actix_web::middleware::Condition::new(
                hsts,
                DefaultHeaders::new().add((
                    header::STRICT_TRANSPORT_SECURITY,
                    "max-age=31536000; includeSubDomains",
                )),
            ))
            .wrap(from_fn(request_id_header))
            .wrap(from_fn(crate::metrics::track))
            .wrap(TracingLogger::default())
    })
    .workers(workers)
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Imports the catalog when its files changed since the last import. A broken catalog is logged
/// with all its problems and the service goes on with the content it has.
async fn import_catalog_at_start(db: &DatabaseConnection, dir: &std::path::Path) {
    use crate::catalog::import::{import_dir, ImportOptions};
    if !dir.is_dir() {
        tracing::info!(dir = %dir.display(), "no course-content directory: catalog import skipped");
        return;
    }
    let started = std::time::Instant::now();
    match import_dir(db, dir, ImportOptions::default(), &mut |_, _, _| {}).await {
        Ok(summary) if summary.skipped => tracing::info!("catalog unchanged since the last import"),
        Ok(summary) => tracing::info!(
            created = summary.courses_created,
            updated = summary.courses_updated,
            unchanged = summary.courses_unchanged,
            conflicts = ?summary.conflicts,
            questions_new = summary.questions_created,
            certifications = summary.certifications_created + summary.certifications_updated,
            ms = started.elapsed().as_millis() as u64,
            "catalog imported"
        ),
        Err(err) => tracing::error!(
            "catalog import failed, serving the content already in the database: {err}"
        ),
    }
}
