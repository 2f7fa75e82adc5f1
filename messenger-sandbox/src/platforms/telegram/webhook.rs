//! Webhooks: `setWebhook` (HTTPS on the documented ports, or plain HTTP on loopback where the
//! sandbox delivers; `secret_token`), `deleteWebhook`, `getWebhookInfo`, and the deliveries
//! the worker makes: one update at a time, with `X-Telegram-Bot-Api-Secret-Token`.

use serde_json::{Value, json};

use super::envelope::{TgError, ok, ok_described, unauthorized};
use super::params::Params;
use super::{Webhook, bot, bot_mut};
use crate::platforms::{Delivery, Outcome};
use crate::state::{Account, Shared};

/// The next update to POST to the webhook, with the secret header if one is set.
pub(super) fn next_delivery(account: &Account) -> Option<Delivery> {
    let bot = bot(account)?;
    let webhook = bot.webhook.as_ref()?;
    let update = bot.updates.front()?;
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(secret) = &webhook.secret {
        headers.push(("x-telegram-bot-api-secret-token", secret.clone()));
    }
    Some(Delivery {
        url: webhook.url.clone(),
        headers,
        body: crate::state::json_bytes(&update.body),
        kind: "update",
        reference: update.id.to_string(),
        key: u64::try_from(update.id).ok()?,
    })
}

/// Records the outcome of a delivery: a success confirms the update; a failure is what
/// `getWebhookInfo` reports.
pub(super) fn delivery_done(account: &mut Account, key: u64, outcome: &Outcome<'_>) {
    let Some(bot) = bot_mut(account) else {
        return;
    };
    let Ok(update_id) = i64::try_from(key) else {
        return;
    };
    if outcome.error.is_none() || outcome.give_up {
        bot.updates.retain(|u| u.id != update_id);
    }
    if let Some(error) = outcome.error {
        bot.last_error_date = Some(outcome.now_ms.div_euclid(1000));
        bot.last_error_message = Some(error.to_string());
    }
}

/// HTTPS on ports 443, 80, 88 or 8443 (telegram.md §3 setWebhook); the sandbox also accepts
/// plain HTTP on any port for loopback addresses, where it delivers.
pub(super) fn validate_webhook_url(url: &str) -> Result<(), TgError> {
    let parsed = url::Url::parse(url).map_err(|_| TgError::bad("bad webhook: invalid URL"))?;
    let loopback = crate::webhook::is_loopback(&parsed);
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(TgError::bad(
                "bad webhook: An HTTPS URL must be provided for webhook",
            ));
        }
    }
    if !loopback && !matches!(parsed.port_or_known_default(), Some(443 | 80 | 88 | 8443)) {
        return Err(TgError::bad(
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    Ok(())
}

/// 1-256 characters of `A-Z a-z 0-9 _ -` (telegram.md §3 setWebhook).
pub(super) fn validate_secret(secret: &str) -> Result<(), TgError> {
    if secret.is_empty()
        || secret.len() > 256
        || !secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(TgError::bad("secret token contains unallowed characters"));
    }
    Ok(())
}

/// `setWebhook`.
pub(super) fn set_webhook(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let url = params.text("url").unwrap_or_default();
    let url = url.trim();
    let secret = params.non_empty("secret_token");
    if let Some(secret) = &secret {
        validate_secret(secret)?;
    }
    let max_connections = params.int("max_connections")?.unwrap_or(40);
    if !(1..=100).contains(&max_connections) {
        return Err(TgError::bad(
            "bad webhook: max_connections must be between 1 and 100",
        ));
    }
    if !url.is_empty() {
        validate_webhook_url(url)?;
    }
    let allowed = params.json("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    });
    let drop_pending = params.flag("drop_pending_updates");
    let ip_address = params.non_empty("ip_address");
    let mut state = shared.lock();
    let account = state.account_mut(account_id).map_err(|_| unauthorized())?;
    let bot = bot_mut(account).ok_or_else(unauthorized)?;
    if drop_pending {
        bot.updates.clear();
    }
    if let Some(allowed) = allowed {
        bot.allowed_updates = Some(allowed);
    }
    let description = if url.is_empty() {
        let had = bot.webhook.take().is_some();
        if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }
    } else {
        let same = bot
            .webhook
            .as_ref()
            .is_some_and(|w| w.url == url && w.secret == secret);
        bot.webhook = Some(Webhook {
            url: url.to_string(),
            secret,
            max_connections: u32::try_from(max_connections).unwrap_or(40),
            ip_address,
        });
        bot.last_error_date = None;
        bot.last_error_message = None;
        if same {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }
    };
    account.wake();
    tracing::debug!(account = %account_id, set = !url.is_empty(), "sandbox telegram: setWebhook");
    Ok(ok_described(json!(true), description))
}

/// `deleteWebhook`.
pub(super) fn delete_webhook(
    shared: &Shared,
    account_id: &str,
    params: &Params,
) -> Result<Value, TgError> {
    let drop_pending = params.flag("drop_pending_updates");
    let mut state = shared.lock();
    let account = state.account_mut(account_id).map_err(|_| unauthorized())?;
    let bot = bot_mut(account).ok_or_else(unauthorized)?;
    if drop_pending {
        bot.updates.clear();
    }
    let had = bot.webhook.take().is_some();
    account.wake();
    Ok(ok_described(
        json!(true),
        if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        },
    ))
}

/// `getWebhookInfo`.
pub(super) fn webhook_info(shared: &Shared, account_id: &str) -> Result<Value, TgError> {
    let state = shared.lock();
    let bot = state
        .account(account_id)
        .ok()
        .and_then(bot)
        .ok_or_else(unauthorized)?;
    let mut info = json!({
        "url": bot.webhook.as_ref().map_or("", |w| w.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": bot.updates.len(),
    });
    if let Some(webhook) = &bot.webhook {
        info["max_connections"] = json!(webhook.max_connections);
        if let Some(ip) = &webhook.ip_address {
            info["ip_address"] = json!(ip);
        }
        if let Some(date) = bot.last_error_date {
            info["last_error_date"] = json!(date);
        }
        if let Some(message) = &bot.last_error_message {
            info["last_error_message"] = json!(message);
        }
    }
    if let Some(allowed) = &bot.allowed_updates {
        info["allowed_updates"] = json!(allowed);
    }
    Ok(ok(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_follow_the_sheet() {
        assert!(validate_webhook_url("https://example.com/hook").is_ok());
        assert!(validate_webhook_url("https://example.com:8443/hook").is_ok());
        assert!(validate_webhook_url("https://example.com:9000/hook").is_err());
        assert!(validate_webhook_url("http://example.com/hook").is_err());
        assert!(validate_webhook_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(validate_secret("abc_DEF-123").is_ok());
        assert!(validate_secret("no spaces").is_err());
    }
}
