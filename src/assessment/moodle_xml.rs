//! Question banks as Moodle XML, for the question types Moodle and GIFT share: description,
//! essay, true/false, multiple choice (single and multiple answers), short answer, numerical and
//! matching. Reading produces the same [`GiftQuestion`]s the GIFT reader does, so a bank imported
//! from either format goes through the same checks; any other Moodle type (cloze, calculated,
//! drag and drop…) is refused by name, with its line.
//!
//! Round trip: our `[id:]` is Moodle's `<idnumber>`, our tags (`competency=uo-rfm`) Moodle's
//! `<tags>`, our `$CATEGORY` Moodle's category question.
use roxmltree::{Document, Node, ParsingOptions};

use super::gift::{Choice, GiftError, GiftQuestion, NumericAnswer, Pair, QuestionKind, TextFormat};

/// Writes questions as a Moodle XML `<quiz>` that [`parse`] reads back to the same questions.
pub fn write(questions: &[GiftQuestion]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<quiz>\n");
    let mut category: Option<&str> = None;
    for q in questions {
        if q.category.as_deref() != category {
            if let Some(c) = &q.category {
                out.push_str(&format!(
                    "  <question type=\"category\">\n    <category><text>{}</text></category>\n  </question>\n",
                    escape(c)
                ));
            }
            category = q.category.as_deref();
        }
        let kind = match &q.kind {
            QuestionKind::Description => "description",
            QuestionKind::Essay => "essay",
            QuestionKind::TrueFalse { .. } => "truefalse",
            QuestionKind::MultipleChoice { .. } => "multichoice",
            QuestionKind::ShortAnswer { .. } => "shortanswer",
            QuestionKind::Numerical { .. } => "numerical",
            QuestionKind::Matching { .. } => "matching",
        };
        let format = format_name(q.format);
        out.push_str(&format!("  <question type=\"{kind}\">\n"));
        let name = q.title.as_deref().or(q.id.as_deref()).unwrap_or_default();
        out.push_str(&format!("    <name><text>{}</text></name>\n", escape(name)));
        out.push_str(&format!(
            "    <questiontext format=\"{format}\"><text>{}</text></questiontext>\n",
            escape(&q.text)
        ));
        if let Some(fb) = &q.general_feedback {
            out.push_str(&format!(
                "    <generalfeedback format=\"{format}\"><text>{}</text></generalfeedback>\n",
                escape(fb)
            ));
        }
        if q.title.is_none() {
            out.push_str("    <talentcert_untitled/>\n");
        }
        if let Some(id) = &q.id {
            out.push_str(&format!("    <idnumber>{}</idnumber>\n", escape(id)));
        }
        match &q.kind {
            QuestionKind::Description => {}
            QuestionKind::Essay => {
                out.push_str("    <responseformat>editor</responseformat>\n    <responserequired>1</responserequired>\n");
            }
            QuestionKind::TrueFalse {
                answer,
                feedback_wrong,
                feedback_right,
            } => {
                for value in [true, false] {
                    let right = value == *answer;
                    let feedback = if right {
                        feedback_right
                    } else {
                        feedback_wrong
                    };
                    push_answer(
                        &mut out,
                        if right { 100.0 } else { 0.0 },
                        if value { "true" } else { "false" },
                        feedback.as_deref(),
                        format,
                        "",
                    );
                }
            }
            QuestionKind::MultipleChoice { single, choices } => {
                out.push_str(&format!(
                    "    <single>{single}</single>\n    <shuffleanswers>true</shuffleanswers>\n    <answernumbering>abc</answernumbering>\n"
                ));
                for c in choices {
                    push_answer(
                        &mut out,
                        c.weight,
                        &c.text,
                        c.feedback.as_deref(),
                        format,
                        "",
                    );
                }
            }
            QuestionKind::ShortAnswer { answers } => {
                out.push_str("    <usecase>0</usecase>\n");
                for c in answers {
                    push_answer(
                        &mut out,
                        c.weight,
                        &c.text,
                        c.feedback.as_deref(),
                        format,
                        "",
                    );
                }
            }
            QuestionKind::Numerical { answers } => {
                for a in answers {
                    push_answer(
                        &mut out,
                        a.weight,
                        &a.value.to_string(),
                        a.feedback.as_deref(),
                        format,
                        &format!("      <tolerance>{}</tolerance>\n", a.tolerance),
                    );
                }
            }
            QuestionKind::Matching { pairs, distractors } => {
                out.push_str("    <shuffleanswers>true</shuffleanswers>\n");
                let all = pairs
                    .iter()
                    .map(|p| (p.left.as_str(), p.right.as_str()))
                    .chain(distractors.iter().map(|d| ("", d.as_str())));
                for (left, right) in all {
                    out.push_str(&format!(
                        "    <subquestion format=\"{format}\"><text>{}</text><answer><text>{}</text></answer></subquestion>\n",
                        escape(left),
                        escape(right)
                    ));
                }
            }
        }
        if !q.tags.is_empty() {
            out.push_str("    <tags>\n");
            for t in &q.tags {
                out.push_str(&format!("      <tag><text>{}</text></tag>\n", escape(t)));
            }
            out.push_str("    </tags>\n");
        }
        out.push_str("  </question>\n");
    }
    out.push_str("</quiz>\n");
    out
}

fn push_answer(
    out: &mut String,
    fraction: f64,
    text: &str,
    feedback: Option<&str>,
    format: &str,
    extra: &str,
) {
    out.push_str(&format!(
        "    <answer fraction=\"{fraction}\" format=\"{format}\">\n      <text>{}</text>\n",
        escape(text)
    ));
    if let Some(fb) = feedback {
        out.push_str(&format!(
            "      <feedback format=\"{format}\"><text>{}</text></feedback>\n",
            escape(fb)
        ));
    }
    out.push_str(extra);
    out.push_str("    </answer>\n");
}

/// Text as XML character data.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn format_name(f: TextFormat) -> &'static str {
    match f {
        TextFormat::Moodle => "moodle_auto_format",
        TextFormat::Html => "html",
        TextFormat::Plain => "plain_text",
        TextFormat::Markdown => "markdown",
    }
}

fn format_of(name: Option<&str>) -> TextFormat {
    match name.unwrap_or_default() {
        "html" => TextFormat::Html,
        "plain_text" => TextFormat::Plain,
        "markdown" => TextFormat::Markdown,
        _ => TextFormat::Moodle,
    }
}

/// Reads a Moodle XML question export; answers every question, or every problem found, each
/// with its line and column.
pub fn parse(xml: &str) -> Result<Vec<GiftQuestion>, Vec<GiftError>> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let options = ParsingOptions {
        // No document type definitions: no entity expansion to exhaust memory with.
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| {
        let pos = e.pos();
        vec![GiftError {
            line: usize::try_from(pos.row).unwrap_or(0),
            column: usize::try_from(pos.col).unwrap_or(0),
            message: format!("not well-formed XML: {e}"),
        }]
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "quiz" {
        return Err(vec![error(
            &doc,
            root,
            "the document element must be <quiz>",
        )]);
    }
    let mut questions = Vec::new();
    let mut errors = Vec::new();
    let mut category: Option<String> = None;
    for node in root.children().filter(|n| n.has_tag_name("question")) {
        let kind = node.attribute("type").unwrap_or_default();
        if kind == "category" {
            category = child(node, "category")
                .map(text_of)
                .filter(|c| !c.is_empty());
            continue;
        }
        match question(&doc, node, kind) {
            Ok(mut q) => {
                q.category = category.clone();
                questions.push(q);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(questions)
    } else {
        Err(errors)
    }
}

fn error(doc: &Document, node: Node, message: impl Into<String>) -> GiftError {
    let pos = doc.text_pos_at(node.range().start);
    GiftError {
        line: usize::try_from(pos.row).unwrap_or(0),
        column: usize::try_from(pos.col).unwrap_or(0),
        message: message.into(),
    }
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|n| n.has_tag_name(name))
}

/// The text of an element's `<text>` child, or of the element itself (CDATA included).
fn text_of(node: Node) -> String {
    let holder = child(node, "text").unwrap_or(node);
    holder
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_string()
}

fn optional_text(node: Node, name: &str) -> Option<String> {
    child(node, name).map(text_of).filter(|t| !t.is_empty())
}

fn question(doc: &Document, node: Node, kind: &str) -> Result<GiftQuestion, GiftError> {
    let at = |message: String| error(doc, node, message);
    let text_node = child(node, "questiontext");
    let text = text_node.map(text_of).unwrap_or_default();
    let format = format_of(text_node.and_then(|n| n.attribute("format")));
    let name = optional_text(node, "name");
    let id = optional_text(node, "idnumber");
    // Our export writes the id as the name of a question without a title.
    let title = if child(node, "talentcert_untitled").is_some() {
        None
    } else {
        name
    };
    let tags = child(node, "tags")
        .map(|t| {
            t.children()
                .filter(|n| n.has_tag_name("tag"))
                .map(text_of)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let answers: Vec<Node> = node
        .children()
        .filter(|n| n.has_tag_name("answer"))
        .collect();
    let fraction = |a: &Node| -> Result<f64, GiftError> {
        let raw = a.attribute("fraction").unwrap_or("0");
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && (-100.0..=100.0).contains(f))
            .ok_or_else(|| {
                error(
                    doc,
                    *a,
                    format!("fraction {raw:?} is not a number from -100 to 100"),
                )
            })
    };
    let choice = |a: &Node| -> Result<Choice, GiftError> {
        Ok(Choice {
            text: text_of(*a),
            weight: fraction(a)?,
            feedback: optional_text(*a, "feedback"),
        })
    };
    let question_kind = match kind {
        "description" => QuestionKind::Description,
        "essay" => QuestionKind::Essay,
        "truefalse" => {
            let mut answer = None;
            let (mut right, mut wrong) = (None, None);
            for a in &answers {
                let value = match text_of(*a).to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(error(doc, *a, format!("a true/false answer reads {other:?}")))
                    }
                };
                if fraction(a)? >= 100.0 {
                    answer = Some(value);
                    right = optional_text(*a, "feedback");
                } else {
                    wrong = optional_text(*a, "feedback");
                }
            }
            QuestionKind::TrueFalse {
                answer: answer.ok_or_else(|| at("no answer of this true/false question is worth 100%".into()))?,
                feedback_wrong: wrong,
                feedback_right: right,
            }
        }
        "multichoice" => {
            let single = optional_text(node, "single")
                .is_none_or(|s| matches!(s.as_str(), "true" | "1"));
            QuestionKind::MultipleChoice {
                single,
                choices: answers.iter().map(choice).collect::<Result<_, _>>()?,
            }
        }
        "shortanswer" => QuestionKind::ShortAnswer {
            answers: answers.iter().map(choice).collect::<Result<_, _>>()?,
        },
        "numerical" => QuestionKind::Numerical {
            answers: answers
                .iter()
                .map(|a| {
                    let raw = text_of(*a);
                    let value = raw.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                        error(doc, *a, format!("the numerical answer {raw:?} is not a number"))
                    })?;
                    let tolerance = match optional_text(*a, "tolerance") {
                        Some(t) => t.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                            error(doc, *a, format!("the tolerance {t:?} is not a number of 0 or more"))
                        })?,
                        None => 0.0,
                    };
                    Ok(NumericAnswer {
                        value,
                        tolerance,
                        weight: fraction(a)?,
                        feedback: optional_text(*a, "feedback"),
                    })
                })
                .collect::<Result<_, GiftError>>()?,
        },
        "matching" => {
            let mut pairs = Vec::new();
            let mut distractors = Vec::new();
            for s in node.children().filter(|n| n.has_tag_name("subquestion")) {
                let left = text_of(s);
                let right = child(s, "answer").map(text_of).unwrap_or_default();
                if left.is_empty() {
                    distractors.push(right);
                } else {
                    pairs.push(Pair { left, right });
                }
            }
            QuestionKind::Matching { pairs, distractors }
        }
        other => {
            return Err(at(format!(
                "questions of the Moodle type {other:?} cannot be imported (supported: description, essay, truefalse, multichoice, shortanswer, numerical, matching)"
            )))
        }
    };
    let pos = doc.text_pos_at(node.range().start);
    Ok(GiftQuestion {
        line: usize::try_from(pos.row).unwrap_or(0),
        id,
        tags,
        category: None,
        title,
        format,
        text,
        kind: question_kind,
        general_feedback: optional_text(node, "generalfeedback"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::assessment::gift;

    fn without_lines(mut questions: Vec<GiftQuestion>) -> Vec<GiftQuestion> {
        for q in &mut questions {
            q.line = 0;
        }
        questions
    }

    /// Every shipped bank goes out as Moodle XML and comes back the same.
    #[test]
    fn every_shipped_bank_round_trips_through_moodle_xml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/courses");
        let mut banks = 0;
        let mut kinds = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let file = entry.unwrap().path().join("questions.gift");
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue;
            };
            let questions = gift::parse(&source).unwrap();
            for q in &questions {
                kinds.insert(q.kind.type_name());
            }
            let xml = write(&questions);
            let back = parse(&xml).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
            assert_eq!(
                without_lines(back),
                without_lines(questions),
                "{}",
                file.display()
            );
            banks += 1;
        }
        assert!(banks >= 70, "only {banks} banks");
        assert!(kinds.len() >= 5, "{kinds:?}");
    }

    /// The same, for a bank with every supported type, every format and awkward text.
    #[test]
    fn every_supported_type_round_trips() {
        let source = "$CATEGORY: $course$/top/Mixed\n\n\
// [id:d1]\n::Intro::[html]<p>Read <b>this</b> & that.</p>\n\n\
// [id:e1] [tag:competency=uo-rfm]\n::Essay::Explain \"RFM\" in <50 words. {}\n\n\
// [id:t1]\n::TF::2 > 1? {TRUE#No, it is.#Yes.####Basic maths.}\n\n\
// [id:m1] [tag:difficulty=easy]\n::Single::Pick one {=right#good ~wrong#bad ~also wrong}\n\n\
// [id:m2]\n::Multi::[markdown]Pick *two* {~%50%a ~%50%b ~%-100%c}\n\n\
// [id:s1]\n::Short::Capital of France? {=Paris =%50%Lutetia#close}\n\n\
// [id:n1]\n::Num::Pi to two places? {#=3.14:0.005 =%50%3.1:0.05}\n\n\
// [id:p1]\n::Match::[plain]Pair them {=cat -> meow =dog -> woof =cow -> moo}\n";
        let questions = gift::parse(source).unwrap();
        assert_eq!(questions.len(), 8);
        let xml = write(&questions);
        assert!(xml.contains("<idnumber>m1</idnumber>"), "{xml}");
        assert!(xml.contains("<text>difficulty=easy</text>"), "{xml}");
        assert_eq!(
            without_lines(parse(&xml).unwrap()),
            without_lines(questions)
        );
    }

    /// An export as Moodle writes it: CDATA, elements we ignore, a type we do not take.
    #[test]
    fn a_moodle_export_reads_and_unsupported_types_are_named_with_their_line() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<quiz>
<!-- question: 0  -->
  <question type="category">
    <category><text>$course$/top/Default for RFM</text></category>
    <info format="moodle_auto_format"><text>The default category</text></info>
  </question>
  <question type="multichoice">
    <name><text>Segments</text></name>
    <questiontext format="html"><text><![CDATA[<p>Which customers are <b>champions</b>?</p>]]></text></questiontext>
    <generalfeedback format="html"><text></text></generalfeedback>
    <defaultgrade>1.0000000</defaultgrade>
    <penalty>0.3333333</penalty>
    <hidden>0</hidden>
    <idnumber>rfm-7</idnumber>
    <single>true</single>
    <shuffleanswers>true</shuffleanswers>
    <answernumbering>abc</answernumbering>
    <answer fraction="100" format="html"><text><![CDATA[<p>Recent, frequent, high spend</p>]]></text>
      <feedback format="html"><text>Right.</text></feedback></answer>
    <answer fraction="0" format="html"><text>Lapsed</text><feedback format="html"><text></text></feedback></answer>
    <tags><tag><text>competency=uo-rfm</text></tag></tags>
  </question>
  <question type="numerical">
    <name><text>Repeat rate</text></name>
    <questiontext format="moodle_auto_format"><text>Percent of 200 buyers when 50 repeat?</text></questiontext>
    <answer fraction="100"><text>25</text><tolerance>0</tolerance></answer>
  </question>
  <question type="cloze">
    <name><text>Gaps</text></name>
    <questiontext format="html"><text>{1:SHORTANSWER:=x}</text></questiontext>
  </question>
</quiz>"#;
        let errors = parse(xml).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("\"cloze\""), "{errors:?}");
        assert_eq!(errors[0].line, 29);
        let ok = xml.replace("type=\"cloze\"", "type=\"essay\"");
        let questions = parse(&ok).unwrap();
        assert_eq!(questions.len(), 3);
        let q = &questions[0];
        assert_eq!(q.id.as_deref(), Some("rfm-7"));
        assert_eq!(q.title.as_deref(), Some("Segments"));
        assert_eq!(q.category.as_deref(), Some("$course$/top/Default for RFM"));
        assert_eq!(q.format, TextFormat::Html);
        assert_eq!(q.tag("competency"), Some("uo-rfm"));
        assert!(q.general_feedback.is_none());
        let QuestionKind::MultipleChoice { single, choices } = &q.kind else {
            panic!("{q:?}")
        };
        assert!(single);
        assert_eq!(choices[0].text, "<p>Recent, frequent, high spend</p>");
        assert_eq!(choices[0].weight, 100.0);
        assert_eq!(choices[1].feedback, None);
        // What was read writes as GIFT, so the bank import's checks apply to it as to GIFT.
        let written = gift::write(&questions);
        assert_eq!(
            without_lines(gift::parse(&written).unwrap()),
            without_lines(questions)
        );
    }

    #[test]
    fn hostile_xml_is_refused_with_a_position() {
        for bad in [
            "",
            "<quiz>",
            "<notquiz/>",
            "<!DOCTYPE quiz [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]><quiz>&b;</quiz>",
            "<quiz><question type=\"numerical\"><answer fraction=\"1e999\"><text>1</text></answer></question></quiz>",
            "<quiz><question type=\"truefalse\"><answer fraction=\"100\"><text>maybe</text></answer></question></quiz>",
        ] {
            let errors = parse(bad).unwrap_err();
            assert!(!errors.is_empty(), "{bad}");
        }
    }
}
