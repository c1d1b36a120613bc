//! A second payment provider added the way the architecture promises: implement
//! `PaymentAdapter`, register it, and payments, credentials and webhooks work with it without
//! an edit anywhere in them. "Acme" is a tiny PSP served over HTTP by the test itself (mounted
//! beside the API, reached through the same guarded client as any provider).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use cassa::{
    egress::Egress,
    money::MinorUnits,
    providers::{
        account::{
            AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials, mask, only_fields,
            string_field,
        },
        payment::{
            CallContext, EventOperation, PaymentAdapter, PaymentProvider, ProviderError,
            ProviderEvent, ProviderTransaction,
        },
        registry::PaymentRegistry,
        sandbox::SandboxAdapter,
        signature::{self, SignatureError},
    },
    types::InvalidValue,
};
use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app_with};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::payments::shop::Shop;

const TOKEN: &str = "acme_test_token_0123456789";
const WEBHOOK_SECRET: &str = "acme_whsec_0123456789abcdef";

/// Acme's side: charges by id, and the idempotency keys it has seen.
#[derive(Clone, Default)]
struct AcmePsp {
    charges: Arc<Mutex<HashMap<String, Value>>>,
    keys: Arc<Mutex<HashMap<String, String>>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

fn psp_router(psp: AcmePsp) -> Router<cassa::state::AppState> {
    async fn create(
        State(psp): State<AcmePsp>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        if !authorized(&headers) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"code": "bad_token"})));
        }
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(id) = psp.keys.lock().unwrap().get(&key).cloned() {
            let charge = psp.charges.lock().unwrap()[&id].clone();
            return (StatusCode::OK, Json(charge));
        }
        let id = format!("ch_{}", Uuid::now_v7().simple());
        let charge = json!({"id": id, "status": "authorized", "amount": body["amount"],
            "captured": 0, "refunded": 0});
        psp.charges
            .lock()
            .unwrap()
            .insert(id.clone(), charge.clone());
        psp.keys.lock().unwrap().insert(key, id);
        (StatusCode::OK, Json(charge))
    }
    async fn act(
        State(psp): State<AcmePsp>,
        Path((id, action)): Path<(String, String)>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        if !authorized(&headers) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"code": "bad_token"})));
        }
        let mut charges = psp.charges.lock().unwrap();
        let Some(charge) = charges.get_mut(&id) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"code": "no_such_charge"})),
            );
        };
        let amount = charge["amount"].as_i64().unwrap_or_default();
        match action.as_str() {
            "capture" => {
                let take = body["amount"].as_i64().unwrap_or(amount);
                charge["captured"] = json!(take);
                charge["status"] = json!("captured");
            }
            "void" => charge["status"] = json!("voided"),
            "refund" => {
                let refunded = charge["refunded"].as_i64().unwrap_or_default();
                charge["refunded"] = json!(refunded + body["amount"].as_i64().unwrap_or(0));
            }
            _ => {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": "no_such_action"})),
                );
            }
        }
        (StatusCode::OK, Json(charge.clone()))
    }
    async fn show(State(psp): State<AcmePsp>, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
        match psp.charges.lock().unwrap().get(&id) {
            Some(charge) => (StatusCode::OK, Json(charge.clone())),
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"code": "no_such_charge"})),
            ),
        }
    }
    Router::new()
        .route("/acme-psp/charges", post(create))
        .route("/acme-psp/charges/{id}", get(show))
        .route("/acme-psp/charges/{id}/{action}", post(act))
        .with_state(psp)
}

/// Acme's client, over HTTP through the server's guarded client.
struct AcmeClient {
    egress: Egress,
    base: String,
    token: SecretString,
}

impl AcmeClient {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<ProviderTransaction, ProviderError> {
        let mut request = self
            .egress
            .request(method, &format!("{}{path}", self.base))
            .map_err(|e| ProviderError::Rejected {
                code: format!("egress_refused: {e}"),
            })?
            .bearer_auth(self.token.expose_secret());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ProviderError::UnknownOutcome(e.to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| ProviderError::UnknownOutcome(e.to_string()))?;
        if !status.is_success() {
            return Err(ProviderError::Rejected {
                code: body["code"].as_str().unwrap_or("error").to_owned(),
            });
        }
        let amount = |field: &str| MinorUnits(body[field].as_i64().unwrap_or_default());
        Ok(ProviderTransaction {
            id: body["id"].as_str().unwrap_or_default().to_owned(),
            status: body["status"].as_str().unwrap_or_default().to_owned(),
            amount: amount("amount"),
            captured: amount("captured"),
            refunded: amount("refunded"),
            next_action: None,
            multicapture: false,
        })
    }
}

impl PaymentProvider for AcmeClient {
    fn name(&self) -> &'static str {
        "acme"
    }
    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
        _return_url: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        let body = json!({"amount": amount.0, "currency": currency, "method": payment_method});
        Box::pin(self.call(
            reqwest::Method::POST,
            "/charges",
            Some(&ctx.idempotency_key),
            Some(body),
        ))
    }
    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
        _keep_rest: bool,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        let body = json!({"amount": amount.map(|a| a.0)});
        Box::pin(async move {
            self.call(
                reqwest::Method::POST,
                &format!("/charges/{id}/capture"),
                Some(&ctx.idempotency_key),
                Some(body),
            )
            .await
        })
    }
    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            self.call(
                reqwest::Method::POST,
                &format!("/charges/{id}/void"),
                Some(&ctx.idempotency_key),
                Some(json!({})),
            )
            .await
        })
    }
    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            self.call(
                reqwest::Method::POST,
                &format!("/charges/{id}/refund"),
                Some(&ctx.idempotency_key),
                Some(json!({"amount": amount.0})),
            )
            .await
        })
    }
    fn get_transaction<'a>(
        &'a self,
        _correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            self.call(reqwest::Method::GET, &format!("/charges/{id}"), None, None)
                .await
        })
    }
}

/// Acme as the platform knows it.
struct AcmeAdapter;

impl AccountAdapter for AcmeAdapter {
    fn name(&self) -> &'static str {
        "acme"
    }

    fn parse_credentials(
        &self,
        body: &Value,
        _egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(body, &["token", "webhook_secret"])?;
        Ok(Credentials::new("acme")
            .with("token", string_field(body, "token", true)?)
            .with(
                "webhook_secret",
                string_field(body, "webhook_secret", true)?,
            ))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        json!({"token": mask(credentials.get("token")),
            "webhook_secret": mask(credentials.get("webhook_secret"))})
    }

    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let secret = credentials
            .setting("webhook_secret")
            .ok_or(SignatureError::BadSecret)?;
        let header = headers.get("acme-signature").and_then(|v| v.to_str().ok());
        signature::verify_stripe(secret, header, body, now)
    }

    fn event_id(&self, _headers: &axum::http::HeaderMap, payload: &Value) -> Option<String> {
        payload["id"].as_str().map(str::to_owned)
    }
}

impl PaymentAdapter for AcmeAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError> {
        Ok(Box::new(AcmeClient {
            egress: ctx.egress.clone(),
            base: format!("{}/api/v1/acme-psp", ctx.self_url),
            token: credentials
                .get("token")
                .cloned()
                .ok_or(ClientError::Incomplete("token"))?,
        }))
    }

    fn parse_event(&self, payload: &Value) -> ProviderEvent {
        match payload["type"].as_str() {
            Some("charge.captured") => ProviderEvent::Payment {
                operation: EventOperation::Capture,
                provider_payment_id: payload["charge"].as_str().map(str::to_owned),
                reference: None,
            },
            _ => ProviderEvent::Ignored,
        }
    }
}

async fn acme_shop(backend: Backend) -> Shop {
    let registry = PaymentRegistry::new("acme")
        .register(Arc::new(SandboxAdapter))
        .register(Arc::new(AcmeAdapter));
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            payment_providers: Some(registry),
            extra_api: Some(psp_router(AcmePsp::default())),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Acme shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    Shop { app, store, token }
}

async fn a_registered_provider_takes_credentials_payments_and_webhooks(backend: Backend) {
    let shop = acme_shop(backend).await;
    let app = &shop.app;

    // Credentials: the provider's own fields, masked by its rules; others are refused.
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/admin/credentials/acme/sandbox"))
            .bearer_auth(&shop.store.sandbox_key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&body)
            .send()
    };
    let refused = put(json!({"api_key": "x"})).await.unwrap();
    assert_eq!(refused.status(), 422);
    let stored = put(json!({"token": TOKEN, "webhook_secret": WEBHOOK_SECRET}))
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let view: Value = stored.json().await.unwrap();
    assert_eq!(view["provider"], "acme");
    assert_eq!(view["masked"]["token"], "acme…6789");

    // A payment goes to the registry's default provider, and later operations to the
    // provider the intent names.
    let (order, intent) = shop.authorized().await;
    assert_eq!(intent["status"], "authorized");
    let intent_id: Uuid = intent["id"].as_str().unwrap().parse().unwrap();
    let column = |name: &'static str| {
        let sql = format!("SELECT {name} FROM payment_intents WHERE id = $1");
        async move {
            let value: String = cassa::on_db!(&app.db, pool => sqlx::query_scalar(&sql)
                .bind(intent_id).fetch_one(pool).await)
            .unwrap();
            value
        }
    };
    assert_eq!(column("provider").await, "acme");
    let captured = shop.op(&order, &intent, "capture", json!({})).await;
    assert_eq!(captured.status(), 200);
    let captured: Value = captured.json().await.unwrap();
    assert_eq!(captured["status"], "captured");

    // Acme's signed webhook is verified with Acme's scheme and stored for processing.
    let charge = column("provider_payment_id").await;
    assert!(charge.starts_with("ch_"));
    let body = json!({"id": "evt_1", "type": "charge.captured", "charge": charge}).to_string();
    let now = chrono::Utc::now().timestamp();
    let deliver = |signature: String| {
        app.client
            .post(app.url(&format!("/api/v1/webhooks/acme/{}", shop.store.id)))
            .header("acme-signature", signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let forged = deliver(signature::sign_stripe(
        "not_the_secret",
        now,
        body.as_bytes(),
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), 401);
    let delivered = deliver(signature::sign_stripe(WEBHOOK_SECRET, now, body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    let received: Value = delivered.json().await.unwrap();
    assert_eq!(received["duplicate"], false);
    let mut status = String::new();
    for _ in 0..50 {
        status = shop
            .scalar_text("SELECT status FROM webhook_events WHERE provider_event_id = 'evt_1'")
            .await;
        if status == "processed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "processed");
}
both_backends!(a_registered_provider_takes_credentials_payments_and_webhooks);
