//! Moodle GIFT: a parser and a writer at parity with Moodle's importer, stricter where Moodle
//! silently accepts nonsense.
//!
//! Reference: Moodle's GIFT format documentation (docs.moodle.org/en/GIFT_format) and its importer
//! (`question/format/gift/format.php`). Supported: `$CATEGORY:` lines; `//` comments, whose
//! `[id:...]` and `[tag:...]` tokens attach to the question that follows; `::title::`; the text
//! formats `[html]`, `[moodle]`, `[plain]`, `[markdown]`; escapes `\~ \= \# \{ \} \: \n \\`;
//! multiple choice with one right answer or several weighted ones (negative and decimal weights);
//! true/false with both feedbacks; short answer; numerical with tolerance, ranges and several
//! answers; matching with distractors; essay; description; the missing-word form (text after the
//! answers); per-answer feedback (`#`) and general feedback (`####`).
//!
//! Stricter than Moodle: a numerical answer that is not a number, a weight outside -100..100, a
//! single-answer question without exactly one full-credit answer, multi-answer weights whose
//! positive part does not add up to 100%, a matching question with fewer than two pairs, an
//! unclosed answer block. Every error names its line and column; parsing never panics.
use std::fmt;

use serde::{Deserialize, Serialize};

/// How a question's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    #[default]
    Moodle,
    Html,
    Plain,
    Markdown,
}

impl TextFormat {
    fn parse(s: &str) -> Option<TextFormat> {
        match s.to_ascii_lowercase().as_str() {
            "moodle" => Some(TextFormat::Moodle),
            "html" => Some(TextFormat::Html),
            "plain" => Some(TextFormat::Plain),
            "markdown" => Some(TextFormat::Markdown),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TextFormat::Moodle => "moodle",
            TextFormat::Html => "html",
            TextFormat::Plain => "plain",
            TextFormat::Markdown => "markdown",
        }
    }
}

/// One answer of a choice or short-answer question; `weight` is a percentage (-100..=100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub text: String,
    pub weight: f64,
    pub feedback: Option<String>,
}

/// One accepted answer of a numerical question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericAnswer {
    pub value: f64,
    /// Accepted when |response - value| <= tolerance.
    pub tolerance: f64,
    pub weight: f64,
    pub feedback: Option<String>,
}

/// One pair of a matching question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub left: String,
    pub right: String,
}

/// What kind of question it is, with its answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Text only, no answer.
    Description,
    /// Free text, graded by hand.
    Essay,
    TrueFalse {
        answer: bool,
        /// Shown to a wrong answer.
        feedback_wrong: Option<String>,
        /// Shown to a right answer.
        feedback_right: Option<String>,
    },
    /// `single`: one right answer (radio buttons); else weighted checkboxes.
    MultipleChoice {
        single: bool,
        choices: Vec<Choice>,
    },
    ShortAnswer {
        answers: Vec<Choice>,
    },
    Numerical {
        answers: Vec<NumericAnswer>,
    },
    Matching {
        pairs: Vec<Pair>,
        distractors: Vec<String>,
    },
}

impl QuestionKind {
    /// A short name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            QuestionKind::Description => "description",
            QuestionKind::Essay => "essay",
            QuestionKind::TrueFalse { .. } => "true_false",
            QuestionKind::MultipleChoice { single: true, .. } => "single_choice",
            QuestionKind::MultipleChoice { single: false, .. } => "multiple_choice",
            QuestionKind::ShortAnswer { .. } => "short_answer",
            QuestionKind::Numerical { .. } => "numerical",
            QuestionKind::Matching { .. } => "matching",
        }
    }
}

/// A parsed question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GiftQuestion {
    /// The line the question starts on (1-based).
    pub line: usize,
    /// From a `[id:...]` token.
    pub id: Option<String>,
    /// From `[tag:...]` tokens, in order.
    pub tags: Vec<String>,
    /// The `$CATEGORY:` in force.
    pub category: Option<String>,
    pub title: Option<String>,
    pub format: TextFormat,
    /// The question text; in the missing-word form the blank is written `_____`.
    pub text: String,
    pub kind: QuestionKind,
    pub general_feedback: Option<String>,
}

impl GiftQuestion {
    /// The value of a `key=value` tag, e.g. `competency`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// A problem in a GIFT file, at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for GiftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// The blank of the missing-word form.
pub const BLANK: &str = "_____";

/// A question's source: its text with the position of every character.
struct Block {
    chars: Vec<char>,
    /// (line, column) of each char.
    positions: Vec<(usize, usize)>,
    start_line: usize,
}

impl Block {
    fn at(&self, index: usize) -> (usize, usize) {
        self.positions
            .get(index)
            .or_else(|| self.positions.last())
            .copied()
            .unwrap_or((self.start_line, 1))
    }

    fn error(&self, index: usize, message: impl Into<String>) -> GiftError {
        let (line, column) = self.at(index);
        GiftError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Parses a whole GIFT file; answers every question, or every error found.
pub fn parse(source: &str) -> Result<Vec<GiftQuestion>, Vec<GiftError>> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut questions = Vec::new();
    let mut errors = Vec::new();
    let mut category: Option<String> = None;
    let mut pending_id: Option<String> = None;
    let mut pending_tags: Vec<String> = Vec::new();
    let mut block: Option<Block> = None;

    let lines: Vec<&str> = source.split('\n').collect();
    let total = lines.len();
    for (index, raw) in lines.iter().enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        let ends_block = trimmed.is_empty();
        if !ends_block {
            if let Some(comment) = trimmed.strip_prefix("//") {
                collect_tokens(comment, &mut pending_id, &mut pending_tags);
            } else if let Some(rest) = trimmed.strip_prefix("$CATEGORY:") {
                category = Some(rest.trim().to_string()).filter(|c| !c.is_empty());
            } else {
                let b = block.get_or_insert_with(|| Block {
                    chars: Vec::new(),
                    positions: Vec::new(),
                    start_line: number,
                });
                if !b.chars.is_empty() {
                    b.chars.push('\n');
                    b.positions.push((number, 0));
                }
                for (col, ch) in line.chars().enumerate() {
                    b.chars.push(ch);
                    b.positions.push((number, col + 1));
                }
            }
        }
        if ends_block || number == total {
            if let Some(b) = block.take() {
                match parse_question(&b) {
                    Ok(mut q) => {
                        q.id = pending_id.take();
                        q.tags = std::mem::take(&mut pending_tags);
                        q.category = category.clone();
                        questions.push(q);
                    }
                    Err(e) => {
                        pending_id = None;
                        pending_tags.clear();
                        errors.push(e);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(questions)
    } else {
        Err(errors)
    }
}

fn collect_tokens(comment: &str, id: &mut Option<String>, tags: &mut Vec<String>) {
    let mut rest = comment;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(']') else { break };
        let token = &after[..end];
        if let Some(value) = token.strip_prefix("id:") {
            *id = Some(value.trim().to_string());
        } else if let Some(value) = token.strip_prefix("tag:") {
            tags.push(value.trim().to_string());
        }
        rest = &after[end + 1..];
    }
}

/// Index of the next unescaped `target` at or after `from`.
fn find_unescaped(chars: &[char], from: usize, target: char) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == target => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Removes GIFT escapes: `\~ \= \# \{ \} \: \\` give the character, `\n` a line break.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes the characters GIFT gives a meaning to.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '~' | '=' | '#' | '{' | '}' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

fn text_of(chars: &[char]) -> String {
    chars.iter().collect()
}

fn clean(chars: &[char]) -> String {
    unescape(text_of(chars).trim())
}

fn parse_question(b: &Block) -> Result<GiftQuestion, GiftError> {
    let chars = &b.chars;
    let mut i = 0;
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let mut title = None;
    if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
        let mut j = i + 2;
        let close = loop {
            match find_unescaped(chars, j, ':') {
                Some(k) if chars.get(k + 1) == Some(&':') => break Some(k),
                Some(k) => j = k + 1,
                None => break None,
            }
        };
        let Some(close) = close else {
            return Err(b.error(i, "the title has no closing ::"));
        };
        title = Some(clean(&chars[i + 2..close])).filter(|t| !t.is_empty());
        i = close + 2;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let mut format = TextFormat::default();
    if chars.get(i) == Some(&'[') {
        if let Some(end) = find_unescaped(chars, i, ']') {
            let name = text_of(&chars[i + 1..end]);
            if let Some(f) = TextFormat::parse(&name) {
                format = f;
                i = end + 1;
            }
        }
    }
    let open = find_unescaped(chars, i, '{');
    let Some(open) = open else {
        if find_unescaped(chars, i, '}').is_some() {
            let at = find_unescaped(chars, i, '}').unwrap_or(i);
            return Err(b.error(at, "a closing } without an opening {"));
        }
        let text = clean(&chars[i..]);
        if text.is_empty() {
            return Err(b.error(i, "the question has no text"));
        }
        return Ok(GiftQuestion {
            line: b.start_line,
            id: None,
            tags: Vec::new(),
            category: None,
            title,
            format,
            text,
            kind: QuestionKind::Description,
            general_feedback: None,
        });
    };
    let Some(close) = find_unescaped(chars, open + 1, '}') else {
        return Err(b.error(open, "the answer block opened here is never closed with }"));
    };
    if let Some(second) = find_unescaped(chars, close + 1, '{') {
        return Err(b.error(second, "a question may have only one answer block"));
    }
    let before = clean(&chars[i..open]);
    let after = clean(&chars[close + 1..]);
    let text = if after.is_empty() {
        before
    } else {
        format!("{before} {BLANK} {after}")
    };
    if text.is_empty() {
        return Err(b.error(open, "the question has no text before its answers"));
    }
    let (kind, general_feedback) = parse_answers(b, open + 1, close)?;
    Ok(GiftQuestion {
        line: b.start_line,
        id: None,
        tags: Vec::new(),
        category: None,
        title,
        format,
        text,
        kind,
        general_feedback,
    })
}

/// Splits `[start, end)` at unescaped `=` and `~` that begin an answer.
fn split_answers(chars: &[char], start: usize, end: usize) -> Vec<(char, usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(char, usize)> = None;
    let mut i = start;
    while i < end {
        match chars[i] {
            '\\' => i += 2,
            c @ ('=' | '~') => {
                // `->` inside matching answers is not a separator; `=` after `%n%`… is handled
                // by the weight parser, so only a marker at the start of an answer splits.
                if let Some((marker, from)) = current.take() {
                    out.push((marker, from, i));
                }
                current = Some((c, i + 1));
                i += 1;
            }
            _ => i += 1,
        }
    }
    if let Some((marker, from)) = current {
        out.push((marker, from, end));
    }
    out
}

/// Splits an answer at its unescaped `#`: the answer and its feedback.
fn split_feedback(chars: &[char], start: usize, end: usize) -> (usize, Option<(usize, usize)>) {
    match find_unescaped(&chars[..end], start, '#') {
        Some(h) => (h, Some((h + 1, end))),
        None => (end, None),
    }
}

/// Parses a leading `%weight%`; answers the weight and where the answer text starts.
fn parse_weight(b: &Block, start: usize, end: usize) -> Result<(Option<f64>, usize), GiftError> {
    let chars = &b.chars;
    let mut i = start;
    while i < end && chars[i].is_whitespace() {
        i += 1;
    }
    if chars.get(i) != Some(&'%') {
        return Ok((None, start));
    }
    let Some(close) = (i + 1..end).find(|&k| chars[k] == '%') else {
        return Err(b.error(i, "a weight opened with % is not closed with %"));
    };
    let raw = text_of(&chars[i + 1..close]);
    let weight: f64 = raw
        .trim()
        .parse()
        .map_err(|_| b.error(i + 1, format!("the weight {raw:?} is not a number")))?;
    if !(-100.0..=100.0).contains(&weight) || !weight.is_finite() {
        return Err(b.error(i + 1, format!("the weight {weight} is outside -100..100")));
    }
    Ok((Some(weight), close + 1))
}

fn feedback_text(chars: &[char], fb: Option<(usize, usize)>) -> Option<String> {
    fb.map(|(s, e)| clean(&chars[s..e]))
        .filter(|t| !t.is_empty())
}

fn parse_answers(
    b: &Block,
    start: usize,
    end: usize,
) -> Result<(QuestionKind, Option<String>), GiftError> {
    let chars = &b.chars;
    // General feedback: the last unescaped `####`.
    let mut general = None;
    let mut body_end = end;
    let mut k = start;
    while k + 3 < end {
        match chars[k] {
            '\\' => k += 2,
            '#' if chars[k + 1] == '#' && chars[k + 2] == '#' && chars[k + 3] == '#' => {
                general = Some(clean(&chars[k + 4..end])).filter(|t| !t.is_empty());
                body_end = k;
                break;
            }
            _ => k += 1,
        }
    }
    let body = text_of(&chars[start..body_end]);
    let trimmed = body.trim();
    let mut first = start;
    while first < body_end && chars[first].is_whitespace() {
        first += 1;
    }
    if trimmed.is_empty() {
        return Ok((QuestionKind::Essay, general));
    }
    // True/false.
    let head: String = trimmed
        .split('#')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if matches!(head.as_str(), "T" | "TRUE" | "F" | "FALSE")
        && !trimmed.starts_with(['=', '~', '#'])
    {
        let answer = head.starts_with('T');
        let (_, fb) = split_feedback(chars, first, body_end);
        let (wrong, right) = match fb {
            None => (None, None),
            Some((s, e)) => {
                let (w_end, second) = split_feedback(chars, s, e);
                (
                    Some(clean(&chars[s..w_end])).filter(|t| !t.is_empty()),
                    feedback_text(chars, second),
                )
            }
        };
        return Ok((
            QuestionKind::TrueFalse {
                answer,
                feedback_wrong: wrong,
                feedback_right: right,
            },
            general,
        ));
    }
    // Numerical.
    if chars.get(first) == Some(&'#') {
        return parse_numerical(b, first + 1, body_end).map(|k| (k, general));
    }
    let parts = split_answers(chars, first, body_end);
    if parts.is_empty() || parts[0].1 != first + 1 {
        return Err(b.error(first, "answers must start with = (right) or ~ (wrong)"));
    }
    let is_matching = parts.iter().all(|(m, _, _)| *m == '=')
        && parts
            .iter()
            .any(|(_, s, e)| text_of(&chars[*s..*e]).contains("->"));
    if is_matching {
        return parse_matching(b, &parts).map(|k| (k, general));
    }
    let mut choices = Vec::new();
    for (marker, s, e) in &parts {
        let (weight, text_start) = parse_weight(b, *s, *e)?;
        let (text_end, fb) = split_feedback(chars, text_start, *e);
        let text = clean(&chars[text_start..text_end]);
        if text.is_empty() {
            return Err(b.error(*s, "an answer has no text"));
        }
        let weight = match (marker, weight) {
            ('=', None) => 100.0,
            ('=', Some(w)) => w,
            (_, None) => 0.0,
            (_, Some(w)) => w,
        };
        choices.push(Choice {
            text,
            weight,
            feedback: feedback_text(chars, fb),
        });
    }
    let has_wrong_marker = parts.iter().any(|(m, _, _)| *m == '~');
    if !has_wrong_marker {
        // Only `=` answers: short answer.
        if !choices.iter().any(|c| c.weight > 0.0) {
            return Err(b.error(
                first,
                "a short-answer question needs an answer worth credit",
            ));
        }
        return Ok((QuestionKind::ShortAnswer { answers: choices }, general));
    }
    let full = choices
        .iter()
        .filter(|c| (c.weight - 100.0).abs() < 1e-9)
        .count();
    let positive: f64 = choices
        .iter()
        .filter(|c| c.weight > 0.0)
        .map(|c| c.weight)
        .sum();
    let positives = choices.iter().filter(|c| c.weight > 0.0).count();
    // An answer written with `=` makes a single-answer question (radio buttons); other answers
    // may still carry partial credit. Without `=`, several positive weights make a
    // multiple-answer question (checkboxes).
    let marked_right = parts.iter().any(|(m, _, _)| *m == '=');
    if marked_right || positives <= 1 {
        if full != 1 {
            return Err(b.error(
                first,
                "a single-answer question needs exactly one answer worth 100% (write it with =)",
            ));
        }
        return Ok((
            QuestionKind::MultipleChoice {
                single: true,
                choices,
            },
            general,
        ));
    }
    if (positive - 100.0).abs() > 0.05 {
        return Err(b.error(
            first,
            format!("the positive weights of a multiple-answer question add up to {positive}%, not 100%"),
        ));
    }
    Ok((
        QuestionKind::MultipleChoice {
            single: false,
            choices,
        },
        general,
    ))
}

fn parse_matching(b: &Block, parts: &[(char, usize, usize)]) -> Result<QuestionKind, GiftError> {
    let chars = &b.chars;
    let mut pairs = Vec::new();
    let mut distractors = Vec::new();
    for (_, s, e) in parts {
        let (text_end, _) = split_feedback(chars, *s, *e);
        let raw = text_of(&chars[*s..text_end]);
        let Some(arrow) = raw.find("->") else {
            return Err(b.error(
                *s,
                "every answer of a matching question needs a -> between its two sides",
            ));
        };
        let left = unescape(raw[..arrow].trim());
        let right = unescape(raw[arrow + 2..].trim());
        if right.is_empty() {
            return Err(b.error(*s, "a matching answer has nothing after ->"));
        }
        if left.is_empty() {
            distractors.push(right);
        } else {
            pairs.push(Pair { left, right });
        }
    }
    if pairs.len() < 2 {
        return Err(b.error(parts[0].1, "a matching question needs at least two pairs"));
    }
    Ok(QuestionKind::Matching { pairs, distractors })
}

fn parse_number(b: &Block, at: usize, raw: &str) -> Result<f64, GiftError> {
    let value: f64 = raw
        .trim()
        .parse()
        .map_err(|_| b.error(at, format!("{:?} is not a number", raw.trim())))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(b.error(at, format!("{:?} is not a finite number", raw.trim())))
    }
}

/// `value:tolerance` or `min..max` or `value`.
fn parse_numeric_spec(b: &Block, at: usize, spec: &str) -> Result<(f64, f64), GiftError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(b.error(at, "a numerical answer is empty"));
    }
    if let Some((min, max)) = spec.split_once("..") {
        let min = parse_number(b, at, min)?;
        let max = parse_number(b, at, max)?;
        if min > max {
            return Err(b.error(at, format!("the range {min}..{max} is empty")));
        }
        return Ok(((min + max) / 2.0, (max - min) / 2.0));
    }
    // A colon separates value and tolerance (escaped or not).
    let spec = spec.replace("\\:", ":");
    match spec.split_once(':') {
        Some((value, tolerance)) => {
            let value = parse_number(b, at, value)?;
            let tolerance = parse_number(b, at, tolerance)?;
            if tolerance < 0.0 {
                return Err(b.error(at, "a tolerance cannot be negative"));
            }
            Ok((value, tolerance))
        }
        None => Ok((parse_number(b, at, &spec)?, 0.0)),
    }
}

fn parse_numerical(b: &Block, start: usize, end: usize) -> Result<QuestionKind, GiftError> {
    let chars = &b.chars;
    let mut first = start;
    while first < end && chars[first].is_whitespace() {
        first += 1;
    }
    let mut answers = Vec::new();
    if chars.get(first) == Some(&'=') || chars.get(first) == Some(&'~') {
        for (marker, s, e) in split_answers(chars, first, end) {
            let (weight, text_start) = parse_weight(b, s, e)?;
            let (text_end, fb) = split_feedback(chars, text_start, e);
            let spec = text_of(&chars[text_start..text_end]);
            let (value, tolerance) = parse_numeric_spec(b, text_start, &spec)?;
            let weight = weight.unwrap_or(if marker == '=' { 100.0 } else { 0.0 });
            answers.push(NumericAnswer {
                value,
                tolerance,
                weight,
                feedback: feedback_text(chars, fb),
            });
        }
    } else {
        let (text_end, fb) = split_feedback(chars, first, end);
        let spec = text_of(&chars[first..text_end]);
        let (value, tolerance) = parse_numeric_spec(b, first, &spec)?;
        answers.push(NumericAnswer {
            value,
            tolerance,
            weight: 100.0,
            feedback: feedback_text(chars, fb),
        });
    }
    if !answers.iter().any(|a| (a.weight - 100.0).abs() < 1e-9) {
        return Err(b.error(start, "a numerical question needs an answer worth 100%"));
    }
    Ok(QuestionKind::Numerical { answers })
}

fn write_weight(out: &mut String, weight: f64) {
    out.push('%');
    out.push_str(&format_number(weight));
    out.push('%');
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn write_feedback(out: &mut String, feedback: &Option<String>) {
    if let Some(fb) = feedback {
        out.push('#');
        out.push_str(&escape(fb));
    }
}

/// Writes questions as GIFT that [`parse`] reads back to the same questions.
pub fn write(questions: &[GiftQuestion]) -> String {
    let mut out = String::new();
    let mut category: Option<&str> = None;
    for q in questions {
        if q.category.as_deref() != category {
            if let Some(c) = &q.category {
                out.push_str(&format!("$CATEGORY: {c}\n\n"));
            }
            category = q.category.as_deref();
        }
        let mut tokens = Vec::new();
        if let Some(id) = &q.id {
            tokens.push(format!("[id:{id}]"));
        }
        tokens.extend(q.tags.iter().map(|t| format!("[tag:{t}]")));
        if !tokens.is_empty() {
            out.push_str(&format!("// {}\n", tokens.join(" ")));
        }
        if let Some(title) = &q.title {
            out.push_str(&format!("::{}::", escape(title)));
        }
        if q.format != TextFormat::Moodle {
            out.push_str(&format!("[{}]", q.format.name()));
        }
        let (before, after) = match q.text.split_once(BLANK) {
            Some((b, a)) if !matches!(q.kind, QuestionKind::Description) => {
                (b.trim().to_string(), Some(a.trim().to_string()))
            }
            _ => (q.text.clone(), None),
        };
        out.push_str(&escape(&before));
        if matches!(q.kind, QuestionKind::Description) {
            out.push_str("\n\n");
            continue;
        }
        out.push_str(" {");
        match &q.kind {
            QuestionKind::Description => {}
            QuestionKind::Essay => {}
            QuestionKind::TrueFalse {
                answer,
                feedback_wrong,
                feedback_right,
            } => {
                out.push_str(if *answer { "TRUE" } else { "FALSE" });
                match (feedback_wrong, feedback_right) {
                    (None, None) => {}
                    (w, r) => {
                        out.push('#');
                        out.push_str(&escape(w.as_deref().unwrap_or_default()));
                        if let Some(r) = r {
                            out.push('#');
                            out.push_str(&escape(r));
                        }
                    }
                }
            }
            QuestionKind::MultipleChoice { single, choices } => {
                for c in choices {
                    out.push_str("\n\t");
                    if *single && (c.weight - 100.0).abs() < 1e-9 {
                        out.push('=');
                    } else {
                        out.push('~');
                        if c.weight != 0.0 {
                            write_weight(&mut out, c.weight);
                        }
                    }
                    out.push_str(&escape(&c.text));
                    write_feedback(&mut out, &c.feedback);
                }
                out.push('\n');
            }
            QuestionKind::ShortAnswer { answers } => {
                for c in answers {
                    out.push_str("\n\t=");
                    if (c.weight - 100.0).abs() > 1e-9 {
                        write_weight(&mut out, c.weight);
                    }
                    out.push_str(&escape(&c.text));
                    write_feedback(&mut out, &c.feedback);
                }
                out.push('\n');
            }
            QuestionKind::Numerical { answers } => {
                out.push('#');
                for a in answers {
                    out.push_str("\n\t=");
                    if (a.weight - 100.0).abs() > 1e-9 {
                        write_weight(&mut out, a.weight);
                    }
                    out.push_str(&format_number(a.value));
                    if a.tolerance != 0.0 {
                        out.push(':');
                        out.push_str(&format_number(a.tolerance));
                    }
                    write_feedback(&mut out, &a.feedback);
                }
                out.push('\n');
            }
            QuestionKind::Matching { pairs, distractors } => {
                for p in pairs {
                    out.push_str(&format!("\n\t={} -> {}", escape(&p.left), escape(&p.right)));
                }
                for d in distractors {
                    out.push_str(&format!("\n\t= -> {}", escape(d)));
                }
                out.push('\n');
            }
        }
        if let Some(g) = &q.general_feedback {
            out.push_str("####");
            out.push_str(&escape(g));
        }
        out.push('}');
        if let Some(after) = after {
            out.push(' ');
            out.push_str(&escape(&after));
        }
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> GiftQuestion {
        match parse(src) {
            Ok(mut qs) if qs.len() == 1 => qs.remove(0),
            other => panic!("expected one question from {src:?}, got {other:?}"),
        }
    }

    fn error(src: &str) -> GiftError {
        match parse(src) {
            Err(mut errors) => errors.remove(0),
            Ok(qs) => panic!("expected an error from {src:?}, got {qs:?}"),
        }
    }

    fn round_trip(src: &str) {
        let first = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        let written = write(&first);
        let second = parse(&written).unwrap_or_else(|e| panic!("{e:?} in\n{written}"));
        let strip = |qs: Vec<GiftQuestion>| -> Vec<GiftQuestion> {
            qs.into_iter()
                .map(|mut q| {
                    q.line = 0;
                    q
                })
                .collect()
        };
        assert_eq!(
            strip(first),
            strip(second),
            "round trip of\n{src}\nwrote\n{written}"
        );
    }

    #[test]
    fn single_choice_with_feedback_title_id_and_tags() {
        let q = one(
            "// [id:uo-101-q01] [tag:competency=uo-rfm] [tag:difficulty=medium]\n\
             ::Q1:: Which segment? {\n=Champions#Right.\n~At risk#No.\n~New#Not new.\n}",
        );
        assert_eq!(q.id.as_deref(), Some("uo-101-q01"));
        assert_eq!(q.tag("competency"), Some("uo-rfm"));
        assert_eq!(q.tag("difficulty"), Some("medium"));
        assert_eq!(q.title.as_deref(), Some("Q1"));
        assert_eq!(q.text, "Which segment?");
        let QuestionKind::MultipleChoice { single, choices } = &q.kind else {
            panic!("{q:?}")
        };
        assert!(*single);
        assert_eq!(choices.len(), 3);
        assert_eq!(choices[0].weight, 100.0);
        assert_eq!(choices[0].feedback.as_deref(), Some("Right."));
        assert_eq!(choices[2].text, "New");
    }

    #[test]
    fn multiple_answers_with_negative_and_decimal_weights() {
        let q = one("Pick the RFM letters {~%33.33333%Recency ~%33.33333%Frequency ~%33.33334%Monetary ~%-100%Loyalty}");
        let QuestionKind::MultipleChoice { single, choices } = &q.kind else {
            panic!()
        };
        assert!(!single);
        assert_eq!(choices[3].weight, -100.0);
        assert!((choices[0].weight - 33.33333).abs() < 1e-9);
    }

    #[test]
    fn true_false_with_both_feedbacks_and_general_feedback() {
        let q = one(
            "RFM needs purchase data. {TRUE#Think again.#Yes.####R, F and M all come from orders.}",
        );
        assert_eq!(
            q.kind,
            QuestionKind::TrueFalse {
                answer: true,
                feedback_wrong: Some("Think again.".into()),
                feedback_right: Some("Yes.".into())
            }
        );
        assert_eq!(
            q.general_feedback.as_deref(),
            Some("R, F and M all come from orders.")
        );
        assert_eq!(
            one("The sky is green. {F}").kind,
            QuestionKind::TrueFalse {
                answer: false,
                feedback_wrong: None,
                feedback_right: None
            }
        );
    }

    #[test]
    fn short_answer_with_weights() {
        let q = one("Who's buried in Grant's tomb? {=Grant =%50%Ulysses#Half =Ulysses S. Grant}");
        let QuestionKind::ShortAnswer { answers } = &q.kind else {
            panic!()
        };
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[1].weight, 50.0);
        assert_eq!(answers[1].feedback.as_deref(), Some("Half"));
    }

    #[test]
    fn numerical_forms() {
        let q = one("GMV? {#42000:500}");
        assert_eq!(
            q.kind,
            QuestionKind::Numerical {
                answers: vec![NumericAnswer {
                    value: 42000.0,
                    tolerance: 500.0,
                    weight: 100.0,
                    feedback: None
                }]
            }
        );
        let range = one("Between? {#1..5}");
        assert_eq!(
            range.kind,
            QuestionKind::Numerical {
                answers: vec![NumericAnswer {
                    value: 3.0,
                    tolerance: 2.0,
                    weight: 100.0,
                    feedback: None
                }]
            }
        );
        let several = one("Pi? {#\n=3.1416:0.0001#Exact\n=%50%3.14:0.01#Close\n}");
        let QuestionKind::Numerical { answers } = &several.kind else {
            panic!()
        };
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[1].weight, 50.0);
        let with_feedback = one("K? {#1.2:0.05#Invitations times conversion.####K above 1 grows.}");
        assert_eq!(
            with_feedback.general_feedback.as_deref(),
            Some("K above 1 grows.")
        );
        let QuestionKind::Numerical { answers } = &with_feedback.kind else {
            panic!()
        };
        assert_eq!(
            answers[0].feedback.as_deref(),
            Some("Invitations times conversion.")
        );
        let negative = one("Change? {#-12.5:0.5}");
        let QuestionKind::Numerical { answers } = &negative.kind else {
            panic!()
        };
        assert_eq!(answers[0].value, -12.5);
    }

    #[test]
    fn matching_with_distractors() {
        let q = one("Match {\n=R -> Recency\n=F -> Frequency\n=M -> Monetary\n= -> Loyalty\n}");
        let QuestionKind::Matching { pairs, distractors } = &q.kind else {
            panic!()
        };
        assert_eq!(pairs.len(), 3);
        assert_eq!(
            pairs[2],
            Pair {
                left: "M".into(),
                right: "Monetary".into()
            }
        );
        assert_eq!(distractors, &vec!["Loyalty".to_string()]);
    }

    #[test]
    fn essay_description_and_missing_word() {
        assert_eq!(one("Describe your group SOP. {}").kind, QuestionKind::Essay);
        let d = one("This section is about RFM.");
        assert_eq!(d.kind, QuestionKind::Description);
        let m = one("Mahatma Gandhi's birthday is an {~holiday =anniversary ~day} in India.");
        assert_eq!(m.text, "Mahatma Gandhi's birthday is an _____ in India.");
    }

    #[test]
    fn escapes_formats_and_categories() {
        let q = one("$CATEGORY: tom/dick\n\n::T\\:1::[markdown]Is 1 \\= 1 \\{really\\} \\# \\~ a\\nb? {=yes\\: indeed ~no}");
        assert_eq!(q.title.as_deref(), Some("T:1"));
        assert_eq!(q.format, TextFormat::Markdown);
        assert_eq!(q.text, "Is 1 = 1 {really} # ~ a\nb?");
        assert_eq!(q.category.as_deref(), Some("tom/dick"));
        let QuestionKind::MultipleChoice { choices, .. } = &q.kind else {
            panic!()
        };
        assert_eq!(choices[0].text, "yes: indeed");
        assert_eq!(one("[html]<p>Hi</p> {T}").format, TextFormat::Html);
        assert_eq!(one("[plain]x {T}").format, TextFormat::Plain);
        assert_eq!(one("[moodle]x {T}").format, TextFormat::Moodle);
    }

    #[test]
    fn ids_and_tags_belong_to_the_next_question_only() {
        let qs = parse("// [id:a] [tag:x]\nQ1 {T}\n\nQ2 {F}\n\n// plain comment\nQ3 {T}")
            .unwrap_or_default();
        assert_eq!(qs.len(), 3);
        assert_eq!(qs[0].id.as_deref(), Some("a"));
        assert_eq!(qs[1].id, None);
        assert!(qs[1].tags.is_empty());
        assert_eq!(qs[2].line, 7);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = error("Q1 {T}\n\nWhat is GMV? {#lots}");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("not a number"), "{e}");
        let e = error("Q {\n~%150%a ~b}");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("outside -100..100"));
        let e = error("Q {~a ~b ~c}");
        assert!(e.message.contains("exactly one answer worth 100%"), "{e}");
        let e = error("Q {=a =%100%b ~c}");
        assert!(
            e.message.contains("add up to 200%") || e.message.contains("exactly one"),
            "{e}"
        );
        let e = error("Q {~%50%a ~%30%b ~c}");
        assert!(e.message.contains("add up to 80%"), "{e}");
        let e = error("Q {=a -> b}");
        assert!(e.message.contains("at least two pairs"));
        let e = error("Q {=a ~b");
        assert!(e.message.contains("never closed"));
        let e = error("::Title Q {T}");
        assert!(e.message.contains("title"));
        let e = error("Q {T} and {F}");
        assert!(e.message.contains("only one answer block"));
        let e = error("Q {#5..1}");
        assert!(e.message.contains("empty"));
        let e = error("Q {%x%a}");
        assert!(e.message.contains("start with ="), "{e}");
    }

    #[test]
    fn all_errors_of_a_file_are_reported() {
        let Err(errors) = parse("A {#x}\n\nB {~a ~b}\n\nC {T}\n\nD {=a -> b}") else {
            panic!()
        };
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 3, 7]);
    }

    #[test]
    fn round_trips_every_construct() {
        round_trip(
            "$CATEGORY: rfm\n\n// [id:q1] [tag:competency=uo-rfm] [tag:difficulty=easy]\n::q1::Pick {=A#yes ~B#no ~%-50%C}\n\n\
             // [id:q2]\n::q2::[markdown]**Bold** \\{x\\} {~%50%a ~%50%b ~%-100%c####general}\n\n\
             ::q3::T? {TRUE#wrong#right}\n\n::q4::F? {FALSE}\n\n::q5::Name {=Grant =%50%Ulysses#half}\n\n\
             ::q6::N {#=3.14:0.01#pi =%50%3:0.5}\n\n::q7::M {=a -> 1 =b -> 2 =c -> 3 = -> 4}\n\n::q8::E {}\n\n\
             A description\\: with colon.\n\n::q10::Gandhi was born on {~a =b} in India.\n\n::q11::Range {#1..5}",
        );
    }

    #[test]
    fn writing_then_parsing_keeps_odd_text() {
        let q = GiftQuestion {
            line: 0,
            id: Some("x-1".into()),
            tags: vec!["competency=c".into()],
            category: None,
            title: Some("a: b".into()),
            format: TextFormat::Moodle,
            text: "Line one\nline {two} = #3 ~ 4 \\ five".into(),
            kind: QuestionKind::MultipleChoice {
                single: true,
                choices: vec![
                    Choice {
                        text: "=right".into(),
                        weight: 100.0,
                        feedback: Some("#1".into()),
                    },
                    Choice {
                        text: "~wrong".into(),
                        weight: 0.0,
                        feedback: None,
                    },
                ],
            },
            general_feedback: Some("{ok}".into()),
        };
        let parsed = parse(&write(std::slice::from_ref(&q))).unwrap_or_default();
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            GiftQuestion {
                line: 0,
                ..parsed[0].clone()
            },
            q
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        for src in [
            "{",
            "}",
            "::",
            "::a",
            "{#}",
            "{#:}",
            "{=}",
            "{~}",
            "Q {=->}",
            "Q {#1..}",
            "\\",
            "Q {%",
            "Q {~%%a}",
            "Q {T#",
            "//[id:",
            "$CATEGORY:",
            "Q {= -> a = -> b}",
        ] {
            let _ = parse(src);
        }
    }

    #[test]
    fn parses_the_shipped_banks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/courses");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut failures = Vec::new();
        let mut count = 0;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path().join("questions.gift");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match parse(&text) {
                Ok(qs) => count += qs.len(),
                Err(errors) => failures.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("{}: {e}", path.display())),
                ),
            }
        }
        assert!(
            failures.is_empty(),
            "{} errors:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(count > 0);
    }
}
