//! Delivers the outbox over SMTP.
//!
//! Rows are claimed with a lease in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL; a
//! single atomic `UPDATE … RETURNING` on SQLite), so several instances never send the same row at
//! once. A failure is retried with exponential backoff and jitter; after the configured number of
//! attempts the row is `dead`, keeping the last error, until an admin retries it.
//!
//! Delivery is at-least-once: if the process dies after the SMTP server accepted a message but
//! before the row is marked `sent`, the message is sent again once its lease expires. SMTP gives
//! no way to close that window; every copy carries the same `Message-ID` (derived from the row),
//! so receiving systems that de-duplicate on it show one message.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement};
use tokio::sync::Notify;

use super::entity;
use crate::config::{MailSettings, Settings};

/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// Rows claimed per round.
const BATCH: i64 = 10;

/// The background sender. Without an SMTP URL it sends nothing and messages stay queued.
pub struct OutboxWorker {
    db: DatabaseConnection,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    mail: MailSettings,
    host: String,
    wake: Arc<Notify>,
}

/// The delay before attempt `attempts + 1`: `base * 2^(attempts-1)`, at most an hour, ±20% jitter
/// so that many messages failing together do not retry together.
pub fn backoff_seconds(base: i64, attempts: i32) -> i64 {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = base
        .saturating_mul(1_i64 << exponent)
        .min(MAX_BACKOFF_SECONDS);
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    ((delay as f64) * jitter).round().max(1.0) as i64
}

impl OutboxWorker {
    /// A worker for the configured SMTP server; `wake` lets the same instance send at once.
    pub fn new(
        db: DatabaseConnection,
        settings: &Settings,
        wake: Arc<Notify>,
    ) -> anyhow::Result<OutboxWorker> {
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => None,
        };
        let from: Mailbox = settings.mail_from.parse()?;
        let host = settings
            .public_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or("talentcert")
            .to_string();
        Ok(OutboxWorker {
            db,
            transport,
            from,
            mail: settings.mail.clone(),
            host,
            wake,
        })
    }

    /// Sends due messages until the process ends.
    pub async fn run(self) {
        if self.transport.is_none() {
            tracing::info!("no SMTP server configured: email stays queued in the outbox");
            return;
        }
        let poll = Duration::from_millis(self.mail.poll_ms);
        loop {
            match self.deliver_due().await {
                // A full batch: more may be waiting.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "outbox round failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Claims due messages and sends them; answers how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize, DbErr> {
        let Some(transport) = &self.transport else {
            return Ok(0);
        };
        let claimed = self.claim().await?;
        let count = claimed.len();
        for row in claimed {
            let outcome = match self.build(&row) {
                Ok(message) => transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => self.mark_sent(row.id).await?,
                Err(error) => self.mark_failed(&row, &error).await?,
            }
        }
        Ok(count)
    }

    async fn claim(&self) -> Result<Vec<entity::Model>, DbErr> {
        let now: DateTime<Utc> = Utc::now();
        let lease_until = now + chrono::Duration::seconds(self.mail.lease_seconds);
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => format!(
                "UPDATE email_outbox SET status = 'sending', lease_until = $1, attempts = attempts + 1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM email_outbox \
                   WHERE (status = 'queued' AND next_attempt_at <= $2) OR (status = 'sending' AND lease_until < $2) \
                   ORDER BY next_attempt_at, id LIMIT {BATCH} FOR UPDATE SKIP LOCKED) \
                 RETURNING *"
            ),
            _ => format!(
                "UPDATE email_outbox SET status = 'sending', lease_until = ?1, attempts = attempts + 1, updated_at = ?2 \
                 WHERE id IN (SELECT id FROM email_outbox \
                   WHERE (status = 'queued' AND next_attempt_at <= ?2) OR (status = 'sending' AND lease_until < ?2) \
                   ORDER BY next_attempt_at, id LIMIT {BATCH}) \
                 RETURNING *"
            ),
        };
        let statement =
            Statement::from_sql_and_values(backend, sql, [lease_until.into(), now.into()]);
        let rows = self.db.query_all(statement).await?;
        rows.iter()
            .map(|row| entity::Model::from_query_result(row, ""))
            .collect()
    }

    fn build(&self, row: &entity::Model) -> Result<Message, String> {
        let address = row
            .to_address
            .parse()
            .map_err(|e| format!("invalid recipient address: {e}"))?;
        let to = Mailbox::new(row.to_name.clone(), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(format!("<outbox-{}@{}>", row.id, self.host)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(row.text_body.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(row.html_body.clone()),
                    ),
            )
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    async fn mark_sent(&self, id: i64) -> Result<(), DbErr> {
        let now = Utc::now();
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE email_outbox SET status = 'sent', sent_at = $1, updated_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2"
            }
            _ => "UPDATE email_outbox SET status = 'sent', sent_at = ?1, updated_at = ?1, lease_until = NULL, last_error = NULL WHERE id = ?2",
        };
        self.db
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [now.into(), id.into()],
            ))
            .await?;
        tracing::info!(outbox_id = id, "email sent");
        Ok(())
    }

    async fn mark_failed(&self, row: &entity::Model, error: &str) -> Result<(), DbErr> {
        let now = Utc::now();
        let dead = row.attempts >= self.mail.max_attempts;
        let status = if dead { "dead" } else { "queued" };
        let next =
            now + chrono::Duration::seconds(backoff_seconds(self.mail.retry_seconds, row.attempts));
        let error: String = error.chars().take(2000).collect();
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE email_outbox SET status = $1, next_attempt_at = $2, last_error = $3, lease_until = NULL, updated_at = $4 WHERE id = $5 AND status = 'sending'"
            }
            _ => "UPDATE email_outbox SET status = ?1, next_attempt_at = ?2, last_error = ?3, lease_until = NULL, updated_at = ?4 WHERE id = ?5 AND status = 'sending'",
        };
        self.db
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    status.into(),
                    next.into(),
                    error.clone().into(),
                    now.into(),
                    row.id.into(),
                ],
            ))
            .await?;
        if dead {
            tracing::warn!(outbox_id = row.id, attempts = row.attempts, %error, "email is dead after its last attempt");
        } else {
            tracing::info!(outbox_id = row.id, attempts = row.attempts, %error, "email delivery failed; will retry");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for _ in 0..100 {
            let first = backoff_seconds(30, 1);
            assert!((24..=36).contains(&first), "{first}");
            let third = backoff_seconds(30, 3);
            assert!((96..=144).contains(&third), "{third}");
            let late = backoff_seconds(30, 40);
            assert!((2880..=4320).contains(&late), "{late}");
        }
    }
}
