//! Payment, shipping and tax providers. `sandbox` is Cassa's own simulated PSP.

pub mod account;
pub mod audit;
mod connection;
pub mod payment;
pub mod registry;
pub mod sandbox;
pub mod shipping;
pub mod signature;
pub mod stripe;
pub mod tax;
pub mod transport;
