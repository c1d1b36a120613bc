//! Which engine taxes a store's quotes, and what happens when that engine is a tax service that
//! cannot answer: the store's fallback policy refuses the quote (`503 tax_unavailable`) or taxes
//! it with the store's own rates, the lines saying `engine: fallback`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Error, TaxContext, engine_repo};
use crate::{
    credentials::{self, CredentialError},
    providers::tax::{FALLBACK_ENGINE, RulesTax, TaxEngineError, TaxQuote, TaxRequest, TaxedLine},
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// What a quote does when the store's tax service cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Refuse the quote with `503 tax_unavailable` (nothing is charged on a guess).
    #[default]
    Refuse,
    /// Tax with the store's own rates; the lines say `engine: fallback`.
    Rules,
}

impl Fallback {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Refuse => "refuse",
            Fallback::Rules => "rules",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Fallback::Refuse, Fallback::Rules]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// A store's tax engine settings in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaxSettings {
    /// The engine quotes are taxed with: `rules` (the store's rates) or a tax service such as
    /// `taxapi` (its credentials stored for this environment).
    pub engine: String,
    /// What a quote does when the tax service cannot answer.
    pub fallback: Fallback,
    /// Every engine this server offers.
    pub engines: Vec<String>,
    /// Last changed (none: never set, the defaults apply).
    pub updated_at: Option<DateTime<Utc>>,
}

/// Body of `PUT /admin/tax/settings`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TaxSettingsInput {
    /// `rules` or a tax service's name.
    pub engine: String,
    /// `refuse` (default) or `rules`.
    #[serde(default)]
    pub fallback: Fallback,
}

fn engines(state: &AppState) -> Vec<String> {
    std::iter::once(RulesTax::NAME.to_owned())
        .chain(state.tax.engines().map(|e| e.name().to_owned()))
        .collect()
}

/// The store's settings (the defaults when never set).
pub async fn settings(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<TaxSettings, Error> {
    let row = state
        .caches
        .config
        .get_or_load(store, env, || engine_repo::settings(&state.db, store, env))
        .await?;
    let (engine, fallback, updated_at) = match row {
        None => (RulesTax::NAME.to_owned(), Fallback::Refuse, None),
        Some(row) => {
            let fallback = Fallback::parse(&row.fallback).ok_or_else(|| {
                Error::Db(crate::db::DbError::Query(sqlx::Error::Decode(
                    format!("unknown tax fallback {:?}", row.fallback).into(),
                )))
            })?;
            (row.engine, fallback, Some(row.updated_at))
        }
    };
    Ok(TaxSettings {
        engine,
        fallback,
        engines: engines(state),
        updated_at,
    })
}

/// Sets the engine and fallback, once the engine is offered and (for a tax service) the store
/// has its credentials in this environment: a quote never meets an engine it cannot call
/// because of a setting.
pub async fn put_settings(
    state: &AppState,
    store: StoreId,
    env: Environment,
    actor: &str,
    input: &TaxSettingsInput,
) -> Result<TaxSettings, Error> {
    let engine = input.engine.trim();
    if engine != RulesTax::NAME {
        let Some(adapter) = state.tax.engine(engine) else {
            return Err(InvalidValue::new(
                "engine",
                format!("one of: {}", engines(state).join(", ")),
            )
            .into());
        };
        if credentials::load(state, store, adapter.name(), env)
            .await?
            .is_none()
        {
            return Err(InvalidValue::new(
                "engine",
                format!("store the {engine} credentials for this environment first"),
            )
            .into());
        }
    }
    let mut tx = state.db.begin_write().await?;
    engine_repo::put_settings(
        &mut tx,
        store,
        env,
        engine,
        input.fallback.as_str(),
        actor,
        state.clock.now(),
    )
    .await?;
    // Cleared whatever the commit answers: one whose acknowledgement was lost may have landed.
    let committed = tx.commit().await;
    state.caches.config.changed();
    committed?;
    settings(state, store, env).await
}

/// A quote's tax: the lines and the engine that computed them.
#[derive(Debug, Clone)]
pub struct Quoted {
    /// Engine name, recorded on the lines (`fallback` when the store's rates stood in).
    pub engine: String,
    /// Its version.
    pub version: String,
    /// The lines, in the request's order.
    pub lines: Vec<TaxedLine>,
}

fn quoted(engine: &str, quote: TaxQuote) -> Quoted {
    Quoted {
        engine: engine.to_owned(),
        version: quote.version,
        lines: quote.lines,
    }
}

fn overflow() -> Error {
    InvalidValue::new("items", "amounts too large").into()
}

/// Taxes a quote's lines with the store's engine, under its fallback policy.
pub async fn quote(
    state: &AppState,
    store: StoreId,
    env: Environment,
    context: &TaxContext,
    request: &TaxRequest<'_>,
) -> Result<Quoted, Error> {
    let engine = context.settings.engine.as_str();
    if let Some(provider) = state.tax.get(engine) {
        return match provider.quote_tax(&context.config, request).await {
            Ok(quote) => Ok(quoted(provider.name(), quote)),
            Err(TaxEngineError::Overflow) => Err(overflow()),
            Err(TaxEngineError::Rejected { code, message }) => {
                Err(Error::Rejected { code, message })
            }
            Err(TaxEngineError::Unavailable(reason)) => Err(Error::Unavailable(reason)),
        };
    }
    let answer = match credentials::tax_client(state, store, engine, env).await {
        Ok(client) => client.quote_tax(&context.config, request).await,
        Err(CredentialError::NotFound) => Err(TaxEngineError::Unavailable(format!(
            "the tax engine {engine:?} is not offered by this server"
        ))),
        Err(err) => Err(TaxEngineError::Unavailable(err.to_string())),
    };
    let reason = match answer {
        Ok(quote) => return Ok(quoted(engine, quote)),
        Err(TaxEngineError::Overflow) => return Err(overflow()),
        Err(TaxEngineError::Rejected { code, message }) => {
            return Err(Error::Rejected { code, message });
        }
        Err(TaxEngineError::Unavailable(reason)) => reason,
    };
    match context.settings.fallback {
        Fallback::Refuse => {
            tracing::warn!(%store, engine, %reason, "tax service unavailable; quote refused");
            Err(Error::Unavailable(reason))
        }
        Fallback::Rules => {
            tracing::warn!(%store, engine, %reason, "tax service unavailable; taxed with the store's rates");
            let lines = RulesTax
                .compute(&context.config, request)
                .map_err(|_| overflow())?;
            Ok(Quoted {
                engine: FALLBACK_ENGINE.to_owned(),
                version: RulesTax::VERSION.to_owned(),
                lines,
            })
        }
    }
}
