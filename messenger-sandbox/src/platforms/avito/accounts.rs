//! Accounts: built from an [`AccountSpec`] (the account id is the Avito `user_id`, the `token`
//! the app's client id, `app_secret` its client secret, `webhook_secret` the webhook token the
//! registered URLs carry), patched by the control API (a `webhook_url` is a subscription, with
//! the webhook token added), shown in the control view, the credentials a connector needs, and
//! `GET /core/v1/accounts/self`.

use std::collections::VecDeque;

use axum::extract::Request;
use axum::response::Response;
use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{Error, Result};
use serde_json::json;

use super::{Avito, Scope, Shop, St, api, shop, shop_mut};
use crate::api::{AccountPatch, AccountSpec, SandboxAccount};
use crate::state::{Account, Shared, State, random_alnum};

/// The query parameter of a registered URL that carries the webhook token (what
/// `connector_avito::webhook::TOKEN_PARAM` reads).
pub(super) const TOKEN_PARAM: &str = "token";

fn printable(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic())
}

/// `url` with the webhook token as the query parameter `token`, unless it carries one.
pub(super) fn with_token(url: &str, token: Option<&str>) -> Result<String> {
    let mut parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| Error::invalid_input("a webhook URL must be an http(s) URL"))?;
    if let Some(token) = token
        && !parsed.query_pairs().any(|(k, _)| k == TOKEN_PARAM)
    {
        parsed.query_pairs_mut().append_pair(TOKEN_PARAM, token);
    }
    Ok(parsed.into())
}

/// Builds a new account from a spec.
pub(super) fn new_account(
    _shared: &Shared,
    state: &mut State,
    spec: &AccountSpec,
) -> Result<Account> {
    let user_id: i64 = match spec.id.as_deref() {
        Some(id) => id
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::invalid_input("an Avito user id is a positive number"))?,
        None => 90_000_000 + i64::try_from(state.next_seq()).unwrap_or(0),
    };
    let client_id = spec.token.clone().unwrap_or_else(|| random_alnum(24));
    let client_secret = spec.app_secret.clone().unwrap_or_else(|| random_alnum(40));
    let webhook_token = spec
        .webhook_secret
        .clone()
        .unwrap_or_else(|| random_alnum(32));
    for (value, what) in [
        (&client_id, "client id"),
        (&client_secret, "client secret"),
        (&webhook_token, "webhook token"),
    ] {
        if !printable(value) {
            return Err(Error::invalid_input(format!(
                "an Avito {what} is printable ASCII without spaces"
            )));
        }
    }
    if spec.verify_token.is_some()
        || spec.phone_number_id.is_some()
        || spec.display_phone_number.is_some()
    {
        return Err(Error::invalid_input(
            "an Avito account has a client id (token), a client secret (app_secret), a webhook token (webhook_secret) and webhook URLs",
        ));
    }
    let mut shop = Shop {
        user_id,
        client_secret,
        webhook_token: Some(webhook_token),
        subscriptions: Vec::new(),
        outbox: VecDeque::new(),
        next_key: 1,
    };
    if let Some(url) = spec.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        shop.subscriptions
            .push(with_token(url, shop.webhook_token.as_deref())?);
    }
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox Avito Shop".to_string());
    Ok(Account::new(
        user_id.to_string(),
        &Avito,
        client_id,
        name,
        None,
        shop,
    ))
}

/// Applies the Avito parts of an account patch: `webhook_url` replaces the subscriptions with
/// one (with the webhook token added; an empty string unsubscribes every URL),
/// `webhook_secret` changes the webhook token (empty: none, so the connector refuses every
/// delivery), `app_secret` the client secret.
pub(super) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<()> {
    let Some(shop) = shop_mut(account) else {
        return Err(Error::invalid_input("not an Avito account"));
    };
    if patch.verify_token.is_some() || patch.out_of_order_statuses.is_some() {
        return Err(Error::invalid_input(
            "an Avito account has webhook URLs, a webhook token and a client secret only",
        ));
    }
    if let Some(secret) = &patch.app_secret {
        if !printable(secret) {
            return Err(Error::invalid_input(
                "an Avito client secret is printable ASCII without spaces",
            ));
        }
        shop.client_secret.clone_from(secret);
    }
    if let Some(token) = &patch.webhook_secret {
        if token.is_empty() {
            shop.webhook_token = None;
        } else if printable(token) {
            shop.webhook_token = Some(token.clone());
        } else {
            return Err(Error::invalid_input(
                "an Avito webhook token is printable ASCII without spaces",
            ));
        }
    }
    if let Some(url) = &patch.webhook_url {
        shop.subscriptions.clear();
        if !url.is_empty() {
            shop.subscriptions
                .push(with_token(url, shop.webhook_token.as_deref())?);
        }
    }
    super::webhook::forget_unsubscribed(account);
    account.wake();
    Ok(())
}

/// The Avito fields of the control view of an account.
pub(super) fn describe(account: &Account, view: &mut SandboxAccount) {
    let Some(shop) = shop(account) else {
        return;
    };
    view.app_secret = Some(shop.client_secret.clone());
    view.webhook_url = shop.subscriptions.first().cloned();
    view.webhook_secret.clone_from(&shop.webhook_token);
    view.pending = shop.outbox.len();
}

/// `client_id`, `client_secret`, `base_url` and `webhook_token`: the keys of
/// `connector_avito::ENTRY`.
pub(super) fn credentials(account: &Account, root: &str) -> Credentials {
    let mut credentials = Credentials::new()
        .with("client_id", account.token.clone())
        .with(BASE_URL, root);
    if let Some(shop) = shop(account) {
        credentials.set("client_secret", shop.client_secret.clone());
        if let Some(token) = &shop.webhook_token {
            credentials.set("webhook_token", token.clone());
        }
    }
    credentials
}

/// `GET /core/v1/accounts/self`: the token's account (`user:read`).
pub(super) async fn get_self(axum::extract::State(shared): St, req: Request) -> Response {
    api(
        shared,
        req,
        "getUserInfoSelf",
        Scope::User,
        |shared, caller, _req| async move {
            let state = shared.lock();
            let name = state
                .account(&caller.account)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            Ok(json!({
                "id": caller.user_id,
                "name": name,
                "profile_url": format!("https://www.avito.ru/user/{:x}/profile", caller.user_id),
            }))
        },
    )
    .await
}
