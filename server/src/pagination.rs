//! Keyset pagination: `?limit=&starting_after=<id>`, never OFFSET.
//!
//! Foundation: services page their lists with these types and the edge extracts them from the
//! query string (`http::pagination` re-exports them).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::types::InvalidValue;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// Query parameters of every list endpoint.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Return objects after this id (the last id of the previous page).
    pub starting_after: Option<Uuid>,
}

impl PageQuery {
    /// The validated page size.
    pub fn limit(&self) -> Result<u32, InvalidValue> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(InvalidValue::new("limit", "must be between 1 and 100")),
        }
    }

    /// The cursor; ids are UUIDv7, so the nil UUID sorts before every id.
    pub fn after(&self) -> Uuid {
        self.starting_after.unwrap_or(Uuid::nil())
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The objects, oldest first.
    pub data: Vec<T>,
    /// Whether more objects follow the last one.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, limit: u32) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Page {
            data: rows,
            has_more,
        }
    }
}
