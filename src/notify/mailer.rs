//! Rendering messages and queueing them in the outbox, inside the caller's transaction.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::Serialize;

use super::entity;
use crate::error::AppError;
use crate::i18n::{t, Lang};
use crate::templates::Templates;

/// Who receives a message.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    pub lang: Lang,
}

/// The content of each kind of message. Later capabilities (exams, certificates) build these and
/// call [`Mailer::enqueue`]; the templates are `templates/email/<kind>.<lang>.{html,txt}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmailContent {
    /// A person is invited to set a password and join their organization.
    Invitation {
        org_name: String,
        inviter_name: Option<String>,
        link: String,
        expires_at: String,
    },
    /// A forgotten password: a single-use link to set a new one.
    PasswordReset { link: String, valid_minutes: i64 },
    /// The outcome of a certification exam.
    /// Scores come formatted by the caller (e.g. "18.5"), as the recipient should read them.
    ExamResult {
        certification_title: String,
        passed: Option<bool>,
        score: String,
        max_score: String,
        percent: String,
        link: String,
    },
    /// A certificate was issued.
    CertificateIssued {
        certification_title: String,
        code: String,
        valid_until: Option<String>,
        link: String,
        pdf_link: String,
    },
    /// A certificate expires soon.
    CertificateExpiring {
        certification_title: String,
        code: String,
        valid_until: String,
        days_left: i64,
        link: String,
    },
}

impl EmailContent {
    /// The template name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            EmailContent::Invitation { .. } => "invitation",
            EmailContent::PasswordReset { .. } => "password_reset",
            EmailContent::ExamResult { .. } => "exam_result",
            EmailContent::CertificateIssued { .. } => "certificate_issued",
            EmailContent::CertificateExpiring { .. } => "certificate_expiring",
        }
    }
}

/// Every kind of message, for tests that render them all.
pub const EMAIL_KINDS: [&str; 5] = [
    "invitation",
    "password_reset",
    "exam_result",
    "certificate_issued",
    "certificate_expiring",
];

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Serialize)]
struct EmailContext<'a> {
    lang: &'static str,
    recipient_name: &'a str,
    public_url: &'a str,
    #[serde(flatten)]
    content: &'a EmailContent,
}

/// Renders and queues messages.
#[derive(Clone)]
pub struct Mailer {
    templates: Templates,
    public_url: String,
}

impl Mailer {
    /// A mailer rendering with `templates`, linking to `public_url`.
    pub fn new(templates: Templates, public_url: &str) -> Mailer {
        Mailer {
            templates,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The service's public URL (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// An absolute link to a path of the service.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Renders a message in the recipient's language.
    pub fn render(
        &self,
        recipient: &Recipient,
        content: &EmailContent,
    ) -> Result<Rendered, AppError> {
        let kind = content.kind();
        let lang = recipient.lang;
        let context = EmailContext {
            lang: lang.tag(),
            recipient_name: &recipient.name,
            public_url: &self.public_url,
            content,
        };
        let subject_args = match content {
            EmailContent::Invitation { org_name, .. } => vec![("org", org_name.clone())],
            EmailContent::ExamResult {
                certification_title,
                ..
            }
            | EmailContent::CertificateIssued {
                certification_title,
                ..
            }
            | EmailContent::CertificateExpiring {
                certification_title,
                ..
            } => {
                vec![("certification", certification_title.clone())]
            }
            EmailContent::PasswordReset { .. } => Vec::new(),
        };
        Ok(Rendered {
            subject: t(lang, &format!("email.{kind}.subject"), &subject_args),
            text: self
                .templates
                .render(&format!("email/{kind}.{}.txt", lang.tag()), &context)?,
            html: self
                .templates
                .render(&format!("email/{kind}.{}.html", lang.tag()), &context)?,
        })
    }

    /// Queues a message in the caller's transaction. A second message with the same
    /// `idempotency_key` (e.g. `certificate-issued:42`) is not queued: one event, one email.
    pub async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        org_id: Option<i64>,
        idempotency_key: &str,
        recipient: &Recipient,
        content: &EmailContent,
    ) -> Result<(), AppError> {
        let rendered = self.render(recipient, content)?;
        let now: DateTime<Utc> = Utc::now();
        let row = entity::ActiveModel {
            id: NotSet,
            org_id: Set(org_id),
            idempotency_key: Set(idempotency_key.to_string()),
            kind: Set(content.kind().to_string()),
            to_address: Set(recipient.email.clone()),
            to_name: Set(Some(recipient.name.clone())),
            language: Set(recipient.lang.tag().to_string()),
            subject: Set(rendered.subject),
            text_body: Set(rendered.text),
            html_body: Set(rendered.html),
            status: Set("queued".to_string()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            sent_at: Set(None),
        };
        entity::Entity::insert(row)
            .on_conflict(
                OnConflict::column(entity::Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<EmailContent> {
        vec![
            EmailContent::Invitation {
                org_name: "Demo <Retail> Co.".into(),
                inviter_name: Some("Alex".into()),
                link: "http://x/invitations/abc".into(),
                expires_at: "2026-12-02".into(),
            },
            EmailContent::PasswordReset {
                link: "http://x/password-reset/abc".into(),
                valid_minutes: 60,
            },
            EmailContent::ExamResult {
                certification_title: "User Operation Associate".into(),
                passed: Some(true),
                score: "18".into(),
                max_score: "20".into(),
                percent: "90".into(),
                link: "http://x/attempts/1".into(),
            },
            EmailContent::ExamResult {
                certification_title: "User Operation Associate".into(),
                passed: None,
                score: "12.5".into(),
                max_score: "20".into(),
                percent: "62.5".into(),
                link: "http://x/attempts/2".into(),
            },
            EmailContent::CertificateIssued {
                certification_title: "User Operation Associate".into(),
                code: "ABCD-EFGH-JKLM".into(),
                valid_until: Some("2028-11-25".into()),
                link: "http://x/verify/ABCD".into(),
                pdf_link: "http://x/api/v1/certificates/ABCD.pdf".into(),
            },
            EmailContent::CertificateExpiring {
                certification_title: "User Operation Associate".into(),
                code: "ABCD-EFGH-JKLM".into(),
                valid_until: "2026-12-25".into(),
                days_left: 30,
                link: "http://x/verify/ABCD".into(),
            },
        ]
    }

    #[test]
    fn every_kind_renders_in_both_languages_with_both_parts() -> Result<(), AppError> {
        let mailer = Mailer::new(Templates::load().map_err(AppError::Internal)?, "http://x");
        for content in samples() {
            for lang in Lang::ALL {
                let recipient = Recipient {
                    email: "a@b.c".into(),
                    name: "李娜 <b>".into(),
                    lang,
                };
                let r = mailer.render(&recipient, &content)?;
                let kind = content.kind();
                assert!(
                    !r.subject.starts_with("email."),
                    "{kind} {lang:?} subject missing"
                );
                assert!(
                    r.text.contains("李娜 <b>"),
                    "{kind} {lang:?}: text greets by name"
                );
                assert!(
                    r.html.contains("李娜 &lt;b&gt;"),
                    "{kind} {lang:?}: html escapes the name"
                );
                assert!(
                    r.html.contains("<html"),
                    "{kind} {lang:?}: html is a document"
                );
                let link = match &content {
                    EmailContent::Invitation { link, .. }
                    | EmailContent::PasswordReset { link, .. }
                    | EmailContent::ExamResult { link, .. }
                    | EmailContent::CertificateIssued { link, .. }
                    | EmailContent::CertificateExpiring { link, .. } => link.clone(),
                };
                assert!(r.text.contains(&link), "{kind} {lang:?}: text has the link");
                assert!(
                    r.html.contains(&link.replace('/', "&#x2F;")),
                    "{kind} {lang:?}: html has the link"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn every_kind_has_templates() {
        for kind in EMAIL_KINDS {
            for lang in Lang::ALL {
                for part in ["html", "txt"] {
                    let name = format!("email/{kind}.{}.{part}", lang.tag());
                    assert!(
                        crate::templates::TEMPLATES.iter().any(|(n, _)| *n == name),
                        "{name} is missing"
                    );
                }
            }
        }
    }
}
