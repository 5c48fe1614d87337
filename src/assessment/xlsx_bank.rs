//! Question banks as Excel workbooks (.xlsx): one row per question, under a header row that
//! names the columns (in any order; English or Chinese names):
//!
//! | column | 中文 | what it holds |
//! | --- | --- | --- |
//! | `type` | 题型 | `single_choice` 单选, `multiple_choice` 多选, `true_false` 判断, `short_answer` 填空, `numerical` 数值, `matching` 匹配, `essay` 问答, `description` 说明 |
//! | `stem` | 题干 | the question text |
//! | `options` | 选项 | one per line (Alt+Enter): choice texts (A, B, C… in order); matching pairs `left => right` (a distractor: `=> right`); true/false feedback `right: …` / `wrong: …` |
//! | `answer` | 答案 | choice letters (`B`, `AC`); `TRUE`/`FALSE` (对/错); accepted short answers, one per line; numbers as `value` or `value±tolerance`, one per line |
//! | `score` | 分值 | the question's marks (default 1) |
//! | `competency` | 能力 | the competency id (one the course develops) |
//! | `difficulty` | 难度 | `easy`, `medium`, `hard` (易, 中, 难) |
//! | `explanation` | 解析 | shown after grading (general feedback) |
//! | `id`, `title`, `tags`, `format`, `category` | 编号, 标题, 标签, 格式, 分类 | optional: the question's id (revisions match by it), title, other tags, text format, category |
//!
//! An option or answer line may end with a weight in brackets, `[50]` (percent of the marks;
//! negative for a wrong choice), and a feedback after ` # `; `\#`, `\[` and `\\` stand for the
//! characters themselves. Without weights, a single choice's answer earns everything; a multiple
//! choice's right options share 100 and each wrong one takes away 100/k (k right options), floored
//! at zero per question. Exports write weights only where they differ from that, so an exported
//! bank imports back unchanged. Every bad row is reported with its row (and column) number and
//! nothing is written.
use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::gift::{Choice, GiftError, GiftQuestion, NumericAnswer, Pair, QuestionKind, TextFormat};
use crate::error::AppResult;

/// The columns, in the order exports write them: (name, Chinese name).
pub const COLUMNS: [(&str, &str); 13] = [
    ("type", "题型"),
    ("stem", "题干"),
    ("options", "选项"),
    ("answer", "答案"),
    ("score", "分值"),
    ("competency", "能力"),
    ("difficulty", "难度"),
    ("explanation", "解析"),
    ("id", "编号"),
    ("title", "标题"),
    ("tags", "标签"),
    ("format", "格式"),
    ("category", "分类"),
];

/// The most rows a workbook may hold.
pub const MAX_ROWS: usize = 5_000;
/// Columns past this one are ignored.
const MAX_COLUMNS: usize = 64;

const TYPES: [(&str, &str); 8] = [
    ("single_choice", "单选"),
    ("multiple_choice", "多选"),
    ("true_false", "判断"),
    ("short_answer", "填空"),
    ("numerical", "数值"),
    ("matching", "匹配"),
    ("essay", "问答"),
    ("description", "说明"),
];

fn letter(i: usize) -> String {
    let mut n = i;
    let mut s = String::new();
    loop {
        s.insert(0, char::from(b'A' + u8::try_from(n % 26).unwrap_or(0)));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('#', "\\#")
        .replace('[', "\\[")
}

/// Splits `text [weight] # feedback` (escapes honoured) into its parts.
fn split_line(line: &str) -> Result<(String, Option<f64>, Option<String>), String> {
    let mut text = String::new();
    let mut weight: Option<String> = None;
    let mut feedback: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    match (&mut feedback, &mut weight) {
                        (Some(f), _) => f.push(next),
                        (None, _) => text.push(next),
                    }
                }
            }
            '#' if feedback.is_none() => feedback = Some(String::new()),
            '[' if feedback.is_none() && weight.is_none() => {
                let mut w = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    w.push(d);
                }
                weight = Some(w);
            }
            _ => match &mut feedback {
                Some(f) => f.push(c),
                None => text.push(c),
            },
        }
    }
    let weight = match weight {
        Some(w) => Some(
            w.trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite() && (-100.0..=100.0).contains(w))
                .ok_or_else(|| format!("the weight [{w}] is not a percent from -100 to 100"))?,
        ),
        None => None,
    };
    Ok((
        text.trim().to_string(),
        weight,
        feedback
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty()),
    ))
}

fn join_line(text: &str, weight: Option<f64>, feedback: Option<&str>) -> String {
    let mut s = escape(text);
    if let Some(w) = weight {
        s.push_str(&format!(" [{}]", trim_number(w)));
    }
    if let Some(f) = feedback {
        s.push_str(&format!(" # {}", escape(f)));
    }
    s
}

fn trim_number(n: f64) -> String {
    let s = format!("{n}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The weights a choice question gets from its answer letters alone.
fn default_weights(single: bool, n: usize, right: &[usize]) -> Vec<f64> {
    let k = right.len().max(1) as f64;
    (0..n)
        .map(|i| match (single, right.contains(&i)) {
            (true, true) => 100.0,
            (true, false) => 0.0,
            (false, true) => 100.0 / k,
            (false, false) => -100.0 / k,
        })
        .collect()
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

/// One question as a row (cells in [`COLUMNS`] order).
fn row_of(q: &GiftQuestion) -> Vec<String> {
    let mut options = Vec::new();
    let mut answer = Vec::new();
    match &q.kind {
        QuestionKind::MultipleChoice { single, choices } => {
            let right: Vec<usize> = choices
                .iter()
                .enumerate()
                .filter(|(_, c)| c.weight > 0.0 && (!*single || c.weight >= 100.0 - 1e-9))
                .map(|(i, _)| i)
                .collect();
            let weights: Vec<f64> = choices.iter().map(|c| c.weight).collect();
            let plain = same(&weights, &default_weights(*single, choices.len(), &right))
                && !(*single && right.is_empty());
            for c in choices {
                options.push(join_line(
                    &c.text,
                    (!plain).then_some(c.weight),
                    c.feedback.as_deref(),
                ));
            }
            answer.push(right.iter().map(|i| letter(*i)).collect::<String>());
        }
        QuestionKind::TrueFalse {
            answer: a,
            feedback_wrong,
            feedback_right,
        } => {
            answer.push(if *a { "TRUE" } else { "FALSE" }.to_string());
            if let Some(f) = feedback_right {
                options.push(format!("right: {}", escape(f)));
            }
            if let Some(f) = feedback_wrong {
                options.push(format!("wrong: {}", escape(f)));
            }
        }
        QuestionKind::ShortAnswer { answers } => {
            for a in answers {
                let w = ((a.weight - 100.0).abs() > 1e-9).then_some(a.weight);
                answer.push(join_line(&a.text, w, a.feedback.as_deref()));
            }
        }
        QuestionKind::Numerical { answers } => {
            for a in answers {
                let value = if a.tolerance > 0.0 {
                    format!("{}±{}", trim_number(a.value), trim_number(a.tolerance))
                } else {
                    trim_number(a.value)
                };
                let w = ((a.weight - 100.0).abs() > 1e-9).then_some(a.weight);
                let mut line = value;
                if let Some(w) = w {
                    line.push_str(&format!(" [{}]", trim_number(w)));
                }
                if let Some(f) = &a.feedback {
                    line.push_str(&format!(" # {}", escape(f)));
                }
                answer.push(line);
            }
        }
        QuestionKind::Matching { pairs, distractors } => {
            for p in pairs {
                options.push(format!("{} => {}", escape(&p.left), escape(&p.right)));
            }
            for d in distractors {
                options.push(format!("=> {}", escape(d)));
            }
        }
        QuestionKind::Essay | QuestionKind::Description => {}
    }
    let tag = |key: &str| q.tag(key).unwrap_or_default().to_string();
    let other_tags: Vec<&String> = q
        .tags
        .iter()
        .filter(|t| {
            !["competency=", "difficulty=", "points="]
                .iter()
                .any(|p| t.starts_with(p))
        })
        .collect();
    vec![
        q.kind.type_name().to_string(),
        q.text.clone(),
        options.join("\n"),
        answer.join("\n"),
        q.tag("points").unwrap_or("1").to_string(),
        tag("competency"),
        tag("difficulty"),
        q.general_feedback.clone().unwrap_or_default(),
        q.id.clone().unwrap_or_default(),
        q.title.clone().unwrap_or_default(),
        other_tags
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::to_value(q.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        q.category.clone().unwrap_or_default(),
    ]
}

/// The bank as a workbook: the questions, and a sheet explaining the columns.
pub fn write(questions: &[GiftQuestion]) -> AppResult<Vec<u8>> {
    let mut rows = vec![COLUMNS
        .iter()
        .map(|(c, _)| c.to_string())
        .collect::<Vec<_>>()];
    rows.extend(questions.iter().map(row_of));
    let mut help = vec![vec![
        "column".to_string(),
        "中文".to_string(),
        "what it holds".to_string(),
    ]];
    for (name, zh, what) in [
        ("type", "题型", "single_choice 单选, multiple_choice 多选, true_false 判断, short_answer 填空, numerical 数值, matching 匹配, essay 问答, description 说明"),
        ("stem", "题干", "The question text."),
        ("options", "选项", "One per line (Alt+Enter): choices in order A, B, C…; matching pairs 'left => right' ('=> right' adds a distractor); true/false feedback 'right: …' and 'wrong: …'."),
        ("answer", "答案", "Choice letters (B, AC); TRUE or FALSE (对/错); accepted short answers one per line; numbers as value or value±tolerance, one per line."),
        ("score", "分值", "The question's marks (default 1)."),
        ("competency", "能力", "The competency id, one the course develops."),
        ("difficulty", "难度", "easy, medium or hard (易, 中, 难)."),
        ("explanation", "解析", "Shown after grading."),
        ("id / title / tags / format / category", "编号 / 标题 / 标签 / 格式 / 分类", "Optional. Rows with the id of an existing question revise it."),
        ("weights and feedback", "权重与反馈", "An option or answer line may end with [50] (percent of the marks, negative for a wrong choice) and ' # feedback'. \\# \\[ \\\\ stand for # [ \\."),
    ] {
        help.push(vec![name.to_string(), zh.to_string(), what.to_string()]);
    }
    crate::export::xlsx_bytes(&[("questions", &rows), ("instructions", &help)])
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => trim_number(*f),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        other => other.to_string(),
    }
}

/// Reads a workbook's first sheet; every problem names its row (and column).
pub fn parse(bytes: &[u8]) -> Result<Vec<GiftQuestion>, Vec<GiftError>> {
    let err = |line: usize, column: usize, message: String| GiftError {
        line,
        column,
        message,
    };
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| vec![err(0, 0, format!("not an Excel workbook (.xlsx): {e}"))])?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        return Err(vec![err(0, 0, "the workbook has no sheet".into())]);
    };
    // Cells are streamed, never laid out as the sheet's whole rectangle: a workbook that claims
    // a far-away cell costs nothing, and rows past the limit stop the read.
    let mut cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|e| vec![err(0, 0, format!("the first sheet cannot be read: {e}"))])?;
    let mut grid: std::collections::BTreeMap<u32, Vec<(u32, Data)>> = Default::default();
    loop {
        match cells.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                if c as usize >= MAX_COLUMNS {
                    continue;
                }
                if grid.len() > MAX_ROWS && !grid.contains_key(&r) {
                    return Err(vec![err(
                        r as usize + 1,
                        0,
                        format!("a workbook holds at most {MAX_ROWS} questions"),
                    )]);
                }
                grid.entry(r)
                    .or_default()
                    .push((c, Data::from(cell.get_value().clone())));
            }
            Ok(None) => break,
            Err(e) => {
                return Err(vec![err(
                    0,
                    0,
                    format!("the first sheet cannot be read: {e}"),
                )])
            }
        }
    }
    let rows_of: Vec<(usize, Vec<Data>)> = grid
        .into_iter()
        .map(|(r, list)| {
            let width = list.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
            let mut row = vec![Data::Empty; width];
            for (c, d) in list {
                if let Some(slot) = row.get_mut(c as usize) {
                    *slot = d;
                }
            }
            (r as usize + 1, row)
        })
        .collect();
    let first_col = 0;
    let mut rows = rows_of.iter();
    let Some((header_line, header)) = rows.next() else {
        return Err(vec![err(
            1,
            0,
            "the sheet is empty: the first row names the columns".into(),
        )]);
    };
    let first_row = header_line - 1;
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let name = cell_text(cell).trim().to_lowercase();
        if name.is_empty() {
            continue;
        }
        match COLUMNS.iter().find(|(en, zh)| *en == name || *zh == name) {
            Some((en, _)) => {
                at.insert(en, i);
            }
            None => errors.push(err(
                first_row + 1,
                first_col + i + 1,
                format!("unknown column {name:?}; the columns are type, stem, options, answer, score, competency, difficulty, explanation, id, title, tags, format, category"),
            )),
        }
    }
    for required in ["type", "stem"] {
        if !at.contains_key(required) {
            errors.push(err(
                first_row + 1,
                0,
                format!("the header has no {required} column"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::new();
    for (line, row) in rows {
        let line = *line;
        let get = |name: &str| {
            at.get(name)
                .and_then(|c| row.get(*c))
                .map(cell_text)
                .unwrap_or_default()
        };
        let col = |name: &str| at.get(name).map_or(0, |c| first_col + c + 1);
        if row.iter().all(|c| cell_text(c).trim().is_empty()) {
            continue;
        }
        match parse_row(&get, &col, line) {
            Ok(q) => out.push(q),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn letters(s: &str, n: usize) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for c in s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '、' | ';'))
    {
        let i = usize::from(
            u8::try_from(c.to_ascii_uppercase())
                .ok()?
                .checked_sub(b'A')?,
        );
        if i >= n || out.contains(&i) {
            return None;
        }
        out.push(i);
    }
    Some(out)
}

fn parse_row(
    get: &dyn Fn(&str) -> String,
    col: &dyn Fn(&str) -> usize,
    line: usize,
) -> Result<GiftQuestion, Vec<GiftError>> {
    let mut errors = Vec::new();
    let mut bad = |name: &str, message: String| {
        errors.push(GiftError {
            line,
            column: col(name),
            message,
        });
    };
    let raw_type = get("type").trim().to_lowercase();
    let qtype = TYPES
        .iter()
        .find(|(en, zh)| *en == raw_type || *zh == raw_type)
        .map(|(en, _)| *en);
    let text = get("stem").trim().to_string();
    if text.is_empty() {
        bad("stem", "the stem is empty".into());
    }
    let options = lines(&get("options"));
    let answers = lines(&get("answer"));
    let answer_text = get("answer").trim().to_string();
    let kind = match qtype {
        None => {
            bad(
                "type",
                format!("unknown type {raw_type:?}; use single_choice, multiple_choice, true_false, short_answer, numerical, matching, essay or description"),
            );
            None
        }
        Some(t @ ("single_choice" | "multiple_choice")) => {
            let single = t == "single_choice";
            let mut parsed = Vec::new();
            for o in &options {
                match split_line(o) {
                    Ok(p) => parsed.push(p),
                    Err(e) => bad("options", e),
                }
            }
            if parsed.len() < 2 {
                bad(
                    "options",
                    "a choice question needs at least two options, one per line".into(),
                );
            }
            let explicit = parsed.iter().any(|(_, w, _)| w.is_some());
            let right = letters(&answer_text, parsed.len());
            let weights = match (explicit, &right) {
                (true, _) => {
                    let w: Vec<f64> = parsed.iter().map(|(_, w, _)| w.unwrap_or(0.0)).collect();
                    let full = if single {
                        w.iter().any(|x| *x >= 100.0 - 1e-6)
                    } else {
                        w.iter().filter(|x| **x > 0.0).sum::<f64>() >= 99.0
                    };
                    if full {
                        Some(w)
                    } else {
                        bad(
                            "options",
                            "with weights, a right answer must earn full marks: one option at [100], or right options adding up to 100".into(),
                        );
                        None
                    }
                }
                (false, Some(r)) if !r.is_empty() && (!single || r.len() == 1) => {
                    Some(default_weights(single, parsed.len(), r))
                }
                _ => {
                    bad(
                        "answer",
                        if single {
                            format!(
                                "give the letter of the right option (A to {})",
                                letter(parsed.len().max(1) - 1)
                            )
                        } else {
                            format!(
                                "give the letters of the right options (e.g. AC; A to {})",
                                letter(parsed.len().max(1) - 1)
                            )
                        },
                    );
                    None
                }
            };
            weights.map(|w: Vec<f64>| QuestionKind::MultipleChoice {
                single,
                choices: parsed
                    .into_iter()
                    .zip(w)
                    .map(|((text, _, feedback), weight)| Choice {
                        text,
                        weight,
                        feedback,
                    })
                    .collect(),
            })
        }
        Some("true_false") => {
            let answer = match answer_text.to_lowercase().as_str() {
                "true" | "t" | "对" | "正确" | "是" | "√" => Some(true),
                "false" | "f" | "错" | "错误" | "否" | "×" => Some(false),
                _ => {
                    bad("answer", "give TRUE or FALSE (对 or 错)".into());
                    None
                }
            };
            let mut feedback_right = None;
            let mut feedback_wrong = None;
            for o in &options {
                let unescaped = |s: &str| split_line(s).map(|(t, _, _)| t).unwrap_or_default();
                if let Some(f) = o.strip_prefix("right:") {
                    feedback_right = Some(unescaped(f.trim()));
                } else if let Some(f) = o.strip_prefix("wrong:") {
                    feedback_wrong = Some(unescaped(f.trim()));
                } else {
                    bad(
                        "options",
                        "true/false options are feedback lines 'right: …' or 'wrong: …'".into(),
                    );
                }
            }
            answer.map(|answer| QuestionKind::TrueFalse {
                answer,
                feedback_wrong,
                feedback_right,
            })
        }
        Some("short_answer") => {
            let mut list = Vec::new();
            for a in &answers {
                match split_line(a) {
                    Ok((text, w, feedback)) => list.push(Choice {
                        text,
                        weight: w.unwrap_or(100.0),
                        feedback,
                    }),
                    Err(e) => bad("answer", e),
                }
            }
            if list.is_empty() {
                bad("answer", "give the accepted answers, one per line".into());
            }
            Some(QuestionKind::ShortAnswer { answers: list })
        }
        Some("numerical") => {
            let mut list = Vec::new();
            for a in &answers {
                let parsed = split_line(a).and_then(|(value, w, feedback)| {
                    let (v, tol) = match value.split_once(['±', ':']) {
                        Some((v, t)) => (v.trim(), t.trim()),
                        None => (value.trim(), "0"),
                    };
                    match (v.parse::<f64>(), tol.parse::<f64>()) {
                        (Ok(value), Ok(tolerance))
                            if value.is_finite() && tolerance.is_finite() && tolerance >= 0.0 =>
                        {
                            Ok(NumericAnswer {
                                value,
                                tolerance,
                                weight: w.unwrap_or(100.0),
                                feedback,
                            })
                        }
                        _ => Err(format!("{a:?} is not a number or number±tolerance")),
                    }
                });
                match parsed {
                    Ok(n) => list.push(n),
                    Err(e) => bad("answer", e),
                }
            }
            if list.is_empty() {
                bad(
                    "answer",
                    "give the right number (or number±tolerance)".into(),
                );
            }
            Some(QuestionKind::Numerical { answers: list })
        }
        Some("matching") => {
            let mut pairs = Vec::new();
            let mut distractors = Vec::new();
            let text_of = |s: &str| split_line(s).map(|(t, _, _)| t).unwrap_or_default();
            for o in &options {
                match o.split_once("=>") {
                    Some((left, right)) if left.trim().is_empty() => {
                        distractors.push(text_of(right.trim()))
                    }
                    Some((left, right)) if !right.trim().is_empty() => pairs.push(Pair {
                        left: text_of(left.trim()),
                        right: text_of(right.trim()),
                    }),
                    _ => bad("options", format!("{o:?} is not a pair 'left => right'")),
                }
            }
            if pairs.len() < 2 {
                bad(
                    "options",
                    "a matching question needs at least two pairs 'left => right'".into(),
                );
            }
            Some(QuestionKind::Matching { pairs, distractors })
        }
        Some("essay") => Some(QuestionKind::Essay),
        _ => Some(QuestionKind::Description),
    };
    let mut tags = Vec::new();
    let competency = get("competency").trim().to_string();
    if !competency.is_empty() {
        tags.push(format!("competency={competency}"));
    }
    let difficulty = match get("difficulty").trim().to_lowercase().as_str() {
        "" => None,
        "easy" | "易" | "简单" => Some("easy"),
        "medium" | "中" | "中等" => Some("medium"),
        "hard" | "难" | "困难" => Some("hard"),
        other => {
            bad(
                "difficulty",
                format!("{other:?} is not easy, medium or hard"),
            );
            None
        }
    };
    if let Some(d) = difficulty {
        tags.push(format!("difficulty={d}"));
    }
    let score = get("score").trim().to_string();
    match score.parse::<f64>() {
        _ if score.is_empty() => {}
        Ok(p) if p > 0.0 && p <= 100.0 => {
            if (p - 1.0).abs() > 1e-9 {
                tags.push(format!("points={}", trim_number(p)));
            }
        }
        _ => bad(
            "score",
            format!("{score:?} is not a number of marks from 0 to 100"),
        ),
    }
    tags.extend(get("tags").split_whitespace().map(str::to_string));
    let format = match get("format").trim().to_lowercase().as_str() {
        "" => TextFormat::Moodle,
        f => match serde_json::from_value::<TextFormat>(serde_json::Value::String(f.to_string())) {
            Ok(f) => f,
            Err(_) => {
                bad(
                    "format",
                    format!("{f:?} is not moodle, html, plain or markdown"),
                );
                TextFormat::Moodle
            }
        },
    };
    let opt = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    match kind {
        Some(kind) if errors.is_empty() => Ok(GiftQuestion {
            line,
            id: opt(get("id")),
            tags,
            category: opt(get("category")),
            title: opt(get("title")),
            format,
            text,
            kind,
            general_feedback: opt(get("explanation")),
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lines_split_into_text_weight_and_feedback_with_escapes() {
        assert_eq!(
            split_line("Scan the QR code [50] # Half: also add a tag").unwrap(),
            (
                "Scan the QR code".into(),
                Some(50.0),
                Some("Half: also add a tag".into())
            )
        );
        assert_eq!(
            split_line("C\\# \\[beta] plan").unwrap(),
            ("C# [beta] plan".into(), None, None)
        );
        assert!(split_line("x [lots]").is_err());
        assert_eq!(letter(0), "A");
        assert_eq!(letter(27), "AB");
        assert_eq!(letters("a, C", 3), Some(vec![0, 2]));
        assert_eq!(letters("D", 3), None);
    }

    #[test]
    fn every_shipped_bank_round_trips_through_a_workbook() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/courses");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path().join("questions.gift");
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let questions = super::super::gift::parse(&source).unwrap();
            let bytes = write(&questions).unwrap();
            let back = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert_eq!(back.len(), questions.len(), "{}", path.display());
            for (a, b) in questions.iter().zip(&back) {
                assert_eq!(
                    (
                        &a.id,
                        &a.title,
                        &a.text,
                        &a.format,
                        &a.kind,
                        &a.general_feedback,
                        &a.tags,
                        &a.category
                    ),
                    (
                        &b.id,
                        &b.title,
                        &b.text,
                        &b.format,
                        &b.kind,
                        &b.general_feedback,
                        &b.tags,
                        &b.category
                    ),
                    "{} row {}",
                    path.display(),
                    b.line
                );
            }
            checked += 1;
        }
        assert!(checked >= 70, "{checked} banks");
    }
}
