//! Reading `course-content/` into checked structures.
//!
//! Every problem names its file, its line where known, and what is wrong; all problems of a
//! directory are collected in one pass, not only the first. Formats: `course-content/README.md`.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::assessment::gift::{self, GiftQuestion, QuestionKind};

/// A problem in a content file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    /// Relative to the content directory.
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The seven job categories, in display order.
pub const CATEGORIES: [&str; 7] = [
    "content-operation",
    "community-operation",
    "user-operation",
    "activity-operation",
    "data-operation",
    "mall-operation",
    "shopping-guide",
];
/// Areas a course may belong to.
pub const AREAS: [&str; 8] = [
    "mall-operation",
    "user-operation",
    "shopping-guide",
    "content-operation",
    "community-operation",
    "activity-operation",
    "data-operation",
    "foundation",
];
/// Value demands.
pub const VALUE_DEMANDS: [&str; 3] = ["marketing", "sales-conversion", "user-relationship"];
/// Business levels.
pub const BUSINESS_LEVELS: [&str; 3] = ["construction", "operation", "conversion"];
/// Lesson kinds.
pub const LESSON_KINDS: [&str; 3] = ["operational-skills", "data-and-tools", "practical-case"];
/// Question difficulties.
pub const DIFFICULTIES: [&str; 3] = ["easy", "medium", "hard"];

/// Indicators of one proficiency level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    pub level: u8,
    pub indicators: Vec<String>,
}

/// A competency as written in a model file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompetencySpec {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub description: String,
    pub description_zh: String,
    pub value_demand: String,
    pub business_level: String,
    pub levels: Vec<LevelSpec>,
}

/// A competency model file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub description: String,
    pub description_zh: String,
    pub competencies: Vec<CompetencySpec>,
}

/// A competency a course develops.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Develops {
    pub competency: String,
    pub level: i32,
}

fn published() -> String {
    "published".to_string()
}

/// `course.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CourseSpec {
    pub code: String,
    pub title: String,
    pub title_zh: String,
    pub summary: String,
    pub summary_zh: String,
    pub category: String,
    pub area: String,
    pub level: i32,
    pub estimated_minutes: i32,
    #[serde(default)]
    pub prerequisites: Vec<String>,
    #[serde(default = "published")]
    pub status: String,
    #[serde(default)]
    pub develops: Vec<Develops>,
}

/// A lesson's front matter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LessonFront {
    pub title: String,
    pub title_zh: Option<String>,
    pub kind: String,
    pub estimated_minutes: Option<i32>,
}

/// A lesson file.
#[derive(Debug, Clone, PartialEq)]
pub struct LessonSpec {
    /// The file name without `NN-` and `.md`.
    pub slug: String,
    pub position: i32,
    pub front: LessonFront,
    pub body: String,
}

/// A course folder.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseContent {
    pub spec: CourseSpec,
    pub lessons: Vec<LessonSpec>,
    pub questions: Vec<GiftQuestion>,
    /// SHA-256 of every file of the course.
    pub hash: String,
    /// The course folder, relative to the content directory.
    pub dir: String,
}

/// One section of an exam blueprint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlueprintSection {
    pub competency: String,
    #[serde(default)]
    pub easy: u32,
    #[serde(default)]
    pub medium: u32,
    #[serde(default)]
    pub hard: u32,
}

/// A per-competency score band and the level offset it evidences.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBand {
    pub min_percent: f64,
    pub offset: i32,
}

/// The review policies of a certification (see its `review` field).
pub const REVIEW_POLICIES: [&str; 5] =
    ["secure", "score-only", "none", "after-submit", "after-pass"];

/// Certification exams show the score and per-competency feedback only, unless they say so.
pub fn default_review() -> String {
    "secure".into()
}

/// A certification file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertificationSpec {
    pub code: String,
    pub category: String,
    pub level: i32,
    pub title: String,
    pub title_zh: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub description_zh: String,
    pub validity_months: u32,
    #[serde(default)]
    pub required_courses: Vec<String>,
    pub pass_percent: f64,
    pub excellent_percent: f64,
    #[serde(default)]
    pub min_competency_percent: f64,
    pub max_attempts: u32,
    pub cooldown_hours: u32,
    pub time_limit_minutes: u32,
    pub on_timeout: String,
    #[serde(default)]
    pub grace_minutes: u32,
    pub counted_attempt: String,
    /// What a learner sees after an attempt: `secure` (the default: score and per-competency
    /// feedback, never the questions, so the bank does not leak), `score-only` (the same),
    /// `none`, `after-submit` or `after-pass` (also each question's text and mark; never keys).
    #[serde(default = "default_review")]
    pub review: String,
    pub evidence_bands: Option<Vec<EvidenceBand>>,
    #[serde(default)]
    pub blueprint: Vec<BlueprintSection>,
}

/// A certification file with its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificationContent {
    pub spec: CertificationSpec,
    pub hash: String,
    pub file: String,
}

/// A model file with its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelContent {
    pub spec: ModelSpec,
    pub hash: String,
    pub file: String,
}

/// Everything in a content directory, checked.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub models: Vec<ModelContent>,
    pub courses: Vec<CourseContent>,
    pub certifications: Vec<CertificationContent>,
    /// SHA-256 over every file: equal hashes mean nothing changed.
    pub hash: String,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update((p.len() as u64).to_le_bytes());
        hasher.update(p);
    }
    hex::encode(hasher.finalize())
}

struct Loader {
    root: PathBuf,
    errors: Vec<ContentError>,
}

impl Loader {
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn err(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.errors.push(ContentError {
            file: file.to_string(),
            line,
            message: message.into(),
        });
    }

    fn read(&mut self, path: &Path) -> Option<String> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => {
                    let f = self.rel(path);
                    self.err(&f, None, "is not UTF-8");
                    None
                }
            },
            Err(e) => {
                let f = self.rel(path);
                self.err(&f, None, format!("cannot be read: {e}"));
                None
            }
        }
    }

    fn toml<T: serde::de::DeserializeOwned>(
        &mut self,
        file: &str,
        text: &str,
        line_offset: usize,
    ) -> Option<T> {
        match toml::from_str::<T>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let line = e.span().map(|span| {
                    text[..span.start.min(text.len())].matches('\n').count() + 1 + line_offset
                });
                self.err(file, line, e.message().to_string());
                None
            }
        }
    }

    fn sorted_entries(&mut self, dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> =
                    entries.filter_map(Result::ok).map(|e| e.path()).collect();
                paths.sort();
                paths
            }
            Err(_) => Vec::new(),
        }
    }
}

/// Finds the 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
        .map(|i| text[..i].matches('\n').count() + 1)
}

/// Reads and checks a content directory.
pub fn load(root: &Path) -> Result<Catalog, Vec<ContentError>> {
    let mut loader = Loader {
        root: root.to_path_buf(),
        errors: Vec::new(),
    };
    if !root.is_dir() {
        loader.err(&root.to_string_lossy(), None, "is not a directory");
        return Err(loader.errors);
    }
    let mut all_hashes: Vec<String> = Vec::new();
    let mut catalog = Catalog::default();
    let mut raw_texts: HashMap<String, String> = HashMap::new();

    // Competency models.
    for path in loader.sorted_entries(&root.join("competency-models")) {
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let file = loader.rel(&path);
        let Some(text) = loader.read(&path) else {
            continue;
        };
        let Some(spec) = loader.toml::<ModelSpec>(&file, &text, 0) else {
            continue;
        };
        let hash = sha256_hex(&[file.as_bytes(), text.as_bytes()]);
        all_hashes.push(hash.clone());
        raw_texts.insert(file.clone(), text);
        catalog.models.push(ModelContent { spec, hash, file });
    }

    // Courses.
    for dir in loader.sorted_entries(&root.join("courses")) {
        if !dir.is_dir() {
            continue;
        }
        if let Some(course) = load_course(&mut loader, &dir) {
            all_hashes.push(course.hash.clone());
            raw_texts.insert(
                format!("{}/course.toml", course.dir),
                course.course_text.clone(),
            );
            catalog.courses.push(course.content);
        }
    }

    // Certifications.
    for path in loader.sorted_entries(&root.join("certifications")) {
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let file = loader.rel(&path);
        let Some(text) = loader.read(&path) else {
            continue;
        };
        let Some(spec) = loader.toml::<CertificationSpec>(&file, &text, 0) else {
            continue;
        };
        let hash = sha256_hex(&[file.as_bytes(), text.as_bytes()]);
        all_hashes.push(hash.clone());
        raw_texts.insert(file.clone(), text);
        catalog
            .certifications
            .push(CertificationContent { spec, hash, file });
    }

    check(&mut loader, &catalog, &raw_texts);
    if !loader.errors.is_empty() {
        return Err(loader.errors);
    }
    let refs: Vec<&[u8]> = all_hashes.iter().map(|h| h.as_bytes()).collect();
    catalog.hash = sha256_hex(&refs);
    Ok(catalog)
}

struct LoadedCourse {
    content: CourseContent,
    hash: String,
    dir: String,
    course_text: String,
}

fn load_course(loader: &mut Loader, dir: &Path) -> Option<LoadedCourse> {
    let dir_rel = loader.rel(dir);
    let course_path = dir.join("course.toml");
    let course_file = loader.rel(&course_path);
    let course_text = loader.read(&course_path)?;
    let spec = loader.toml::<CourseSpec>(&course_file, &course_text, 0)?;
    let mut hash_parts: Vec<Vec<u8>> = vec![
        course_file.clone().into_bytes(),
        course_text.clone().into_bytes(),
    ];
    let mut lessons = Vec::new();
    for path in loader.sorted_entries(&dir.join("lessons")) {
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let file = loader.rel(&path);
        let Some(text) = loader.read(&path) else {
            continue;
        };
        hash_parts.push(file.clone().into_bytes());
        hash_parts.push(text.clone().into_bytes());
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some((number, slug)) = name
            .split_once('-')
            .and_then(|(n, s)| n.parse::<i32>().ok().map(|n| (n, s.to_string())))
        else {
            loader.err(
                &file,
                None,
                "a lesson file is named NN-slug.md (e.g. 01-scoring-rfm.md)",
            );
            continue;
        };
        let text = text
            .strip_prefix('\u{feff}')
            .unwrap_or(&text)
            .replace("\r\n", "\n");
        let Some(rest) = text.strip_prefix("+++\n") else {
            loader.err(
                &file,
                Some(1),
                "a lesson starts with front matter between +++ lines",
            );
            continue;
        };
        let Some(end) = rest.find("\n+++") else {
            loader.err(
                &file,
                Some(1),
                "the front matter is not closed with a +++ line",
            );
            continue;
        };
        let front_text = &rest[..end];
        let body = rest[end + 4..].trim_start_matches('\n').to_string();
        let Some(front) = loader.toml::<LessonFront>(&file, front_text, 1) else {
            continue;
        };
        if !LESSON_KINDS.contains(&front.kind.as_str()) {
            let line = line_of(&text, "kind");
            loader.err(
                &file,
                line,
                format!(
                    "kind {:?} is not one of {}",
                    front.kind,
                    LESSON_KINDS.join(", ")
                ),
            );
        }
        if body.trim().is_empty() {
            loader.err(&file, None, "the lesson has no body");
        }
        lessons.push(LessonSpec {
            slug,
            position: number,
            front,
            body,
        });
    }
    let gift_path = dir.join("questions.gift");
    let mut questions = Vec::new();
    if gift_path.exists() {
        let gift_file = loader.rel(&gift_path);
        if let Some(text) = loader.read(&gift_path) {
            hash_parts.push(gift_file.clone().into_bytes());
            hash_parts.push(text.clone().into_bytes());
            match gift::parse(&text) {
                Ok(qs) => questions = qs,
                Err(errors) => {
                    for e in errors {
                        loader.err(
                            &gift_file,
                            Some(e.line),
                            format!("column {}: {}", e.column, e.message),
                        );
                    }
                }
            }
        }
    }
    let refs: Vec<&[u8]> = hash_parts.iter().map(Vec::as_slice).collect();
    let hash = sha256_hex(&refs);
    Some(LoadedCourse {
        content: CourseContent {
            spec,
            lessons,
            questions,
            hash: hash.clone(),
            dir: dir_rel.clone(),
        },
        hash,
        dir: dir_rel,
        course_text,
    })
}

/// Loads one course folder of a content directory (no cross-file checks).
pub fn load_course_dir(root: &Path, dir: &Path) -> Result<CourseContent, Vec<ContentError>> {
    let mut loader = Loader {
        root: root.to_path_buf(),
        errors: Vec::new(),
    };
    match load_course(&mut loader, dir) {
        Some(course) if loader.errors.is_empty() => Ok(course.content),
        _ => Err(loader.errors),
    }
}

/// Cross-file rules: ids exist and are unique, levels are in range, tags are known.
fn check(loader: &mut Loader, catalog: &Catalog, raw: &HashMap<String, String>) {
    let line = |file: &str, needle: &str| raw.get(file).and_then(|t| line_of(t, needle));
    let mut competencies: BTreeMap<String, String> = BTreeMap::new();
    let mut categories: BTreeSet<String> = BTreeSet::new();
    for m in &catalog.models {
        let f = &m.file;
        if !CATEGORIES.contains(&m.spec.id.as_str()) {
            loader.err(
                f,
                line(f, "id"),
                format!(
                    "unknown job category {:?}; use one of {}",
                    m.spec.id,
                    CATEGORIES.join(", ")
                ),
            );
        }
        let expected = format!("competency-models/{}.toml", m.spec.id);
        if *f != expected {
            loader.err(
                f,
                None,
                format!("the file of category {:?} must be {expected}", m.spec.id),
            );
        }
        if !categories.insert(m.spec.id.clone()) {
            loader.err(
                f,
                None,
                format!("category {:?} is defined twice", m.spec.id),
            );
        }
        for c in &m.spec.competencies {
            let at = line(f, &format!("\"{}\"", c.id));
            if let Some(other) = competencies.insert(c.id.clone(), m.spec.id.clone()) {
                loader.err(
                    f,
                    at,
                    format!("competency id {:?} is already used in {other}", c.id),
                );
            }
            if !VALUE_DEMANDS.contains(&c.value_demand.as_str()) {
                loader.err(
                    f,
                    at,
                    format!(
                        "{}: value_demand {:?} is not one of {}",
                        c.id,
                        c.value_demand,
                        VALUE_DEMANDS.join(", ")
                    ),
                );
            }
            if !BUSINESS_LEVELS.contains(&c.business_level.as_str()) {
                loader.err(
                    f,
                    at,
                    format!(
                        "{}: business_level {:?} is not one of {}",
                        c.id,
                        c.business_level,
                        BUSINESS_LEVELS.join(", ")
                    ),
                );
            }
            let levels: BTreeSet<u8> = c.levels.iter().map(|l| l.level).collect();
            if levels != (1..=5).collect::<BTreeSet<u8>>() || c.levels.len() != 5 {
                loader.err(
                    f,
                    at,
                    format!(
                        "{}: needs exactly the levels 1 to 5 (found {:?})",
                        c.id, levels
                    ),
                );
            }
            if c.levels.iter().any(|l| l.indicators.is_empty()) {
                loader.err(
                    f,
                    at,
                    format!("{}: every level needs at least one indicator", c.id),
                );
            }
        }
    }
    let mut codes: BTreeSet<String> = BTreeSet::new();
    let mut question_ids: BTreeMap<String, String> = BTreeMap::new();
    for c in &catalog.courses {
        let f = format!("{}/course.toml", c.dir);
        let s = &c.spec;
        let folder = c.dir.rsplit('/').next().unwrap_or_default();
        if s.code != folder {
            loader.err(
                &f,
                line(&f, "code"),
                format!("code {:?} must equal the folder name {folder:?}", s.code),
            );
        }
        if !codes.insert(s.code.clone()) {
            loader.err(
                &f,
                line(&f, "code"),
                format!("duplicate course code {:?}", s.code),
            );
        }
        if !categories.contains(&s.category) {
            loader.err(
                &f,
                line(&f, "category"),
                format!("unknown category {:?}", s.category),
            );
        }
        if !AREAS.contains(&s.area.as_str()) {
            loader.err(
                &f,
                line(&f, "area"),
                format!("unknown area {:?}; use one of {}", s.area, AREAS.join(", ")),
            );
        }
        if !(1..=5).contains(&s.level) {
            loader.err(
                &f,
                line(&f, "level"),
                format!("level {} is out of range 1-5", s.level),
            );
        }
        if !(1..=10_000).contains(&s.estimated_minutes) {
            loader.err(
                &f,
                line(&f, "estimated_minutes"),
                "estimated_minutes must be between 1 and 10000",
            );
        }
        if s.status != "published" && s.status != "draft" {
            loader.err(
                &f,
                line(&f, "status"),
                format!("status {:?} must be published or draft", s.status),
            );
        }
        for d in &s.develops {
            if !competencies.contains_key(&d.competency) {
                loader.err(
                    &f,
                    line(&f, &format!("\"{}\"", d.competency)),
                    format!("unknown competency id {:?}", d.competency),
                );
            }
            if !(1..=5).contains(&d.level) {
                loader.err(
                    &f,
                    line(&f, &format!("\"{}\"", d.competency)),
                    format!("level {} of {} is out of range 1-5", d.level, d.competency),
                );
            }
        }
        if c.lessons.is_empty() {
            loader.err(
                &c.dir,
                None,
                "the course has no lessons (lessons/NN-slug.md)",
            );
        }
        let mut slugs = BTreeSet::new();
        for l in &c.lessons {
            if !slugs.insert(l.slug.clone()) {
                loader.err(
                    &format!("{}/lessons", c.dir),
                    None,
                    format!("two lessons have the slug {:?}", l.slug),
                );
            }
        }
        let developed: BTreeSet<&str> = s.develops.iter().map(|d| d.competency.as_str()).collect();
        let gift_file = format!("{}/questions.gift", c.dir);
        for q in &c.questions {
            let Some(id) = &q.id else {
                loader.err(
                    &gift_file,
                    Some(q.line),
                    "the question has no // [id:...] line",
                );
                continue;
            };
            if let Some(other) = question_ids.insert(id.clone(), gift_file.clone()) {
                loader.err(
                    &gift_file,
                    Some(q.line),
                    format!("question id {id:?} is already used in {other}"),
                );
            }
            match q.tag("competency") {
                Some(comp) if developed.contains(comp) => {}
                Some(comp) if competencies.contains_key(comp) => loader.err(
                    &gift_file,
                    Some(q.line),
                    format!("{id}: competency {comp:?} is not one the course develops (course.toml [[develops]])"),
                ),
                Some(comp) => loader.err(&gift_file, Some(q.line), format!("{id}: unknown competency id {comp:?}")),
                None if matches!(q.kind, QuestionKind::Description) => {}
                None => loader.err(&gift_file, Some(q.line), format!("{id}: no [tag:competency=...]")),
            }
            match q.tag("difficulty") {
                Some(d) if DIFFICULTIES.contains(&d) => {}
                Some(d) => loader.err(
                    &gift_file,
                    Some(q.line),
                    format!("{id}: difficulty {d:?} is not easy, medium or hard"),
                ),
                None if matches!(q.kind, QuestionKind::Description) => {}
                None => loader.err(
                    &gift_file,
                    Some(q.line),
                    format!("{id}: no [tag:difficulty=...]"),
                ),
            }
        }
    }
    for c in &catalog.courses {
        let f = format!("{}/course.toml", c.dir);
        for p in &c.spec.prerequisites {
            if !codes.contains(p) {
                loader.err(
                    &f,
                    line(&f, &format!("\"{p}\"")),
                    format!("prerequisite {p:?} is not a course"),
                );
            }
        }
    }
    // What the published banks hold per (competency, difficulty), for the blueprints.
    let mut available: BTreeMap<(String, String), u32> = BTreeMap::new();
    for c in catalog
        .courses
        .iter()
        .filter(|c| c.spec.status == "published")
    {
        for q in &c.questions {
            if matches!(q.kind, QuestionKind::Description) {
                continue;
            }
            if let (Some(comp), Some(diff)) = (q.tag("competency"), q.tag("difficulty")) {
                *available
                    .entry((comp.to_string(), diff.to_string()))
                    .or_default() += 1;
            }
        }
    }
    let mut cert_codes = BTreeSet::new();
    for cert in &catalog.certifications {
        let f = &cert.file;
        let s = &cert.spec;
        if !cert_codes.insert(s.code.clone()) {
            loader.err(
                f,
                line(f, "code"),
                format!("duplicate certification code {:?}", s.code),
            );
        }
        if !categories.contains(&s.category) {
            loader.err(
                f,
                line(f, "category"),
                format!("unknown category {:?}", s.category),
            );
        }
        for r in &s.required_courses {
            if !codes.contains(r) {
                loader.err(
                    f,
                    line(f, &format!("\"{r}\"")),
                    format!("required course {r:?} does not exist"),
                );
            }
        }
        for (field, problem) in rule_problems(s) {
            let at = if field.is_empty() {
                None
            } else {
                line(f, field)
            };
            loader.err(f, at, problem);
        }
        if s.blueprint.is_empty() {
            loader.err(f, None, "the blueprint has no [[blueprint]] sections");
        }
        for b in &s.blueprint {
            let at = line(f, &format!("\"{}\"", b.competency));
            if !competencies.contains_key(&b.competency) {
                loader.err(f, at, format!("unknown competency id {:?}", b.competency));
                continue;
            }
            for (difficulty, n) in [("easy", b.easy), ("medium", b.medium), ("hard", b.hard)] {
                let have = available
                    .get(&(b.competency.clone(), difficulty.to_string()))
                    .copied()
                    .unwrap_or(0);
                if n > have {
                    loader.err(
                        f,
                        at,
                        format!(
                            "the banks cannot fill this blueprint: {} {difficulty} draws {n} and the published banks hold {have}",
                            b.competency
                        ),
                    );
                }
            }
        }
    }
}

/// What is wrong with a certification's rules (level, marks, attempts, timing, counting and
/// review), as (field, problem); the same checks for content files and trainers' edits.
pub fn rule_problems(s: &CertificationSpec) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !(1..=5).contains(&s.level) {
        out.push(("level", format!("level {} is out of range 1-5", s.level)));
    }
    for (name, value) in [
        ("pass_percent", s.pass_percent),
        ("excellent_percent", s.excellent_percent),
        ("min_competency_percent", s.min_competency_percent),
    ] {
        if !(0.0..=100.0).contains(&value) {
            out.push((name, format!("{name} {value} is outside 0-100")));
        }
    }
    if s.excellent_percent < s.pass_percent {
        out.push((
            "excellent_percent",
            "excellent_percent is below pass_percent".to_string(),
        ));
    }
    for (name, value) in [
        ("max_attempts", s.max_attempts),
        ("time_limit_minutes", s.time_limit_minutes),
        ("validity_months", s.validity_months),
    ] {
        if value == 0 {
            out.push((name, format!("{name} must be at least 1")));
        }
    }
    if s.time_limit_minutes > 24 * 60 || s.grace_minutes > 24 * 60 {
        out.push((
            "time_limit_minutes",
            "time_limit_minutes and grace_minutes are at most 1440 (a day)".to_string(),
        ));
    }
    if s.max_attempts > 100 || s.cooldown_hours > 24 * 365 || s.validity_months > 600 {
        out.push((
            "max_attempts",
            "max_attempts is at most 100, cooldown_hours at most 8760 and validity_months at most 600"
                .to_string(),
        ));
    }
    if !["auto-submit", "grace", "abandon"].contains(&s.on_timeout.as_str()) {
        out.push((
            "on_timeout",
            format!(
                "on_timeout {:?} is not auto-submit, grace or abandon",
                s.on_timeout
            ),
        ));
    }
    if !["highest", "first", "last", "average"].contains(&s.counted_attempt.as_str()) {
        out.push((
            "counted_attempt",
            format!(
                "counted_attempt {:?} is not highest, first, last or average",
                s.counted_attempt
            ),
        ));
    }
    if !REVIEW_POLICIES.contains(&s.review.as_str()) {
        out.push((
            "review",
            format!(
                "review {:?} is not secure, score-only, none, after-submit or after-pass",
                s.review
            ),
        ));
    }
    for band in s.evidence_bands.iter().flatten() {
        if !(0.0..=100.0).contains(&band.min_percent) || !(-4..=0).contains(&band.offset) {
            out.push((
                "evidence_bands",
                "an evidence band needs min_percent 0-100 and offset -4 to 0".to_string(),
            ));
        }
    }
    out
}

/// Markers around the generated listing in `course-content/README.md`.
pub const INDEX_BEGIN: &str =
    "<!-- catalog index: generated by `talentcert catalog-index`; do not edit by hand -->";
/// End marker of the listing.
pub const INDEX_END: &str = "<!-- end of catalog index -->";

/// The catalog as a Markdown listing: categories with their competencies, then courses by area.
pub fn index_markdown(catalog: &Catalog) -> String {
    let mut out = String::new();
    out.push_str(INDEX_BEGIN);
    out.push('\n');
    let questions: usize = catalog.courses.iter().map(|c| c.questions.len()).sum();
    out.push_str(&format!(
        "\n{} job categories, {} courses, {} questions, {} certifications.\n",
        catalog.models.len(),
        catalog.courses.len(),
        questions,
        catalog.certifications.len()
    ));
    out.push_str("\n### Competency models\n");
    for m in &catalog.models {
        out.push_str(&format!(
            "\n**{}** ({}), `{}`\n\n",
            m.spec.name, m.spec.name_zh, m.spec.id
        ));
        for k in &m.spec.competencies {
            out.push_str(&format!(
                "- `{}` {} ({}): {}, {}\n",
                k.id, k.name, k.name_zh, k.value_demand, k.business_level
            ));
        }
    }
    out.push_str("\n### Courses\n");
    for area in AREAS {
        let courses: Vec<&CourseContent> = catalog
            .courses
            .iter()
            .filter(|c| c.spec.area == area)
            .collect();
        if courses.is_empty() {
            continue;
        }
        out.push_str(&format!("\n**{area}** ({} courses)\n\n| code | level | title | lessons | questions | develops |\n| --- | --- | --- | --- | --- | --- |\n", courses.len()));
        for c in courses {
            let develops: Vec<String> = c
                .spec
                .develops
                .iter()
                .map(|d| format!("`{}` {}", d.competency, d.level))
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} ({}) | {} | {} | {} |\n",
                c.spec.code,
                c.spec.level,
                c.spec.title,
                c.spec.title_zh,
                c.lessons.len(),
                c.questions.len(),
                develops.join(", ")
            ));
        }
    }
    out.push_str("\n### Certifications\n\n| code | category | level | title | required courses | questions drawn |\n| --- | --- | --- | --- | --- | --- |\n");
    for cert in &catalog.certifications {
        let s = &cert.spec;
        let drawn: u32 = s.blueprint.iter().map(|b| b.easy + b.medium + b.hard).sum();
        let required = if s.required_courses.is_empty() {
            "none (open entry)".to_string()
        } else {
            s.required_courses.join(", ")
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} ({}) | {} | {} |\n",
            s.code, s.category, s.level, s.title, s.title_zh, required, drawn
        ));
    }
    out.push('\n');
    out.push_str(INDEX_END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, path: &str, text: &str) {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(full, text);
    }

    #[test]
    fn the_shipped_catalog_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content");
        match load(&root) {
            Ok(catalog) => {
                assert_eq!(catalog.models.len(), 7);
                assert!(!catalog.courses.is_empty());
            }
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("{} problems:\n{}", list.len(), list.join("\n"));
            }
        }
    }

    #[test]
    fn every_problem_is_reported_with_file_and_line() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        write(d, "competency-models/user-operation.toml", "id = \"user-operation\"\nname = \"U\"\nname_zh = \"U\"\ndescription = \"d\"\ndescription_zh = \"d\"\n\n[[competencies]]\nid = \"uo-a\"\nname = \"A\"\nname_zh = \"A\"\ndescription = \"d\"\ndescription_zh = \"d\"\nvalue_demand = \"marketing\"\nbusiness_level = \"operation\"\nlevels = [{level = 1, indicators = [\"x\"]}, {level = 2, indicators = [\"x\"]}, {level = 3, indicators = [\"x\"]}, {level = 4, indicators = [\"x\"]}, {level = 5, indicators = [\"x\"]}]\n");
        write(d, "courses/uo-101/course.toml", "code = \"uo-101\"\ntitle = \"T\"\ntitle_zh = \"T\"\nsummary = \"S\"\nsummary_zh = \"S\"\ncategory = \"user-operation\"\narea = \"user-operation\"\nlevel = 7\nestimated_minutes = 30\n\n[[develops]]\ncompetency = \"uo-missing\"\nlevel = 2\n");
        write(
            d,
            "courses/uo-101/lessons/01-a.md",
            "+++\ntitle = \"A\"\nkind = \"lecture\"\n+++\nBody\n",
        );
        write(d, "courses/uo-101/questions.gift", "// [id:q1] [tag:competency=uo-a] [tag:difficulty=easy]\nQ {T}\n\n// [id:q2]\nQ2 {#abc}\n");
        write(
            d,
            "courses/uo-102/course.toml",
            "code = \"uo-102\"\ntitle = 5\n",
        );
        let Err(errors) = load(d) else {
            panic!("should fail")
        };
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let joined = text.join("\n");
        assert!(
            joined.contains("courses/uo-101/course.toml:8: level 7 is out of range 1-5"),
            "{joined}"
        );
        assert!(
            joined.contains("courses/uo-101/course.toml:12: unknown competency id \"uo-missing\""),
            "{joined}"
        );
        assert!(
            joined.contains("courses/uo-101/lessons/01-a.md:3: kind \"lecture\""),
            "{joined}"
        );
        assert!(
            joined.contains("courses/uo-101/questions.gift:5: column"),
            "{joined}"
        );
        assert!(joined.contains("courses/uo-102/course.toml:2:"), "{joined}");
        Ok(())
    }
}
