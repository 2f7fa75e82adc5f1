//! Bots: built from an [`AccountSpec`] (the account id is the bot's user id), patched by the
//! control API (a webhook URL and secret are a subscription, as if by `POST /subscriptions`),
//! shown in the control view, the credentials a connector needs, and `GET /me`.

use std::collections::VecDeque;

use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{Error, Result};
use serde_json::{Value, json};

use super::envelope::MaxError;
use super::webhook::{Subscription, validate_secret, validate_url};
use super::{BotState, Max, bot, bot_mut};
use crate::api::{AccountPatch, AccountSpec, SandboxAccount};
use crate::clock::TokenBucket;
use crate::state::{Account, Shared, State, random_alnum};

/// Builds a new bot account from a spec.
pub(super) fn new_account(
    shared: &Shared,
    state: &mut State,
    spec: &AccountSpec,
) -> Result<Account> {
    let token = match &spec.token {
        Some(token) => token.clone(),
        None => random_alnum(48),
    };
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::invalid_input(
            "a MAX bot token is printable ASCII without spaces",
        ));
    }
    let user_id: i64 = match spec.id.as_deref() {
        Some(id) => id
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::invalid_input("a MAX bot id is a positive number"))?,
        None => 500_000_000 + i64::try_from(state.next_seq()).unwrap_or(0),
    };
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox MAX Bot".to_string());
    let username = spec
        .username
        .clone()
        .unwrap_or_else(|| format!("sandbox_{user_id}_bot"));
    let now = shared.now_ms();
    let mut bot = BotState {
        user_id,
        username,
        updates: VecDeque::new(),
        next_marker: 25_000_000 + i64::from(fastrand::u32(..1_000_000)),
        subscription: None,
        next_seq: 116_327_994_376_978_687 + i64::from(fastrand::u32(..1_000_000)),
    };
    if let Some(url) = spec.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        validate_url(url).map_err(|e| Error::invalid_input(e.message))?;
        let secret = spec.webhook_secret.clone().filter(|s| !s.is_empty());
        if let Some(secret) = &secret {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.message))?;
        }
        bot.subscription = Some(Subscription::new(url.to_string(), secret, None, now));
    }
    let bucket = shared
        .config
        .max_per_bot
        .map(|limit| TokenBucket::new(limit, now));
    Ok(Account::new(
        user_id.to_string(),
        &Max,
        token,
        name,
        bucket,
        bot,
    ))
}

/// Applies the MAX parts of an account patch: `webhook_url` subscribes (an empty string
/// unsubscribes), `webhook_secret` changes the subscription's secret (empty: none).
pub(super) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<()> {
    let Some(bot) = bot_mut(account) else {
        return Err(Error::invalid_input("not a MAX account"));
    };
    if patch.app_secret.is_some()
        || patch.verify_token.is_some()
        || patch.out_of_order_statuses.is_some()
    {
        return Err(Error::invalid_input(
            "a MAX bot has a webhook URL and secret only",
        ));
    }
    if let Some(url) = &patch.webhook_url {
        if url.is_empty() {
            bot.subscription = None;
        } else {
            validate_url(url).map_err(|e| Error::invalid_input(e.message))?;
            // The control API has no sandbox clock here: a new subscription is timed by the
            // wall clock.
            bot.subscription = Some(match bot.subscription.take() {
                Some(old) => Subscription {
                    url: url.clone(),
                    ..old
                },
                None => Subscription::new(
                    url.clone(),
                    None,
                    None,
                    chrono::Utc::now().timestamp_millis(),
                ),
            });
        }
    }
    if let Some(secret) = &patch.webhook_secret {
        let Some(subscription) = bot.subscription.as_mut() else {
            return Err(Error::invalid_input("the bot has no webhook subscription"));
        };
        if secret.is_empty() {
            subscription.secret = None;
        } else {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.message))?;
            subscription.secret = Some(secret.clone());
        }
    }
    account.wake();
    Ok(())
}

/// The MAX fields of the control view of a bot.
pub(super) fn describe(account: &Account, view: &mut SandboxAccount) {
    let Some(bot) = bot(account) else {
        return;
    };
    view.username = Some(bot.username.clone());
    if let Some(subscription) = &bot.subscription {
        view.webhook_url = Some(subscription.url.clone());
        view.webhook_secret.clone_from(&subscription.secret);
    }
    view.pending = bot.updates.len();
}

/// `token`, `base_url` and `webhook_secret` (when the subscription has one): the keys of
/// `connector_max::ENTRY`.
pub(super) fn credentials(account: &Account, root: &str) -> Credentials {
    let mut credentials = Credentials::new()
        .with("token", account.token.clone())
        .with(BASE_URL, root);
    if let Some(secret) = bot(account)
        .and_then(|bot| bot.subscription.as_ref())
        .and_then(|s| s.secret.clone())
    {
        credentials.set("webhook_secret", secret);
    }
    credentials
}

/// The bot as a `User` of messages it sends.
pub(super) fn bot_user(account: &Account, bot: &BotState, now_ms: i64) -> Value {
    json!({
        "user_id": bot.user_id,
        "first_name": account.name,
        "username": bot.username,
        "is_bot": true,
        "last_activity_time": now_ms,
        "name": account.name,
    })
}

/// `GET /me` (`BotInfo`).
pub(super) fn get_me(shared: &Shared, account_id: &str) -> Result<Value, MaxError> {
    let now = shared.now_ms();
    let state = shared.lock();
    let account = state
        .account(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let bot = bot(account).ok_or_else(MaxError::verify_token)?;
    let mut me = bot_user(account, bot, now);
    me["description"] = json!("A bot of the messenger-connectors sandbox");
    Ok(me)
}
