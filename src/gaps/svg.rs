//! Charts drawn by the server as SVG (no chart library, nothing fetched): the department
//! heatmap and the organization's staffing bars.
use std::fmt::Write;

use super::report::{DepartmentGap, OrganizationGap};
use crate::i18n::Lang;

fn esc(s: &str) -> String {
    tera::escape_html(s)
}

/// The fill of a heatmap cell, by gap (colour-blind-safe, darker as the gap grows).
fn fill(gap: Option<i32>) -> (&'static str, &'static str) {
    match gap {
        None => ("#eef0ee", "#4a5a55"),
        Some(0) => ("#d7ecdf", "#14211d"),
        Some(1) => ("#fbe3a6", "#14211d"),
        Some(2) => ("#f4a259", "#14211d"),
        Some(_) => ("#b3261e", "#ffffff"),
    }
}

const CELL: usize = 34;
const ROW_H: usize = 26;
const LABEL_W: usize = 190;
const HEAD_H: usize = 170;

/// The people × competencies heatmap: each cell says the gap in levels (✓ when met, – when the
/// position does not require it). Text is escaped; every cell has a title for screen readers.
pub fn heatmap(d: &DepartmentGap, lang: Lang) -> String {
    let cols = d.competencies.len();
    let width = LABEL_W + cols * CELL + 70;
    let height = HEAD_H + d.rows.len() * ROW_H + 10;
    let mut s = String::with_capacity(256 + d.rows.len() * cols * 160);
    let title = match lang {
        Lang::ZhCn => format!("{} 能力差距热力图", d.department),
        Lang::En => format!("Competency gaps in {}", d.department),
    };
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-labelledby="heatmap-title" class="heatmap"><title id="heatmap-title">{}</title>"##,
        esc(&title)
    );
    for (i, (name, name_zh)) in d.competency_names.iter().enumerate() {
        let full = if lang == Lang::ZhCn && !name_zh.is_empty() {
            name_zh
        } else {
            name
        };
        // Long names are shortened on the axis; the cells' titles carry them whole.
        let label: String = if full.chars().count() > 26 {
            full.chars().take(25).chain(std::iter::once('…')).collect()
        } else {
            full.clone()
        };
        let x = LABEL_W + i * CELL + CELL / 2;
        let _ = write!(
            s,
            r##"<text x="{x}" y="{}" transform="rotate(-55 {x} {})" font-size="11" fill="#4a5a55"><title>{}</title>{}</text>"##,
            HEAD_H - 6,
            HEAD_H - 6,
            esc(full),
            esc(&label)
        );
    }
    let total_label = if lang == Lang::ZhCn {
        "合计"
    } else {
        "Total"
    };
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" font-size="11" fill="#4a5a55">{total_label}</text>"##,
        LABEL_W + cols * CELL + 8,
        HEAD_H - 6
    );
    for (r, row) in d.rows.iter().enumerate() {
        let y = HEAD_H + r * ROW_H;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="12" text-anchor="end" fill="#14211d">{}</text>"##,
            LABEL_W - 8,
            y + ROW_H / 2 + 4,
            esc(&row.name)
        );
        for (c, gap) in row.cells.iter().enumerate() {
            let (bg, fg) = fill(*gap);
            let x = LABEL_W + c * CELL;
            let text = match gap {
                None => "–".to_string(),
                Some(0) => "✓".to_string(),
                Some(g) => g.to_string(),
            };
            let (name, _) = &d.competency_names[c];
            let tip = match gap {
                None => format!("{}: {} — not required", row.name, name),
                Some(0) => format!("{}: {} — met", row.name, name),
                Some(g) => format!("{}: {} — {g} level(s) short", row.name, name),
            };
            let _ = write!(
                s,
                r##"<g><title>{}</title><rect x="{x}" y="{y}" width="{}" height="{}" rx="3" fill="{bg}"/><text x="{}" y="{}" font-size="12" text-anchor="middle" fill="{fg}">{text}</text></g>"##,
                esc(&tip),
                CELL - 3,
                ROW_H - 3,
                x + (CELL - 3) / 2,
                y + ROW_H / 2 + 3
            );
        }
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="12" fill="#14211d">{}</text>"##,
            LABEL_W + cols * CELL + 8,
            y + ROW_H / 2 + 4,
            row.total_gap
        );
    }
    s.push_str("</svg>");
    s
}

/// Per position: planned headcount, and people who meet it, are within one level, or further.
pub fn staffing(o: &OrganizationGap, lang: Lang) -> String {
    let bar_w = 360.0;
    let max = o
        .positions
        .iter()
        .map(|p| {
            p.headcount
                .max(i32::try_from(p.assigned).unwrap_or(i32::MAX))
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let height = 30 + o.positions.len() * 30;
    let mut s = String::new();
    let title = if lang == Lang::ZhCn {
        "岗位编制与达标人数"
    } else {
        "Positions: planned headcount and who meets them"
    };
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 {height}" role="img" aria-labelledby="staffing-title" class="chart"><title id="staffing-title">{}</title>"##,
        esc(title)
    );
    let scale = |n: f64| n / f64::from(max) * bar_w;
    for (i, p) in o.positions.iter().enumerate() {
        let y = 20 + i * 30;
        let label = if lang == Lang::ZhCn && !p.name_zh.is_empty() {
            &p.name_zh
        } else {
            &p.name
        };
        let _ = write!(
            s,
            r##"<text x="200" y="{}" font-size="12" text-anchor="end" fill="#14211d">{}</text>"##,
            y + 14,
            esc(label)
        );
        let mut x = 210.0;
        #[allow(clippy::cast_precision_loss)]
        for (n, color) in [
            (p.meets, "#1f7a3d"),
            (p.within_one, "#f4a259"),
            (p.further, "#b3261e"),
        ] {
            let w = scale(n as f64);
            if w > 0.0 {
                let _ = write!(
                    s,
                    r##"<rect x="{x:.1}" y="{y}" width="{w:.1}" height="18" fill="{color}"/>"##
                );
            }
            x += w;
        }
        let hx = 210.0 + scale(f64::from(p.headcount));
        let _ = write!(
            s,
            r##"<line x1="{hx:.1}" y1="{}" x2="{hx:.1}" y2="{}" stroke="#14211d" stroke-width="2"/><text x="{:.1}" y="{}" font-size="11" fill="#4a5a55">{}/{}</text>"##,
            y - 3,
            y + 21,
            hx + 6.0,
            y + 14,
            p.meets,
            p.headcount
        );
    }
    s.push_str("</svg>");
    s
}

/// A person's levels: for each competency a bar to the current level and a mark at the
/// required one.
pub fn person_levels(g: &super::report::PersonGap, lang: Lang) -> String {
    let row_h = 28;
    let label_w = 230.0;
    let scale = 70.0; // per level
    let height = 34 + g.competencies.len() * row_h;
    let mut s = String::new();
    let title = if lang == Lang::ZhCn {
        "当前等级与要求等级"
    } else {
        "Current and required levels"
    };
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 620 {height}" role="img" aria-labelledby="levels-title" class="chart"><title id="levels-title">{}</title>"##,
        esc(title)
    );
    for level in 0..=5 {
        let x = label_w + f64::from(level) * scale;
        let _ = write!(
            s,
            r##"<line x1="{x:.0}" y1="14" x2="{x:.0}" y2="{}" stroke="#dfe4df"/><text x="{x:.0}" y="12" font-size="10" text-anchor="middle" fill="#4a5a55">{level}</text>"##,
            height - 6
        );
    }
    for (i, c) in g.competencies.iter().enumerate() {
        let y = 20 + i * row_h;
        let name = if lang == Lang::ZhCn && !c.name_zh.is_empty() {
            &c.name_zh
        } else {
            &c.name
        };
        let short: String = if name.chars().count() > 30 {
            name.chars().take(29).chain(std::iter::once('…')).collect()
        } else {
            name.clone()
        };
        let current = f64::from(c.current.unwrap_or(0));
        let color = if c.gap == 0 {
            "#1a6c36"
        } else if c.gap == 1 {
            "#f4a259"
        } else {
            "#b3261e"
        };
        let tip = format!(
            "{name}: {} / {}",
            c.current.map_or_else(|| "–".to_string(), |l| l.to_string()),
            c.required
        );
        let _ = write!(
            s,
            r##"<g><title>{}</title><text x="{:.0}" y="{}" font-size="12" text-anchor="end" fill="#14211d">{}</text><rect x="{label_w:.0}" y="{}" width="{:.1}" height="14" rx="2" fill="{color}"/><line x1="{:.1}" y1="{}" x2="{:.1}" y2="{}" stroke="#14211d" stroke-width="3"/></g>"##,
            esc(&tip),
            label_w - 8.0,
            y + 12,
            esc(&short),
            y + 2,
            current * scale,
            label_w + f64::from(c.required) * scale,
            y - 1,
            label_w + f64::from(c.required) * scale,
            y + 19
        );
    }
    s.push_str("</svg>");
    s
}
