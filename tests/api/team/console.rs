//! Settings → Team's server functions: the list, and an owner's add (fields refused by name, a
//! new account's one-time password answered once), role changes (an owner demoting themselves
//! confirms it; the last owner stays, in words) and removals (confirmed), all under the API's
//! `policy::manage_members`: staff read and are refused the rest.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::Value;

use super::{OWNER_PASSWORD, STAFF_PASSWORD, accounts, members_of, platform_member};
use crate::support::{console_answer as answer, console_fn, console_sign_in};

/// A server function's JSON answer, which must succeed.
/// A server function's refusal text.
async fn refusal(response: reqwest::Response) -> String {
    assert!(!response.status().is_success(), "{}", response.status());
    response.text().await.unwrap()
}

async fn team(app: &TestApp, cookie: &str) -> Value {
    answer(console_fn(app, "team_page", &[], Some(cookie)).await).await
}

/// The listed member with `email`.
fn row<'a>(team: &'a Value, email: &str) -> &'a Value {
    team["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not listed: {team}"))
}

async fn add(app: &TestApp, cookie: &str, email: &str, role: &str) -> reqwest::Response {
    console_fn(
        app,
        "add_member",
        &[("email", email), ("role", role)],
        Some(cookie),
    )
    .await
}

async fn change(
    app: &TestApp,
    cookie: &str,
    user_id: &str,
    role: &str,
    confirm: bool,
) -> reqwest::Response {
    let mut form = vec![("user_id", user_id), ("role", role)];
    if confirm {
        form.push(("confirm", "yes"));
    }
    console_fn(app, "change_member_role", &form, Some(cookie)).await
}

async fn remove(app: &TestApp, cookie: &str, user_id: &str, confirm: bool) -> reqwest::Response {
    let mut form = vec![("user_id", user_id)];
    if confirm {
        form.push(("confirm", "yes"));
    }
    console_fn(app, "remove_member", &form, Some(cookie)).await
}

async fn owners_manage_the_team_and_staff_read_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    app.create_owner(&store, "owner@shop.test").await;
    let staff_id = platform_member(&app, &store, "staff@shop.test", "staff").await;
    let stranger_id = platform_member(&app, &other, "stranger@other.test", "owner").await;
    let owner = console_sign_in(&app, "owner@shop.test", OWNER_PASSWORD).await;
    let staff = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;

    // Everyone reads the list; only owners may manage it.
    let seen = team(&app, &owner).await;
    assert_eq!(seen["store_name"], "Shop");
    assert_eq!(seen["can_manage"], true);
    assert_eq!(seen["members"].as_array().unwrap().len(), 2, "{seen}");
    assert_eq!(row(&seen, "owner@shop.test")["is_you"], true);
    assert_eq!(row(&seen, "owner@shop.test")["role"], "owner");
    assert_eq!(row(&seen, "staff@shop.test")["is_you"], false);
    assert!(row(&seen, "staff@shop.test")["since"]["text"].is_string());
    let owner_id = row(&seen, "owner@shop.test")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read_only = team(&app, &staff).await;
    assert_eq!(read_only["can_manage"], false);
    assert_eq!(read_only["members"].as_array().unwrap().len(), 2);
    assert_eq!(row(&read_only, "staff@shop.test")["is_you"], true);
    assert_eq!(row(&read_only, "owner@shop.test")["is_you"], false);

    // Staff are refused every change, as the API refuses them.
    for response in [
        add(&app, &staff, "someone@shop.test", "staff").await,
        change(&app, &staff, &staff_id, "owner", false).await,
        remove(&app, &staff, &owner_id, true).await,
    ] {
        let text = refusal(response).await;
        assert!(text.contains("Only the store's owners"), "{text}");
    }
    assert_eq!(accounts(&app, "someone@shop.test").await, 0);

    // Refused fields come back by name, each with why.
    let refused = answer(add(&app, &owner, "ada@example", "admin").await).await;
    let fields: Vec<&str> = refused["Refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "role"], "{refused}");
    let refused = answer(add(&app, &owner, "Staff@Shop.test", "owner").await).await;
    assert_eq!(refused["Refused"][0]["field"], "email", "{refused}");
    assert!(
        refused["Refused"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already a member"),
        "{refused}"
    );

    // Someone new: an account, and its one-time password answered this once.
    let added = answer(add(&app, &owner, " New@Shop.test ", "staff").await).await;
    let added = &added["Added"];
    assert_eq!(added["email"], "new@shop.test", "{added}");
    assert_eq!(added["role"], "staff");
    let password = added["one_time_password"].as_str().unwrap();
    app.user_token("new@shop.test", password).await;
    let new_cookie = console_sign_in(&app, "new@shop.test", password).await;
    let must_change: Value = answer(console_fn(&app, "viewer", &[], Some(&new_cookie)).await).await;
    assert_eq!(must_change["must_change_password"], true);
    let seen = team(&app, &owner).await;
    assert_eq!(seen["members"].as_array().unwrap().len(), 3);
    assert!(
        !seen.to_string().contains(password),
        "listed, never revealed"
    );
    let new_id = row(&seen, "new@shop.test")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The only owner cannot make themselves staff, confirmed or not: said in words.
    for confirm in [false, true] {
        let text = refusal(change(&app, &owner, &owner_id, "staff", confirm).await).await;
        assert!(
            text.contains("owner@shop.test is the store's only owner"),
            "{text}"
        );
    }

    // Roles change; another store's member is not found.
    let text = answer(change(&app, &owner, &staff_id, "owner", false).await).await;
    assert_eq!(text, "staff@shop.test is owner now.");
    assert_eq!(
        row(&team(&app, &owner).await, "staff@shop.test")["role"],
        "owner"
    );
    let text = refusal(change(&app, &owner, &stranger_id, "staff", false).await).await;
    assert!(text.contains("No such member"), "{text}");
    let text = refusal(remove(&app, &owner, &stranger_id, true).await).await;
    assert!(text.contains("No such member"), "{text}");
    let text = refusal(change(&app, &owner, "not-an-id", "staff", false).await).await;
    assert!(text.contains("No such member"), "{text}");

    // An owner making themselves staff confirms it first.
    let text = refusal(change(&app, &owner, &owner_id, "staff", false).await).await;
    assert!(text.contains("Tick the confirmation"), "{text}");
    assert_eq!(
        row(&team(&app, &owner).await, "owner@shop.test")["role"],
        "owner"
    );
    let text = answer(change(&app, &owner, &owner_id, "staff", true).await).await;
    assert!(
        text.as_str().unwrap().starts_with("You are staff now"),
        "{text}"
    );
    assert_eq!(team(&app, &owner).await["can_manage"], false);

    // The last owner (staff@ since promoted) can be neither demoted nor removed: said in words.
    let text = refusal(change(&app, &staff, &staff_id, "staff", true).await).await;
    assert!(
        text.contains("staff@shop.test is the store's only owner"),
        "{text}"
    );
    let text = refusal(remove(&app, &staff, &staff_id, true).await).await;
    assert!(
        text.contains("staff@shop.test is the store's only owner"),
        "{text}"
    );
    assert_eq!(
        row(&team(&app, &staff).await, "staff@shop.test")["role"],
        "owner"
    );

    // Removal is confirmed, then done; the account stays.
    let text = refusal(remove(&app, &staff, &new_id, false).await).await;
    assert!(text.contains("Confirm the removal"), "{text}");
    let removed = remove(&app, &staff, &new_id, true).await;
    assert!(removed.status().is_success() || removed.status().is_redirection());
    let seen = team(&app, &staff).await;
    assert_eq!(seen["members"].as_array().unwrap().len(), 2, "{seen}");
    assert_eq!(accounts(&app, "new@shop.test").await, 1);
    assert_eq!(members_of(&app, &store).await, 2);
}

both_backends!(owners_manage_the_team_and_staff_read_it);
