//! The shipped catalog meets the product's coverage rules and repeats nothing.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use talentcert::assessment::gift::QuestionKind;
use talentcert::catalog::content::{
    self, Catalog, BUSINESS_LEVELS, CATEGORIES, LESSON_KINDS, VALUE_DEMANDS,
};

fn catalog() -> Catalog {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content");
    content::load(&root).unwrap_or_else(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{}", list.join("\n"))
    })
}

fn words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

fn has_cjk(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Hashed n-word shingles, sorted and unique, for near-duplicate detection.
fn shingles(text: &str, n: usize) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let tokens: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out: Vec<u64> = tokens
        .windows(n)
        .map(|w| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut h);
            h.finish()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted, unique lists (a merge, no allocation).
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

#[test]
fn competency_models_cover_the_program() {
    let c = catalog();
    assert_eq!(c.models.len(), 7);
    let mut demands = BTreeSet::new();
    let mut levels = BTreeSet::new();
    for m in &c.models {
        assert!(CATEGORIES.contains(&m.spec.id.as_str()));
        let n = m.spec.competencies.len();
        assert!((6..=10).contains(&n), "{}: {n} competencies", m.spec.id);
        assert!(has_cjk(&m.spec.name_zh), "{}", m.spec.id);
        for k in &m.spec.competencies {
            demands.insert(k.value_demand.clone());
            levels.insert(k.business_level.clone());
            assert!(has_cjk(&k.name_zh), "{}: name_zh", k.id);
            for l in &k.levels {
                assert!(
                    l.indicators.len() >= 2,
                    "{} level {}: at least two indicators",
                    k.id,
                    l.level
                );
            }
        }
    }
    assert_eq!(demands.len(), VALUE_DEMANDS.len());
    assert_eq!(levels.len(), BUSINESS_LEVELS.len());
}

#[test]
fn courses_meet_the_counts_and_shapes() {
    let c = catalog();
    let published: Vec<_> = c
        .courses
        .iter()
        .filter(|x| x.spec.status == "published")
        .collect();
    assert!(
        published.len() >= 70,
        "{} published courses",
        published.len()
    );
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_area: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for course in &published {
        let s = &course.spec;
        *per_category.entry(s.category.as_str()).or_default() += 1;
        *per_area.entry(s.area.as_str()).or_default() += 1;
        if !has_cjk(&s.title_zh) || !has_cjk(&s.summary_zh) {
            problems.push(format!("{}: Chinese title and summary", s.code));
        }
        if !(3..=6).contains(&course.lessons.len()) {
            problems.push(format!("{}: {} lessons", s.code, course.lessons.len()));
        }
        let kinds: BTreeSet<&str> = course
            .lessons
            .iter()
            .map(|l| l.front.kind.as_str())
            .collect();
        if kinds.len() != LESSON_KINDS.len() {
            problems.push(format!("{}: lesson kinds {kinds:?}", s.code));
        }
        for l in &course.lessons {
            let n = words(&l.body);
            if !(400..=1200).contains(&n) {
                problems.push(format!("{}/{}: {n} words", s.code, l.slug));
            }
        }
        if course.questions.len() < 12 {
            problems.push(format!("{}: {} questions", s.code, course.questions.len()));
        }
        if s.develops.is_empty() {
            problems.push(format!("{}: develops no competency", s.code));
        }
    }
    for category in CATEGORIES {
        let n = per_category.get(category).copied().unwrap_or(0);
        if n < 6 {
            problems.push(format!("category {category}: {n} courses"));
        }
    }
    for area in ["mall-operation", "user-operation", "shopping-guide"] {
        let n = per_area.get(area).copied().unwrap_or(0);
        if n < 12 {
            problems.push(format!("area {area}: {n} courses"));
        }
    }
    if per_area.get("foundation").copied().unwrap_or(0) < 3 {
        problems.push("fewer than 3 foundation courses".into());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_competency_is_developed_and_examinable() {
    let c = catalog();
    let mut developed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut difficulties: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut types = BTreeSet::new();
    let mut total = 0;
    for course in &c.courses {
        for d in &course.spec.develops {
            *developed.entry(d.competency.as_str()).or_default() += 1;
        }
        for q in &course.questions {
            total += 1;
            types.insert(q.kind.type_name());
            if let (Some(comp), Some(diff)) = (q.tag("competency"), q.tag("difficulty")) {
                difficulties.entry(comp).or_default().insert(diff);
            }
        }
    }
    assert!(total >= 900, "{total} questions");
    for t in [
        "single_choice",
        "multiple_choice",
        "true_false",
        "short_answer",
        "numerical",
        "matching",
    ] {
        assert!(types.contains(t), "no {t} question");
    }
    let mut problems = Vec::new();
    for m in &c.models {
        for k in &m.spec.competencies {
            let n = developed.get(k.id.as_str()).copied().unwrap_or(0);
            if n < 2 {
                problems.push(format!("{}: developed by {n} course(s)", k.id));
            }
            let d = difficulties.get(k.id.as_str()).map_or(0, BTreeSet::len);
            if d < 2 {
                problems.push(format!("{}: questions at {d} difficulty level(s)", k.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn certifications_exist_per_category_and_their_banks_fill_them_several_times() {
    let c = catalog();
    let mut available: BTreeMap<(String, String), usize> = BTreeMap::new();
    for course in c.courses.iter().filter(|x| x.spec.status == "published") {
        for q in &course.questions {
            if matches!(q.kind, QuestionKind::Description | QuestionKind::Essay) {
                continue;
            }
            if let (Some(comp), Some(diff)) = (q.tag("competency"), q.tag("difficulty")) {
                *available
                    .entry((comp.to_string(), diff.to_string()))
                    .or_default() += 1;
            }
        }
    }
    let mut problems = Vec::new();
    for category in CATEGORIES {
        for level in [2, 3] {
            if !c
                .certifications
                .iter()
                .any(|x| x.spec.category == category && x.spec.level == level)
            {
                problems.push(format!("{category}: no level-{level} certification"));
            }
        }
    }
    for cert in &c.certifications {
        let s = &cert.spec;
        let mut drawn = 0;
        for b in &s.blueprint {
            for (diff, n) in [("easy", b.easy), ("medium", b.medium), ("hard", b.hard)] {
                drawn += n;
                let have = available
                    .get(&(b.competency.clone(), diff.to_string()))
                    .copied()
                    .unwrap_or(0);
                if n > 0 && have < 2 * n as usize {
                    problems.push(format!(
                        "{}: {} {diff} draws {n} of {have}",
                        s.code, b.competency
                    ));
                }
            }
        }
        if !(10..=60).contains(&drawn) {
            problems.push(format!("{}: draws {drawn} questions", s.code));
        }
    }
    assert!(
        c.certifications
            .iter()
            .any(|x| x.spec.required_courses.is_empty()),
        "one certification is open to a new learner at once"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_lesson_or_question_is_a_near_copy_of_another() {
    let c = catalog();
    let lessons: Vec<(String, Vec<u64>)> = c
        .courses
        .iter()
        .flat_map(|course| {
            course.lessons.iter().map(move |l| {
                (
                    format!("{}/{}", course.spec.code, l.slug),
                    shingles(&l.body, 5),
                )
            })
        })
        .collect();
    let mut problems = Vec::new();
    for (i, (a, sa)) in lessons.iter().enumerate() {
        for (b, sb) in &lessons[i + 1..] {
            let sim = jaccard(sa, sb);
            if sim > 0.3 {
                problems.push(format!(
                    "lessons {a} and {b}: {sim:.2} of 5-word shingles shared"
                ));
            }
        }
    }
    let questions: Vec<(String, Vec<u64>)> = c
        .courses
        .iter()
        .flat_map(|course| {
            course.questions.iter().map(|q| {
                (
                    q.id.clone().unwrap_or_default(),
                    shingles(&format!("{} {:?}", q.text, q.kind), 3),
                )
            })
        })
        .collect();
    for (i, (a, sa)) in questions.iter().enumerate() {
        for (b, sb) in &questions[i + 1..] {
            let sim = jaccard(sa, sb);
            if sim > 0.7 {
                problems.push(format!("questions {a} and {b}: {sim:.2} shared"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_content_readme_lists_the_catalog_as_it_is() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/README.md"),
    )
    .unwrap();
    let index = content::index_markdown(&catalog());
    assert!(
        readme.contains(&index),
        "course-content/README.md is out of date: run `cargo run -- catalog-index` and paste its output over the listing"
    );
}
