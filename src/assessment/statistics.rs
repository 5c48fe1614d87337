//! Quiz statistics with the definitions of Moodle's quiz statistics report
//! (docs.moodle.org/dev/Quiz_statistics_calculations), adapted to randomly drawn exams the way
//! Moodle treats random questions: a question's figures are computed over the attempts that drew
//! it, with "rest of test" = that attempt's total minus the question's mark.
//!
//! Test figures, over N attempts with totals T_i:
//! - mean T̄ = ΣT_i / N; median; standard deviation S = sqrt(Σ(T_i − T̄)² / (N − 1)).
//! - skewness = k3 / k2^(3/2) and kurtosis = k4 / k2², with the unbiased cumulants
//!   k2 = N·m2/(N−1), k3 = N²·m3/((N−1)(N−2)), k4 = N²·((N+1)·m4 − 3(N−1)·m2²)/((N−1)(N−2)(N−3)),
//!   where m_r = Σ(T_i − T̄)^r / N.
//! - coefficient of internal consistency (Cronbach's alpha), in percent:
//!   CIC = 100 · K/(K−1) · (1 − ΣV(s_k) / V(T)). Each attempt draws the same blueprint cells
//!   (competency × difficulty), so the K cells are the comparable parts of every form; s_k is an
//!   attempt's score in cell k.
//! - error ratio ER = 100 · sqrt(1 − CIC/100); standard error SE = ER/100 · S.
//!
//! Question figures, over the n attempts that drew question q (marks x, rest X = T − x):
//! - facility index F = 100 · x̄ / max; standard deviation SD = 100 · sqrt(Σ(x − x̄)²/(n − 1)) / max.
//! - random guess score: the expected mark of a random answer (single choice: the mean of the
//!   options' credit; true/false 50%; matching 1/options; otherwise none).
//! - intended weight = 100 · max_q / max total; effective weight EW = 100 · sqrt(Cov(x, T)) /
//!   Σ_q sqrt(Cov(x_q, T)), none when a covariance is negative.
//! - discrimination index D = 100 · r(x, X), the correlation of the mark with the rest of the test.
//! - discriminative efficiency DE = 100 · Cov(x, X) / Cov_max(x, X), where Cov_max pairs x and X
//!   both sorted ascending.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One attempt: its total and its marks per question.
#[derive(Debug, Clone)]
pub struct AttemptMarks {
    pub total: f64,
    pub items: Vec<ItemMark>,
}

/// A question's mark in one attempt.
#[derive(Debug, Clone)]
pub struct ItemMark {
    /// The question (stable across revisions, e.g. its GIFT id).
    pub question: String,
    /// The blueprint cell it was drawn for, e.g. `uo-rfm/easy`.
    pub cell: String,
    pub mark: f64,
    pub max: f64,
    pub random_guess: Option<f64>,
}

/// Figures of the whole test.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TestStatistics {
    pub attempts: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub standard_deviation: Option<f64>,
    pub skewness: Option<f64>,
    pub kurtosis: Option<f64>,
    /// Cronbach's alpha, percent.
    pub internal_consistency: Option<f64>,
    /// Percent.
    pub error_ratio: Option<f64>,
    pub standard_error: Option<f64>,
}

/// Figures of one question.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct QuestionStatistics {
    pub question: String,
    pub attempts: usize,
    /// Percent.
    pub facility: Option<f64>,
    /// Percent of the question's mark.
    pub standard_deviation: Option<f64>,
    /// Percent.
    pub random_guess_score: Option<f64>,
    /// Percent.
    pub intended_weight: Option<f64>,
    /// Percent.
    pub effective_weight: Option<f64>,
    /// Percent (a correlation × 100).
    pub discrimination: Option<f64>,
    /// Percent.
    pub discriminative_efficiency: Option<f64>,
    /// Why the question needs a look, if it does.
    pub problems: Vec<String>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn sample_variance(v: &[f64]) -> Option<f64> {
    let m = mean(v)?;
    (v.len() > 1).then(|| v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64)
}

fn covariance(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, mb) = (mean(a)?, mean(b)?);
    (a.len() > 1 && a.len() == b.len()).then(|| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (a.len() - 1) as f64
    })
}

fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let c = covariance(a, b)?;
    let (va, vb) = (sample_variance(a)?, sample_variance(b)?);
    (va > 0.0 && vb > 0.0).then(|| c / (va * vb).sqrt())
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The test figures.
pub fn test_statistics(attempts: &[AttemptMarks]) -> TestStatistics {
    let totals: Vec<f64> = attempts.iter().map(|a| a.total).collect();
    let n = totals.len() as f64;
    let m = mean(&totals);
    let central = |r: i32| m.map(|m| totals.iter().map(|t| (t - m).powi(r)).sum::<f64>() / n);
    let (m2, m3, m4) = (central(2), central(3), central(4));
    let k2 = m2.filter(|_| n > 1.0).map(|m2| n * m2 / (n - 1.0));
    let k3 = m3
        .filter(|_| n > 2.0)
        .map(|m3| n * n * m3 / ((n - 1.0) * (n - 2.0)));
    let k4 = match (m2, m4) {
        (Some(m2), Some(m4)) if n > 3.0 => Some(
            n * n * ((n + 1.0) * m4 - 3.0 * (n - 1.0) * m2 * m2)
                / ((n - 1.0) * (n - 2.0) * (n - 3.0)),
        ),
        _ => None,
    };
    let positive_k2 = k2.filter(|k| *k > 0.0);
    let skewness = match (k3, positive_k2) {
        (Some(k3), Some(k2)) => Some(k3 / k2.powf(1.5)),
        _ => None,
    };
    let kurtosis = match (k4, positive_k2) {
        (Some(k4), Some(k2)) => Some(k4 / (k2 * k2)),
        _ => None,
    };
    // Cronbach's alpha over blueprint cells.
    let mut cells: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for a in attempts {
        let mut per_cell: BTreeMap<&str, f64> = BTreeMap::new();
        for item in &a.items {
            *per_cell.entry(item.cell.as_str()).or_default() += item.mark;
        }
        for (cell, score) in per_cell {
            cells.entry(cell).or_default().push(score);
        }
    }
    let complete: Vec<&Vec<f64>> = cells
        .values()
        .filter(|v| v.len() == attempts.len())
        .collect();
    let k = complete.len() as f64;
    let internal_consistency = match (sample_variance(&totals), k > 1.0) {
        (Some(vt), true) if vt > 0.0 => {
            let sum: f64 = complete.iter().filter_map(|v| sample_variance(v)).sum();
            Some(100.0 * k / (k - 1.0) * (1.0 - sum / vt))
        }
        _ => None,
    };
    let error_ratio = internal_consistency
        .filter(|c| *c <= 100.0 && *c >= 0.0)
        .map(|c| 100.0 * (1.0 - c / 100.0).sqrt());
    let standard_deviation = sample_variance(&totals).map(f64::sqrt);
    TestStatistics {
        attempts: attempts.len(),
        mean: m,
        median: median(&totals),
        standard_deviation,
        skewness,
        kurtosis,
        internal_consistency,
        error_ratio,
        standard_error: match (error_ratio, standard_deviation) {
            (Some(er), Some(sd)) => Some(er / 100.0 * sd),
            _ => None,
        },
    }
}

/// The figures of every question, ordered by question, with the problems that flag it.
pub fn question_statistics(attempts: &[AttemptMarks]) -> Vec<QuestionStatistics> {
    struct Acc {
        marks: Vec<f64>,
        rests: Vec<f64>,
        totals: Vec<f64>,
        max: f64,
        guess: Option<f64>,
        exam_max: f64,
    }
    let mut by_question: BTreeMap<&str, Acc> = BTreeMap::new();
    for a in attempts {
        let exam_max: f64 = a.items.iter().map(|i| i.max).sum();
        for item in &a.items {
            let acc = by_question.entry(item.question.as_str()).or_insert(Acc {
                marks: Vec::new(),
                rests: Vec::new(),
                totals: Vec::new(),
                max: item.max,
                guess: item.random_guess,
                exam_max,
            });
            acc.marks.push(item.mark);
            acc.rests.push(a.total - item.mark);
            acc.totals.push(a.total);
        }
    }
    let sqrt_covs: Vec<Option<f64>> = by_question
        .values()
        .map(|acc| {
            covariance(&acc.marks, &acc.totals)
                .filter(|c| *c >= 0.0)
                .map(f64::sqrt)
        })
        .collect();
    let sum_sqrt: Option<f64> = if sqrt_covs.iter().all(Option::is_some) {
        Some(sqrt_covs.iter().flatten().sum())
    } else {
        None
    };
    by_question
        .into_iter()
        .zip(sqrt_covs)
        .map(|((question, acc), sqrt_cov)| {
            let facility = mean(&acc.marks)
                .filter(|_| acc.max > 0.0)
                .map(|m| 100.0 * m / acc.max);
            let sd = sample_variance(&acc.marks)
                .filter(|_| acc.max > 0.0)
                .map(|v| 100.0 * v.sqrt() / acc.max);
            let discrimination = correlation(&acc.marks, &acc.rests).map(|r| 100.0 * r);
            let efficiency = covariance(&acc.marks, &acc.rests).and_then(|c| {
                let mut xs = acc.marks.clone();
                let mut rs = acc.rests.clone();
                xs.sort_by(f64::total_cmp);
                rs.sort_by(f64::total_cmp);
                covariance(&xs, &rs)
                    .filter(|m| *m > 0.0)
                    .map(|m| 100.0 * c / m)
            });
            let effective_weight = match (sqrt_cov, sum_sqrt) {
                (Some(s), Some(total)) if total > 0.0 => Some(100.0 * s / total),
                _ => None,
            };
            let random_guess_score = acc.guess.map(|g| 100.0 * g);
            let mut problems = Vec::new();
            if acc.marks.len() >= 5 {
                match discrimination {
                    Some(d) if d < 0.0 => problems.push("negative_discrimination".to_string()),
                    Some(d) if d < 20.0 => problems.push("low_discrimination".to_string()),
                    _ => {}
                }
                match facility {
                    Some(f) if f > 90.0 => problems.push("too_easy".to_string()),
                    Some(f) if f < 20.0 => problems.push("too_hard".to_string()),
                    _ => {}
                }
            }
            if random_guess_score.is_some_and(|g| g > 40.0) {
                problems.push("high_random_guess_score".to_string());
            }
            QuestionStatistics {
                question: question.to_string(),
                attempts: acc.marks.len(),
                facility,
                standard_deviation: sd,
                random_guess_score,
                intended_weight: (acc.exam_max > 0.0).then(|| 100.0 * acc.max / acc.exam_max),
                effective_weight,
                discrimination,
                discriminative_efficiency: efficiency,
                problems,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(marks: &[f64]) -> AttemptMarks {
        AttemptMarks {
            total: marks.iter().sum(),
            items: marks
                .iter()
                .enumerate()
                .map(|(i, m)| ItemMark {
                    question: format!("q{i}"),
                    cell: format!("c{i}"),
                    mark: *m,
                    max: 1.0,
                    random_guess: Some(0.25),
                })
                .collect(),
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    /// Five attempts, three questions, figures worked out by hand:
    /// totals 3,2,2,1,0 → mean 1.6, median 2, S² = (1.96+0.16+0.16+0.36+2.56)/4 = 1.3.
    /// Item variances: q0 (1,1,1,0,0) 0.3; q1 (1,1,0,1,0) 0.3; q2 (1,0,1,0,0) 0.3.
    /// alpha = 3/2 · (1 − 0.9/1.3) = 0.461538…; ER = 100·sqrt(1 − 0.461538) = 73.3799…
    #[test]
    fn matches_figures_computed_by_hand() {
        let data = vec![
            attempt(&[1.0, 1.0, 1.0]),
            attempt(&[1.0, 1.0, 0.0]),
            attempt(&[1.0, 0.0, 1.0]),
            attempt(&[0.0, 1.0, 0.0]),
            attempt(&[0.0, 0.0, 0.0]),
        ];
        let t = test_statistics(&data);
        assert_eq!(t.attempts, 5);
        assert!(close(t.mean, 1.6));
        assert!(close(t.median, 2.0));
        assert!(close(t.standard_deviation, 1.3_f64.sqrt()));
        assert!(close(
            t.internal_consistency,
            100.0 * 1.5 * (1.0 - 0.9 / 1.3)
        ));
        assert!(close(
            t.error_ratio,
            100.0 * (1.0_f64 - 1.5 * (1.0 - 0.9 / 1.3)).sqrt()
        ));
        // m2 = 1.04, m3 = (2.744 + 0.064 + 0.064 − 0.216 − 4.096)/5 = −0.288
        // k2 = 1.3, k3 = 25·(−0.288)/(4·3) = −0.6, skewness = k3 / 1.3^1.5
        assert!(close(t.skewness, -0.6 / 1.3_f64.powf(1.5)));
        // m4 = (5.3782… ) computed: (1.4^4 + 0.4^4·2 + 0.6^4 + 1.6^4)/5
        let m4 =
            (1.4_f64.powi(4) + 2.0 * 0.4_f64.powi(4) + 0.6_f64.powi(4) + 1.6_f64.powi(4)) / 5.0;
        let k4 = 25.0 * (6.0 * m4 - 3.0 * 4.0 * 1.04 * 1.04) / (4.0 * 3.0 * 2.0);
        assert!(close(t.kurtosis, k4 / (1.3 * 1.3)));

        let q = question_statistics(&data);
        assert_eq!(q.len(), 3);
        // q0: marks 1,1,1,0,0, mean .6 → facility 60; SD = sqrt(.3) → 54.77%.
        assert!(close(q[0].facility, 60.0));
        assert!(close(q[0].standard_deviation, 100.0 * 0.3_f64.sqrt()));
        // rest of test for q0: 2,1,1,1,0; r(x, X) = cov/(sx·sX): cov = (0.4·1 + 0 + 0 + 0 + (−0.6)·(−1))/4 = 0.25
        // mean X = 1, var X = (1+0+0+0+1)/4 = 0.5 → r = 0.25/sqrt(0.3·0.5)
        assert!(close(
            q[0].discrimination,
            100.0 * 0.25 / (0.3_f64 * 0.5).sqrt()
        ));
        assert!(close(q[0].intended_weight, 100.0 / 3.0));
        assert!(close(q[0].random_guess_score, 25.0));
        let ew: f64 = q.iter().filter_map(|s| s.effective_weight).sum();
        assert!(
            (ew - 100.0).abs() < 1e-6,
            "effective weights add up to 100: {ew}"
        );
    }

    #[test]
    fn flags_misbehaving_questions() {
        // q0 is answered right by the weak and wrong by the strong: negative discrimination.
        let data: Vec<AttemptMarks> = vec![
            attempt(&[0.0, 1.0, 1.0, 1.0]),
            attempt(&[0.0, 1.0, 1.0, 1.0]),
            attempt(&[0.0, 1.0, 1.0, 0.0]),
            attempt(&[1.0, 1.0, 0.0, 0.0]),
            attempt(&[1.0, 1.0, 0.0, 0.0]),
            attempt(&[1.0, 1.0, 0.0, 0.0]),
        ];
        let q = question_statistics(&data);
        assert!(
            q[0].problems
                .contains(&"negative_discrimination".to_string()),
            "{:?}",
            q[0]
        );
        assert!(
            q[1].problems.contains(&"too_easy".to_string()),
            "{:?}",
            q[1]
        );
    }

    #[test]
    fn small_samples_answer_none_rather_than_nonsense() {
        let t = test_statistics(&[attempt(&[1.0])]);
        assert_eq!(t.standard_deviation, None);
        assert_eq!(t.skewness, None);
        assert_eq!(test_statistics(&[]).mean, None);
    }
}
