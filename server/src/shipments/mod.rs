//! Shipments: packages, labels and tracking for an order's goods.

pub mod packing;
