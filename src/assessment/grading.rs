//! Grading: how a response to each kind of question earns marks, the answer that earns full
//! marks, and the options a learner sees (with stable ids, never shuffled indexes).
//!
//! Each question is worth `max_mark` (1 by default). Rules, as Moodle applies them:
//! single choice earns the chosen option's weight; multiple choice the sum of the chosen options'
//! weights, floored at zero and capped at full marks; true/false all or nothing; short answer the
//! best weight among accepted answers that match after normalisation (case, surrounding and
//! repeated spaces, full-width vs half-width characters); numerical the best weight among answers
//! whose tolerance contains the response; matching the share of pairs matched right; an essay
//! waits for a trainer's mark.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::gift::{Choice, QuestionKind};

/// The option ids one attempt sees.
///
/// Inside the server an option is `o0`, `o1`, … in the author's order, and authors often put the
/// right answer first; a matching item `i<k>` pairs with option `o<k>`. Sent as they are, those
/// ids would give the key away (answer `"o0"`, or `{"i0": "o0", "i1": "o1"}`). So each attempt
/// sees its own ids: `opt-` and ten hex digits of SHA-256 over the attempt's secret seed, the
/// question and the option. They are stable for the attempt (reloads, autosave), differ between
/// attempts and questions, and cannot be computed without the seed, which is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionIds {
    seed: i64,
    question_id: i64,
}

impl OptionIds {
    /// The ids of one question in one attempt (`seed` is the attempt's).
    pub fn new(seed: i64, question_id: i64) -> OptionIds {
        OptionIds { seed, question_id }
    }

    /// The id the attempt shows for an option.
    pub fn public(&self, internal: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"talentcert option id\0");
        h.update(self.seed.to_le_bytes());
        h.update(self.question_id.to_le_bytes());
        h.update(internal.as_bytes());
        let digest = hex::encode(h.finalize());
        format!("opt-{}", &digest[..10])
    }

    /// The option behind an id the attempt showed; `None` for any other id (including the
    /// internal ones).
    pub fn internal(&self, kind: &QuestionKind, public: &str) -> Option<String> {
        option_ids(kind)
            .into_iter()
            .find(|id| self.public(id) == public)
    }
}

/// Maps the option ids of a response with `f` (choice ids, the option side of matching).
fn map_ids(kind: &QuestionKind, response: &Value, f: impl Fn(&str) -> String) -> Value {
    match (kind, response) {
        (QuestionKind::MultipleChoice { .. }, Value::String(id)) => Value::String(f(id)),
        (QuestionKind::MultipleChoice { .. }, Value::Array(ids)) => Value::Array(
            ids.iter()
                .map(|v| {
                    v.as_str()
                        .map_or_else(|| v.clone(), |id| Value::String(f(id)))
                })
                .collect(),
        ),
        (QuestionKind::Matching { .. }, Value::Object(map)) => Value::Object(
            map.iter()
                .map(|(item, v)| {
                    (
                        item.clone(),
                        v.as_str()
                            .map_or_else(|| v.clone(), |id| Value::String(f(id))),
                    )
                })
                .collect(),
        ),
        _ => response.clone(),
    }
}

/// Whether a question's responses carry option ids.
pub fn has_options(kind: &QuestionKind) -> bool {
    matches!(
        kind,
        QuestionKind::MultipleChoice { .. } | QuestionKind::Matching { .. }
    )
}

/// A response as the attempt shows it (internal option ids → the attempt's).
pub fn response_to_public(kind: &QuestionKind, response: &Value, ids: &OptionIds) -> Value {
    map_ids(kind, response, |id| ids.public(id))
}

/// A response as sent in an attempt, with the internal option ids; an id the attempt did not
/// show becomes one no question has, so the shape check refuses it.
pub fn response_to_internal(kind: &QuestionKind, response: &Value, ids: &OptionIds) -> Value {
    map_ids(kind, response, |id| {
        ids.internal(kind, id).unwrap_or_else(|| "unknown".into())
    })
}

/// An option as the learner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OptionView {
    /// Stable for the attempt, different in every attempt (see [`OptionIds`]); authors' tools
    /// (question bank pages) see the internal `o0`, `o1`, … instead.
    pub id: String,
    pub text: String,
}

/// What a learner sees of a question's answers: options, never weights or keys.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Presentation {
    /// Answer with one option id, e.g. `"o2"`.
    SingleChoice { options: Vec<OptionView> },
    /// Answer with a list of option ids, e.g. `["o0", "o3"]`.
    MultipleChoice { options: Vec<OptionView> },
    /// Answer `true` or `false`.
    TrueFalse,
    /// Answer with text.
    ShortAnswer,
    /// Answer with a number.
    Numerical,
    /// Answer with an object from each item id to an option id, e.g. `{"i0": "o2"}`.
    Matching {
        items: Vec<OptionView>,
        options: Vec<OptionView>,
    },
    /// Answer with text; a trainer marks it.
    Essay,
    /// Nothing to answer.
    Description,
}

fn choice_ids(choices: &[Choice]) -> Vec<OptionView> {
    choices
        .iter()
        .enumerate()
        .map(|(i, c)| OptionView {
            id: format!("o{i}"),
            text: c.text.clone(),
        })
        .collect()
}

/// The ids that can be shuffled for an attempt (choice options, matching options).
pub fn option_ids(kind: &QuestionKind) -> Vec<String> {
    match kind {
        QuestionKind::MultipleChoice { choices, .. } => {
            (0..choices.len()).map(|i| format!("o{i}")).collect()
        }
        QuestionKind::Matching { pairs, distractors } => (0..pairs.len() + distractors.len())
            .map(|i| format!("o{i}"))
            .collect(),
        _ => Vec::new(),
    }
}

fn matching_options(pairs: &[super::gift::Pair], distractors: &[String]) -> Vec<OptionView> {
    pairs
        .iter()
        .map(|p| p.right.clone())
        .chain(distractors.iter().cloned())
        .enumerate()
        .map(|(i, text)| OptionView {
            id: format!("o{i}"),
            text,
        })
        .collect()
}

fn in_order(mut options: Vec<OptionView>, order: &[String]) -> Vec<OptionView> {
    if order.is_empty() {
        return options;
    }
    options.sort_by_key(|o| {
        order
            .iter()
            .position(|id| id == &o.id)
            .unwrap_or(usize::MAX)
    });
    options
}

/// The question's answers as the learner sees them, options in the attempt's order and with
/// the attempt's ids (`None`: the internal ids, for authors' previews).
pub fn present(kind: &QuestionKind, order: &[String], ids: Option<&OptionIds>) -> Presentation {
    let presented = present_internal(kind, order);
    let Some(ids) = ids else {
        return presented;
    };
    let rename = |options: Vec<OptionView>| {
        options
            .into_iter()
            .map(|o| OptionView {
                id: ids.public(&o.id),
                text: o.text,
            })
            .collect()
    };
    match presented {
        Presentation::SingleChoice { options } => Presentation::SingleChoice {
            options: rename(options),
        },
        Presentation::MultipleChoice { options } => Presentation::MultipleChoice {
            options: rename(options),
        },
        Presentation::Matching { items, options } => Presentation::Matching {
            items,
            options: rename(options),
        },
        other => other,
    }
}

fn present_internal(kind: &QuestionKind, order: &[String]) -> Presentation {
    match kind {
        QuestionKind::MultipleChoice {
            single: true,
            choices,
        } => Presentation::SingleChoice {
            options: in_order(choice_ids(choices), order),
        },
        QuestionKind::MultipleChoice {
            single: false,
            choices,
        } => Presentation::MultipleChoice {
            options: in_order(choice_ids(choices), order),
        },
        QuestionKind::TrueFalse { .. } => Presentation::TrueFalse,
        QuestionKind::ShortAnswer { .. } => Presentation::ShortAnswer,
        QuestionKind::Numerical { .. } => Presentation::Numerical,
        QuestionKind::Matching { pairs, distractors } => Presentation::Matching {
            items: pairs
                .iter()
                .enumerate()
                .map(|(i, p)| OptionView {
                    id: format!("i{i}"),
                    text: p.left.clone(),
                })
                .collect(),
            options: in_order(matching_options(pairs, distractors), order),
        },
        QuestionKind::Essay => Presentation::Essay,
        QuestionKind::Description => Presentation::Description,
    }
}

/// Why a response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub &'static str);

/// Checks that a response has the form the question expects (the wire contract).
pub fn check_shape(kind: &QuestionKind, response: &Value) -> Result<(), ShapeError> {
    let known = |id: &str, n: usize| {
        id.strip_prefix('o')
            .and_then(|k| k.parse::<usize>().ok())
            .is_some_and(|k| k < n)
    };
    match kind {
        QuestionKind::MultipleChoice {
            single: true,
            choices,
        } => match response.as_str() {
            Some(id) if known(id, choices.len()) => Ok(()),
            _ => Err(ShapeError("validation.response_option")),
        },
        QuestionKind::MultipleChoice {
            single: false,
            choices,
        } => match response.as_array() {
            Some(ids)
                if ids.len() <= choices.len()
                    && ids
                        .iter()
                        .all(|v| v.as_str().is_some_and(|id| known(id, choices.len()))) =>
            {
                Ok(())
            }
            _ => Err(ShapeError("validation.response_options")),
        },
        QuestionKind::TrueFalse { .. } => response
            .as_bool()
            .map(|_| ())
            .ok_or(ShapeError("validation.response_bool")),
        QuestionKind::ShortAnswer { .. } | QuestionKind::Essay => match response.as_str() {
            Some(s) if s.chars().count() <= 20_000 => Ok(()),
            _ => Err(ShapeError("validation.response_text")),
        },
        QuestionKind::Numerical { .. } => match response.as_f64() {
            Some(n) if n.is_finite() => Ok(()),
            _ => Err(ShapeError("validation.response_number")),
        },
        QuestionKind::Matching { pairs, distractors } => {
            let n = pairs.len() + distractors.len();
            match response.as_object() {
                Some(map)
                    if map.iter().all(|(item, v)| {
                        item.strip_prefix('i')
                            .and_then(|k| k.parse::<usize>().ok())
                            .is_some_and(|k| k < pairs.len())
                            && v.as_str().is_some_and(|id| known(id, n))
                    }) =>
                {
                    Ok(())
                }
                _ => Err(ShapeError("validation.response_matching")),
            }
        }
        QuestionKind::Description => Err(ShapeError("validation.response_none")),
    }
}

/// Folds full-width ASCII to half-width, trims, collapses spaces, lowercases.
pub fn normalise(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            other => other,
        })
        .collect();
    folded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The share of full marks (0..=1) a response earns; `None` for an essay (marked by a person).
pub fn fraction(kind: &QuestionKind, response: Option<&Value>) -> Option<f64> {
    let Some(response) = response.filter(|r| !r.is_null()) else {
        return match kind {
            QuestionKind::Essay => None,
            _ => Some(0.0),
        };
    };
    if check_shape(kind, response).is_err() {
        return Some(0.0);
    }
    let index = |id: &str| id.strip_prefix('o').and_then(|k| k.parse::<usize>().ok());
    let earned = match kind {
        QuestionKind::MultipleChoice {
            single: true,
            choices,
        } => response
            .as_str()
            .and_then(index)
            .and_then(|i| choices.get(i))
            .map_or(0.0, |c| c.weight / 100.0),
        QuestionKind::MultipleChoice {
            single: false,
            choices,
        } => {
            let mut chosen: Vec<usize> = response
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().and_then(index))
                        .collect()
                })
                .unwrap_or_default();
            chosen.sort_unstable();
            chosen.dedup();
            chosen
                .iter()
                .filter_map(|i| choices.get(*i))
                .map(|c| c.weight / 100.0)
                .sum()
        }
        QuestionKind::TrueFalse { answer, .. } => {
            if response.as_bool() == Some(*answer) {
                1.0
            } else {
                0.0
            }
        }
        QuestionKind::ShortAnswer { answers } => {
            let given = normalise(response.as_str().unwrap_or_default());
            answers
                .iter()
                .filter(|a| normalise(&a.text) == given)
                .map(|a| a.weight / 100.0)
                .fold(0.0, f64::max)
        }
        QuestionKind::Numerical { answers } => {
            let given = response.as_f64().unwrap_or(f64::NAN);
            answers
                .iter()
                .filter(|a| (given - a.value).abs() <= a.tolerance + 1e-9 * a.value.abs().max(1.0))
                .map(|a| a.weight / 100.0)
                .fold(0.0, f64::max)
        }
        QuestionKind::Matching { pairs, .. } => {
            let map = response.as_object();
            let right = (0..pairs.len())
                .filter(|i| {
                    map.and_then(|m| m.get(&format!("i{i}")))
                        .and_then(Value::as_str)
                        == Some(format!("o{i}").as_str())
                })
                .count();
            right as f64 / pairs.len().max(1) as f64
        }
        QuestionKind::Essay => return None,
        QuestionKind::Description => 0.0,
    };
    Some(earned.clamp(0.0, 1.0))
}

/// The index of the first highest weight.
fn best<T>(items: &[T], weight: impl Fn(&T) -> f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if best.is_none_or(|(_, b)| w > b) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| i)
}

/// A response that earns full marks, in the form of the answer PUT (null for an essay).
pub fn correct_response(kind: &QuestionKind) -> Value {
    match kind {
        QuestionKind::MultipleChoice {
            single: true,
            choices,
        } => {
            json!(best(choices, |c| c.weight).map(|i| format!("o{i}")))
        }
        QuestionKind::MultipleChoice {
            single: false,
            choices,
        } => json!(choices
            .iter()
            .enumerate()
            .filter(|(_, c)| c.weight > 0.0)
            .map(|(i, _)| format!("o{i}"))
            .collect::<Vec<_>>()),
        QuestionKind::TrueFalse { answer, .. } => json!(answer),
        QuestionKind::ShortAnswer { answers } => {
            json!(best(answers, |a| a.weight).map(|i| answers[i].text.clone()))
        }
        QuestionKind::Numerical { answers } => {
            json!(best(answers, |a| a.weight).map(|i| answers[i].value))
        }
        QuestionKind::Matching { pairs, .. } => {
            let map: BTreeMap<String, String> = (0..pairs.len())
                .map(|i| (format!("i{i}"), format!("o{i}")))
                .collect();
            json!(map)
        }
        QuestionKind::Essay | QuestionKind::Description => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::gift;

    fn kind(src: &str) -> QuestionKind {
        gift::parse(src)
            .map(|mut q| q.remove(0).kind)
            .unwrap_or(QuestionKind::Description)
    }

    #[test]
    fn single_choice() {
        let k = kind("Q {=a ~b ~%50%c}");
        assert_eq!(fraction(&k, Some(&json!("o0"))), Some(1.0));
        assert_eq!(fraction(&k, Some(&json!("o1"))), Some(0.0));
        assert_eq!(fraction(&k, Some(&json!("o2"))), Some(0.5));
        assert_eq!(fraction(&k, Some(&json!("o9"))), Some(0.0));
        assert_eq!(fraction(&k, None), Some(0.0));
        assert_eq!(correct_response(&k), json!("o0"));
    }

    #[test]
    fn multiple_choice_partial_credit_floored_at_zero() {
        let k = kind("Q {~%50%a ~%50%b ~%-100%c ~d}");
        assert_eq!(fraction(&k, Some(&json!(["o0", "o1"]))), Some(1.0));
        assert_eq!(fraction(&k, Some(&json!(["o0"]))), Some(0.5));
        assert_eq!(
            fraction(&k, Some(&json!(["o0", "o2"]))),
            Some(0.0),
            "floored, not negative"
        );
        assert_eq!(
            fraction(&k, Some(&json!(["o0", "o0", "o0"]))),
            Some(0.5),
            "repeats count once"
        );
        assert_eq!(fraction(&k, Some(&json!([]))), Some(0.0));
        assert_eq!(correct_response(&k), json!(["o0", "o1"]));
    }

    #[test]
    fn true_false_short_answer_numerical_matching() {
        let tf = kind("Q {TRUE}");
        assert_eq!(fraction(&tf, Some(&json!(true))), Some(1.0));
        assert_eq!(
            fraction(&tf, Some(&json!("true"))),
            Some(0.0),
            "a string is not a boolean"
        );
        let sa = kind("Q {=Group SOP =%50%SOP =社群SOP}");
        assert_eq!(fraction(&sa, Some(&json!("  group   sop "))), Some(1.0));
        assert_eq!(
            fraction(&sa, Some(&json!("ＧＲＯＵＰ　ＳＯＰ"))),
            Some(1.0),
            "full-width folds"
        );
        assert_eq!(fraction(&sa, Some(&json!("sop"))), Some(0.5));
        assert_eq!(fraction(&sa, Some(&json!("社群SOP"))), Some(1.0));
        assert_eq!(correct_response(&sa), json!("Group SOP"));
        let num = kind("Q {#=42000:500 =%50%40000:1000}");
        assert_eq!(fraction(&num, Some(&json!(42300))), Some(1.0));
        assert_eq!(fraction(&num, Some(&json!(39500.5))), Some(0.5));
        assert_eq!(fraction(&num, Some(&json!(1))), Some(0.0));
        assert_eq!(correct_response(&num), json!(42000.0));
        let m = kind("Q {=R -> Recency =F -> Frequency =M -> Monetary = -> Loyalty}");
        assert_eq!(
            fraction(&m, Some(&json!({"i0": "o0", "i1": "o1", "i2": "o3"}))),
            Some(2.0 / 3.0)
        );
        assert_eq!(fraction(&m, Some(&correct_response(&m))), Some(1.0));
        assert_eq!(fraction(&kind("Q {}"), Some(&json!("essay text"))), None);
    }

    #[test]
    fn every_correct_response_earns_full_marks_on_the_shipped_banks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("course-content/courses");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut checked = 0;
        for entry in entries.filter_map(Result::ok) {
            let Ok(text) = std::fs::read_to_string(entry.path().join("questions.gift")) else {
                continue;
            };
            for q in gift::parse(&text).unwrap_or_default() {
                if matches!(q.kind, QuestionKind::Essay | QuestionKind::Description) {
                    continue;
                }
                let r = correct_response(&q.kind);
                assert!(check_shape(&q.kind, &r).is_ok(), "{:?}", q.id);
                assert_eq!(fraction(&q.kind, Some(&r)), Some(1.0), "{:?}", q.id);
                checked += 1;
            }
        }
        assert!(checked > 100);
    }

    #[test]
    fn presentation_never_carries_weights_or_keys() {
        let k = kind("Q {=right#because ~wrong#no}");
        let shown = serde_json::to_string(&present(&k, &["o1".into(), "o0".into()], None))
            .unwrap_or_default();
        assert!(
            !shown.contains("weight") && !shown.contains("because") && !shown.contains("100"),
            "{shown}"
        );
        assert!(
            shown.find("wrong") < shown.find("right"),
            "the attempt's order: {shown}"
        );
        let num = serde_json::to_string(&present(&kind("Q {#42}"), &[], None)).unwrap_or_default();
        assert!(!num.contains("42"), "{num}");
    }

    #[test]
    fn shapes_are_checked() {
        assert!(check_shape(&kind("Q {=a ~b}"), &json!(["o0"])).is_err());
        assert!(check_shape(&kind("Q {TRUE}"), &json!(1)).is_err());
        assert!(check_shape(&kind("Q {#1}"), &json!("1")).is_err());
        assert!(check_shape(&kind("Q {=a -> b =c -> d}"), &json!({"i5": "o0"})).is_err());
        assert!(check_shape(&kind("Q {=a -> b =c -> d}"), &json!({"i1": "o0"})).is_ok());
    }
}
