//! Store and department dashboards (a store is a department), for HR and the department's
//! managers:
//!
//! - completion rate of assigned learning: of the courses on the members' assigned learning
//!   paths, the share completed;
//! - certification rate per position: of the members holding a position, the share holding a
//!   valid certificate of the position's category;
//! - average gap per competency, over the members whose position requires it;
//! - each of these at the end of each of the last [`MONTHS`] months (the gap from the evidence
//!   recorded by then), drawn as SVG charts by the server.
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::entities::learning_path;
use super::report::{self, Ledger, OrgData, Person};
use crate::catalog::entities::enrolment;
use crate::certificates::entities::certificate;
use crate::error::AppResult;

/// Months in the trend.
pub const MONTHS: usize = 6;

/// A position's certification rate in the department.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PositionRate {
    pub position: String,
    pub position_name: String,
    pub people: usize,
    pub certified: usize,
    /// Percent; none without people.
    pub rate: Option<f64>,
}

/// A competency's average gap in the department.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompetencyAverage {
    pub competency: String,
    pub name: String,
    pub name_zh: String,
    /// People whose position requires it.
    pub people: usize,
    pub average_gap: f64,
}

/// The figures at the end of a month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub completion_rate: Option<f64>,
    pub certification_rate: Option<f64>,
    pub average_gap: Option<f64>,
}

/// A department's dashboard.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    pub department: String,
    pub people: usize,
    /// Courses on the members' assigned learning paths, and how many are completed.
    pub assigned_courses: usize,
    pub assigned_completed: usize,
    /// Percent; none when nothing is assigned.
    pub completion_rate: Option<f64>,
    pub positions: Vec<PositionRate>,
    pub competencies: Vec<CompetencyAverage>,
    /// Oldest month first.
    pub trend: Vec<MonthPoint>,
}

fn percent(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 10.0)
}

/// The first instant of the month `back` months before `now`'s.
fn month_start(now: DateTime<Utc>, back: i32) -> DateTime<Utc> {
    let months = now.year() * 12 + now.month0() as i32 - back;
    let (year, month0) = (months.div_euclid(12), months.rem_euclid(12));
    Utc.with_ymd_and_hms(year, u32::try_from(month0 + 1).unwrap_or(1), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// The ledger as it stood at `at` (evidence recorded by then).
fn ledger_at(data: &OrgData, members: &[&Person], at: DateTime<Utc>) -> Ledger {
    // One pass over the organization's evidence, keeping the department's.
    let ids: HashSet<i64> = members.iter().map(|p| p.id).collect();
    let mut ledger = Ledger::default();
    for (user, competency) in data.evidence.keys().filter(|(u, _)| ids.contains(u)) {
        if let Some(entries) = data.evidence.get(user, competency) {
            for (id, e) in entries.ids.iter().zip(&entries.items) {
                if e.at <= at {
                    ledger.insert(user, competency, *id, e.clone());
                }
            }
        }
    }
    ledger
}

/// Average gap per competency (name, people, sum) over the members, from a data set.
fn gaps(data: &OrgData, members: &[&Person]) -> BTreeMap<String, (usize, i64)> {
    let mut out: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for p in members {
        // The levels only: no names, no learning path.
        for c in report::gaps_of(data, p, false).competencies {
            let e = out.entry(c.competency).or_default();
            e.0 += 1;
            e.1 += i64::from(c.gap);
        }
    }
    out
}

/// The dashboard of a department (its members must exist; the caller checks who may see it).
pub async fn build<C: ConnectionTrait>(
    conn: &C,
    data: &OrgData,
    department: &str,
) -> AppResult<Dashboard> {
    let members: Vec<&Person> = data
        .people
        .iter()
        .filter(|p| p.department.as_deref() == Some(department))
        .collect();
    let ids: Vec<i64> = members.iter().map(|p| p.id).collect();
    // Assigned learning: the latest path of each member.
    let mut paths: HashMap<i64, learning_path::Model> = HashMap::new();
    for lp in learning_path::Entity::find()
        .filter(learning_path::Column::UserId.is_in(ids.clone()))
        .all(conn)
        .await?
    {
        if paths
            .get(&lp.user_id)
            .is_none_or(|old| old.assigned_at < lp.assigned_at)
        {
            paths.insert(lp.user_id, lp);
        }
    }
    let completed_at: HashMap<(i64, i64), DateTime<Utc>> = enrolment::Entity::find()
        .filter(enrolment::Column::UserId.is_in(ids.clone()))
        .filter(enrolment::Column::CompletedAt.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|e| Some(((e.user_id, e.course_id), e.completed_at?)))
        .collect();
    let assigned: Vec<(i64, i64, DateTime<Utc>)> = paths
        .values()
        .flat_map(|p| {
            serde_json::from_value::<Vec<i64>>(p.courses.clone())
                .unwrap_or_default()
                .into_iter()
                .map(move |c| (p.user_id, c, p.assigned_at))
        })
        .collect();
    let done_by = |at: DateTime<Utc>| {
        let due: Vec<&(i64, i64, DateTime<Utc>)> =
            assigned.iter().filter(|(_, _, a)| *a <= at).collect();
        let done = due
            .iter()
            .filter(|(u, c, _)| completed_at.get(&(*u, *c)).is_some_and(|d| *d <= at))
            .count();
        (done, due.len())
    };
    // Certificates of the members: (user, category, issued, revoked).
    // (Only the columns needed: a certificate row also holds its PDF.)
    type Held = (
        i64,
        i64,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let certificates: Vec<Held> = certificate::Entity::find()
        .select_only()
        .column(certificate::Column::UserId)
        .column(certificate::Column::CertificationId)
        .column(certificate::Column::IssuedAt)
        .column(certificate::Column::ValidUntil)
        .column(certificate::Column::RevokedAt)
        .filter(certificate::Column::UserId.is_in(ids.clone()))
        .into_tuple()
        .all(conn)
        .await?;
    let categories: HashMap<i64, String> = crate::catalog::entities::certification::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.category_id))
        .collect();
    let certified_at = |p: &Person, at: DateTime<Utc>| {
        let Some(category) = p
            .position_id
            .and_then(|id| data.positions.get(&id))
            .map(|pos| pos.category_id.as_str())
        else {
            return false;
        };
        certificates
            .iter()
            .any(|(user, cert, issued, until, revoked)| {
                *user == p.id
                    && categories.get(cert).map(String::as_str) == Some(category)
                    && *issued <= at
                    && *until > at
                    && revoked.is_none_or(|r| r > at)
            })
    };
    let now = data.now;
    // Positions.
    let mut by_position: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for p in &members {
        if let Some(id) = p.position_id {
            let e = by_position.entry(id).or_default();
            e.0 += 1;
            if certified_at(p, now) {
                e.1 += 1;
            }
        }
    }
    let positions = by_position
        .into_iter()
        .filter_map(|(id, (people, certified))| {
            let pos = data.positions.get(&id)?;
            Some(PositionRate {
                position: pos.code.clone(),
                position_name: pos.name.clone(),
                people,
                certified,
                rate: percent(certified, people),
            })
        })
        .collect();
    let names: HashMap<String, (String, String)> = data.competency_names.clone();
    let competencies = gaps(data, &members)
        .into_iter()
        .map(|(competency, (people, sum))| {
            let (name, name_zh) = names
                .get(&competency)
                .cloned()
                .unwrap_or_else(|| (competency.clone(), String::new()));
            CompetencyAverage {
                competency,
                name,
                name_zh,
                people,
                average_gap: (sum as f64 / people.max(1) as f64 * 100.0).round() / 100.0,
            }
        })
        .collect();
    // The trend: each month's end (this month: now).
    let mut trend = Vec::new();
    for back in (0..MONTHS as i32).rev() {
        let start = month_start(now, back);
        let end = if back == 0 {
            now
        } else {
            month_start(now, back - 1) - Duration::seconds(1)
        };
        let (done, due) = done_by(end);
        let with_position: Vec<&&Person> =
            members.iter().filter(|p| p.position_id.is_some()).collect();
        let certified = with_position
            .iter()
            .filter(|p| certified_at(p, end))
            .count();
        let then = OrgData {
            rule: data.rule,
            exam_outranks: data.exam_outranks,
            people: Vec::new(),
            positions: data.positions.clone(),
            requirements: data.requirements.clone(),
            evidence: ledger_at(data, &members, end),
            competency_names: HashMap::new(),
            courses: HashMap::new(),
            completed: HashSet::new(),
            prerequisites: HashMap::new(),
            now: end,
        };
        let sums = gaps(&then, &members);
        let (people, total): (usize, i64) = sums
            .values()
            .fold((0, 0), |(n, s), (pn, ps)| (n + pn, s + ps));
        trend.push(MonthPoint {
            month: format!("{:04}-{:02}", start.year(), start.month()),
            completion_rate: percent(done, due),
            certification_rate: percent(certified, with_position.len()),
            average_gap: (people > 0)
                .then(|| (total as f64 / people as f64 * 100.0).round() / 100.0),
        });
    }
    let (done, due) = done_by(now);
    Ok(Dashboard {
        department: department.to_string(),
        people: members.len(),
        assigned_courses: due,
        assigned_completed: done,
        completion_rate: percent(done, due),
        positions,
        competencies,
        trend,
    })
}

/// The trend as an SVG line chart: completion and certification rates (0–100 %) as lines,
/// the average gap (0–4 levels) as bars behind them, months along the bottom.
pub fn trend_svg(d: &Dashboard, labels: [&str; 3]) -> String {
    let (w, h, left, top, plot_w, plot_h) = (640.0, 240.0, 48.0, 16.0, 560.0, 180.0);
    let n = d.trend.len().max(1) as f64;
    let x = |i: usize| left + plot_w * (i as f64 + 0.5) / n;
    let y_rate = |r: f64| top + plot_h * (1.0 - r.clamp(0.0, 100.0) / 100.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"trend-title\"><title id=\"trend-title\">{}, {}, {}</title>",
        escape(labels[0]),
        escape(labels[1]),
        escape(labels[2])
    );
    for pct in [0, 50, 100] {
        let yy = y_rate(f64::from(pct));
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"#dfe5e2\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5a55\">{pct}%</text>",
            left + plot_w,
            left - 6.0,
            yy + 4.0
        ));
    }
    for (i, p) in d.trend.iter().enumerate() {
        if let Some(g) = p.average_gap {
            let bh = plot_h * (g / 4.0).clamp(0.0, 1.0);
            svg.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"24\" height=\"{bh}\" fill=\"#fbe3a6\"><title>{}: {g}</title></rect>",
                x(i) - 12.0,
                top + plot_h - bh,
                escape(labels[2])
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#4a5a55\">{}</text>",
            x(i),
            top + plot_h + 18.0,
            p.month
        ));
    }
    for (series, colour, label) in [(0, "#0f5c4d", labels[0]), (1, "#2a4694", labels[1])] {
        let points: Vec<String> = d
            .trend
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let v = if series == 0 {
                    p.completion_rate
                } else {
                    p.certification_rate
                }?;
                Some(format!("{:.1},{:.1}", x(i), y_rate(v)))
            })
            .collect();
        if !points.is_empty() {
            svg.push_str(&format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"3\"><title>{}</title></polyline>",
                points.join(" "),
                escape(label)
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"{left}\" y=\"{}\" font-size=\"12\" fill=\"#0f5c4d\">■ {}</text><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#2a4694\">■ {}</text><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#8a4b00\">■ {}</text></svg>",
        h - 4.0,
        escape(labels[0]),
        left + 200.0,
        h - 4.0,
        escape(labels[1]),
        left + 400.0,
        h - 4.0,
        escape(labels[2])
    ));
    svg
}

/// Average gap per competency as horizontal SVG bars (0–4 levels).
pub fn gaps_svg(d: &Dashboard, zh: bool) -> String {
    let row = 26.0;
    let h = row * d.competencies.len().max(1) as f64 + 10.0;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 640 {h}\" role=\"img\" aria-label=\"{}\">",
        if zh {
            "各能力平均差距"
        } else {
            "Average gap per competency"
        }
    );
    for (i, c) in d.competencies.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let name = if zh && !c.name_zh.is_empty() {
            &c.name_zh
        } else {
            &c.name
        };
        let bw = 380.0 * (c.average_gap / 4.0).clamp(0.0, 1.0);
        svg.push_str(&format!(
            "<text x=\"216\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#14211d\">{}</text><rect x=\"224\" y=\"{}\" width=\"{bw}\" height=\"16\" fill=\"#f4a259\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#14211d\">{}</text>",
            y + 13.0,
            escape(&name.chars().take(32).collect::<String>()),
            y + 2.0,
            230.0 + bw,
            y + 14.0,
            c.average_gap
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_back_across_years() {
        let now = Utc
            .with_ymd_and_hms(2026, 2, 15, 12, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(month_start(now, 0).month(), 2);
        let back = month_start(now, 3);
        assert_eq!((back.year(), back.month(), back.day()), (2025, 11, 1));
    }

    #[test]
    fn rates_round_to_a_tenth() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn charts_escape_names() {
        let d = Dashboard {
            department: "S1".into(),
            people: 1,
            assigned_courses: 0,
            assigned_completed: 0,
            completion_rate: None,
            positions: Vec::new(),
            competencies: vec![CompetencyAverage {
                competency: "x".into(),
                name: "<script>".into(),
                name_zh: String::new(),
                people: 1,
                average_gap: 1.5,
            }],
            trend: Vec::new(),
        };
        let svg = gaps_svg(&d, false);
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
    }
}
