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
