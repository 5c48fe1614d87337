//! One error type at the HTTP boundary.
//!
//! The JSON API answers RFC 9457 `application/problem+json`; pages answer an HTML error page (see
//! [`crate::web::errors`]). Every message comes from the message catalogs: a response is rendered
//! in English here and re-rendered in the requester's language by the localising middleware.
use std::borrow::Cow;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use sea_orm::{DbErr, RuntimeErr, SqlErr, TransactionError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::i18n::{t, Lang};

/// A translatable message: a catalog key and its arguments.
#[derive(Debug, Clone)]
pub struct Msg {
    pub key: Cow<'static, str>,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    /// A message without arguments.
    pub fn new(key: impl Into<Cow<'static, str>>) -> Msg {
        Msg {
            key: key.into(),
            args: Vec::new(),
        }
    }

    /// Adds one `{name}` argument.
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Msg {
        self.args.push((name, value.to_string()));
        self
    }

    /// The message in a language.
    pub fn render(&self, lang: Lang) -> String {
        t(lang, &self.key, &self.args)
    }
}

/// A problem with one field of the input.
#[derive(Debug, Clone)]
pub struct FieldIssue {
    pub field: String,
    pub message: Msg,
}

impl FieldIssue {
    /// A problem with `field`, explained by the catalog message `key`.
    pub fn new(field: impl Into<String>, message: Msg) -> FieldIssue {
        FieldIssue {
            field: field.into(),
            message,
        }
    }
}

/// Every way a request can fail.
#[derive(thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldIssue>),
    #[error("bad request: {}", .0.key)]
    BadRequest(Msg),
    #[error("not authenticated")]
    Unauthenticated,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("forbidden: {}", .0.key)]
    Forbidden(Msg),
    #[error("not found")]
    NotFound,
    #[error("conflict: {}", .0.key)]
    Conflict(Msg),
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {}", .0.key)]
    UnsupportedMediaType(Msg),
    #[error("too many requests, retry after {retry_after_secs}s")]
    TooManyRequests { retry_after_secs: i64 },
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl fmt::Debug for AppError {
    // Debug prints the whole cause chain, so a log line shows why, not just what.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            writeln!(f, "caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// One entry of `errors` in a validation problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:talentcert:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

impl AppError {
    /// A validation failure of one field.
    pub fn field(field: impl Into<String>, key: &'static str) -> AppError {
        AppError::Validation(vec![FieldIssue::new(field, Msg::new(key))])
    }

    /// An unexpected failure, logged with its cause and answered with a fixed body.
    pub fn internal(err: impl Into<anyhow::Error>) -> AppError {
        AppError::Internal(err.into())
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid-credentials",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge { .. } => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> Msg {
        match self {
            AppError::Validation(_) => Msg::new("error.validation"),
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m)
            | AppError::UnsupportedMediaType(m) => m.clone(),
            AppError::Unauthenticated => Msg::new("error.unauthenticated"),
            AppError::InvalidCredentials => Msg::new("error.invalid_credentials"),
            AppError::NotFound => Msg::new("error.not_found"),
            AppError::PayloadTooLarge { limit } => {
                Msg::new("error.payload_too_large").arg("limit", limit)
            }
            AppError::TooManyRequests { retry_after_secs } => {
                Msg::new("error.too_many_requests").arg("seconds", retry_after_secs)
            }
            AppError::Unavailable(_) => Msg::new("error.unavailable"),
            AppError::Internal(_) => Msg::new("error.internal"),
        }
    }

    /// The problem details in a language.
    pub fn problem(&self, lang: Lang) -> Problem {
        let slug = self.slug();
        let errors = match self {
            AppError::Validation(issues) => issues
                .iter()
                .map(|i| ProblemField {
                    field: i.field.clone(),
                    message: i.message.render(lang),
                })
                .collect(),
            _ => Vec::new(),
        };
        Problem {
            kind: format!("urn:talentcert:problem:{slug}"),
            title: t(lang, &format!("problem.{slug}"), &[]),
            status: self.status_code().as_u16(),
            detail: self.detail().render(lang),
            errors,
        }
    }

    /// The problem+json response in a language.
    pub fn json_response(&self, lang: Lang) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        builder.content_type("application/problem+json");
        if let AppError::TooManyRequests { retry_after_secs } = self {
            builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if matches!(
            self,
            AppError::Unauthenticated | AppError::InvalidCredentials
        ) {
            builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        builder.json(self.problem(lang))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(_) | AppError::Unavailable(_) => {
                tracing::error!(error = ?self, "request failed");
            }
            _ => {}
        }
        self.json_response(Lang::En)
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> AppError {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return AppError::Conflict(Msg::new("error.conflict_unique"))
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return AppError::Conflict(Msg::new("error.conflict_reference"))
            }
            _ => {}
        }
        match &err {
            DbErr::RecordNotFound(_) => AppError::NotFound,
            DbErr::ConnectionAcquire(_) | DbErr::Conn(RuntimeErr::SqlxError(_)) => {
                AppError::Unavailable(err.into())
            }
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))
                if database_unavailable(e) =>
            {
                AppError::Unavailable(err.into())
            }
            _ => AppError::Internal(err.into()),
        }
    }
}

/// Whether a failed query says the database cannot be reached or used right now (worth a retry
/// later), rather than that the query was wrong: the connection broke, the pool is gone, SQLite's
/// file stayed locked past the busy timeout, PostgreSQL is shutting down, refusing connections or
/// out of connection slots. Anything else (a constraint, bad input, a privilege) stays an error.
fn database_unavailable(err: &sea_orm::SqlxError) -> bool {
    use sea_orm::sqlx::error::DatabaseError as _;
    use sea_orm::sqlx::{postgres::PgDatabaseError, sqlite::SqliteError};
    use sea_orm::SqlxError as E;
    match err {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => true,
        E::Database(db) => {
            if let Some(e) = db.try_downcast_ref::<SqliteError>() {
                // SQLITE_BUSY (5) and its extended codes, except BUSY_SNAPSHOT (517): a stale
                // read-then-write transaction, which waiting does not cure.
                let code = e.code().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
                return code & 0xff == 5 && code != 517;
            }
            if let Some(e) = db.try_downcast_ref::<PgDatabaseError>() {
                let code = e.code();
                return code.starts_with("08")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
            }
            false
        }
        _ => false,
    }
}

impl From<TransactionError<AppError>> for AppError {
    fn from(err: TransactionError<AppError>) -> AppError {
        match err {
            TransactionError::Connection(db) => db.into(),
            TransactionError::Transaction(app) => app,
        }
    }
}

impl From<validator::ValidationErrors> for AppError {
    fn from(errors: validator::ValidationErrors) -> AppError {
        let mut issues = Vec::new();
        collect_validation("", &errors, &mut issues);
        issues.sort_by(|a, b| a.field.cmp(&b.field));
        AppError::Validation(issues)
    }
}

fn collect_validation(
    prefix: &str,
    errors: &validator::ValidationErrors,
    out: &mut Vec<FieldIssue>,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let mut msg = Msg::new(format!("validation.{}", e.code));
                    for (name, value) in &e.params {
                        let name: &'static str = match name.as_ref() {
                            "min" => "min",
                            "max" => "max",
                            _ => continue,
                        };
                        msg = msg.arg(name, value.to_string().trim_matches('"'));
                    }
                    out.push(FieldIssue::new(path.clone(), msg));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect_validation(&format!("{path}[{index}]"), inner, out);
                }
            }
        }
    }
}

/// The result type of handlers and services.
pub type AppResult<T> = Result<T, AppError>;
