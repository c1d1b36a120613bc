//! Catalogue: the store's products in the environment shown, through the same services and
//! role policy as `/api/v1/admin/products` (reading is every member's; changing is
//! `policy::manage_catalogue`'s: production's are the owners'). Prices are typed and shown in
//! major units; the service keeps minor units.

use app::backend::{
    BoxFuture, ConsoleResult, FieldError,
    catalogue::{
        CatalogueBackend, CataloguePageView, CatalogueQuery, ProductForm, ProductOutcome,
        ProductRow,
    },
};
use axum::http::request::Parts;

use super::{
    ServerBackend,
    context::{Signed, require_signed},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    catalog::{self, CreateProduct, Product, ProductQuery, UpdateProduct},
    money::{Money, format_amount, parse_major_amount},
    state::AppState,
    tenancy,
    types::{Currency, Environment, InvalidValue, ProductId, StoreId},
};

/// Products per page of the list.
const PAGE: u32 = 25;

fn row(p: &Product, times: &Times) -> ProductRow {
    ProductRow {
        id: p.id.to_string(),
        sku: p.sku.clone(),
        name: p.name.clone(),
        price: format_amount(p.unit_amount.0, p.currency.code()),
        price_input: Money::new(p.unit_amount, p.currency).major().to_string(),
        currency: p.currency.code().to_owned(),
        tax_code: p.tax_code.clone(),
        weight_grams: p.weight_grams,
        dimensions_mm: (p.length_mm, p.width_mm, p.height_mm),
        price_includes_tax: p.price_includes_tax,
        archived_at: p.archived_at.map(|t| times.stamp(t)),
    }
}

fn refused(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The service's refusal as the form's: the price is typed in major units in `price`.
fn form_field(invalid: InvalidValue) -> FieldError {
    let field = match invalid.field {
        "unit_amount" => "price",
        other => other,
    };
    refused(field, invalid.message)
}

/// A whole number typed in a form; empty is 0 (not given).
fn whole(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> i32 {
    let raw = raw.trim();
    if raw.is_empty() {
        return 0;
    }
    match raw.parse::<i32>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(refused(field, "enter a whole number, such as 250"));
            0
        }
    }
}

/// What the form says, read: the price in minor units of `currency`, the numbers as numbers;
/// every field that cannot be read is refused at once (the service then checks the ranges).
struct Read {
    unit_amount: i64,
    weight_grams: i32,
    length_mm: i32,
    width_mm: i32,
    height_mm: i32,
}

fn read(form: &ProductForm, currency: Option<Currency>) -> Result<Read, Vec<FieldError>> {
    let mut errors = Vec::new();
    let unit_amount = match currency {
        // The currency is refused by itself; a price cannot be read without it.
        None => 0,
        Some(currency) => match parse_major_amount(&form.price, currency) {
            Ok(amount) => amount.0,
            Err(why) => {
                errors.push(refused("price", why.to_string()));
                0
            }
        },
    };
    let weight_grams = whole("weight_grams", &form.weight_grams, &mut errors);
    let length_mm = whole("length_mm", &form.length_mm, &mut errors);
    let width_mm = whole("width_mm", &form.width_mm, &mut errors);
    let height_mm = whole("height_mm", &form.height_mm, &mut errors);
    if errors.is_empty() {
        Ok(Read {
            unit_amount,
            weight_grams,
            length_mm,
            width_mm,
            height_mm,
        })
    } else {
        Err(errors)
    }
}

/// An id from a form or the address bar; anything unparsable is as unknown as another
/// store's.
fn product_id(raw: &str) -> ConsoleResult<ProductId> {
    raw.trim().parse().map_err(|_| missing())
}

fn missing() -> String {
    "No such product in this store and environment.".to_owned()
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The store and environment, once the policy lets the user change the catalogue there.
async fn manager(state: &AppState, req: &Parts) -> ConsoleResult<(StoreId, Environment)> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_catalogue).await?;
    Ok((store, env))
}

/// The store, the environment and whether the user may change the catalogue there.
async fn reader(state: &AppState, signed: &Signed) -> ConsoleResult<(StoreId, Environment, bool)> {
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    Ok((store, env, policy::manage_catalogue(actor, env).is_ok()))
}

async fn page(
    state: &AppState,
    req: &Parts,
    query: CatalogueQuery,
) -> ConsoleResult<CataloguePageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, env, can_manage) = reader(state, &signed).await?;
    let store_currency = tenancy::stores::find(state, store)
        .await
        .map_err(shown)?
        .currency
        .code()
        .to_owned();
    let q = nonempty(query.q);
    let after = nonempty(query.after);
    let mut view = CataloguePageView {
        products: Vec::new(),
        // A refused filter is echoed as typed, so it can be corrected in place.
        q: q.clone().unwrap_or_default(),
        archived: nonempty(query.archived.clone()).unwrap_or_else(|| "false".to_owned()),
        next_after: None,
        paged: after.is_some(),
        filter_error: None,
        editing: None,
        editing_error: None,
        can_manage,
        store_currency,
    };
    let starting_after = match after.as_deref().map(str::parse::<uuid::Uuid>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            view.filter_error = Some(refused("after", "no such page; start again"));
            None
        }
    };
    if view.filter_error.is_none() {
        let api_query = ProductQuery {
            limit: Some(PAGE),
            starting_after,
            q,
            archived: query.archived,
        };
        match catalog::service::list(state, store, env, &api_query).await {
            Ok(page) => {
                view.next_after = page
                    .has_more
                    .then(|| page.data.last().map(|p| p.id.to_string()))
                    .flatten();
                view.products = page.data.iter().map(|p| row(p, &times)).collect();
            }
            Err(catalog::Error::Invalid(invalid)) => view.filter_error = Some(form_field(invalid)),
            Err(other) => return Err(shown(other)),
        }
    }
    if let Some(raw) = nonempty(query.edit) {
        let found = match product_id(&raw) {
            Ok(id) => catalog::service::find(state, store, env, id).await,
            Err(_) => Err(catalog::Error::NotFound),
        };
        match found {
            Ok(product) => view.editing = Some(row(&product, &times)),
            Err(catalog::Error::NotFound) => view.editing_error = Some(missing()),
            Err(other) => return Err(shown(other)),
        }
    }
    Ok(view)
}

/// The service's answer to a form: refused fields go back beside them.
fn outcome(
    result: Result<Product, catalog::Error>,
    saved: impl FnOnce(&Product) -> String,
) -> ConsoleResult<ProductOutcome> {
    match result {
        Ok(product) => Ok(ProductOutcome::Saved(saved(&product))),
        Err(catalog::Error::Invalid(invalid)) => {
            Ok(ProductOutcome::Refused(vec![form_field(invalid)]))
        }
        Err(catalog::Error::SkuTaken) => Ok(ProductOutcome::Refused(vec![refused(
            "sku",
            "another product has this SKU",
        )])),
        Err(other) => Err(shown(other)),
    }
}

async fn create(state: &AppState, req: &Parts, form: ProductForm) -> ConsoleResult<ProductOutcome> {
    let (store, env) = manager(state, req).await?;
    let code = match nonempty(form.currency.clone()) {
        Some(code) => code.to_ascii_uppercase(),
        None => tenancy::stores::find(state, store)
            .await
            .map_err(shown)?
            .currency
            .code()
            .to_owned(),
    };
    let currency = Currency::parse(&code).ok();
    let mut errors = Vec::new();
    if currency.is_none() {
        errors.push(refused(
            "currency",
            format!("`{code}` is not an ISO 4217 currency"),
        ));
    }
    let numbers = match read(&form, currency) {
        Ok(numbers) => Some(numbers),
        Err(more) => {
            errors.extend(more);
            None
        }
    };
    let Some(numbers) = numbers.filter(|_| errors.is_empty()) else {
        return Ok(ProductOutcome::Refused(errors));
    };
    let input = CreateProduct {
        sku: form.sku,
        name: form.name,
        unit_amount: numbers.unit_amount,
        currency: code,
        tax_code: Some(form.tax_code),
        weight_grams: Some(numbers.weight_grams),
        length_mm: Some(numbers.length_mm),
        width_mm: Some(numbers.width_mm),
        height_mm: Some(numbers.height_mm),
        price_includes_tax: Some(form.price_includes_tax),
    };
    outcome(
        catalog::service::create(state, store, env, input).await,
        |p| format!("Added {} ({}).", p.name, p.sku),
    )
}

async fn update(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    form: ProductForm,
) -> ConsoleResult<ProductOutcome> {
    let (store, env) = manager(state, req).await?;
    let id = product_id(&raw_id)?;
    let current = match catalog::service::find(state, store, env, id).await {
        Ok(product) => product,
        Err(catalog::Error::NotFound) => return Err(missing()),
        Err(other) => return Err(shown(other)),
    };
    let numbers = match read(&form, Some(current.currency)) {
        Ok(numbers) => numbers,
        Err(errors) => return Ok(ProductOutcome::Refused(errors)),
    };
    let patch = UpdateProduct {
        sku: Some(form.sku),
        name: Some(form.name),
        unit_amount: Some(numbers.unit_amount),
        tax_code: Some(form.tax_code),
        weight_grams: Some(numbers.weight_grams),
        length_mm: Some(numbers.length_mm),
        width_mm: Some(numbers.width_mm),
        height_mm: Some(numbers.height_mm),
        price_includes_tax: Some(form.price_includes_tax),
        archived: None,
    };
    outcome(
        catalog::service::update(state, store, env, id, patch).await,
        |p| format!("Saved {} ({}).", p.name, p.sku),
    )
}

async fn set_archived(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    archived: bool,
) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = product_id(&raw_id)?;
    let patch = UpdateProduct {
        archived: Some(archived),
        ..UpdateProduct::default()
    };
    let product = match catalog::service::update(state, store, env, id, patch).await {
        Ok(product) => product,
        Err(catalog::Error::NotFound) => return Err(missing()),
        Err(other) => return Err(shown(other)),
    };
    Ok(if archived {
        format!(
            "Archived {} ({}): new orders refuse it; it is listed under the Archived filter.",
            product.name, product.sku
        )
    } else {
        format!(
            "{} ({}) is active again and can be ordered.",
            product.name, product.sku
        )
    })
}

impl CatalogueBackend for ServerBackend {
    fn catalogue_page<'a>(
        &'a self,
        req: &'a Parts,
        query: CatalogueQuery,
    ) -> BoxFuture<'a, ConsoleResult<CataloguePageView>> {
        Box::pin(page(&self.state, req, query))
    }

    fn create_product<'a>(
        &'a self,
        req: &'a Parts,
        form: ProductForm,
    ) -> BoxFuture<'a, ConsoleResult<ProductOutcome>> {
        Box::pin(create(&self.state, req, form))
    }

    fn update_product<'a>(
        &'a self,
        req: &'a Parts,
        product_id: String,
        form: ProductForm,
    ) -> BoxFuture<'a, ConsoleResult<ProductOutcome>> {
        Box::pin(update(&self.state, req, product_id, form))
    }

    fn set_product_archived<'a>(
        &'a self,
        req: &'a Parts,
        product_id: String,
        archived: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(set_archived(&self.state, req, product_id, archived))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(price: &str) -> ProductForm {
        ProductForm {
            price: price.to_owned(),
            weight_grams: " 250 ".to_owned(),
            ..ProductForm::default()
        }
    }

    #[test]
    fn prices_are_read_in_major_units_of_the_currency() {
        let usd = Currency::parse("USD").ok();
        let read_ok = read(&form("12.34"), usd)
            .ok()
            .map(|r| (r.unit_amount, r.weight_grams));
        assert_eq!(read_ok, Some((1234, 250)));
        let refused = read(&form("12.345"), usd).err().unwrap_or_default();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "price");
        assert!(
            refused[0].message.contains("decimal"),
            "{}",
            refused[0].message
        );
        let jpy = Currency::parse("JPY").ok();
        assert_eq!(
            read(&form("1,234"), jpy).ok().map(|r| r.unit_amount),
            Some(1234)
        );
    }

    #[test]
    fn every_unreadable_number_is_refused_beside_its_field() {
        let mut bad = form("1.00");
        bad.weight_grams = "heavy".to_owned();
        bad.height_mm = "1.5".to_owned();
        let refused = read(&bad, Currency::parse("USD").ok())
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = refused.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(fields, ["weight_grams", "height_mm"]);
    }

    #[test]
    fn the_service_speaks_of_unit_amount_and_the_form_of_price() {
        assert_eq!(
            form_field(InvalidValue::new("unit_amount", "x")).field,
            "price"
        );
        assert_eq!(form_field(InvalidValue::new("sku", "x")).field, "sku");
    }
}
