//! Payment, shipping and tax providers. `sandbox` is Cassa's own simulated PSP.

pub mod audit;
pub mod egress;
pub mod payment;
pub mod sandbox;
