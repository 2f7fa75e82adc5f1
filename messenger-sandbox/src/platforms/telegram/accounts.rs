//! Bots: built from an [`AccountSpec`] (the token's digits before `:` are
//! the bot id and the account id), patched by the control API, shown in its account view, and
//! the credentials a connector needs for them.

use std::collections::{BTreeMap, VecDeque};

use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{Error, Result};

use super::webhook::{validate_secret, validate_webhook_url};
use super::{BotState, Telegram, Webhook, bot, bot_mut};
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
        None => format!(
            "{}:AA{}",
            7_000_000_000u64 + state.next_seq(),
            random_alnum(33)
        ),
    };
    let (id_part, secret) = token
        .split_once(':')
        .ok_or_else(|| Error::invalid_input("a Telegram token looks like <bot id>:<secret>"))?;
    let bot_id: i64 = id_part.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::invalid_input("the bot id of a Telegram token must be a positive number")
    })?;
    if secret.is_empty()
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid_input(
            "the secret of a Telegram token must be [A-Za-z0-9_-]+",
        ));
    }
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox Bot".to_string());
    let username = spec
        .username
        .clone()
        .unwrap_or_else(|| format!("sandbox_{bot_id}_bot"));
    let mut bot = BotState {
        bot_id,
        username,
        updates: VecDeque::new(),
        next_update_id: 100_000_000 + i64::from(fastrand::u32(..1_000_000)),
        webhook: None,
        allowed_updates: None,
        poll_generation: 0,
        last_error_date: None,
        last_error_message: None,
        groups: BTreeMap::new(),
    };
    if let Some(url) = spec.webhook_url.as_deref().filter(|u| !u.is_empty()) {
        validate_webhook_url(url).map_err(|e| Error::invalid_input(e.description))?;
        let secret = spec.webhook_secret.clone().filter(|s| !s.is_empty());
        if let Some(secret) = &secret {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.description))?;
        }
        bot.webhook = Some(Webhook {
            url: url.to_string(),
            secret,
            max_connections: 40,
            ip_address: None,
        });
    }
    let bucket = shared
        .config
        .telegram_per_bot
        .map(|limit| TokenBucket::new(limit, shared.now_ms()));
    Ok(Account::new(
        bot_id.to_string(),
        &Telegram,
        token,
        name,
        bucket,
        bot,
    ))
}

/// Applies the Telegram parts of an account patch.
pub(super) fn patch_account(account: &mut Account, patch: &AccountPatch) -> Result<()> {
    let Some(bot) = bot_mut(account) else {
        return Err(Error::invalid_input("not a Telegram account"));
    };
    if let Some(url) = &patch.webhook_url {
        if url.is_empty() {
            bot.webhook = None;
        } else {
            validate_webhook_url(url).map_err(|e| Error::invalid_input(e.description))?;
            let secret = bot.webhook.as_ref().and_then(|w| w.secret.clone());
            bot.webhook = Some(Webhook {
                url: url.clone(),
                secret,
                max_connections: 40,
                ip_address: None,
            });
        }
    }
    if let Some(secret) = &patch.webhook_secret {
        let Some(webhook) = bot.webhook.as_mut() else {
            return Err(Error::invalid_input("no webhook is set"));
        };
        if secret.is_empty() {
            webhook.secret = None;
        } else {
            validate_secret(secret).map_err(|e| Error::invalid_input(e.description))?;
            webhook.secret = Some(secret.clone());
        }
    }
    account.wake();
    Ok(())
}

/// The Telegram fields of the control view of a bot.
pub(super) fn describe(account: &Account, view: &mut SandboxAccount) {
    let Some(bot) = bot(account) else {
        return;
    };
    view.username = Some(bot.username.clone());
    if let Some(webhook) = &bot.webhook {
        view.webhook_url = Some(webhook.url.clone());
        view.webhook_secret.clone_from(&webhook.secret);
    }
    view.pending = bot.updates.len();
}

/// `token`, `base_url` and `webhook_secret` (if a webhook with a secret is set).
pub(super) fn credentials(account: &Account, root: &str) -> Credentials {
    let mut credentials = Credentials::new()
        .with("token", account.token.clone())
        .with(BASE_URL, root);
    if let Some(secret) = bot(account)
        .and_then(|bot| bot.webhook.as_ref())
        .and_then(|w| w.secret.clone())
    {
        credentials.set("webhook_secret", secret);
    }
    credentials
}
