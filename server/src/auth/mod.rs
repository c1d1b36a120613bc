//! Authentication: passwords, bearer secrets, login throttling and principals.

pub mod policy;
pub mod principal;
mod routes;
pub mod service;
pub mod throttle;
pub mod tokens;

pub use routes::router;
