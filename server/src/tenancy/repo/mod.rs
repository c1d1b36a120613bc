//! Tenancy's SQL, one file per aggregate. Each function takes the transaction (`&mut Tx`) when
//! it is one step of a flow's transaction, or the pool (`&Db`) when it stands alone.

pub mod api_keys;
pub mod customers;
pub mod members;
pub mod stores;
pub mod users;
