//! Webhook subscriptions (`POST /subscriptions` with `url`, `update_types` and `secret`,
//! `GET /subscriptions`, `DELETE /subscriptions?url=`) and the deliveries the worker makes: one
//! `Update` per POST, with `X-Max-Bot-Api-Secret: <secret>` when the subscription has one
//! (max.md §5.2). MAX takes HTTPS on port 443 only; the sandbox, which has no network, also
//! takes plain HTTP on any port of a loopback address, where it delivers.

use axum::extract::Request;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{MaxError, query, refusal, success};
use super::{bot, bot_mut};
use crate::platforms::{Delivery, Outcome};
use crate::state::{Account, Shared};

/// The header MAX carries the subscription's secret in.
const SECRET_HEADER: &str = "x-max-bot-api-secret";

/// The bot's webhook subscription.
pub(super) struct Subscription {
    pub url: String,
    pub secret: Option<String>,
    /// The update types delivered (`None`: all).
    pub update_types: Option<Vec<String>>,
    pub version: Option<String>,
    /// When it was made (ms).
    pub time_ms: i64,
}

impl Subscription {
    pub(super) fn new(
        url: String,
        secret: Option<String>,
        update_types: Option<Vec<String>>,
        time_ms: i64,
    ) -> Self {
        Self {
            url,
            secret,
            update_types,
            version: None,
            time_ms,
        }
    }

    fn wants(&self, kind: &str) -> bool {
        self.update_types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == kind))
    }
}

/// HTTPS on port 443 (no other port), or HTTP(S) on a loopback address (where the sandbox
/// delivers).
pub(super) fn validate_url(url: &str) -> Result<(), MaxError> {
    let parsed =
        url::Url::parse(url).map_err(|_| MaxError::payload("Invalid url: not a valid URL"))?;
    let loopback = crate::webhook::is_loopback(&parsed);
    let ok = match parsed.scheme() {
        "https" => loopback || parsed.port_or_known_default() == Some(443),
        "http" => loopback,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(MaxError::payload(
            "Invalid url: a webhook must be HTTPS on port 443",
        ))
    }
}

/// 5–256 characters of `A-Z a-z 0-9 _ -` (max.md §5.2).
pub(super) fn validate_secret(secret: &str) -> Result<(), MaxError> {
    let ok = (5..=256).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(MaxError::payload(
            "Invalid secret: 5-256 characters of A-Z, a-z, 0-9, _ and -",
        ))
    }
}

/// The body of `POST /subscriptions` (`SubscriptionRequestBody`).
#[derive(Deserialize)]
struct SubscriptionBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    update_types: Option<Vec<String>>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

/// `POST /subscriptions`: subscribes (replacing the bot's subscription); long polling is
/// refused from then on.
pub(super) async fn subscribe(
    shared: &Shared,
    account_id: &str,
    req: Request,
) -> Result<Value, MaxError> {
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| MaxError::payload("Request body too large"))?;
    let body: SubscriptionBody =
        serde_json::from_slice(&bytes).map_err(|_| MaxError::payload("Invalid JSON body"))?;
    let url = body
        .url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| MaxError::payload("Missing required field: url"))?;
    validate_url(&url)?;
    let secret = body.secret.filter(|s| !s.is_empty());
    if let Some(secret) = &secret {
        validate_secret(secret)?;
    }
    let now = shared.now_ms();
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let bot = bot_mut(account).ok_or_else(MaxError::verify_token)?;
    let mut subscription = Subscription::new(url, secret, body.update_types, now);
    subscription.version = body.version;
    bot.subscription = Some(subscription);
    account.wake();
    tracing::debug!(account = %account_id, "sandbox max: subscribed");
    Ok(success())
}

/// `GET /subscriptions` (`GetSubscriptionsResult`; the secret is not shown).
pub(super) fn list(shared: &Shared, account_id: &str) -> Result<Value, MaxError> {
    let state = shared.lock();
    let bot = state
        .account(account_id)
        .ok()
        .and_then(bot)
        .ok_or_else(MaxError::verify_token)?;
    let subscriptions: Vec<Value> = bot
        .subscription
        .iter()
        .map(|s| {
            let mut v = json!({ "url": s.url, "time": s.time_ms });
            if let Some(types) = &s.update_types {
                v["update_types"] = json!(types);
            }
            if let Some(version) = &s.version {
                v["version"] = json!(version);
            }
            v
        })
        .collect();
    Ok(json!({ "subscriptions": subscriptions }))
}

/// `DELETE /subscriptions?url=`: unsubscribes `url` (`success: false` when the bot has no
/// subscription to it).
pub(super) fn unsubscribe(
    shared: &Shared,
    account_id: &str,
    req: &Request,
) -> Result<Value, MaxError> {
    let url = query(req.uri())
        .get("url")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| MaxError::payload("Missing required parameter: url"))?;
    let mut state = shared.lock();
    let account = state
        .account_mut(account_id)
        .map_err(|_| MaxError::verify_token())?;
    let bot = bot_mut(account).ok_or_else(MaxError::verify_token)?;
    if bot.subscription.as_ref().is_none_or(|s| s.url != url) {
        return Ok(refusal("No subscription to this url"));
    }
    bot.subscription = None;
    account.wake();
    tracing::debug!(account = %account_id, "sandbox max: unsubscribed");
    Ok(success())
}

/// The next update to POST to the subscription, with the secret header where one is set.
pub(super) fn next_delivery(account: &Account) -> Option<Delivery> {
    let bot = bot(account)?;
    let subscription = bot.subscription.as_ref()?;
    let update = bot.updates.iter().find(|u| subscription.wants(u.kind))?;
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(secret) = &subscription.secret {
        headers.push((SECRET_HEADER, secret.clone()));
    }
    Some(Delivery {
        url: subscription.url.clone(),
        headers,
        body: crate::state::json_bytes(&update.body),
        kind: update.kind,
        reference: update.marker.to_string(),
        key: u64::try_from(update.marker).ok()?,
    })
}

/// A success (or giving up) confirms the update and every update before it the subscription
/// does not take.
pub(super) fn delivery_done(account: &mut Account, key: u64, outcome: &Outcome<'_>) {
    let Some(bot) = bot_mut(account) else {
        return;
    };
    let Ok(marker) = i64::try_from(key) else {
        return;
    };
    if outcome.error.is_none() || outcome.give_up {
        bot.updates.retain(|u| u.marker > marker);
    }
}
