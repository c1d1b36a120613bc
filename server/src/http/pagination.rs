//! Keyset pagination at the edge: the list endpoints' query parameters and pages are the
//! foundation's types (services page with them too).

pub use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page, PageQuery};
