//! Reports as files people open in Excel: CSV (UTF-8 with a byte-order mark, so Excel reads
//! Chinese names right) or an Excel workbook (.xlsx, written by rust_xlsxwriter).
//!
//! A cell that starts with `=`, `+`, `-`, `@` or a control character and is not a number is
//! written as text with a leading apostrophe in CSV, so a name like `=HYPERLINK(...)` cannot
//! become a formula when the file is opened (OWASP "CSV injection"); in a workbook every such
//! cell is a string cell, which Excel never evaluates.
use actix_web::http::header;
use actix_web::HttpResponse;
use rust_xlsxwriter::{Format as CellFormat, Workbook};

use crate::error::{AppError, AppResult};

/// The content type of an Excel workbook.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The file formats a report is offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    /// `json` (the default), `csv` or `xlsx`; anything else is a 400 naming the parameter.
    pub fn parse(s: Option<&str>) -> AppResult<Format> {
        match s.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(AppError::field("format", "validation.report_format")),
        }
    }
}

/// Whether a cell is a plain number (written as a number in a workbook). Leading zeros, as in
/// an employee id `007`, keep it text.
fn numeric(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if s.is_empty() || leading_zero || s.starts_with('+') {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A CSV cell that cannot turn into a formula.
pub fn csv_safe(cell: &str) -> String {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && numeric(cell).is_none() {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The rows as CSV bytes (with a byte-order mark).
pub fn csv_bytes(rows: &[Vec<String>]) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(row.iter().map(|c| csv_safe(c)))
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    }
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend(
        w.into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?,
    );
    Ok(out)
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!(e))
}

/// Sheets (name, rows; the first row is the header, in bold and frozen) as an Excel workbook.
pub fn xlsx_bytes(sheets: &[(&str, &[Vec<String>])]) -> AppResult<Vec<u8>> {
    let mut workbook = Workbook::new();
    let bold = CellFormat::new().set_bold();
    for (name, rows) in sheets {
        let sheet = workbook.add_worksheet();
        // Excel's limits: 31 characters, none of []:*?/\.
        let clean: String = name
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        sheet
            .set_name(if clean.is_empty() { "Sheet1" } else { &clean })
            .map_err(xlsx_error)?;
        for (r, row) in rows.iter().enumerate() {
            let r = u32::try_from(r).map_err(AppError::internal)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(AppError::internal)?;
                // Excel holds at most 32,767 characters in a cell.
                let text: String = cell.chars().take(32_767).collect();
                if r == 0 {
                    sheet
                        .write_string_with_format(r, c, text, &bold)
                        .map_err(xlsx_error)?;
                } else if let Some(n) = numeric(&text) {
                    sheet.write_number(r, c, n).map_err(xlsx_error)?;
                } else if !text.is_empty() {
                    sheet.write_string(r, c, text).map_err(xlsx_error)?;
                }
            }
        }
        if !rows.is_empty() {
            sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        }
        sheet.autofit();
    }
    workbook.save_to_buffer().map_err(xlsx_error)
}

/// A table as a download in CSV or Excel (`name` without extension; `Json` is the caller's).
pub fn table_response(
    name: &str,
    format: Format,
    rows: Vec<Vec<String>>,
) -> AppResult<HttpResponse> {
    let (bytes, content_type, extension) = match format {
        Format::Xlsx => (xlsx_bytes(&[(name, &rows)])?, XLSX_TYPE, "xlsx"),
        Format::Csv | Format::Json => (csv_bytes(&rows)?, "text/csv; charset=utf-8", "csv"),
    };
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}.{extension}\""),
        ))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("-3"), "-3");
        assert_eq!(csv_safe("-x"), "'-x");
        assert_eq!(csv_safe("Li Lei"), "Li Lei");
        assert_eq!(numeric("007"), None);
        assert_eq!(numeric("0.5"), Some(0.5));
        assert_eq!(numeric("12"), Some(12.0));
        assert_eq!(numeric("inf"), None);
    }

    #[test]
    fn a_workbook_reads_back() {
        use calamine::{Data, Reader, Xlsx};
        let rows = vec![
            vec!["name".to_string(), "gap".to_string()],
            vec!["王芳".to_string(), "2".to_string()],
            vec!["=1+1".to_string(), "007".to_string()],
        ];
        let bytes = xlsx_bytes(&[("gaps", &rows)]).expect("written");
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("read");
        let range = book.worksheet_range("gaps").expect("sheet");
        let cells: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
        assert_eq!(cells[1][0], Data::String("王芳".into()));
        assert_eq!(cells[1][1], Data::Float(2.0));
        assert_eq!(cells[2][0], Data::String("=1+1".into()));
        assert_eq!(cells[2][1], Data::String("007".into()));
    }
}
