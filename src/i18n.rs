//! Message catalogs (English and Simplified Chinese) and language negotiation.
//!
//! Catalogs are flat `key = "text"` TOML files in `locales/`, compiled into the binary. A text may
//! hold `{name}` placeholders filled from arguments. A test fails when a key is missing from one
//! catalog, so both always cover the same strings.
use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// A language the interface is offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    /// Every supported language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag of the language.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, as shown in the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::ZhCn => "简体中文",
        }
    }

    /// Parses a BCP 47 tag leniently: `zh`, `zh-CN`, `zh-Hans`, `zh_cn` are Simplified Chinese.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
        let primary = lower.split('-').next().unwrap_or_default();
        match primary {
            "en" => Some(Lang::En),
            "zh" if !lower.contains("hant")
                && !lower.ends_with("-tw")
                && !lower.ends_with("-hk") =>
            {
                Some(Lang::ZhCn)
            }
            _ => None,
        }
    }

    /// Picks the best supported language from an `Accept-Language` header (RFC 9110 §12.5.4).
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default();
            let quality = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            if let Some(lang) = Lang::from_tag(tag) {
                if best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
        }
        best.map(|(_, lang)| lang)
    }
}

/// The loaded message catalogs.
pub struct Catalogs {
    by_lang: HashMap<Lang, HashMap<String, String>>,
}

const SOURCES: [(Lang, &str, &str); 2] = [
    (
        Lang::En,
        "locales/en.toml",
        include_str!("../locales/en.toml"),
    ),
    (
        Lang::ZhCn,
        "locales/zh-CN.toml",
        include_str!("../locales/zh-CN.toml"),
    ),
];

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(Catalogs::load);

impl Catalogs {
    fn load() -> Catalogs {
        let by_lang = SOURCES
            .iter()
            .map(|(lang, path, text)| (*lang, parse_catalog(path, text)))
            .collect();
        Catalogs { by_lang }
    }

    /// The catalogs compiled into the binary.
    pub fn get() -> &'static Catalogs {
        &CATALOGS
    }

    /// The keys of one language's catalog.
    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .by_lang
            .get(&lang)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    /// The raw text of a key, falling back to English, then to the key itself.
    pub fn text<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.by_lang
            .get(&lang)
            .and_then(|m| m.get(key))
            .or_else(|| self.by_lang.get(&Lang::En).and_then(|m| m.get(key)))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// Whether a key exists in the given language.
    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.by_lang.get(&lang).is_some_and(|m| m.contains_key(key))
    }
}

fn parse_catalog(path: &str, text: &str) -> HashMap<String, String> {
    // The catalogs are compiled in and checked by tests; a broken one is a build defect, so an
    // empty catalog (every key then shows as itself) is the safe fallback rather than a panic.
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => {
            let mut out = HashMap::new();
            flatten("", &table, &mut out);
            out
        }
        Err(err) => {
            tracing::error!(%path, %err, "message catalog does not parse");
            HashMap::new()
        }
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(full, s.clone());
            }
            toml::Value::Table(t) => flatten(&full, t, out),
            // Only strings and tables are meaningful in a catalog; a test flags anything else.
            _ => {
                out.insert(full, String::new());
            }
        }
    }
}

/// Translates `key` into `lang`, replacing `{name}` placeholders with `args`.
pub fn t(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let text = Catalogs::get().text(lang, key);
    if args.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_exists_in_every_catalog() {
        let catalogs = Catalogs::get();
        let en = catalogs.keys(Lang::En);
        assert!(en.len() > 20, "the English catalog looks empty");
        for lang in Lang::ALL {
            let missing: Vec<_> = Lang::ALL
                .iter()
                .flat_map(|other| catalogs.keys(*other))
                .filter(|k| !catalogs.has(lang, k))
                .collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
        }
    }

    #[test]
    fn placeholders_match_between_catalogs() {
        let catalogs = Catalogs::get();
        let placeholders = |s: &str| {
            let mut names: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            names.sort();
            names
        };
        for key in catalogs.keys(Lang::En) {
            let en = placeholders(catalogs.text(Lang::En, key));
            let zh = placeholders(catalogs.text(Lang::ZhCn, key));
            assert_eq!(en, zh, "placeholders differ for {key}");
        }
    }

    #[test]
    fn negotiates_accept_language() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::negotiate("fr-FR, zh;q=0.5, en;q=0.4"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::negotiate("fr, de"), None);
        assert_eq!(Lang::negotiate("zh-TW"), None);
        assert_eq!(Lang::negotiate("en;q=0, zh-Hans"), Some(Lang::ZhCn));
    }

    #[test]
    fn fills_placeholders() {
        let text = t(
            Lang::En,
            "error.too_many_requests",
            &[("seconds", "30".into())],
        );
        assert!(text.contains("30"), "{text}");
    }
}
