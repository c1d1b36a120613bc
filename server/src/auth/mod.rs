//! Authentication: passwords, bearer secrets, login throttling and principals.

mod error;
pub mod policy;
pub mod principal;
pub mod repo;
mod routes;
pub mod service;
pub mod throttle;
pub mod tokens;

pub use error::Error;
pub use routes::router;
