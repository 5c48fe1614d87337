//! The list envelope `{"items": [...], "total": N}` and limit/offset bounds.
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, FieldIssue, Msg};

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: u64,
}

/// The largest page a list answers.
pub const MAX_LIMIT: u64 = 200;

/// Checks `limit` (1..=200, default 50) and `offset` (0..=2^63-1, default 0).
pub fn bounds(limit: Option<u64>, offset: Option<u64>) -> Result<(u64, u64), AppError> {
    let limit = limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::Validation(vec![FieldIssue::new(
            "limit",
            Msg::new("validation.range")
                .arg("min", 1)
                .arg("max", MAX_LIMIT),
        )]));
    }
    let offset = offset.unwrap_or(0);
    // Databases take a signed 64-bit offset.
    if offset > i64::MAX as u64 {
        return Err(AppError::Validation(vec![FieldIssue::new(
            "offset",
            Msg::new("validation.range")
                .arg("min", 0)
                .arg("max", i64::MAX),
        )]));
    }
    Ok((limit, offset))
}
