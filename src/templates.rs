//! Tera templates, compiled into the binary and loaded once, autoescaped, with a `t()` function
//! that reads the message catalogs.
use std::collections::HashMap;

use anyhow::Context as _;
use serde::Serialize;
use tera::{Tera, Value};

use crate::error::AppError;
use crate::i18n::{t, Lang};

/// Every template, by name. A test checks this list against the `templates/` folder.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("catalog.html", include_str!("../templates/catalog.html")),
    ("course.html", include_str!("../templates/course.html")),
    ("lesson.html", include_str!("../templates/lesson.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("hr_study.html", include_str!("../templates/hr_study.html")),
    (
        "learning_map.html",
        include_str!("../templates/learning_map.html"),
    ),
    ("learning.html", include_str!("../templates/learning.html")),
    ("trainer.html", include_str!("../templates/trainer.html")),
    (
        "course_editor.html",
        include_str!("../templates/course_editor.html"),
    ),
    (
        "lesson_editor.html",
        include_str!("../templates/lesson_editor.html"),
    ),
    (
        "certifications.html",
        include_str!("../templates/certifications.html"),
    ),
    ("exam.html", include_str!("../templates/exam.html")),
    ("result.html", include_str!("../templates/result.html")),
    (
        "trainer_certifications.html",
        include_str!("../templates/trainer_certifications.html"),
    ),
    (
        "blueprint.html",
        include_str!("../templates/blueprint.html"),
    ),
    (
        "statistics.html",
        include_str!("../templates/statistics.html"),
    ),
    ("grading.html", include_str!("../templates/grading.html")),
    ("verify.html", include_str!("../templates/verify.html")),
    ("hr.html", include_str!("../templates/hr.html")),
    (
        "hr_roster.html",
        include_str!("../templates/hr_roster.html"),
    ),
    (
        "hr_positions.html",
        include_str!("../templates/hr_positions.html"),
    ),
    (
        "hr_department.html",
        include_str!("../templates/hr_department.html"),
    ),
    (
        "person_gaps.html",
        include_str!("../templates/person_gaps.html"),
    ),
    (
        "admin_certificates.html",
        include_str!("../templates/admin_certificates.html"),
    ),
    (
        "my_certificates.html",
        include_str!("../templates/my_certificates.html"),
    ),
    (
        "attempt_review.html",
        include_str!("../templates/attempt_review.html"),
    ),
    (
        "admin_outbox.html",
        include_str!("../templates/admin_outbox.html"),
    ),
    (
        "email/layout.html",
        include_str!("../templates/email/layout.html"),
    ),
    (
        "email/invitation.en.html",
        include_str!("../templates/email/invitation.en.html"),
    ),
    (
        "email/invitation.en.txt",
        include_str!("../templates/email/invitation.en.txt"),
    ),
    (
        "email/invitation.zh-CN.html",
        include_str!("../templates/email/invitation.zh-CN.html"),
    ),
    (
        "email/invitation.zh-CN.txt",
        include_str!("../templates/email/invitation.zh-CN.txt"),
    ),
    (
        "email/password_reset.en.html",
        include_str!("../templates/email/password_reset.en.html"),
    ),
    (
        "email/password_reset.en.txt",
        include_str!("../templates/email/password_reset.en.txt"),
    ),
    (
        "email/password_reset.zh-CN.html",
        include_str!("../templates/email/password_reset.zh-CN.html"),
    ),
    (
        "email/password_reset.zh-CN.txt",
        include_str!("../templates/email/password_reset.zh-CN.txt"),
    ),
    (
        "email/exam_result.en.html",
        include_str!("../templates/email/exam_result.en.html"),
    ),
    (
        "email/exam_result.en.txt",
        include_str!("../templates/email/exam_result.en.txt"),
    ),
    (
        "email/exam_result.zh-CN.html",
        include_str!("../templates/email/exam_result.zh-CN.html"),
    ),
    (
        "email/exam_result.zh-CN.txt",
        include_str!("../templates/email/exam_result.zh-CN.txt"),
    ),
    (
        "email/certificate_issued.en.html",
        include_str!("../templates/email/certificate_issued.en.html"),
    ),
    (
        "email/certificate_issued.en.txt",
        include_str!("../templates/email/certificate_issued.en.txt"),
    ),
    (
        "email/certificate_issued.zh-CN.html",
        include_str!("../templates/email/certificate_issued.zh-CN.html"),
    ),
    (
        "email/certificate_issued.zh-CN.txt",
        include_str!("../templates/email/certificate_issued.zh-CN.txt"),
    ),
    (
        "email/certificate_expiring.en.html",
        include_str!("../templates/email/certificate_expiring.en.html"),
    ),
    (
        "email/certificate_expiring.en.txt",
        include_str!("../templates/email/certificate_expiring.en.txt"),
    ),
    (
        "email/certificate_expiring.zh-CN.html",
        include_str!("../templates/email/certificate_expiring.zh-CN.html"),
    ),
    (
        "email/certificate_expiring.zh-CN.txt",
        include_str!("../templates/email/certificate_expiring.zh-CN.txt"),
    ),
];

/// The loaded templates.
#[derive(Clone)]
pub struct Templates {
    tera: std::sync::Arc<Tera>,
}

/// `{{ t(key="nav.home", lang=chrome.lang, name="…") }}`: a catalog message; extra arguments fill
/// its `{placeholders}`.
fn translate(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let key = args
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| tera::Error::msg("t() needs key=\"...\""))?;
    let lang = args
        .get("lang")
        .and_then(Value::as_str)
        .and_then(Lang::from_tag)
        .unwrap_or_default();
    let fill: Vec<(&str, String)> = args
        .iter()
        .filter(|(name, _)| name.as_str() != "key" && name.as_str() != "lang")
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name.as_str(), text)
        })
        .collect();
    Ok(Value::String(t(lang, key, &fill)))
}

impl Templates {
    /// Parses every template; a broken template stops the start with its name and cause.
    pub fn load() -> anyhow::Result<Templates> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .context("a template does not parse")?;
        // Autoescape HTML (pages and the HTML part of emails); plain-text email parts stay as written.
        tera.autoescape_on(vec![".html"]);
        tera.register_function("t", translate);
        Ok(Templates {
            tera: std::sync::Arc::new(tera),
        })
    }

    /// Renders a template with a serialisable context, keeping the cause of a failure.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, AppError> {
        let ctx = tera::Context::from_serialize(context)
            .with_context(|| format!("building the context of {name}"))
            .map_err(AppError::Internal)?;
        self.tera
            .render(name, &ctx)
            .with_context(|| format!("rendering {name}"))
            .map_err(AppError::Internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogs;

    #[test]
    fn every_template_file_is_registered_and_parses() -> anyhow::Result<()> {
        fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
                if entry.file_type()?.is_dir() {
                    walk(&entry.path(), &format!("{name}/"), out)?;
                } else {
                    out.push(name);
                }
            }
            Ok(())
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        walk(&dir, "", &mut on_disk)?;
        on_disk.sort();
        let mut registered: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        registered.sort();
        assert_eq!(on_disk, registered);
        Templates::load()?;
        Ok(())
    }

    #[test]
    fn every_literal_message_key_in_templates_exists() {
        let catalogs = Catalogs::get();
        for (name, text) in TEMPLATES {
            for quote in ['"', '\''] {
                let marker = format!("t(key={quote}");
                for piece in text.split(&marker).skip(1) {
                    let Some((key, rest)) = piece.split_once(quote) else {
                        continue;
                    };
                    // A key built with `~` is checked by rendering the pages instead.
                    if rest.trim_start().starts_with('~') {
                        continue;
                    }
                    for lang in Lang::ALL {
                        assert!(
                            catalogs.has(lang, key),
                            "{name}: {key} is missing in {}",
                            lang.tag()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn dynamic_keys_used_by_templates_exist() {
        let catalogs = Catalogs::get();
        for lang in Lang::ALL {
            for role in ["learner", "hr", "trainer", "admin"] {
                for key in [
                    format!("role.{role}"),
                    format!("home.section.{role}.title"),
                    format!("home.section.{role}.body"),
                ] {
                    assert!(catalogs.has(lang, &key), "{key} missing in {}", lang.tag());
                }
            }
            for mode in [
                "invitation",
                "reset_request",
                "reset_sent",
                "reset_confirm",
                "token_problem",
            ] {
                assert!(
                    catalogs.has(lang, &format!("account.{mode}.title")),
                    "account.{mode}.title"
                );
            }
            for mode in ["invitation", "reset_confirm"] {
                assert!(
                    catalogs.has(lang, &format!("account.{mode}.submit")),
                    "account.{mode}.submit"
                );
            }
            for status in crate::notify::service::STATUSES {
                assert!(
                    catalogs.has(lang, &format!("outbox.status.{status}")),
                    "outbox.status.{status}"
                );
            }
            for status in ["active", "invited", "deactivated"] {
                assert!(catalogs.has(lang, &format!("status.{status}")));
            }
            for slug in [
                "validation",
                "bad-request",
                "unauthenticated",
                "invalid-credentials",
                "forbidden",
                "not-found",
                "conflict",
                "payload-too-large",
                "unsupported-media-type",
                "too-many-requests",
                "unavailable",
                "internal",
            ] {
                assert!(
                    catalogs.has(lang, &format!("problem.{slug}")),
                    "problem.{slug}"
                );
            }
        }
    }
}
