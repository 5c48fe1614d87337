//! Certificates: issued once on a pass, a PDF with the name as text, a signed credential that
//! verifies with the published keys alone, public verification, revocation and expiry.
use base64::Engine;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::catalog::count;
use crate::exams::{cert_id, exam_app, put_answer, review_of, start_attempt};
use crate::helpers::{json, TestApp};

/// The demo learner passes `uo-open` with the keys from a trainer's review; answers the
/// attempt id.
pub async fn pass_open_exam(app: &TestApp) -> i64 {
    let learner = app.token("learner").await;
    let trainer = app.token("trainer").await;
    let id = cert_id(app, &learner, "uo-open").await;
    let attempt = start_attempt(app, &learner, id).await;
    let attempt_id = attempt["id"].as_i64().unwrap();
    let review = review_of(app, &trainer, attempt_id).await;
    for q in review["questions"].as_array().unwrap() {
        put_answer(
            app,
            &learner,
            attempt_id,
            q["id"].as_i64().unwrap(),
            &q["correct_response"],
        )
        .await;
    }
    // Several submits at once still grade once and issue one certificate.
    let url = format!("/api/v1/attempts/{attempt_id}/submit");
    let body = json!({});
    let submits = (0..4).map(|_| app.post_json(&url, &learner, &body));
    for response in futures_util::future::join_all(submits).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    attempt_id
}

/// A certificate list, read again until its first certificate's PDF is stored (it renders right
/// after the submit's answer; at most 5 s).
async fn once_rendered(app: &TestApp, path: &str, token: &str) -> serde_json::Value {
    let mut list = json(app.get(path, token).await).await;
    for _ in 0..100 {
        if list["items"][0]["pdf_sha256"] != "" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        list = json(app.get(path, token).await).await;
    }
    list
}

fn pdffonts(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdffonts")
        .arg(path.to_str().unwrap())
        .output()
        .expect("pdffonts (apt-get install poppler-utils)");
    assert!(out.status.success(), "pdffonts failed");
    String::from_utf8(out.stdout).unwrap()
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (apt-get install poppler-utils)");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

async fn verify_json(app: &TestApp, body: &Value) -> Value {
    let response = app
        .api
        .post(app.url("/api/v1/verify"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

async fn set_valid_until(app: &TestApp, code: &str, when: chrono::DateTime<chrono::Utc>) {
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE certificates SET valid_until = $1 WHERE code = $2"
    } else {
        "UPDATE certificates SET valid_until = ? WHERE code = ?"
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [when.into(), code.into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_pass_issues_one_certificate_whose_pdf_and_credential_verify() {
    let (app, _dir) = exam_app().await;
    let learner = app.token("learner").await;
    // The holder's name in Chinese: it must come out of the PDF as text.
    let renamed = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/me",
            &learner,
            &json!({"display_name": "李娜 Li Na"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let attempt_id = pass_open_exam(&app).await;
    assert_eq!(
        count(&app, "certificates").await,
        1,
        "exactly one certificate"
    );
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    assert_eq!(mine["total"], 1);
    let cert = &mine["items"][0];
    assert_eq!(cert["status"], "valid");
    assert_eq!(cert["holder_name"], "李娜 Li Na");
    assert_eq!(cert["title"], "UO Open");
    assert!(!cert["competencies"].as_array().unwrap().is_empty());
    let code = cert["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 13);
    // The certificate-issued email is queued with the result email.
    let db = app.db.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM email_outbox WHERE kind = 'certificate_issued'".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    // A regrade or another look at the attempt does not issue a second one.
    let again = app
        .post_json(
            &format!("/api/v1/attempts/{attempt_id}/submit"),
            &learner,
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(count(&app, "certificates").await, 1);

    // The PDF: small, fonts embedded as subsets, the name extractable as text.
    let pdf = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF"));
    assert!(pdf.len() < 200 * 1024, "the PDF is {} bytes", pdf.len());
    let text = pdftotext(&pdf);
    assert!(text.contains("李娜 Li Na"), "{text}");
    assert!(text.contains("UO Open"), "{text}");
    // Every answer right, above the excellent line (90 %): with distinction, frozen in the
    // certificate and shown to verifiers; the first and the best scores are both kept.
    assert!(text.contains("with distinction"), "{text}");
    assert_eq!(cert["distinction"], true);
    let public = json(
        app.api
            .get(app.url(&format!("/api/v1/verify/{code}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(public["certificate"]["distinction"], true, "{public}");
    let list = json(app.get("/api/v1/certifications", &learner).await).await;
    let open = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "uo-open")
        .unwrap();
    assert_eq!(
        (
            open["first_percent"].as_f64(),
            open["best_percent"].as_f64()
        ),
        (Some(100.0), Some(100.0))
    );
    let fonts = pdffonts(&pdf);
    let embedded: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!embedded.is_empty(), "{fonts}");
    for line in &embedded {
        // name type encoding emb sub uni ...: every font embedded, subset, with a Unicode map.
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(line.contains('+'), "subset: {line}");
        assert!(
            cols.windows(3).any(|w| w == ["yes", "yes", "yes"]),
            "embedded, subset, unicode: {line}"
        );
    }
    // Another learner's or another organization's certificate is not theirs to download.
    let platform = app.token("platform").await;
    assert_eq!(
        app.get(&format!("/api/v1/certificates/{code}.pdf"), &platform)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Verification by code: public, forgiving about case and dashes.
    let display = cert["display_code"].as_str().unwrap().to_lowercase();
    let by_code = app
        .api
        .get(app.url(&format!("/api/v1/verify/{display}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_code.status(), StatusCode::OK);
    let report: Value = by_code.json().await.unwrap();
    assert_eq!(report["status"], "valid", "{report}");
    assert_eq!(check(&report, "signature")["passed"], true);
    assert_eq!(report["certificate"]["holder_name"], "李娜 Li Na");
    assert!(report["certificate"].get("email").is_none());
    // An unknown code (well formed) and a malformed one are both 404.
    let mut unknown: Vec<char> = code.chars().collect();
    unknown[0] = if unknown[0] == '7' { '8' } else { '7' };
    for missing in [unknown.iter().collect::<String>(), "NOPE".to_string()] {
        let r = app
            .api
            .get(app.url(&format!("/api/v1/verify/{missing}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    // The credential: an Open Badges 3.0 JWT signed with Ed25519, verifiable with the JWKS.
    let jwt = app
        .get(&format!("/api/v1/certificates/{code}/credential"), &learner)
        .await
        .text()
        .await
        .unwrap();
    // The same, as a file to save into a wallet.
    let saved = app
        .get(
            &format!("/api/v1/certificates/{code}/credential?download=true"),
            &learner,
        )
        .await;
    assert_eq!(
        saved.headers()["content-disposition"],
        format!("attachment; filename=\"certificate-{code}.jwt\"").as_str()
    );
    assert_eq!(saved.text().await.unwrap(), jwt);
    // For a wallet that takes JSON: the VC Data Model 2.0 envelope of the same signed JWT.
    let wallet = app
        .get(
            &format!("/api/v1/certificates/{code}/credential?format=json&download=true"),
            &learner,
        )
        .await;
    assert_eq!(
        wallet.headers()["content-disposition"],
        format!("attachment; filename=\"certificate-{code}.json\"").as_str()
    );
    let envelope = json(wallet).await;
    assert_eq!(envelope["type"], "EnvelopedVerifiableCredential");
    assert_eq!(
        envelope["@context"][0],
        "https://www.w3.org/ns/credentials/v2"
    );
    assert_eq!(envelope["id"], format!("data:application/vc+jwt,{jwt}"));
    assert_eq!(
        app.get(
            &format!("/api/v1/certificates/{code}/credential?format=xml"),
            &learner
        )
        .await
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    let payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        payload["@context"][0],
        "https://www.w3.org/ns/credentials/v2"
    );
    assert_eq!(
        payload["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(payload["iss"], payload["issuer"]["id"]);
    assert_eq!(payload["jti"], payload["id"]);
    assert_eq!(payload["sub"], payload["credentialSubject"]["id"]);
    assert!(payload["nbf"].is_i64() && payload["exp"].is_i64());
    for field in ["id", "type", "name", "description", "criteria"] {
        assert!(
            !payload["credentialSubject"]["achievement"][field].is_null(),
            "{field}"
        );
    }
    let jwks: Value = app
        .api
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"] && k["crv"] == "Ed25519"));
    let issuer: Value = app
        .api
        .get(payload["iss"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issuer["id"], payload["iss"]);
    let report = verify_json(&app, &json!({"credential": jwt})).await;
    assert_eq!(report["status"], "valid", "{report}");

    // One byte changed, a missing signature, alg none, HS256: all refused, saying why.
    let mut tampered_payload = payload.clone();
    tampered_payload["credentialSubject"]["identifier"][0]["identityHash"] = json!("Mallory");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(tampered_payload.to_string()),
        parts[2]
    );
    let report = verify_json(&app, &json!({"credential": tampered})).await;
    assert_eq!(report["status"], "invalid");
    assert_eq!(check(&report, "signature")["passed"], false);
    let mut sig = b64.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64.encode(sig));
    assert_eq!(
        verify_json(&app, &json!({"credential": flipped})).await["status"],
        "invalid"
    );
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let report = verify_json(&app, &json!({"credential": none})).await;
    assert_eq!(report["status"], "invalid");
    assert_eq!(check(&report, "algorithm")["passed"], false);
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
    )
    .unwrap();
    let report = verify_json(&app, &json!({"credential": hs})).await;
    assert_eq!(check(&report, "algorithm")["passed"], false);
    // Signed with another Ed25519 key under the right kid: the signature fails.
    let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&other).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    h.kid = header["kid"].as_str().map(str::to_string);
    let forged = jsonwebtoken::encode(
        &h,
        &payload,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();
    let report = verify_json(&app, &json!({"credential": forged})).await;
    assert_eq!(check(&report, "signature")["passed"], false);

    // The PDF upload: matched by its hash and by the credential attached to it.
    let response = app
        .api
        .post(app.url("/api/v1/verify"))
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["status"], "valid", "{report}");
    assert_eq!(check(&report, "pdf")["passed"], true);
    let mut altered = pdf.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x20;
    let response = app
        .api
        .post(app.url("/api/v1/verify"))
        .header("content-type", "application/pdf")
        .body(altered)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["status"], "invalid", "{report}");
    assert_eq!(check(&report, "pdf")["passed"], false);
    // The page takes a form upload.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf.clone())
            .file_name("c.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let page = app
        .api
        .post(app.url("/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Valid certificate"));
    let qr_page = app
        .api
        .get(app.url(&format!("/verify/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        qr_page.contains("Valid certificate") && qr_page.contains("李娜 Li Na"),
        "{qr_page}"
    );

    // Revocation: admins only, with a reason; verifiers see it at once and in the status list.
    let list_url = payload["credentialStatus"]["statusListCredential"]
        .as_str()
        .unwrap()
        .to_string();
    let index: usize = payload["credentialStatus"]["statusListIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let bit = |jwt: String| {
        let p: Value =
            serde_json::from_slice(&b64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        talentcert::certificates::credential::status_bit(
            p["credentialSubject"]["encodedList"].as_str().unwrap(),
            index,
        )
        .unwrap()
    };
    let list = app
        .api
        .get(&list_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!bit(list));
    let refused = app
        .post_json(
            &format!("/api/v1/certificates/{code}/revocation"),
            &learner,
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admin = app.token("admin").await;
    let empty = app
        .post_json(
            &format!("/api/v1/certificates/{code}/revocation"),
            &admin,
            &json!({"reason": " "}),
        )
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let revoked = app
        .post_json(
            &format!("/api/v1/certificates/{code}/revocation"),
            &admin,
            &json!({"reason": "Exam misconduct"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let report: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "revoked");
    assert_eq!(
        report["certificate"]["revocation_reason"],
        "Exam misconduct"
    );
    assert_eq!(
        verify_json(&app, &json!({"credential": jwt})).await["status"],
        "revoked"
    );
    let list = app
        .api
        .get(&list_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bit(list), "the status list marks the revoked certificate");
    assert_eq!(
        count(&app, "certificates").await,
        1,
        "revoked certificates are kept"
    );
}

#[tokio::test]
async fn expiry_privacy_and_reissue_show_to_verifiers() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    // The holder shows the name only to verifiers who type the surname.
    let set = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/me/certificates/{code}/disclosure"),
            &learner,
            &json!({"name_disclosure": "surname"}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let bad = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/me/certificates/{code}/disclosure"),
            &learner,
            &json!({"name_disclosure": "friends"}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let hidden: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hidden["certificate"]["holder_name"].is_null());
    assert_eq!(hidden["certificate"]["name_withheld"], true);
    let wrong: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}?surname=Wang")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(wrong["certificate"]["holder_name"].is_null());
    let shown: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}?surname=li")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["certificate"]["holder_name"], "Li Na");

    // A name correction: the admin reissues; the old one verifies as superseded with a link.
    let admin = app.token("admin").await;
    let users = json(app.get("/api/v1/users?q=learner", &admin).await).await;
    let learner_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "learner@demo.test")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let renamed = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{learner_id}"),
            &admin,
            &json!({"display_name": "Li Nana"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let reissued = app
        .post_json(
            &format!("/api/v1/certificates/{code}/reissue"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(reissued.status(), StatusCode::CREATED);
    let new = json(reissued).await;
    assert_eq!(new["holder_name"], "Li Nana");
    assert_eq!(
        new["name_disclosure"], "surname",
        "the holder's choice carries over"
    );
    let old: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "superseded");
    assert_eq!(old["certificate"]["superseded_by"], new["code"]);
    assert_eq!(count(&app, "certificates").await, 2);
    let twice = app
        .post_json(
            &format!("/api/v1/certificates/{code}/reissue"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);

    // Expiry is read from the date; the credential's own dates say so too.
    let new_code = new["code"].as_str().unwrap().to_string();
    set_valid_until(
        &app,
        &new_code,
        chrono::Utc::now() - chrono::Duration::days(1),
    )
    .await;
    let expired: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{new_code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(expired["status"], "expired");
    assert_eq!(check(&expired, "dates")["passed"], false);
}

#[tokio::test]
async fn verification_is_rate_limited_per_client() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::TestDb::fresh().await,
        crate::helpers::AppOptions {
            verify_rate_limit: Some(3),
            ..Default::default()
        },
    )
    .await;
    for _ in 0..3 {
        let r = app
            .api
            .get(app.url("/api/v1/verify/0000-0000-0000-0"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let limited = app
        .api
        .get(app.url("/api/v1/verify/0000-0000-0000-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_regrade_that_fails_the_holder_revokes_the_certificate_and_one_that_passes_reissues() {
    let (app, dir) = exam_app().await;
    // The same exam with a stricter pass mark: 3 of 4 right is a fail.
    let open = std::fs::read_to_string(dir.path().join("certifications/uo-open.toml")).unwrap();
    crate::catalog::write(
        dir.path(),
        "certifications/uo-open.toml",
        &open.replace("pass_percent = 70", "pass_percent = 80"),
    );
    crate::catalog::import_mini(&app, dir.path(), false)
        .await
        .unwrap();
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let platform = app.token("platform").await;
    let courses = json(app.get("/api/v1/courses?q=uo-101", &platform).await).await;
    let course = courses["items"][0]["id"].as_i64().unwrap();
    let gift_url = format!("/api/v1/courses/{course}/questions.gift");
    let bank = app.get(&gift_url, &platform).await.text().await.unwrap();
    let put_bank = |text: String| {
        app.api
            .put(app.url(&gift_url))
            .bearer_auth(&platform)
            .header("content-type", "text/plain")
            .body(text)
            .send()
    };
    let swapped = bank
        .replace("=right#yes", "~right#no longer")
        .replace("~wrong#no", "=wrong#yes after all");
    assert_eq!(put_bank(swapped).await.unwrap().status(), StatusCode::OK);
    let regrade_url = format!("/api/v1/courses/{course}/questions/uo-101-q01/regrade");
    let swap_back = json!({"reason": "The first key was right.", "dry_run": false});
    let swap = json!({"reason": "The key was swapped.", "dry_run": false});
    let done = json(app.post_json(&regrade_url, &platform, &swap).await).await;
    assert_eq!(done["changes"][0]["new_passed"], false, "{done}");
    let report: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "revoked");
    assert_eq!(report["certificate"]["revocation_reason"], "regraded");
    // The key was right after all: the regrade passes the holder again, and a new certificate
    // is issued (the revoked one stays revoked).
    assert_eq!(put_bank(bank).await.unwrap().status(), StatusCode::OK);
    let done = json(app.post_json(&regrade_url, &platform, &swap_back).await).await;
    assert_eq!(done["changes"][0]["new_passed"], true, "{done}");
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    assert_eq!(mine["total"], 2);
    assert_eq!(mine["items"][0]["status"], "valid");
    assert_ne!(mine["items"][0]["code"], code.as_str());
    assert_eq!(mine["items"][1]["status"], "revoked");
}

fn run(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// Multi-threaded: the test blocks on the CLI while the server's database connections, opened
// on this runtime, must keep being driven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talentcert_verify_checks_offline_and_key_rotation_keeps_old_certificates_valid() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let files = tempfile::tempdir().unwrap();
    let pdf_path = files.path().join("cert.pdf");
    let pdf = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await
        .bytes()
        .await
        .unwrap();
    std::fs::write(&pdf_path, &pdf).unwrap();
    let jwt = app
        .get(&format!("/api/v1/certificates/{code}/credential"), &learner)
        .await
        .text()
        .await
        .unwrap();
    let jwt_path = files.path().join("cert.jwt");
    std::fs::write(&jwt_path, &jwt).unwrap();
    let keys = app
        .api
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks_path = files.path().join("jwks.json");
    std::fs::write(&jwks_path, &keys).unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let list_url = payload["credentialStatus"]["statusListCredential"]
        .as_str()
        .unwrap();
    let list_path = files.path().join("status.jwt");
    std::fs::write(
        &list_path,
        app.api
            .get(list_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_talentcert");
    let verify = |args: &[&std::path::Path]| {
        let mut cmd = std::process::Command::new(bin);
        cmd.env_clear()
            .env("TALENTCERT_DEMO", "false")
            .arg("verify");
        for a in args {
            cmd.arg(a);
        }
        cmd
    };
    // Online: keys and status list fetched from the issuer the credential names.
    let (ok, out) = run(&mut verify(&[&pdf_path]));
    assert!(ok && out.contains(": valid"), "{out}");
    // Offline with the keys only: everything but revocation is checked, and it says so.
    let (ok, out) = run(verify(&[&jwt_path]).arg("--jwks").arg(&jwks_path));
    assert!(
        !ok && out.contains("unchecked") && out.contains("[ok] signature"),
        "{out}"
    );
    let (ok, out) = run(verify(&[&jwt_path])
        .arg("--jwks")
        .arg(&jwks_path)
        .arg("--status")
        .arg(&list_path)
        .arg("--json"));
    assert!(ok, "{out}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["status"], "valid");
    // The report says whose certificate it is and which issuer signed it.
    assert_eq!(report["certificate"]["holder"], "Li Na", "{report}");
    assert_eq!(report["certificate"]["issuer"], payload["iss"]);
    // A verifier who expects another issuer gets "invalid", however good the signature:
    // a forger's own keys at the forger's own address prove nothing.
    let (ok, out) = run(verify(&[&pdf_path])
        .arg("--issuer")
        .arg("https://certs.example.com"));
    assert!(
        !ok && out.contains(": invalid") && out.contains("[--] issuer"),
        "{out}"
    );
    let origin = payload["iss"]
        .as_str()
        .unwrap()
        .split("/issuers/")
        .next()
        .unwrap()
        .to_string();
    let (ok, out) = run(verify(&[&pdf_path]).arg("--issuer").arg(&origin));
    assert!(
        ok && out.contains("holder: Li Na") && out.contains("[ok] issuer"),
        "{out}"
    );
    // A changed byte in the credential fails.
    let mut bad = jwt.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad_path = files.path().join("bad.jwt");
    std::fs::write(&bad_path, bad).unwrap();
    let (ok, out) = run(verify(&[&bad_path]).arg("--jwks").arg(&jwks_path));
    assert!(!ok && out.contains("invalid"), "{out}");

    // Rotate the platform's key: the old certificate still verifies; new ones use the new key.
    let (ok, out) = run(crate::cli::talentcert(&app.db).args(["rotate-key", "--org", "platform"]));
    assert!(ok, "{out}");
    let report: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "valid", "{report}");
    let jwks: Value = app
        .api
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let admin = app.token("admin").await;
    let new = json(
        app.post_json(
            &format!("/api/v1/certificates/{code}/reissue"),
            &admin,
            &json!({}),
        )
        .await,
    )
    .await;
    let new_jwt = app
        .get(
            &format!(
                "/api/v1/certificates/{}/credential",
                new["code"].as_str().unwrap()
            ),
            &learner,
        )
        .await
        .text()
        .await
        .unwrap();
    let kid = |token: &str| -> Value {
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()["kid"]
            .clone()
    };
    assert_ne!(kid(&new_jwt), kid(&jwt));
    // Offline, a superseded certificate is still a genuine, unrevoked credential (only the
    // server knows it was replaced): the retired key still verifies it.
    let (ok, out) = run(verify(&[&pdf_path])
        .arg("--jwks")
        .arg(app.url("/.well-known/jwks.json")));
    assert!(ok && out.contains(": valid"), "{out}");
}

#[tokio::test]
async fn names_the_certificate_fonts_cannot_print_are_refused_when_saved() {
    let app = crate::helpers::spawn_app().await;
    let learner = app.token("learner").await;
    for ok in ["José Álvarez", "Łukasz Żółć", "李娜", "山田 太郎", "김민준"] {
        let r = app
            .send_json(
                reqwest::Method::PATCH,
                "/api/v1/me",
                &learner,
                &json!({"display_name": ok}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{ok}");
    }
    let refused = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/me",
            &learner,
            &json!({"display_name": "राहुल"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = json(refused).await;
    assert_eq!(
        crate::helpers::problem_fields(&problem),
        vec!["display_name"]
    );
    assert!(
        problem.to_string().contains("cannot be printed"),
        "{problem}"
    );
}

async fn outbox_count(app: &TestApp, kind: &str) -> i64 {
    let db = app.db.connect().await;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM email_outbox WHERE kind = '{kind}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn hr_exports_the_issued_pdfs_and_sees_what_expires_and_holders_are_reminded() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let hr = app.token("hr").await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let pdf = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await
        .bytes()
        .await
        .unwrap();

    let export = app.get("/api/v1/certificates/export.zip", &hr).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()["content-type"], "application/zip");
    let bytes = export.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(zip.len(), 2);
    let mut index = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("index.csv").unwrap(), &mut index).unwrap();
    assert!(
        index.contains("Li Na") && index.contains("learner@demo.test") && index.contains("uo-open"),
        "{index}"
    );
    let name = (0..zip.len())
        .map(|i| zip.name_for_index(i).unwrap().unwrap().to_string())
        .find(|n| n.ends_with(".pdf"))
        .unwrap();
    let mut inside = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut inside).unwrap();
    assert_eq!(
        inside,
        pdf.to_vec(),
        "the PDF exactly as issued, with its holder's name"
    );
    let other = app
        .get("/api/v1/certificates/export.zip?department=Nowhere", &hr)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(other.to_vec()))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/certificates/export.zip", &learner)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Expiring soon: listed for HR, and the holder is reminded 30 and 7 days before, once each.
    set_valid_until(&app, &code, chrono::Utc::now() + chrono::Duration::days(20)).await;
    let soon = json(
        app.get("/api/v1/certificates?expiring_within_days=30", &hr)
            .await,
    )
    .await;
    assert_eq!(soon["total"], 1);
    let later = json(
        app.get("/api/v1/certificates?expiring_within_days=10", &hr)
            .await,
    )
    .await;
    assert_eq!(later["total"], 0);
    // The list comes a page at a time, with the total; a bad page size is named.
    // The PDF renders right after the submit's answer, on threads of its own.
    let first = once_rendered(&app, "/api/v1/certificates?limit=1", &hr).await;
    assert_eq!(first["total"], 1);
    assert_eq!(first["items"][0]["code"], code.as_str());
    assert_eq!(
        first["items"][0]["pdf_sha256"].as_str().map(str::len),
        Some(64),
        "listed without the PDF bytes, but with their digest"
    );
    let past = json(app.get("/api/v1/certificates?offset=1", &hr).await).await;
    assert_eq!(past["total"], 1);
    assert_eq!(past["items"].as_array().map(Vec::len), Some(0));
    let bad = app.get("/api/v1/certificates?limit=0", &hr).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(bad).await.to_string().contains("limit"));
    let far = app
        .get("/api/v1/certificates?offset=18446744073709551615", &hr)
        .await;
    assert_eq!(far.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(far).await.to_string().contains("offset"));
    let db = app.db.connect().await;
    let mailer = talentcert::notify::Mailer::new(
        talentcert::templates::Templates::load().unwrap(),
        "http://certs.test",
    );
    assert_eq!(
        talentcert::certificates::service::send_reminders(&db, &mailer)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        talentcert::certificates::service::send_reminders(&db, &mailer)
            .await
            .unwrap(),
        0
    );
    assert_eq!(outbox_count(&app, "certificate_expiring").await, 1);
    set_valid_until(&app, &code, chrono::Utc::now() + chrono::Duration::days(5)).await;
    assert_eq!(
        talentcert::certificates::service::send_reminders(&db, &mailer)
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox_count(&app, "certificate_expiring").await, 2);
}

#[tokio::test]
async fn admins_revoke_from_their_page_and_holders_see_their_certificates() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let (learner_page, _) = crate::auth::page_session(&app, "learner@demo.test").await;
    let mine = learner_page
        .get(app.url("/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mine.contains("UO Open") && mine.contains("Download the PDF"),
        "{mine}"
    );
    let (admin_page, _) = crate::auth::page_session(&app, "admin@demo.test").await;
    let list = admin_page
        .get(app.url("/admin/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Li Na") && list.contains("Revoke"), "{list}");
    let csrf = crate::pages::csrf_of(&list);
    let admin = app.token("admin").await;
    let code = json(app.get("/api/v1/certificates", &admin).await).await["items"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let url = app.url(&format!("/admin/certificates/{code}/revoke"));
    let no_reason = admin_page
        .post(&url)
        .form(&[("csrf_token", csrf.as_str()), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let no_csrf = admin_page
        .post(&url)
        .form(&[("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let done = admin_page
        .post(&url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("reason", "Certificate issued in error"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let report: Value = app
        .api
        .get(app.url(&format!("/api/v1/verify/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "revoked");
    assert_eq!(
        report["certificate"]["revocation_reason"],
        "Certificate issued in error"
    );
    assert_eq!(
        learner_page
            .get(app.url("/admin/certificates"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_certificate_left_without_its_pdf_by_a_crash_is_rendered_when_asked_for() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    // Rendered right after the submit's answer, on the PDF threads, and stored.
    let mine = once_rendered(&app, "/api/v1/me/certificates", &learner).await;
    let code = mine["items"][0]["code"].as_str().unwrap().to_string();
    let issued_sha = mine["items"][0]["pdf_sha256"].as_str().unwrap().to_string();
    assert_eq!(issued_sha.len(), 64, "rendered right after the submit");

    // The state a crash between the issuing commit and the render leaves behind.
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE certificates SET pdf = $1, pdf_sha256 = '' WHERE code = $2"
    } else {
        "UPDATE certificates SET pdf = ?, pdf_sha256 = '' WHERE code = ?"
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [Vec::<u8>::new().into(), code.as_str().into()],
    ))
    .await
    .unwrap();

    let resp = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let sha = resp.headers()["x-content-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let pdf = resp.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF, rendered on demand");
    assert_eq!(
        sha,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf))
    );
    let after = json(app.get("/api/v1/me/certificates", &learner).await).await;
    assert_eq!(after["items"][0]["pdf_sha256"], sha.as_str(), "and stored");
    // A second request serves the stored bytes, not a new render.
    let again = app
        .get(&format!("/api/v1/certificates/{code}.pdf"), &learner)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(again, pdf);
}

#[tokio::test]
async fn passing_again_near_expiry_recertifies_with_a_new_certificate_linked_to_the_old() {
    let (app, _dir) = exam_app().await;
    pass_open_exam(&app).await;
    let learner = app.token("learner").await;
    let first = json(app.get("/api/v1/me/certificates", &learner).await).await["items"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    // Ten days from expiry, and the first attempt two days back (past its cool-down).
    set_valid_until(
        &app,
        &first,
        chrono::Utc::now() + chrono::Duration::days(10),
    )
    .await;
    let past = chrono::Utc::now() - chrono::Duration::days(2);
    let db = app.db.connect().await;
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE exam_attempts SET started_at = $1, deadline_at = $1, submit_until = $1, finished_at = $1"
    } else {
        "UPDATE exam_attempts SET started_at = ?1, deadline_at = ?1, submit_until = ?1, finished_at = ?1"
    };
    db.execute(Statement::from_sql_and_values(backend, sql, [past.into()]))
        .await
        .unwrap();
    pass_open_exam(&app).await;
    let mine = json(app.get("/api/v1/me/certificates", &learner).await).await;
    let items = mine["items"].as_array().unwrap();
    let renewed = items.iter().find(|c| c["code"] != first.as_str()).unwrap();
    assert_eq!(renewed["status"], "valid", "{mine}");
    let old = json(
        app.api
            .get(app.url(&format!("/api/v1/verify/{first}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(old["status"], "superseded", "{old}");
    assert_eq!(
        old["certificate"]["superseded_by"], renewed["code"],
        "{old}"
    );
    assert_eq!(count(&app, "certificates").await, 2);
}
