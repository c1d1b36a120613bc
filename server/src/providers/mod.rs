//! Payment, shipping and tax providers. `sandbox` is Cassa's own simulated PSP.

pub mod audit;
pub mod payment;
pub mod registry;
pub mod sandbox;
pub mod signature;
pub mod stripe;
