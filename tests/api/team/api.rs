//! `POST /api/v1/admin/members`: an owner adds a person; someone new gets an account with a
//! one-time password (answered once, sealed in the idempotency record, to be changed at first
//! sign-in); only owners may, and the body is checked field by field.

use cassa_tests::{Backend, both_backends, spawn_app};
use serde_json::{Value, json};

use super::{MEMBERS, STAFF_PASSWORD, accounts, add, members_of, platform_member};
use crate::support::assert_problem;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn members(app: &cassa_tests::TestApp, token: &str, store: &str) -> reqwest::Response {
    app.client
        .get(app.url(MEMBERS))
        .bearer_auth(token)
        .header("cassa-store", store)
        .send()
        .await
        .unwrap()
}

async fn an_owner_adds_a_new_person_with_a_one_time_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let body = json!({"email": " New@Shop.test ", "role": "staff"});

    let first = add(&app, &owner, &store.id, Some("add-new"), body.clone()).await;
    assert_eq!(first.status(), 201);
    assert_eq!(
        first.headers().get("cache-control").unwrap(),
        "no-store",
        "the answer holds a password"
    );
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.bytes().await.unwrap();
    let added: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(added["email"], "new@shop.test", "{added}");
    assert_eq!(added["role"], "staff");
    assert_eq!(added["store_id"], store.id.as_str());
    let password = added["generated_password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 12, "{password}");

    // The same key answers the same (password included) and adds nobody twice.
    let again = add(&app, &owner, &store.id, Some("add-new"), body).await;
    assert_eq!(again.status(), 201);
    assert!(again.headers().get("idempotent-replayed").is_some());
    assert_eq!(again.bytes().await.unwrap(), first);
    assert_eq!(accounts(&app, "new@shop.test").await, 1);
    assert_eq!(members_of(&app, &store).await, 2);
    // The stored answer is sealed: the password is nowhere in plaintext.
    let bodies: Vec<Option<Vec<u8>>> = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT response_body FROM idempotency_keys").fetch_all(pool).await
    })
    .unwrap();
    assert!(!bodies.is_empty());
    for stored in bodies.into_iter().flatten() {
        assert!(!contains(&stored, password.as_bytes()));
        assert!(!contains(&stored, b"new@shop.test"), "sealed as a whole");
    }

    // The newcomer signs in with it and must choose their own password before anything else.
    let token = app.user_token("new@shop.test", &password).await;
    assert_problem(
        members(&app, &token, &store.id).await,
        403,
        "password_change_required",
    )
    .await;
    let changed = app
        .client
        .post(app.url("/api/v1/auth/password"))
        .bearer_auth(&token)
        .json(&json!({"current_password": password, "new_password": "my-own-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let token = app.user_token("new@shop.test", "my-own-password-1").await;
    let listed = members(&app, &token, &store.id).await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    let roles: Vec<(&str, &str)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("new@shop.test", "staff")), "{listed}");
    assert!(roles.contains(&("owner@shop.test", "owner")), "{listed}");

    // Someone with an account (another store's member) keeps their password: none is made.
    let other = app.create_store("Other", "EUR").await;
    platform_member(&app, &other, "ada@other.test", "staff").await;
    let response = add(
        &app,
        &owner,
        &store.id,
        Some("add-ada"),
        json!({"email": "ADA@other.test", "role": "owner"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let ada: Value = response.json().await.unwrap();
    assert_eq!(ada["role"], "owner");
    assert!(ada.get("generated_password").is_none(), "{ada}");
    assert_eq!(accounts(&app, "ada@other.test").await, 1);
    let ada = app.user_token("ada@other.test", STAFF_PASSWORD).await;
    assert_eq!(members(&app, &ada, &store.id).await.status(), 200);
}

async fn only_owners_add_members_and_each_field_is_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let other_owner = app.create_owner(&other, "owner@other.test").await;
    platform_member(&app, &store, "staff@shop.test", "staff").await;
    let staff = app.user_token("staff@shop.test", STAFF_PASSWORD).await;
    let body = json!({"email": "someone@shop.test", "role": "staff"});

    // Staff, a store key (not a person, even the store's own) and another store's owner are
    // refused, and nobody is added.
    for (token, key) in [
        (&staff, "staff"),
        (&store.sandbox_key, "key"),
        (&other_owner, "stranger"),
    ] {
        let response = add(&app, token, &store.id, Some(key), body.clone()).await;
        assert_problem(response, 403, "forbidden").await;
    }
    assert_eq!(accounts(&app, "someone@shop.test").await, 0);
    assert_eq!(members_of(&app, &store).await, 2);

    // A mutation needs its key.
    let response = add(&app, &owner, &store.id, None, body).await;
    assert_problem(response, 400, "idempotency_key_missing").await;

    // Each field is refused by name.
    let response = add(
        &app,
        &owner,
        &store.id,
        Some("bad-email"),
        json!({"email": "not-an-email", "role": "staff"}),
    )
    .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "email", "{problem}");
    let response = add(
        &app,
        &owner,
        &store.id,
        Some("bad-role"),
        json!({"email": "someone@shop.test", "role": "admin"}),
    )
    .await;
    let problem = assert_problem(response, 422, "invalid_body").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("role"),
        "{problem}"
    );
    assert_eq!(accounts(&app, "someone@shop.test").await, 0);

    // Someone already a member, in whatever role, is a conflict; their role stays.
    let response = add(
        &app,
        &owner,
        &store.id,
        Some("again"),
        json!({"email": "Staff@Shop.test", "role": "owner"}),
    )
    .await;
    assert_problem(response, 409, "conflict").await;
    let listed: Value = members(&app, &owner, &store.id).await.json().await.unwrap();
    let staff_row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "staff@shop.test")
        .cloned()
        .unwrap();
    assert_eq!(staff_row["role"], "staff");
}

both_backends!(
    an_owner_adds_a_new_person_with_a_one_time_password,
    only_owners_add_members_and_each_field_is_checked,
);
