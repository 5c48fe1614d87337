//! What the fuzzers run: each entry point takes arbitrary bytes and must never panic. The stable
//! mutational fuzzer of the test suite (`src/fuzzing.rs`) and the cargo-fuzz targets in `fuzz/`
//! (nightly) both call these, so they fuzz the same code the same way.
#![doc(hidden)]

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::certificates::credential::{self, CertificateData};

/// The GIFT reader, and its writer on whatever the reader accepts: what is written must read
/// back.
pub fn gift(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(questions) = crate::assessment::gift::parse(&text) {
        let written = crate::assessment::gift::write(&questions);
        let again = crate::assessment::gift::parse(&written);
        assert!(again.is_ok(), "written back:\n{written}\nerrors: {again:?}");
    }
}

/// The roster CSV reader: encoding detection, then rows in both message languages.
pub fn roster(bytes: &[u8]) {
    if let Some((text, _)) = crate::gaps::roster::decode(bytes) {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::ZhCn] {
            let _ = crate::gaps::roster::parse(&text, lang);
        }
    }
}

/// The competency framework CSV reader (Moodle's format), against a two-competency model.
pub fn framework(bytes: &[u8]) {
    let _ = crate::gaps::framework::check_only(bytes, "user-operation", &["uo-rfm", "uo-churn"]);
}

/// Credential attached to a PDF: the PDF reader must refuse anything that is not one.
pub fn pdf(bytes: &[u8]) {
    let _ = crate::certificates::pdf::attached_credential(bytes);
}

/// The files a content input is cut into (at NUL bytes), in order.
pub const CONTENT_FILES: [&str; 5] = [
    "competency-models/user-operation.toml",
    "courses/uo-101/course.toml",
    "courses/uo-101/lessons/01-first.md",
    "courses/uo-101/questions.gift",
    "certifications/uo-associate.toml",
];

/// The content importer's reader and checks: the input, cut at NUL bytes into the files of
/// [`CONTENT_FILES`], is written to a fresh folder and loaded as a catalog.
pub fn content(bytes: &[u8]) {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "talentcert-fuzz-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let written = bytes
        .split(|b| *b == 0)
        .zip(CONTENT_FILES)
        .try_for_each(|(part, file)| {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, part)
        });
    if written.is_ok() {
        let _ = crate::catalog::content::load(&dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Credential checks with a key of their own: the signature, shape and dates check, the check
/// without our server, and the status-list bit reader.
pub struct Credentials {
    jwks: Value,
    now: DateTime<Utc>,
    /// A valid credential signed with the key, to start from.
    pub seed: String,
}

impl Credentials {
    /// A fresh signing key and a credential signed with it. Panics if either fails: that is a
    /// broken harness, not a finding.
    #[allow(clippy::expect_used)]
    pub fn new() -> Credentials {
        let (der, jwk) = crate::certificates::keys::generate().expect("a new Ed25519 key");
        let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
        let now = Utc::now();
        let data = CertificateData::example("李娜", now);
        let urls = credential::Urls {
            public_url: "https://certs.example.com",
            status_list_id: 1,
            status_index: 7,
            subject_id: "urn:uuid:00000000-0000-4000-8000-000000000000",
        };
        let seed = credential::sign(&credential::build(&data, &urls), &kid, &der)
            .expect("the example signs");
        Credentials {
            jwks: serde_json::json!({ "keys": [jwk] }),
            now,
            seed,
        }
    }

    /// Whether the seed verifies (it must, or the target fuzzes nothing).
    pub fn seed_verifies(&self) -> bool {
        credential::verify(&self.seed, &self.jwks, self.now)
            .credential
            .is_some()
    }

    pub fn check(&self, bytes: &[u8]) {
        let token = String::from_utf8_lossy(bytes);
        let _ = credential::verify(&token, &self.jwks, self.now);
        let _ = credential::verify_standalone(&token, &self.jwks, Some(&token), self.now);
        let _ = credential::status_bit(&token, 7);
    }
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::new()
    }
}
