//! How evidence rolls up into a person's current level of a competency.
//!
//! Each organization chooses a rule: the latest evidence, the highest, the average, a decaying
//! average (recent evidence weighs more: a half-life of 180 days), or "mastered" (the highest
//! level shown at least N times). Exam evidence may outrank manager and self ratings and course
//! completions: when a competency has exam evidence, those are left out. The result names the evidence it used, so
//! every level shown can be traced.
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Half-life of evidence under the decaying average, in days.
pub const HALF_LIFE_DAYS: f64 = 180.0;

/// The roll-up rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelRule {
    Latest,
    Highest,
    Average,
    Decaying,
    /// The highest level shown by at least this many pieces of evidence.
    Mastered(u32),
}

impl LevelRule {
    /// The rule as stored (`latest`, `highest`, `average`, `decaying`, `mastered`).
    pub fn parse(name: &str, mastery_count: i32) -> Option<LevelRule> {
        Some(match name {
            "latest" => LevelRule::Latest,
            "highest" => LevelRule::Highest,
            "average" => LevelRule::Average,
            "decaying" => LevelRule::Decaying,
            "mastered" => LevelRule::Mastered(u32::try_from(mastery_count.max(1)).unwrap_or(1)),
            _ => return None,
        })
    }

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            LevelRule::Latest => "latest",
            LevelRule::Highest => "highest",
            LevelRule::Average => "average",
            LevelRule::Decaying => "decaying",
            LevelRule::Mastered(_) => "mastered",
        }
    }
}

/// The rule names, for validation messages.
pub const RULES: [&str; 5] = ["latest", "highest", "average", "decaying", "mastered"];

/// One piece of evidence of one competency.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub level: i32,
    /// `exam`, `course`, `manager`, `self` or `external`.
    pub source: String,
    pub at: DateTime<Utc>,
}

/// What exam evidence outranks: ratings, and course completions (a course taken is weaker
/// evidence than an exam passed).
fn is_outranked(source: &str) -> bool {
    matches!(source, "manager" | "self" | "course")
}

/// The current level and the indexes of the evidence it rests on; `None` without evidence.
pub fn current_level(
    evidence: &[Evidence],
    rule: LevelRule,
    exam_outranks_ratings: bool,
    now: DateTime<Utc>,
) -> Option<(i32, Vec<usize>)> {
    let has_exam = evidence.iter().any(|e| e.source == "exam");
    let used: Vec<usize> = (0..evidence.len())
        .filter(|&i| !(exam_outranks_ratings && has_exam && is_outranked(&evidence[i].source)))
        .collect();
    if used.is_empty() {
        return None;
    }
    let level_of = |i: &usize| evidence[*i].level.clamp(1, 5);
    match rule {
        LevelRule::Latest => {
            let i = *used.iter().max_by_key(|&&i| (evidence[i].at, i))?;
            Some((level_of(&i), vec![i]))
        }
        LevelRule::Highest => {
            let i = *used
                .iter()
                .max_by_key(|&&i| (level_of(&i), evidence[i].at))?;
            Some((level_of(&i), vec![i]))
        }
        LevelRule::Average => {
            let sum: i32 = used.iter().map(level_of).sum();
            let n = i32::try_from(used.len()).ok()?;
            // Round half up: 2.5 → 3.
            Some(((sum * 2 + n) / (2 * n), used))
        }
        LevelRule::Decaying => {
            let (mut weighted, mut total) = (0.0, 0.0);
            for i in &used {
                let age = (now - evidence[*i].at).num_seconds().max(0) as f64 / 86_400.0;
                let w = 0.5f64.powf(age / HALF_LIFE_DAYS);
                weighted += w * f64::from(level_of(i));
                total += w;
            }
            if total <= 0.0 {
                return None;
            }
            // A mean of levels 1–5 rounds to 1–5.
            let level = (weighted / total).round() as i32;
            Some((level.clamp(1, 5), used))
        }
        LevelRule::Mastered(n) => {
            for level in (1..=5).rev() {
                let at: Vec<usize> = used
                    .iter()
                    .copied()
                    .filter(|i| level_of(i) >= level)
                    .collect();
                if at.len() >= usize::try_from(n).unwrap_or(1) {
                    return Some((level, at));
                }
            }
            // Not shown often enough at any level: the lowest level shown counts once.
            let i = *used.iter().min_by_key(|&&i| level_of(&i))?;
            Some((level_of(&i), vec![i]))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration;

    fn ev(level: i32, source: &str, days_ago: i64) -> Evidence {
        Evidence {
            level,
            source: source.into(),
            at: now() - Duration::days(days_ago),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn each_rule_on_known_evidence() {
        let e = vec![ev(2, "exam", 400), ev(4, "exam", 200), ev(3, "exam", 10)];
        let level = |rule| current_level(&e, rule, true, now()).unwrap().0;
        assert_eq!(level(LevelRule::Latest), 3);
        assert_eq!(level(LevelRule::Highest), 4);
        assert_eq!(level(LevelRule::Average), 3);
        // Weights 0.5^(400/180)=0.214, 0.5^(200/180)=0.463, 0.5^(10/180)=0.962:
        // (2×0.214 + 4×0.463 + 3×0.962) / 1.639 = 3.15 → 3.
        assert_eq!(level(LevelRule::Decaying), 3);
        assert_eq!(level(LevelRule::Mastered(2)), 3);
        assert_eq!(level(LevelRule::Mastered(3)), 2);
        assert_eq!(
            level(LevelRule::Mastered(4)),
            2,
            "never shown 4 times: the lowest shown"
        );
    }

    #[test]
    fn exams_outrank_ratings_when_the_organization_says_so() {
        let e = vec![ev(2, "exam", 30), ev(5, "self", 1), ev(4, "manager", 2)];
        assert_eq!(
            current_level(&e, LevelRule::Latest, true, now()),
            Some((2, vec![0]))
        );
        assert_eq!(
            current_level(&e, LevelRule::Latest, false, now()),
            Some((5, vec![1]))
        );
        // A course completion is outranked too; without exams it counts.
        let course = vec![ev(3, "exam", 30), ev(4, "course", 1)];
        assert_eq!(
            current_level(&course, LevelRule::Latest, true, now()),
            Some((3, vec![0]))
        );
        assert_eq!(
            current_level(&course[1..], LevelRule::Latest, true, now()),
            Some((4, vec![0]))
        );
        // Without exam evidence, ratings count.
        let ratings = vec![ev(3, "manager", 5)];
        assert_eq!(
            current_level(&ratings, LevelRule::Latest, true, now()),
            Some((3, vec![0]))
        );
        assert_eq!(current_level(&[], LevelRule::Latest, true, now()), None);
    }

    #[test]
    fn averages_round_half_up_and_stay_in_range() {
        let e = vec![ev(2, "exam", 1), ev(3, "exam", 2)];
        assert_eq!(
            current_level(&e, LevelRule::Average, true, now())
                .unwrap()
                .0,
            3
        );
        let odd = vec![ev(9, "external", 1)];
        assert_eq!(
            current_level(&odd, LevelRule::Highest, true, now())
                .unwrap()
                .0,
            5
        );
    }
}
