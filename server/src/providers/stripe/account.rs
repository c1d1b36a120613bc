//! Stripe's `GET /v1/account`: who a store's secret key (and Connect account) belongs to, so a
//! merchant learns that the key works, and whose it is, before a customer pays.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{NAME, STRIPE_VERSION, StripeAdapter};
use crate::providers::{
    account::{ClientContext, ClientError, ConnectionError, Credentials, ProviderAccount},
    payment::ProviderError,
    transport::{Answer, Transport},
};

/// Asks Stripe for the account of `credentials`: the platform's own, or the Connect account
/// they name (`Stripe-Account`).
pub(super) async fn check(
    adapter: &StripeAdapter,
    ctx: &ClientContext,
    credentials: &Credentials,
    correlation_id: &str,
) -> Result<ProviderAccount, ConnectionError> {
    let secret_key: &SecretString = credentials
        .get("secret_key")
        .ok_or(ClientError::Incomplete("secret_key"))?;
    let connect = credentials.setting("account_id");
    let url = format!("{}/v1/account", adapter.base_url(ctx)?);
    let transport = Transport::new(
        ctx.egress.clone(),
        ctx.timeout,
        ctx.db.clone(),
        Some(ctx.store),
        NAME,
    )
    .redacting(redact);
    let build = || {
        let mut request = transport
            .request(reqwest::Method::GET, &url)?
            .bearer_auth(secret_key.expose_secret())
            .header("stripe-version", STRIPE_VERSION);
        if let Some(account) = connect {
            request = request.header("stripe-account", account);
        }
        Ok(request)
    };
    Ok(transport
        .send(
            "check_connection",
            build,
            None,
            correlation_id,
            None,
            classify,
        )
        .await?)
}

/// Stripe's answer: the account, or its refusal by what may follow (a refused key is the
/// merchant's to fix; a rate limit or an outage passes).
fn classify(answer: Answer<'_>) -> Result<ProviderAccount, ProviderError> {
    let body: Value = serde_json::from_str(answer.text).unwrap_or(Value::Null);
    let code = || {
        let error = &body["error"];
        error["code"]
            .as_str()
            .or(error["type"].as_str())
            .unwrap_or("unknown")
            .to_owned()
    };
    match answer.status {
        200..=299 => read(&body).ok_or_else(|| {
            ProviderError::UnknownOutcome("an answer that is not an account".to_owned())
        }),
        status @ (401 | 403) => Err(ProviderError::Refused {
            status,
            code: code(),
        }),
        429 => Err(ProviderError::Retryable("rate_limited".to_owned())),
        300..=499 => Err(ProviderError::Rejected { code: code() }),
        status => Err(ProviderError::Retryable(format!(
            "stripe answered {status}"
        ))),
    }
}

fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// The fields of Stripe's account object we show.
fn read(body: &Value) -> Option<ProviderAccount> {
    Some(ProviderAccount {
        id: text(&body["id"]).filter(|id| id.starts_with("acct_"))?,
        name: text(&body["business_profile"]["name"])
            .or_else(|| text(&body["settings"]["dashboard"]["display_name"])),
        country: text(&body["country"]),
        default_currency: text(&body["default_currency"]).map(|c| c.to_ascii_uppercase()),
        charges_enabled: body["charges_enabled"].as_bool().unwrap_or(false),
    })
}

/// What the audit keeps of an answer: the fields we read, or the error's class. An account
/// object also carries its owner's email, address and representative's personal details.
fn redact(text: &str) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return String::new();
    };
    if body["error"].is_object() {
        return json!({"error": {"type": body["error"]["type"], "code": body["error"]["code"]}})
            .to_string();
    }
    match read(&body) {
        Some(account) => serde_json::to_string(&account).unwrap_or_default(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &Value) -> Result<ProviderAccount, ProviderError> {
        let text = body.to_string();
        classify(Answer {
            status,
            text: &text,
        })
    }

    #[test]
    fn the_account_reads_its_name_from_the_profile_or_the_dashboard() {
        let account = json!({"object": "account", "id": "acct_1Abc", "country": "DE",
            "default_currency": "eur", "charges_enabled": true, "email": "owner@shop.test",
            "business_profile": {"name": null},
            "settings": {"dashboard": {"display_name": "Shop GmbH"}}});
        assert_eq!(
            answer(200, &account),
            Ok(ProviderAccount {
                id: "acct_1Abc".into(),
                name: Some("Shop GmbH".into()),
                country: Some("DE".into()),
                default_currency: Some("EUR".into()),
                charges_enabled: true,
            })
        );
        let named = json!({"id": "acct_2", "business_profile": {"name": "Shop"},
            "settings": {"dashboard": {"display_name": "Other"}}});
        assert_eq!(answer(200, &named).map(|a| a.name), Ok(Some("Shop".into())));
        assert!(matches!(
            answer(200, &json!({"object": "balance"})),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }

    #[test]
    fn refusals_say_whose_move_it_is() {
        let refused = json!({"error": {"type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_****ijkl"}});
        assert_eq!(
            answer(401, &refused),
            Err(ProviderError::Refused {
                status: 401,
                code: "invalid_request_error".into()
            })
        );
        assert!(matches!(
            answer(
                403,
                &json!({"error": {"type": "permission_error", "code": "account_invalid"}})
            ),
            Err(ProviderError::Refused { status: 403, .. })
        ));
        assert!(matches!(
            answer(429, &Value::Null),
            Err(ProviderError::Retryable(_))
        ));
        assert!(matches!(
            answer(500, &Value::Null),
            Err(ProviderError::Retryable(_))
        ));
        assert!(matches!(
            answer(400, &json!({"error": {"code": "parameter_invalid"}})),
            Err(ProviderError::Rejected { .. })
        ));
    }

    #[test]
    fn the_audit_keeps_no_personal_details() {
        let account = json!({"id": "acct_1", "email": "owner@shop.test",
            "individual": {"first_name": "Ada"}, "business_profile": {"name": "Shop"}});
        let kept = redact(&account.to_string());
        assert!(kept.contains("acct_1") && kept.contains("Shop"), "{kept}");
        assert!(
            !kept.contains("owner@shop.test") && !kept.contains("Ada"),
            "{kept}"
        );
        let error = json!({"error": {"type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_****ijkl"}});
        assert!(!redact(&error.to_string()).contains("sk_test"));
        assert_eq!(redact("<html>"), "");
    }
}
