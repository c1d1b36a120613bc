//! A store's shipping settings per environment: where it ships from, its boxes, and whether
//! buying a label captures the order's payment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Error,
    packing::{self, BoxSize},
    repo,
};
use crate::{
    address::{Address, AddressInput},
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// Most boxes a store may configure.
const MAX_BOXES: usize = 20;

/// The settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippingSettings {
    /// Where parcels leave from (carriers need it to rate); `null` until set.
    pub ship_from: Option<Address>,
    /// Boxes packing chooses from (the defaults when none are set).
    pub boxes: Vec<BoxSize>,
    /// Whether buying a label captures the order's authorized payment.
    pub capture_on_shipment: bool,
}

/// Body of `PUT /admin/shipping/settings`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SettingsInput {
    /// Where parcels leave from.
    pub ship_from: AddressInput,
    /// Boxes (1–20); the defaults when absent.
    #[schema(min_items = 1, max_items = 20)]
    pub boxes: Option<Vec<BoxSize>>,
    /// Capture the payment when the label is bought (default `false`).
    pub capture_on_shipment: Option<bool>,
}

/// The settings of a store and environment (defaults when never set).
pub async fn load_settings(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<ShippingSettings, Error> {
    let Some(row) = repo::settings(&state.db, store, env).await? else {
        return Ok(ShippingSettings {
            ship_from: None,
            boxes: packing::default_boxes(),
            capture_on_shipment: false,
        });
    };
    let internal = |e: serde_json::Error| Error::Internal(anyhow::anyhow!("stored settings: {e}"));
    Ok(ShippingSettings {
        ship_from: Some(serde_json::from_str(&row.ship_from).map_err(internal)?),
        boxes: serde_json::from_str(&row.boxes).map_err(internal)?,
        capture_on_shipment: row.capture_on_shipment,
    })
}

/// Replaces the settings of a store and environment.
pub async fn put_settings(
    state: &AppState,
    store: StoreId,
    env: Environment,
    input: SettingsInput,
) -> Result<ShippingSettings, Error> {
    let ship_from = input
        .ship_from
        .normalize()
        .map_err(|e| InvalidValue::new("ship_from", format!("{}: {}", e.field, e.message)))?;
    let boxes = input.boxes.unwrap_or_else(packing::default_boxes);
    if boxes.is_empty() || boxes.len() > MAX_BOXES {
        return Err(InvalidValue::new("boxes", "between 1 and 20 boxes").into());
    }
    // The packer refuses a box it could not use; ask it with one tiny item.
    let probe = packing::Item {
        line_no: 0,
        weight_grams: 0,
        length_mm: 1,
        width_mm: 1,
        height_mm: 1,
    };
    if let Err(err) = packing::pack(&[probe], &boxes) {
        return Err(InvalidValue::new("boxes", err.to_string()).into());
    }
    let settings = ShippingSettings {
        ship_from: Some(ship_from),
        boxes,
        capture_on_shipment: input.capture_on_shipment.unwrap_or(false),
    };
    let internal = |e: serde_json::Error| Error::Internal(anyhow::anyhow!("settings: {e}"));
    let row = repo::SettingsRow {
        ship_from: serde_json::to_string(&settings.ship_from).map_err(internal)?,
        boxes: serde_json::to_string(&settings.boxes).map_err(internal)?,
        capture_on_shipment: settings.capture_on_shipment,
        updated_at: state.clock.now(),
    };
    repo::put_settings(&state.db, store, env, &row).await?;
    Ok(settings)
}
