//! Benchmarks of the hot pure functions (`cargo bench`): parsing a large GIFT bank, grading a
//! whole attempt, and item statistics over many attempts. Figures go in BENCHMARKS.md.
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = parse_gift, grade_attempt, statistics
}
criterion_main!(benches);
