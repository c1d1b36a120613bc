//! `shipments::Error` as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::shipments::Error;

fn described(status: StatusCode, code: &'static str, title: &'static str, err: &Error) -> ApiError {
    ApiError::Described {
        status,
        code,
        title,
        detail: err.to_string(),
    }
}

/// The carrier's refusals the API names; any other is `carrier_rejected`.
fn carrier_code(code: &str) -> &'static str {
    match code {
        "address_undeliverable" => "address_undeliverable",
        "country_not_served" => "country_not_served",
        "void_window_closed" => "void_window_closed",
        "rate_expired" => "shipping_rate_expired",
        "currency_not_supported" => "currency_not_supported",
        _ => "carrier_rejected",
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Packing(_) => described(
                unprocessable,
                "package_too_large",
                "Items do not fit the boxes",
                &err,
            ),
            Error::RateExpired => described(
                unprocessable,
                "shipping_rate_expired",
                "Shipping rate expired",
                &err,
            ),
            Error::RateStale => described(
                unprocessable,
                "shipping_rate_stale",
                "Shipping rate stale",
                &err,
            ),
            Error::RateNotPurchasable => described(
                unprocessable,
                "shipping_rate_not_purchasable",
                "Not a carrier's rate",
                &err,
            ),
            Error::PriceChanged { .. } => described(
                StatusCode::CONFLICT,
                "shipping_price_changed",
                "Shipping price changed",
                &err,
            ),
            Error::NotPaid => described(
                StatusCode::CONFLICT,
                "order_not_paid",
                "Order not paid",
                &err,
            ),
            Error::AlreadyShipped(_) => described(
                StatusCode::CONFLICT,
                "shipment_exists",
                "Order already has a shipment",
                &err,
            ),
            Error::CarrierRejected { ref code, .. } => {
                let code = carrier_code(code);
                described(unprocessable, code, "The carrier refused", &err)
            }
            Error::CarrierUnavailable => described(
                StatusCode::SERVICE_UNAVAILABLE,
                "carrier_unavailable",
                "Carrier unavailable",
                &err,
            ),
            Error::CarrierOutcomeUnknown => described(
                StatusCode::BAD_GATEWAY,
                "carrier_outcome_unknown",
                "Carrier outcome unknown",
                &err,
            ),
            Error::NotConfigured(_) => described(
                unprocessable,
                "shipping_not_configured",
                "Shipping not configured",
                &err,
            ),
            Error::State(refused) => ApiError::InvalidStateTransition(refused.to_string()),
            Error::Orders(err) => err.into(),
            Error::Credentials(err) => err.into(),
            Error::Db(err) => err.into(),
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}
