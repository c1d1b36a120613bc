//! Who may do what inside a store: the one place both the API's handlers and the console's
//! server functions ask, so a rule cannot hold in one and be missing from the other.
//!
//! Staff run the day-to-day in sandbox and read production; production money and production
//! secrets are the owners' (and the store's own production key's: it is the store's server).
//!
//! Every rule answers `Ok(())` or [`Error::Forbidden`].

use super::Error;
use crate::{
    identity::{Actor, Role},
    types::Environment,
};

fn allow(allowed: bool) -> Result<(), Error> {
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

fn is_owner(actor: Actor) -> bool {
    matches!(
        actor,
        Actor::User {
            role: Role::Owner,
            ..
        }
    )
}

/// Console users act on production only as owners; keys act in their own environment (the
/// scope already pins a key to it).
fn production_needs_owner(actor: Actor, environment: Environment) -> Result<(), Error> {
    allow(match actor {
        Actor::ApiKey(_) => true,
        Actor::User { role, .. } => environment == Environment::Sandbox || role == Role::Owner,
    })
}

/// Capture, void and refund of a payment in `environment`.
pub fn move_money(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Revoking a secret key of `environment`. Any key may revoke a key of its own environment
/// (a leaked key can be killed with the key itself); an `sk_live_` key is the owners' otherwise.
pub fn revoke_key(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Creating secret keys: console owners only (a key never mints keys).
pub fn create_key(actor: Actor) -> Result<(), Error> {
    allow(is_owner(actor))
}

/// Storing, replacing or deleting provider credentials of `target`, from a scope in `scope`:
/// a key manages its own environment's only; console users sandbox's, and production's as
/// owners.
pub fn manage_credentials(
    actor: Actor,
    scope: Environment,
    target: Environment,
) -> Result<(), Error> {
    match actor {
        Actor::ApiKey(_) => allow(scope == target),
        Actor::User { .. } => production_needs_owner(actor, target),
    }
}

/// Asking a provider who the stored credentials of `environment` belong to: it uses the
/// secrets, so production's are the owners' (and the store's own production key's).
pub fn check_credentials(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Buying and voiding shipping labels in `environment` (a label is charged to the store).
pub fn buy_labels(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Changing the shipping settings (ship-from address, boxes, capture on shipment) of
/// `environment`.
pub fn manage_shipping(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Changing the tax rates, nexus and customers' exemption certificates of `environment`.
pub fn manage_tax(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Changing the store's FX policy (settlement currency, presentment currencies, markup) of
/// `environment`: it sets the prices customers pay.
pub fn manage_fx(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Starting reconciliation runs and resolving what they found in `environment`.
pub fn reconcile(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Creating, changing and deleting outbound webhook endpoints of `environment`, rotating
/// their signing secrets (the answer reveals one) and resending their events: production's
/// are the owners' (and the store's own production key's), like its other secrets.
pub fn manage_webhook_endpoints(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Reading orders (the list, its export, one order) in `environment`: every member's and
/// every key's, production's too, since staff answer customers there.
pub fn read_orders(_actor: Actor, _environment: Environment) -> Result<(), Error> {
    Ok(())
}

/// Creating and changing products of `environment`, archiving them and setting their prices:
/// production's set what customers pay, so they are the owners' (and the store's own
/// production key's, which is how a store's back office syncs its catalogue); staff run the
/// sandbox catalogue. Reading is every member's.
pub fn manage_catalogue(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Minting a storefront token for a customer of `environment`: the token acts as that
/// customer (reads their orders, pays for them), so production's are the owners' (and the
/// store's own production key's, which is how a storefront's server signs its shoppers in);
/// staff mint sandbox's to test the storefront.
pub fn issue_customer_tokens(actor: Actor, environment: Environment) -> Result<(), Error> {
    production_needs_owner(actor, environment)
}

/// Listing a store's members: its console users (keys are not people).
pub fn list_members(actor: Actor) -> Result<(), Error> {
    allow(matches!(actor, Actor::User { .. }))
}

/// Adding members, changing their roles and removing them: owners only (keys are not people).
pub fn manage_members(actor: Actor) -> Result<(), Error> {
    allow(is_owner(actor))
}

/// Changing the store's profile (name, time zone): owners only, as its members are.
pub fn manage_store_profile(actor: Actor) -> Result<(), Error> {
    allow(is_owner(actor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ApiKeyId, UserId};

    fn user(role: Role) -> Actor {
        Actor::User {
            user_id: UserId::new(),
            role,
        }
    }

    #[test]
    fn staff_keep_sandbox_and_lose_production_money_and_keys() {
        let staff = user(Role::Staff);
        let owner = user(Role::Owner);
        let key = Actor::ApiKey(ApiKeyId::new());
        for rule in [move_money, revoke_key, issue_customer_tokens] {
            assert!(rule(staff, Environment::Sandbox).is_ok());
            assert!(rule(staff, Environment::Production).is_err());
            assert!(rule(owner, Environment::Production).is_ok());
            assert!(rule(key, Environment::Production).is_ok());
        }
        assert!(create_key(staff).is_err() && create_key(key).is_err());
        assert!(create_key(owner).is_ok());
        assert!(manage_members(staff).is_err() && manage_members(key).is_err());
        assert!(manage_members(owner).is_ok());
        assert!(list_members(staff).is_ok() && list_members(owner).is_ok());
        assert!(list_members(key).is_err());
    }

    #[test]
    fn credentials_follow_the_environment() {
        let (sandbox, production) = (Environment::Sandbox, Environment::Production);
        let key = Actor::ApiKey(ApiKeyId::new());
        assert!(manage_credentials(key, sandbox, sandbox).is_ok());
        assert!(manage_credentials(key, sandbox, production).is_err());
        assert!(manage_credentials(key, production, sandbox).is_err());
        let staff = user(Role::Staff);
        assert!(manage_credentials(staff, production, sandbox).is_ok());
        assert!(manage_credentials(staff, sandbox, production).is_err());
        assert!(manage_credentials(user(Role::Owner), sandbox, production).is_ok());
        assert!(check_credentials(staff, sandbox).is_ok());
        assert!(check_credentials(staff, production).is_err());
        assert!(check_credentials(user(Role::Owner), production).is_ok());
        assert!(check_credentials(key, production).is_ok());
    }
}
