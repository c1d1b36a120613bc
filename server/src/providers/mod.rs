//! Payment, shipping and tax providers. `sandbox` is Cassa's own simulated PSP.

pub mod audit;
pub mod payment;
pub mod sandbox;
pub mod shipping;
pub mod tax;
