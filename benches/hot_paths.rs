//! Benchmarks of the hot pure functions (`cargo bench`): parsing a large GIFT bank, grading a
//! whole attempt, item statistics over many attempts, rendering a certificate PDF, and signing
//! and verifying a credential. Figures go in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use talentcert::assessment::gift::{self, QuestionKind};
use talentcert::assessment::grading;
use talentcert::assessment::statistics::{
    question_statistics, test_statistics, AttemptMarks, ItemMark,
};

/// A 1,000-question GIFT file built from the shipped banks (repeated with fresh ids).
fn big_gift() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/courses");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if let Ok(bank) = std::fs::read_to_string(entry.path().join("questions.gift")) {
            text.push_str(&bank);
            text.push_str("\n\n");
        }
    }
    let questions = gift::parse(&text).unwrap();
    let mut many = Vec::new();
    while many.len() < 1000 {
        for q in &questions {
            if many.len() == 1000 {
                break;
            }
            let mut q = q.clone();
            q.id = Some(format!("bench-{}", many.len()));
            many.push(q);
        }
    }
    gift::write(&many)
}

fn parse_gift(c: &mut Criterion) {
    let text = big_gift();
    c.bench_function("gift parse 1,000 questions", |b| {
        b.iter(|| gift::parse(black_box(&text)).unwrap().len())
    });
}

fn grade_attempt(c: &mut Criterion) {
    let questions: Vec<QuestionKind> = gift::parse(&big_gift())
        .unwrap()
        .into_iter()
        .take(40)
        .map(|q| q.kind)
        .collect();
    let responses: Vec<serde_json::Value> =
        questions.iter().map(grading::correct_response).collect();
    c.bench_function("grade a 40-question attempt", |b| {
        b.iter(|| {
            questions
                .iter()
                .zip(&responses)
                .map(|(k, r)| grading::fraction(black_box(k), Some(r)).unwrap_or(0.0))
                .sum::<f64>()
        })
    });
}

fn statistics(c: &mut Criterion) {
    // 10,000 attempts of 25 questions drawn from a pool of 100.
    let attempts: Vec<AttemptMarks> = (0..10_000u64)
        .map(|i| {
            let items: Vec<ItemMark> = (0..25u64)
                .map(|j| {
                    let q = (i * 7 + j * 13) % 100;
                    let mark = if (i + q) % 3 == 0 { 0.0 } else { 1.0 };
                    ItemMark {
                        question: format!("q{q}"),
                        cell: format!("c{}", j % 5),
                        mark,
                        max: 1.0,
                        random_guess: Some(0.25),
                    }
                })
                .collect();
            AttemptMarks {
                total: items.iter().map(|m| m.mark).sum(),
                items,
            }
        })
        .collect();
    c.bench_function("item statistics, 10,000 attempts", |b| {
        b.iter(|| {
            (
                test_statistics(black_box(&attempts)),
                question_statistics(black_box(&attempts)).len(),
            )
        })
    });
}

fn certificate_data(name: &str) -> talentcert::certificates::credential::CertificateData {
    talentcert::certificates::credential::CertificateData::example(name, chrono::Utc::now())
}

/// Renders a certificate PDF (fonts parsed once, as in the service; subset per document).
fn render_certificate(c: &mut Criterion) {
    use talentcert::certificates::pdf;
    let data = certificate_data("李娜 Li Na");
    let url = "https://certs.example.com/verify/7KQ2M9XD4TRAP";
    let pdf = pdf::render(&data, url, "a.b.c").unwrap();
    println!("certificate PDF: {} bytes", pdf.len());
    c.bench_function("render a certificate PDF (CJK and Latin name)", |b| {
        b.iter(|| pdf::render(black_box(&data), url, "a.b.c").unwrap())
    });
}

/// Signs and verifies a credential JWT with a JWK set.
fn credential_jwt(c: &mut Criterion) {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use talentcert::certificates::{credential, keys};
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let der = key.to_pkcs8_der().unwrap();
    let jwk = keys::public_jwk(&key.verifying_key().to_bytes());
    let kid = jwk["kid"].as_str().unwrap().to_string();
    let jwks = serde_json::json!({ "keys": [jwk] });
    let vc = credential::build(
        &certificate_data("Li Na"),
        &credential::Urls {
            public_url: "https://certs.example.com",
            status_list_id: 1,
            status_index: 4242,
            subject_id: "urn:uuid:00000000-0000-4000-8000-000000000000",
        },
    );
    let token = credential::sign(&vc, &kid, der.as_bytes()).unwrap();
    let now = chrono::Utc::now();
    assert!(credential::verify(&token, &jwks, now).ok());
    c.bench_function("verify a credential JWT (Ed25519)", |b| {
        b.iter(|| credential::verify(black_box(&token), &jwks, now))
    });
    c.bench_function("sign a credential JWT (Ed25519)", |b| {
        b.iter(|| credential::sign(black_box(&vc), &kid, der.as_bytes()).unwrap())
    });
}

/// An organization of `n` people across the seven categories' positions (eight competencies
/// each), with one to three pieces of evidence for most requirements.
fn synthetic_org(n: usize) -> talentcert::gaps::report::OrgData {
    use rand::{Rng, SeedableRng};
    use talentcert::gaps::entities::{position, requirement};
    use talentcert::gaps::levels::{Evidence, LevelRule};
    use talentcert::gaps::report::{CourseStep, OrgData, Person};
    let now = chrono::Utc::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut data = OrgData {
        rule: Some(LevelRule::Decaying),
        exam_outranks: true,
        now,
        ..Default::default()
    };
    for p in 0..7i64 {
        data.positions.insert(
            p,
            position::Model {
                id: p,
                org_id: 1,
                code: format!("pos-{p}"),
                name: format!("Position {p}"),
                name_zh: String::new(),
                category_id: format!("cat-{p}"),
                headcount: i32::try_from(n / 7).unwrap(),
                created_at: now,
                updated_at: now,
                learning_map: None,
            },
        );
        let reqs = (0..8)
            .map(|c| requirement::Model {
                id: p * 8 + c,
                position_id: p,
                competency_id: format!("c{p}-{c}"),
                level: 2 + i32::try_from(c % 2).unwrap(),
                weight: 1.0,
                mandatory: true,
            })
            .collect();
        data.requirements.insert(p, reqs);
        for c in 0..8 {
            data.courses.insert(
                format!("c{p}-{c}"),
                (1..=4)
                    .map(|level| CourseStep {
                        course_id: p * 100 + c * 10 + level,
                        code: format!("course-{p}-{c}-{level}"),
                        title: String::new(),
                        title_zh: String::new(),
                        competency: format!("c{p}-{c}"),
                        level: i32::try_from(level).unwrap(),
                        completed: false,
                    })
                    .collect(),
            );
        }
    }
    let mut id = 0i64;
    for i in 0..n {
        let position = i64::try_from(i % 7).unwrap();
        data.people.push(Person {
            id: i64::try_from(i).unwrap(),
            name: format!("Person {i}"),
            department: Some(format!("Store {}", i / 50)),
            position_id: Some(position),
            manager_id: None,
        });
        for c in 0..8 {
            if rng.gen_bool(0.2) {
                continue;
            }
            for _ in 0..rng.gen_range(1..=3) {
                id += 1;
                let e = Evidence {
                    level: rng.gen_range(1..=4),
                    source: if rng.gen_bool(0.7) { "exam" } else { "manager" }.into(),
                    at: now - chrono::Duration::days(rng.gen_range(1..500)),
                };
                data.evidence.insert(
                    i64::try_from(i).unwrap(),
                    &format!("c{position}-{c}"),
                    id,
                    e,
                );
            }
        }
    }
    data
}

/// The organization gap report for 100,000 people, and a 500-person department heatmap.
fn gap_reports(c: &mut Criterion) {
    use talentcert::gaps::{report, svg};
    let data = synthetic_org(100_000);
    c.bench_function("organization gap report, 100,000 people", |b| {
        b.iter(|| report::organization_gap(black_box(&data)))
    });
    let members: Vec<&report::Person> = data.people.iter().take(500).collect();
    c.bench_function("department heatmap, 500 people (report and SVG)", |b| {
        b.iter(|| {
            let heat = report::department_gap(black_box(&data), "Region", &members);
            svg::heatmap(&heat, talentcert::i18n::Lang::En)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = parse_gift, grade_attempt, statistics, render_certificate, credential_jwt
}
criterion_group! {
    name = reports;
    config = Criterion::default().sample_size(10);
    targets = gap_reports
}
criterion_main!(benches, reports);
