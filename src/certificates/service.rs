//! Issuing, revoking, reissuing and verifying certificates.
//!
//! A certificate is issued in the same transaction as the status change that earns it (exam
//! grading, manual grading, a regrade). A partial unique index allows one valid certificate per
//! person and certification, so concurrent submits cannot issue two.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::credential::{self, AttestedCompetency, CertificateData, Check};
use super::entities::{certificate, status_list};
use super::{code, keys, pdf};
use crate::assessment::entities::attempt;
use crate::auth::entities::{organization, user};
use crate::catalog::entities::{certification, competency, job_category};
use crate::error::{AppError, AppResult, Msg};
use crate::notify::{EmailContent, Mailer, Recipient};

/// Entries of a status list (16 KiB of bits, the W3C recommended minimum for privacy).
pub const STATUS_LIST_SIZE: i64 = 131_072;
/// A valid certificate this close to expiry may be renewed by passing the exam again.
pub const RECERTIFICATION_WINDOW_DAYS: i64 = 90;

/// A certificate as its holder, HR and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub code: String,
    /// The code as people read it (`XXXX-XXXX-XXXX-C`).
    pub display_code: String,
    /// valid, expired, revoked or superseded.
    pub status: String,
    pub holder_name: String,
    pub user_id: i64,
    pub certification_id: i64,
    pub title: String,
    pub title_zh: String,
    pub level: i32,
    /// Awarded with distinction.
    pub distinction: bool,
    pub issuer: String,
    pub competencies: Vec<AttestedCompetency>,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub days_left: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    /// public, or surname (the name shows only to a verifier who types the surname).
    pub name_disclosure: String,
    pub verify_url: String,
    pub pdf_url: String,
    pub credential_url: String,
    /// SHA-256 of the issued PDF; empty for the moments after issue while the PDF renders (the
    /// download renders it at once when asked).
    pub pdf_sha256: String,
}

/// The status a verifier sees: revoked and superseded first, then expiry by date.
pub fn effective_status(c: &certificate::Model, now: DateTime<Utc>) -> &'static str {
    status_at(&c.status, c.valid_until, now)
}

/// A stored status read at `now`: a valid certificate past `valid_until` is expired.
fn status_at(stored: &str, valid_until: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    match stored {
        "revoked" => "revoked",
        "superseded" => "superseded",
        _ if valid_until <= now => "expired",
        _ => "valid",
    }
}

fn data_of(c: &certificate::Model) -> AppResult<CertificateData> {
    // Read from the stored JSON in place (cloning the value first was 3% of a lookup).
    <CertificateData as serde::Deserialize>::deserialize(&c.data).map_err(AppError::internal)
}

/// The view of a certificate.
pub fn view(c: &certificate::Model, public_url: &str) -> AppResult<CertificateView> {
    let data = data_of(c)?;
    let now = Utc::now();
    Ok(CertificateView {
        display_code: code::display(&c.code),
        status: effective_status(c, now).into(),
        holder_name: data.holder_name,
        user_id: c.user_id,
        certification_id: c.certification_id,
        title: data.title,
        title_zh: data.title_zh,
        level: data.level,
        distinction: data.distinction,
        issuer: data.issuer_name,
        competencies: data.competencies,
        issued_at: c.issued_at,
        valid_until: c.valid_until,
        days_left: (c.valid_until - now).num_days(),
        revoked_at: c.revoked_at,
        revocation_reason: c.revocation_reason.clone(),
        name_disclosure: c.name_disclosure.clone(),
        verify_url: format!("{public_url}/verify/{}", c.code),
        pdf_url: format!("{public_url}/api/v1/certificates/{}.pdf", c.code),
        credential_url: format!("{public_url}/api/v1/certificates/{}/credential", c.code),
        pdf_sha256: c.pdf_sha256.clone(),
        code: c.code.clone(),
    })
}

/// The current valid certificate of a person for a certification, if any.
async fn current<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    certification_id: i64,
) -> Result<Option<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::UserId.eq(user_id))
        .filter(certificate::Column::CertificationId.eq(certification_id))
        .filter(certificate::Column::Status.eq("valid"))
        .one(conn)
        .await
}

/// Brings a person's certificate in line with their certification status after an outcome
/// changed (`changed` is the attempt just graded or regraded): issues one when the status
/// became "passed" (or renews one near expiry), revokes it with the reason "regraded" when the
/// attempt it rests on no longer passes and nothing else does.
pub async fn on_outcome<C: ConnectionTrait>(
    conn: &C,
    mailer: &Mailer,
    changed: &attempt::Model,
) -> AppResult<()> {
    let cert = certification::Entity::find_by_id(changed.certification_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let rules = crate::assessment::exam::rules(&cert)?;
    let attempts = attempt::Entity::find()
        .filter(attempt::Column::UserId.eq(changed.user_id))
        .filter(attempt::Column::CertificationId.eq(cert.id))
        .order_by_asc(attempt::Column::Number)
        .all(conn)
        .await?;
    let status = crate::assessment::exam::counted_result(
        &attempts,
        &rules.counted_attempt,
        rules.pass_percent,
    );
    let now = Utc::now();
    let held = current(conn, changed.user_id, cert.id).await?;
    match (status, held) {
        ("passed", None) => {
            let basis = passing_attempt(&attempts, changed);
            if let Some(basis) = basis {
                issue(conn, mailer, &cert, basis, None, rules.validity_months).await?;
            }
        }
        ("passed", Some(old)) => {
            // Recertification: a new pass near (or after) expiry renews the certificate.
            let renewable = old.valid_until - now <= Duration::days(RECERTIFICATION_WINDOW_DAYS);
            let newer = changed.passed == Some(true)
                && changed.finished_at.is_some_and(|f| f > old.issued_at);
            if renewable && newer {
                supersede(conn, &old).await?;
                let new = issue(
                    conn,
                    mailer,
                    &cert,
                    changed,
                    Some(&old),
                    rules.validity_months,
                )
                .await?;
                link_superseded(conn, old, new.id).await?;
            }
        }
        ("failed", Some(old)) => {
            let basis_failed = match old.attempt_id {
                Some(id) => attempts
                    .iter()
                    .find(|a| a.id == id)
                    .is_some_and(|a| a.passed != Some(true)),
                None => false,
            };
            if basis_failed {
                revoke_model(conn, old, "regraded", None).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The attempt a new certificate rests on: the one just graded if it passed, else the best pass.
fn passing_attempt<'a>(
    attempts: &'a [attempt::Model],
    changed: &'a attempt::Model,
) -> Option<&'a attempt::Model> {
    if changed.passed == Some(true) {
        return Some(changed);
    }
    attempts
        .iter()
        .filter(|a| a.passed == Some(true))
        .max_by(|a, b| {
            a.percent
                .unwrap_or(0.0)
                .total_cmp(&b.percent.unwrap_or(0.0))
        })
}

async fn supersede<C: ConnectionTrait>(conn: &C, old: &certificate::Model) -> Result<(), DbErr> {
    let mut active = old.clone().into_active_model();
    active.status = Set("superseded".into());
    active.update(conn).await?;
    Ok(())
}

async fn link_superseded<C: ConnectionTrait>(
    conn: &C,
    old: certificate::Model,
    new_id: i64,
) -> Result<(), DbErr> {
    let mut active = old.into_active_model();
    active.status = Set("superseded".into());
    active.superseded_by = Set(Some(new_id));
    active.update(conn).await?;
    Ok(())
}

/// A free slot in the issuer's current status list (a new list when it is nearly full).
async fn status_slot<C: ConnectionTrait>(conn: &C, issuer_org_id: i64) -> AppResult<(i64, i64)> {
    for _ in 0..8 {
        let list = status_list::Entity::find()
            .filter(status_list::Column::IssuerOrgId.eq(issuer_org_id))
            .order_by_desc(status_list::Column::Number)
            .one(conn)
            .await?;
        let list = match list {
            Some(l) => l,
            None => {
                insert_list(conn, issuer_org_id, 0).await?;
                continue;
            }
        };
        let used = certificate::Entity::find()
            .filter(certificate::Column::StatusListId.eq(list.id))
            .count(conn)
            .await?;
        if i64::try_from(used).unwrap_or(i64::MAX) * 10 >= list.size * 9 {
            insert_list(conn, issuer_org_id, list.number + 1).await?;
            continue;
        }
        for _ in 0..32 {
            let index = rand::thread_rng().gen_range(0..list.size);
            let taken = certificate::Entity::find()
                .filter(certificate::Column::StatusListId.eq(list.id))
                .filter(certificate::Column::StatusIndex.eq(index))
                .count(conn)
                .await?;
            if taken == 0 {
                return Ok((list.id, index));
            }
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free status list entry"
    )))
}

async fn insert_list<C: ConnectionTrait>(
    conn: &C,
    issuer_org_id: i64,
    number: i32,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO status_lists (issuer_org_id, number, size, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (issuer_org_id, number) DO NOTHING"
        }
        _ => {
            "INSERT INTO status_lists (issuer_org_id, number, size, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (issuer_org_id, number) DO NOTHING"
        }
    };
    conn.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [
            issuer_org_id.into(),
            number.into(),
            STATUS_LIST_SIZE.into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A code no certificate has.
async fn fresh_code<C: ConnectionTrait>(conn: &C) -> Result<String, DbErr> {
    loop {
        let code = code::generate();
        let taken = certificate::Entity::find()
            .filter(certificate::Column::Code.eq(code.clone()))
            .count(conn)
            .await?;
        if taken == 0 {
            return Ok(code);
        }
    }
}

/// What the certificate of `basis` says: the holder, the issuer, the certification and the
/// competency levels the attempt evidenced.
async fn certificate_data<C: ConnectionTrait>(
    conn: &C,
    cert: &certification::Model,
    holder: &user::Model,
    competencies: &[(String, i32)],
    issued_at: DateTime<Utc>,
    validity_months: u32,
) -> AppResult<CertificateData> {
    let holder_org = organization::Entity::find_by_id(holder.org_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let issuer = if cert.org_id == holder.org_id {
        holder_org.clone()
    } else {
        organization::Entity::find_by_id(cert.org_id)
            .one(conn)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let category = job_category::Entity::find_by_id(cert.category_id.clone())
        .one(conn)
        .await?;
    let ids: Vec<String> = competencies.iter().map(|(id, _)| id.clone()).collect();
    let named = competency::Entity::find()
        .filter(competency::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    let attested = competencies
        .iter()
        .map(|(id, level)| {
            let k = named.iter().find(|k| &k.id == id);
            AttestedCompetency {
                id: id.clone(),
                name: k.map_or_else(|| id.clone(), |k| k.name.clone()),
                name_zh: k.map(|k| k.name_zh.clone()).unwrap_or_default(),
                level: *level,
            }
        })
        .collect();
    let valid_until = issued_at
        .checked_add_months(Months::new(validity_months.max(1)))
        .unwrap_or(issued_at);
    Ok(CertificateData {
        code: String::new(),
        holder_name: holder.display_name.clone(),
        holder_organization: holder_org.name,
        issuer_org_id: issuer.id,
        issuer_name: issuer.name,
        certification_code: cert.code.clone(),
        title: cert.title.clone(),
        title_zh: cert.title_zh.clone(),
        description: if cert.description.is_empty() {
            cert.title.clone()
        } else {
            cert.description.clone()
        },
        level: cert.level,
        category: cert.category_id.clone(),
        category_name: category
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        category_name_zh: category.map(|c| c.name_zh).unwrap_or_default(),
        competencies: attested,
        issued_at,
        valid_until,
        replaces: None,
        distinction: false,
    })
}

/// Signs, renders and stores a certificate (in the caller's transaction), audits it and queues
/// the certificate-issued email.
async fn store<C: ConnectionTrait>(
    conn: &C,
    mailer: &Mailer,
    holder: &user::Model,
    certification_id: i64,
    attempt_id: Option<i64>,
    mut data: CertificateData,
    replaces: Option<&certificate::Model>,
) -> AppResult<certificate::Model> {
    let public_url = mailer.public_url().to_string();
    data.code = fresh_code(conn).await?;
    data.replaces = replaces.map(|r| r.code.clone());
    let (list_id, index) = status_slot(conn, data.issuer_org_id).await?;
    let key = keys::active(conn, data.issuer_org_id).await?;
    let subject = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let vc = credential::build(
        &data,
        &credential::Urls {
            public_url: &public_url,
            status_list_id: list_id,
            status_index: index,
            subject_id: &subject,
        },
    );
    let jwt = credential::sign(&vc, &key.kid, &key.private_key).map_err(AppError::internal)?;
    // The PDF is rendered right after the commit (`render_pending`), not here: on SQLite this
    // transaction holds the database's one writer, and rendering takes milliseconds of CPU.
    let row = certificate::ActiveModel {
        id: NotSet,
        code: Set(data.code.clone()),
        org_id: Set(holder.org_id),
        user_id: Set(holder.id),
        certification_id: Set(certification_id),
        attempt_id: Set(attempt_id),
        issuer_org_id: Set(data.issuer_org_id),
        kid: Set(key.kid.clone()),
        data: Set(json!(data)),
        issued_at: Set(data.issued_at),
        valid_until: Set(data.valid_until),
        status: Set("valid".into()),
        revoked_at: Set(None),
        revocation_reason: Set(None),
        superseded_by: Set(None),
        replaces: Set(replaces.map(|r| r.id)),
        status_list_id: Set(list_id),
        status_index: Set(index),
        credential: Set(jwt),
        pdf: Set(Vec::new()),
        pdf_sha256: Set(String::new()),
        name_disclosure: Set(
            replaces.map_or_else(|| "public".to_string(), |r| r.name_disclosure.clone())
        ),
        reminders: Set(None),
    }
    .insert(conn)
    .await?;
    crate::audit::record(
        conn,
        crate::audit::AuditEvent {
            org_id: Some(holder.org_id),
            actor_user_id: None,
            action: "certificate.issued",
            target_type: "certificate",
            target_id: Some(row.code.clone()),
            after: Some(json!({
                "user_id": holder.id,
                "certification_id": certification_id,
                "attempt_id": attempt_id,
                "replaces": data.replaces,
            })),
            ..Default::default()
        },
    )
    .await?;
    let lang = crate::i18n::Lang::from_tag(&holder.language).unwrap_or_default();
    let title = if lang == crate::i18n::Lang::ZhCn && !data.title_zh.is_empty() {
        data.title_zh.clone()
    } else {
        data.title.clone()
    };
    mailer
        .enqueue(
            conn,
            Some(holder.org_id),
            &format!("certificate-issued:{}", row.code),
            &Recipient {
                email: holder.email.clone(),
                name: holder.display_name.clone(),
                lang,
            },
            &EmailContent::CertificateIssued {
                certification_title: title,
                code: code::display(&row.code),
                valid_until: Some(row.valid_until.format("%Y-%m-%d").to_string()),
                link: format!("{public_url}/verify/{}", row.code),
                pdf_link: format!("{public_url}/api/v1/certificates/{}.pdf", row.code),
            },
        )
        .await?;
    Ok(row)
}

/// Issues the certificate `basis` earned.
async fn issue<C: ConnectionTrait>(
    conn: &C,
    mailer: &Mailer,
    cert: &certification::Model,
    basis: &attempt::Model,
    replaces: Option<&certificate::Model>,
    validity_months: u32,
) -> AppResult<certificate::Model> {
    let holder = user::Entity::find_by_id(basis.user_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let competencies: Vec<(String, i32)> = basis
        .competencies
        .as_ref()
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let id = c["id"].as_str().filter(|s| !s.is_empty())?;
                    let level = i32::try_from(c["level"].as_i64()?).ok()?;
                    Some((id.to_string(), level))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut data = certificate_data(
        conn,
        cert,
        &holder,
        &competencies,
        Utc::now(),
        validity_months,
    )
    .await?;
    let rules = crate::assessment::exam::rules(cert)?;
    data.distinction = basis.percent.unwrap_or(0.0) + 1e-9 >= rules.excellent_percent;
    store(
        conn,
        mailer,
        &holder,
        cert.id,
        Some(basis.id),
        data,
        replaces,
    )
    .await
}

async fn revoke_model<C: ConnectionTrait>(
    conn: &C,
    c: certificate::Model,
    reason: &str,
    actor: Option<i64>,
) -> AppResult<certificate::Model> {
    let before = json!({"status": c.status});
    let mut active = c.into_active_model();
    active.status = Set("revoked".into());
    active.revoked_at = Set(Some(Utc::now()));
    active.revocation_reason = Set(Some(reason.to_string()));
    let c = active.update(conn).await?;
    crate::audit::record(
        conn,
        crate::audit::AuditEvent {
            org_id: Some(c.org_id),
            actor_user_id: actor,
            action: "certificate.revoked",
            target_type: "certificate",
            target_id: Some(c.code.clone()),
            before: Some(before),
            after: Some(json!({"status": "revoked", "reason": reason})),
            ..Default::default()
        },
    )
    .await?;
    Ok(c)
}

/// A certificate of the viewer's organization by code (404 for any other organization's).
pub async fn find_in_org<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    typed_code: &str,
) -> AppResult<certificate::Model> {
    let code = code::normalize(typed_code).ok_or(AppError::NotFound)?;
    certificate::Entity::find()
        .filter(certificate::Column::Code.eq(code))
        .filter(certificate::Column::OrgId.eq(org_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Revokes a certificate of the admin's organization with a reason, audited. Revoking twice
/// answers the revoked certificate.
pub async fn revoke(
    db: &DatabaseConnection,
    org_id: i64,
    actor: i64,
    typed_code: &str,
    reason: &str,
) -> AppResult<certificate::Model> {
    let txn = crate::db::begin_write(db).await?;
    let c = find_in_org(&txn, org_id, typed_code).await?;
    if c.status == "revoked" {
        return Ok(c);
    }
    let c = revoke_model(&txn, c, reason, Some(actor)).await?;
    txn.commit().await?;
    Ok(c)
}

/// A render job for the PDF threads.
type RenderJob = Box<dyn FnOnce() + Send>;

/// PDFs are rendered on a few long-lived threads of their own, one per core. A render allocates
/// a few MB; run on tokio's blocking pool, renders landed on many different threads and glibc
/// kept each thread's freed memory in its own arena (415 MiB peak in the 1,000-exam load,
/// measured). Fewer threads, fewer arenas; and the queue bounds how many run at once.
fn render_queue() -> AppResult<&'static std::sync::mpsc::Sender<RenderJob>> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::Sender<RenderJob>> =
        std::sync::OnceLock::new();
    if let Some(queue) = QUEUE.get() {
        return Ok(queue);
    }
    let (tx, rx) = std::sync::mpsc::channel::<RenderJob>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..threads {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("pdf-render-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })
            .map_err(AppError::internal)?;
    }
    // Should two callers race here, the loser's threads see their channel close and end.
    Ok(QUEUE.get_or_init(|| tx))
}

/// Renders a certificate PDF on the PDF threads.
async fn render_pdf(
    data: CertificateData,
    verify_url: String,
    credential: String,
) -> AppResult<Vec<u8>> {
    let (done, result) = tokio::sync::oneshot::channel();
    render_queue()?
        .send(Box::new(move || {
            let _ = done.send(pdf::render(&data, &verify_url, &credential));
        }))
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the PDF threads have stopped")))?;
    result
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))
}

/// Renders and stores the PDF of certificates committed without one: called right after each
/// transaction that issues certificates (for its holder), and at start and before exports for
/// any that a crash left behind (`holder` none). The frozen data and credential decide the PDF;
/// the update only fills an empty one, so two renderers never both store. Answers how many
/// PDFs this call stored.
pub async fn render_pending(
    db: &DatabaseConnection,
    public_url: &str,
    holder: Option<i64>,
) -> AppResult<u64> {
    use sea_orm::QuerySelect;
    let mut stored = 0;
    loop {
        let mut query =
            without_pdf(certificate::Entity::find()).filter(certificate::Column::PdfSha256.eq(""));
        if let Some(user_id) = holder {
            query = query.filter(certificate::Column::UserId.eq(user_id));
        }
        let pending = query
            .order_by_asc(certificate::Column::Id)
            .limit(50)
            .into_model::<certificate::Model>()
            .all(db)
            .await?;
        if pending.is_empty() {
            return Ok(stored);
        }
        for c in pending {
            let data = data_of(&c)?;
            let verify_url = format!("{public_url}/verify/{}", c.code);
            let credential = c.credential.clone();
            let bytes = render_pdf(data, verify_url, credential).await?;
            let sha = hex::encode(Sha256::digest(&bytes));
            let txn = crate::db::begin_write(db).await?;
            let updated = certificate::Entity::update_many()
                .col_expr(
                    certificate::Column::Pdf,
                    sea_orm::sea_query::Expr::value(bytes),
                )
                .col_expr(
                    certificate::Column::PdfSha256,
                    sea_orm::sea_query::Expr::value(sha.clone()),
                )
                .filter(certificate::Column::Id.eq(c.id))
                .filter(certificate::Column::PdfSha256.eq(""))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 1 {
                crate::audit::record(
                    &txn,
                    crate::audit::AuditEvent {
                        org_id: Some(c.org_id),
                        actor_user_id: None,
                        action: "certificate.rendered",
                        target_type: "certificate",
                        target_id: Some(c.code.clone()),
                        after: Some(json!({ "pdf_sha256": sha })),
                        ..Default::default()
                    },
                )
                .await?;
                stored += 1;
            }
            txn.commit().await?;
        }
    }
}

/// [`render_pending`] after a commit that may have issued certificates: the certificates are
/// committed already, so a failure here is logged (they are rendered again at start, before an
/// export or on download) and never turns the caller's answer into an error.
pub async fn render_after_commit(db: &DatabaseConnection, public_url: &str, holder: Option<i64>) {
    if let Err(err) = render_pending(db, public_url, holder).await {
        tracing::warn!(error = %err, "could not render a certificate PDF yet");
    }
}

/// [`render_after_commit`] without waiting for it: after an exam's submit, so a learner does not
/// wait for the PDF threads (in a burst of submits, 1,000 renders queue up for seconds) and the
/// request's slot is free again. Until the PDF is stored (milliseconds, seconds in a burst), lists
/// show the certificate with an empty `pdf_sha256`; the download and the export render it on the
/// spot. Lists never render: a client polling its list must not queue renders.
pub fn render_in_background(db: &DatabaseConnection, public_url: &str, holder: Option<i64>) {
    let (db, public_url) = (db.clone(), public_url.to_string());
    tokio::spawn(async move { render_after_commit(&db, &public_url, holder).await });
}

/// Reissues a valid certificate with the holder's current name (a name correction): the new
/// certificate supersedes the old one, which verifies as "superseded" with a link.
pub async fn reissue(
    db: &DatabaseConnection,
    mailer: &Mailer,
    org_id: i64,
    actor: i64,
    typed_code: &str,
) -> AppResult<certificate::Model> {
    let txn = crate::db::begin_write(db).await?;
    let old = find_in_org(&txn, org_id, typed_code).await?;
    if old.status != "valid" {
        return Err(AppError::Conflict(Msg::new("error.certificate_not_valid")));
    }
    let holder = user::Entity::find_by_id(old.user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut data = data_of(&old)?;
    data.holder_name = holder.display_name.clone();
    supersede(&txn, &old).await?;
    let new = store(
        &txn,
        mailer,
        &holder,
        old.certification_id,
        old.attempt_id,
        data,
        Some(&old),
    )
    .await?;
    crate::audit::record(
        &txn,
        crate::audit::AuditEvent {
            org_id: Some(org_id),
            actor_user_id: Some(actor),
            action: "certificate.reissued",
            target_type: "certificate",
            target_id: Some(old.code.clone()),
            after: Some(json!({"superseded_by": new.code})),
            ..Default::default()
        },
    )
    .await?;
    link_superseded(&txn, old, new.id).await?;
    txn.commit().await?;
    render_after_commit(db, mailer.public_url(), Some(new.user_id)).await;
    find_in_org(db, org_id, &new.code).await
}

/// A verifier's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationReport {
    /// valid, expired, revoked, superseded or invalid.
    pub status: String,
    pub checks: Vec<Check>,
    pub certificate: Option<PublicCertificate>,
}

/// What a verifier may see of a certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicCertificate {
    pub code: String,
    pub display_code: String,
    /// Null when the holder shows their name only to verifiers who type their surname.
    pub holder_name: Option<String>,
    pub name_withheld: bool,
    pub title: String,
    pub title_zh: String,
    pub level: i32,
    /// Awarded with distinction (the "excellent" line was reached).
    pub distinction: bool,
    pub category: String,
    pub issuer: String,
    pub issuer_url: String,
    pub competencies: Vec<AttestedCompetency>,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    /// The code of the certificate that replaced this one.
    pub superseded_by: Option<String>,
    pub verify_url: String,
}

/// Whether `typed` is the holder's surname: the first or last word of a name written with
/// spaces, or the first one or two characters of one written without (Chinese, Japanese,
/// Korean names).
pub fn surname_matches(name: &str, typed: &str) -> bool {
    let typed = typed.trim().to_lowercase();
    if typed.is_empty() {
        return false;
    }
    let name = name.trim().to_lowercase();
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() > 1 {
        return words.first() == Some(&typed.as_str()) || words.last() == Some(&typed.as_str());
    }
    let chars: Vec<char> = name.chars().collect();
    let t: Vec<char> = typed.chars().collect();
    (1..=2).contains(&t.len()) && t.len() < chars.len() && chars.starts_with(&t)
}

/// What a lookup reads fresh on every request: a certificate's status and who may see the
/// holder's name.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Live {
    id: i64,
    status: String,
    revoked_at: Option<DateTime<Utc>>,
    revocation_reason: Option<String>,
    superseded_by: Option<i64>,
    name_disclosure: String,
}

impl Live {
    fn of(c: &certificate::Model) -> Self {
        Live {
            id: c.id,
            status: c.status.clone(),
            revoked_at: c.revoked_at,
            revocation_reason: c.revocation_reason.clone(),
            superseded_by: c.superseded_by,
            name_disclosure: c.name_disclosure.clone(),
        }
    }
}

/// What verification shows of a certificate that is frozen at issue: its data, its dates and
/// what checking its signed credential with the published keys found.
struct Frozen {
    id: i64,
    code: String,
    data: CertificateData,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    signature: Vec<Check>,
    signed_ok: bool,
}

/// Frozen parts by certificate code (60 random bits, so unlike a row id it does not name
/// another certificate in another database). A credential is frozen at issue and published keys
/// are never withdrawn, so an entry cannot go stale; status, replacement and name disclosure are
/// read fresh on every lookup. At most `FROZEN_MAX` entries (about 1.5 KB each).
type FrozenCache = std::sync::Mutex<HashMap<String, std::sync::Arc<Frozen>>>;
static FROZEN: std::sync::OnceLock<FrozenCache> = std::sync::OnceLock::new();
const FROZEN_MAX: usize = 10_000;

/// The frozen part of the certificate `live` read, from the cache or the database.
async fn frozen_of(
    db: &DatabaseConnection,
    code: &str,
    live: &Live,
    now: DateTime<Utc>,
) -> AppResult<Option<std::sync::Arc<Frozen>>> {
    let cache = FROZEN.get_or_init(|| std::sync::Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock() {
        if let Some(hit) = map.get(code).filter(|f| f.id == live.id) {
            return Ok(Some(hit.clone()));
        }
    }
    let Some(c) = without_pdf(certificate::Entity::find_by_id(live.id))
        .into_model::<certificate::Model>()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let jwks = keys::jwks(db).await?;
    let signed = credential::verify(&c.credential, &jwks, now);
    let frozen = std::sync::Arc::new(Frozen {
        id: c.id,
        data: data_of(&c)?,
        issued_at: c.issued_at,
        valid_until: c.valid_until,
        signature: signed
            .checks
            .iter()
            .filter(|k| k.name != "dates")
            .cloned()
            .collect(),
        signed_ok: signed.credential.is_some(),
        code: c.code,
    });
    if let Ok(mut map) = cache.lock() {
        if map.len() >= FROZEN_MAX {
            map.clear();
        }
        map.insert(frozen.code.clone(), frozen.clone());
    }
    Ok(Some(frozen))
}

/// The code of the certificate that replaced another, if any.
async fn superseding_code<C: ConnectionTrait>(
    conn: &C,
    superseded_by: Option<i64>,
) -> AppResult<Option<String>> {
    let Some(id) = superseded_by else {
        return Ok(None);
    };
    #[derive(sea_orm::FromQueryResult)]
    struct CodeOnly {
        code: String,
    }
    use sea_orm::QuerySelect;
    Ok(certificate::Entity::find_by_id(id)
        .select_only()
        .column(certificate::Column::Code)
        .into_model::<CodeOnly>()
        .one(conn)
        .await?
        .map(|n| n.code))
}

/// What a verifier may see: the holder's name only when they may.
#[allow(clippy::too_many_arguments)]
fn public_certificate(
    code: &str,
    data: &CertificateData,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    live: &Live,
    superseded_by: Option<String>,
    public_url: &str,
    surname: Option<&str>,
) -> PublicCertificate {
    let shown = live.name_disclosure != "surname"
        || surname.is_some_and(|s| surname_matches(&data.holder_name, s));
    PublicCertificate {
        code: code.to_string(),
        display_code: code::display(code),
        holder_name: shown.then(|| data.holder_name.clone()),
        name_withheld: !shown,
        title: data.title.clone(),
        title_zh: data.title_zh.clone(),
        level: data.level,
        distinction: data.distinction,
        category: data.category_name.clone(),
        issuer: data.issuer_name.clone(),
        issuer_url: format!("{public_url}/issuers/{}", data.issuer_org_id),
        competencies: data.competencies.clone(),
        issued_at,
        valid_until,
        revoked_at: live.revoked_at,
        revocation_reason: live.revocation_reason.clone(),
        superseded_by,
        verify_url: format!("{public_url}/verify/{code}"),
    }
}

/// The checks of a certificate's status (revocation, replacement, expiry).
fn status_checks(
    live: &Live,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (String, Vec<Check>) {
    let status = status_at(&live.status, valid_until, now);
    let check = match status {
        "revoked" => Check::new(
            "status",
            false,
            format!(
                "revoked on {}: {}",
                live.revoked_at
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                live.revocation_reason.clone().unwrap_or_default()
            ),
        ),
        "superseded" => Check::new("status", false, "superseded by a newer certificate"),
        _ => Check::new("status", true, "not revoked"),
    };
    (status.to_string(), vec![check])
}

/// Checks a certificate by its code: the record, its signed credential with the published
/// keys, its status and dates. Unknown codes are `None` (a 404). Each lookup reads only the
/// status columns; the frozen part comes from a cache (see `FROZEN`).
pub async fn verify_code(
    db: &DatabaseConnection,
    public_url: &str,
    typed_code: &str,
    surname: Option<&str>,
) -> AppResult<Option<VerificationReport>> {
    use sea_orm::QuerySelect;
    // A malformed code costs the same lookup as an unknown one.
    let code = code::normalize(typed_code).unwrap_or_else(|| "-".repeat(code::CODE_LEN));
    let Some(live) = certificate::Entity::find()
        .select_only()
        .columns([
            certificate::Column::Id,
            certificate::Column::Status,
            certificate::Column::RevokedAt,
            certificate::Column::RevocationReason,
            certificate::Column::SupersededBy,
            certificate::Column::NameDisclosure,
        ])
        .filter(certificate::Column::Code.eq(code.as_str()))
        .into_model::<Live>()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let Some(frozen) = frozen_of(db, &code, &live, now).await? else {
        return Ok(None);
    };
    let mut checks = vec![Check::new("record", true, "issued by this service")];
    checks.extend(frozen.signature.iter().cloned());
    let (mut status, status_checks) = status_checks(&live, frozen.valid_until, now);
    checks.extend(status_checks);
    checks.push(if status == "expired" {
        Check::new(
            "dates",
            false,
            format!("expired on {}", frozen.valid_until.format("%Y-%m-%d")),
        )
    } else {
        Check::new(
            "dates",
            true,
            format!("valid until {}", frozen.valid_until.format("%Y-%m-%d")),
        )
    });
    if !frozen.signed_ok {
        status = "invalid".into();
    }
    let superseded_by = superseding_code(db, live.superseded_by).await?;
    Ok(Some(VerificationReport {
        status,
        checks,
        certificate: Some(public_certificate(
            &frozen.code,
            &frozen.data,
            frozen.issued_at,
            frozen.valid_until,
            &live,
            superseded_by,
            public_url,
            surname,
        )),
    }))
}

/// A certificate query that leaves the PDF bytes out (verification needs everything else).
fn without_pdf(
    query: sea_orm::Select<certificate::Entity>,
) -> sea_orm::Select<certificate::Entity> {
    use sea_orm::{Iterable, QuerySelect};
    let columns: Vec<certificate::Column> = certificate::Column::iter()
        .filter(|c| !matches!(c, certificate::Column::Pdf))
        .collect();
    query
        .select_only()
        .columns(columns)
        .column_as(sea_orm::sea_query::Expr::val(Vec::<u8>::new()), "pdf")
}

/// Checks an uploaded credential JWT: signature with the published keys, shape, dates, and its
/// status here.
pub async fn verify_credential(
    db: &DatabaseConnection,
    public_url: &str,
    token: &str,
) -> AppResult<VerificationReport> {
    let now = Utc::now();
    let jwks = keys::jwks(db).await?;
    let signed = credential::verify(token, &jwks, now);
    let mut checks = signed.checks.clone();
    let Some(payload) = signed
        .credential
        .as_ref()
        .filter(|_| signed.checks.iter().all(|c| c.passed || c.name == "dates"))
    else {
        return Ok(VerificationReport {
            status: "invalid".into(),
            checks,
            certificate: None,
        });
    };
    let found = match credential::code_of(payload) {
        Some(code) => {
            without_pdf(certificate::Entity::find())
                .filter(certificate::Column::Code.eq(code))
                .into_model::<certificate::Model>()
                .one(db)
                .await?
        }
        None => None,
    };
    let Some(c) = found else {
        checks.push(Check::new(
            "status",
            false,
            "no certificate of this service has this credential's code",
        ));
        return Ok(VerificationReport {
            status: "invalid".into(),
            checks,
            certificate: None,
        });
    };
    let live = Live::of(&c);
    let (mut status, status_checks) = status_checks(&live, c.valid_until, now);
    checks.extend(status_checks);
    if c.credential.trim() != token.trim() {
        checks.push(Check::new(
            "record",
            false,
            "the credential differs from the one issued with this code",
        ));
        status = "invalid".into();
    } else {
        checks.push(Check::new(
            "record",
            true,
            "the credential issued with this code",
        ));
    }
    Ok(VerificationReport {
        status,
        checks,
        certificate: Some(public_certificate(
            &c.code,
            &data_of(&c)?,
            c.issued_at,
            c.valid_until,
            &live,
            superseding_code(db, c.superseded_by).await?,
            public_url,
            None,
        )),
    })
}

/// Checks an uploaded PDF: its SHA-256 against the issued PDFs, and the credential attached to
/// it.
pub async fn verify_pdf(
    db: &DatabaseConnection,
    public_url: &str,
    bytes: &[u8],
) -> AppResult<VerificationReport> {
    let sha = hex::encode(Sha256::digest(bytes));
    let by_hash = certificate::Entity::find()
        .filter(certificate::Column::PdfSha256.eq(sha.clone()))
        .one(db)
        .await?;
    let hash_check = match &by_hash {
        Some(_) => Check::new("pdf", true, format!("the PDF is byte for byte the one issued (SHA-256 {sha})")),
        None => Check::new("pdf", false, format!("no certificate was issued with this PDF (SHA-256 {sha}); it was altered or is not ours")),
    };
    let attached = pdf::attached_credential(bytes);
    let mut report = match attached {
        Some(token) => verify_credential(db, public_url, &token).await?,
        None => VerificationReport {
            status: "invalid".into(),
            checks: vec![Check::new(
                "credential",
                false,
                "the file is not a PDF with an attached credential",
            )],
            certificate: None,
        },
    };
    if by_hash.is_none() {
        report.status = "invalid".into();
    }
    report.checks.insert(0, hash_check);
    Ok(report)
}

/// The signed Bitstring Status List credential of a list (revoked certificates' bits set).
pub async fn status_list_credential(
    db: &DatabaseConnection,
    public_url: &str,
    id: i64,
) -> AppResult<String> {
    let list = status_list::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    // Only the indexes: the rows hold their PDFs.
    let revoked: Vec<i64> = {
        use sea_orm::QuerySelect;
        certificate::Entity::find()
            .select_only()
            .column(certificate::Column::StatusIndex)
            .filter(certificate::Column::StatusListId.eq(list.id))
            .filter(certificate::Column::Status.eq("revoked"))
            .into_tuple()
            .all(db)
            .await?
    };
    let mut bits = vec![0u8; usize::try_from(list.size / 8).unwrap_or(0)];
    for index in revoked {
        if let Ok(i) = usize::try_from(index) {
            if let Some(byte) = bits.get_mut(i / 8) {
                *byte |= 0x80 >> (i % 8);
            }
        }
    }
    let url = format!("{public_url}/status-lists/{}", list.id);
    let now = Utc::now();
    let vc = json!({
        "@context": [credential::VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": format!("{public_url}/issuers/{}", list.issuer_org_id), "type": ["Profile"]},
        "validFrom": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "validUntil": (now + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": credential::encode_status_list(&bits),
        },
    });
    // Usually a plain read; a write only if the key was just retired with no successor yet.
    let key = match keys::find_active(db, list.issuer_org_id).await? {
        Some(key) => key,
        None => {
            let txn = crate::db::begin_write(db).await?;
            let key = keys::active(&txn, list.issuer_org_id).await?;
            txn.commit().await?;
            key
        }
    };
    credential::sign(&vc, &key.kid, &key.private_key).map_err(AppError::internal)
}

/// The certificates of a person, newest first.
pub async fn of_user<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
) -> Result<Vec<certificate::Model>, DbErr> {
    without_pdf(certificate::Entity::find())
        .filter(certificate::Column::UserId.eq(user_id))
        .order_by_desc(certificate::Column::IssuedAt)
        .order_by_desc(certificate::Column::Id)
        .into_model::<certificate::Model>()
        .all(conn)
        .await
}

/// The certificates of an organization, newest first (HR and admins).
/// One page of an organization's certificates, newest first, without their PDF bytes, and how
/// many there are in all. `expiring_within_days` keeps only valid certificates whose
/// `days_left` is at most that many days.
pub async fn org_page<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    expiring_within_days: Option<u32>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<certificate::Model>, u64), DbErr> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let mut query = certificate::Entity::find().filter(certificate::Column::OrgId.eq(org_id));
    if let Some(days) = expiring_within_days {
        let now = Utc::now();
        // days_left = whole days until valid_until, so "at most d" is "before now + d + 1 days".
        query = query
            .filter(certificate::Column::Status.eq("valid"))
            .filter(certificate::Column::ValidUntil.gt(now))
            .filter(
                certificate::Column::ValidUntil
                    .lt(now + chrono::Duration::days(i64::from(days) + 1)),
            );
    }
    let total = query.clone().count(conn).await?;
    let items = without_pdf(
        query
            .order_by_desc(certificate::Column::IssuedAt)
            .order_by_desc(certificate::Column::Id),
    )
    .limit(limit)
    .offset(offset)
    .all(conn)
    .await?;
    Ok((items, total))
}

/// Every certificate of an organization with its PDF, newest first (for the ZIP export).
pub async fn of_org<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
) -> Result<Vec<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::OrgId.eq(org_id))
        .order_by_desc(certificate::Column::IssuedAt)
        .order_by_desc(certificate::Column::Id)
        .all(conn)
        .await
}

/// Sets who sees the holder's name on the verification page.
pub async fn set_disclosure(
    db: &DatabaseConnection,
    user_id: i64,
    typed_code: &str,
    disclosure: &str,
) -> AppResult<certificate::Model> {
    let code = code::normalize(typed_code).ok_or(AppError::NotFound)?;
    let txn = crate::db::begin_write(db).await?;
    let c = certificate::Entity::find()
        .filter(certificate::Column::Code.eq(code))
        .filter(certificate::Column::UserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = c.name_disclosure.clone();
    let mut active = c.into_active_model();
    active.name_disclosure = Set(disclosure.to_string());
    let c = active.update(&txn).await?;
    if before != c.name_disclosure {
        crate::audit::record(
            &txn,
            crate::audit::AuditEvent {
                org_id: Some(c.org_id),
                actor_user_id: Some(user_id),
                action: "certificate.disclosure_changed",
                target_type: "certificate",
                target_id: Some(c.code.clone()),
                before: Some(json!({ "name_disclosure": before })),
                after: Some(json!({ "name_disclosure": c.name_disclosure })),
                ..Default::default()
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(c)
}

/// Sends the expiry reminders due (30 and 7 days before), once each per certificate, through
/// the outbox. Answers how many were queued.
pub async fn send_reminders(db: &DatabaseConnection, mailer: &Mailer) -> AppResult<usize> {
    let now = Utc::now();
    let due = without_pdf(certificate::Entity::find())
        .filter(certificate::Column::Status.eq("valid"))
        .filter(certificate::Column::ValidUntil.gt(now))
        .filter(certificate::Column::ValidUntil.lte(now + Duration::days(30)))
        .into_model::<certificate::Model>()
        .all(db)
        .await?;
    let mut queued = 0;
    for c in due {
        let days_left = (c.valid_until - now).num_days();
        let stage: i64 = if days_left <= 7 { 7 } else { 30 };
        let sent: Vec<i64> = c
            .reminders
            .as_ref()
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        if sent.contains(&stage) {
            continue;
        }
        let txn = crate::db::begin_write(db).await?;
        let Some(holder) = user::Entity::find_by_id(c.user_id).one(&txn).await? else {
            continue;
        };
        let data = data_of(&c)?;
        let lang = crate::i18n::Lang::from_tag(&holder.language).unwrap_or_default();
        let title = if lang == crate::i18n::Lang::ZhCn && !data.title_zh.is_empty() {
            data.title_zh.clone()
        } else {
            data.title.clone()
        };
        mailer
            .enqueue(
                &txn,
                Some(c.org_id),
                &format!("certificate-expiring:{}:{stage}", c.code),
                &Recipient {
                    email: holder.email.clone(),
                    name: holder.display_name.clone(),
                    lang,
                },
                &EmailContent::CertificateExpiring {
                    certification_title: title,
                    code: code::display(&c.code),
                    valid_until: c.valid_until.format("%Y-%m-%d").to_string(),
                    days_left,
                    link: mailer.link("/certifications"),
                },
            )
            .await?;
        let mut sent = sent;
        sent.push(stage);
        let mut active = c.into_active_model();
        active.reminders = Set(Some(json!(sent)));
        active.update(&txn).await?;
        txn.commit().await?;
        queued += 1;
    }
    Ok(queued)
}

/// The certificates of an organization (optionally one department) as a ZIP: each issued PDF,
/// as issued, and `index.csv` describing them. Answers the ZIP and how many certificates it holds.
pub async fn export_zip(
    db: &DatabaseConnection,
    org_id: i64,
    department: Option<&str>,
) -> AppResult<(Vec<u8>, usize)> {
    use std::io::Write;
    let certificates = of_org(db, org_id).await?;
    let user_ids: Vec<i64> = certificates.iter().map(|c| c.user_id).collect();
    let people: std::collections::HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .filter(user::Column::OrgId.eq(org_id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let now = Utc::now();
    let mut index = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    index
        .write_record([
            "file",
            "code",
            "holder_name",
            "email",
            "employee_id",
            "department",
            "certification_code",
            "certification",
            "level",
            "status",
            "issued_at",
            "valid_until",
            "pdf_sha256",
        ])
        .map_err(csv_error)?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // The PDFs are compressed already: store them.
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let zip_error = |e: zip::result::ZipError| AppError::Internal(anyhow::anyhow!(e));
    let mut count = 0;
    for c in &certificates {
        let Some(person) = people.get(&c.user_id) else {
            continue;
        };
        if let Some(d) = department {
            if person.department.as_deref() != Some(d) {
                continue;
            }
        }
        let data = data_of(c)?;
        let file = format!("{}-{}.pdf", data.certification_code, c.code);
        zip.start_file(file.as_str(), options).map_err(zip_error)?;
        zip.write_all(&c.pdf)
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        index
            .write_record([
                file.as_str(),
                &code::display(&c.code),
                &data.holder_name,
                &person.email,
                person.employee_id.as_deref().unwrap_or_default(),
                person.department.as_deref().unwrap_or_default(),
                &data.certification_code,
                &data.title,
                &data.level.to_string(),
                effective_status(c, now),
                &c.issued_at.to_rfc3339(),
                &c.valid_until.to_rfc3339(),
                &c.pdf_sha256,
            ])
            .map_err(csv_error)?;
        count += 1;
    }
    let csv_bytes = index
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?;
    zip.start_file(
        "index.csv",
        options.compression_method(zip::CompressionMethod::Stored),
    )
    .map_err(zip_error)?;
    // A byte-order mark so Excel opens the UTF-8 names correctly.
    zip.write_all(b"\xEF\xBB\xBF")
        .and_then(|()| zip.write_all(&csv_bytes))
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let bytes = zip.finish().map_err(zip_error)?.into_inner();
    Ok((bytes, count))
}
