//! Why a catalogue operation refused.

use crate::{db::DbError, types::InvalidValue};

/// Failures of the catalogue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such product in the caller's store and environment.
    #[error("the requested resource does not exist")]
    NotFound,
    /// The store already has a product with this SKU.
    #[error("a product with this SKU already exists")]
    SkuTaken,
    /// An order line names an archived product (`items[i].product_id: …`).
    #[error("{0}: the product is archived and cannot be put in new orders")]
    Archived(String),
    /// A field of the product is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
}
