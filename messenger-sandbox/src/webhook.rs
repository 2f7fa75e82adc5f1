//! Webhook deliveries: one worker per account POSTs what the platform module queued, in
//! order, retrying failures with backoff. Telegram updates carry
//! `X-Telegram-Bot-Api-Secret-Token`; WhatsApp events carry `X-Hub-Signature-256` over the raw
//! body with the app secret. The sandbox has no network: it delivers to loopback URLs only and
//! records any other URL as a failed delivery.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use messenger_core::{Error, Platform};
use tokio::sync::watch;

use crate::api::DeliveryRecord;
use crate::clock::to_datetime;
use crate::platforms::{telegram, whatsapp};
use crate::state::Shared;

/// A URL that parses as http(s).
pub(crate) fn check_url(url: &str) -> Result<(), Error> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(Error::invalid_input("a webhook URL must be an http(s) URL")),
    }
}

/// Whether a URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether the sandbox may POST to this URL (http(s) on loopback only: it has no network).
pub(crate) fn deliverable(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| is_loopback(&u) && matches!(u.scheme(), "http" | "https"))
}

/// One delivery to make.
struct Job {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    kind: &'static str,
    reference: String,
    key: JobKey,
}

enum JobKey {
    Telegram(i64),
    WhatsApp(u64),
}

fn next_job(shared: &Shared, account_id: &str) -> Option<Job> {
    let state = shared.lock();
    let account = state.accounts.get(account_id)?;
    match account.platform {
        Platform::Telegram => {
            let (update_id, url, secret, body) = telegram::next_delivery(account)?;
            let mut headers = vec![("content-type", "application/json".to_string())];
            if let Some(secret) = secret {
                headers.push(("x-telegram-bot-api-secret-token", secret));
            }
            Some(Job {
                url,
                headers,
                body,
                kind: "update",
                reference: update_id.to_string(),
                key: JobKey::Telegram(update_id),
            })
        }
        Platform::WhatsApp => {
            let (seq, url, secret, body, kind, reference) = whatsapp::next_delivery(account)?;
            let signature = format!(
                "sha256={}",
                messenger_core::webhook::hmac_sha256_hex(secret.as_bytes(), &body)
            );
            Some(Job {
                url,
                headers: vec![
                    ("content-type", "application/json".to_string()),
                    ("x-hub-signature-256", signature),
                    ("user-agent", "facebookexternalua".to_string()),
                ],
                body,
                kind,
                reference,
                key: JobKey::WhatsApp(seq),
            })
        }
        _ => None,
    }
}

async fn post(shared: &Shared, job: &Job) -> (Option<u16>, Option<String>) {
    if !deliverable(&job.url) {
        return (
            None,
            Some("the sandbox delivers webhooks to loopback addresses only".to_string()),
        );
    }
    let mut request = shared.http.post(&job.url).body(job.body.clone());
    for (name, value) in &job.headers {
        request = request.header(*name, value);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            // Drain the body so the connection can be reused.
            let _ = response.bytes().await;
            if status.is_success() {
                (Some(status.as_u16()), None)
            } else {
                (
                    Some(status.as_u16()),
                    Some(format!(
                        "Wrong response from the webhook: {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    )),
                )
            }
        }
        Err(err) => {
            let why = if err.is_timeout() {
                "Timeout expired"
            } else if err.is_connect() {
                "Connection refused"
            } else {
                "Connection failed"
            };
            (None, Some(why.to_string()))
        }
    }
}

/// Delivers an account's queue until the sandbox shuts down.
pub(crate) async fn worker(
    shared: Arc<Shared>,
    account_id: String,
    mut wake: watch::Receiver<u64>,
) {
    let mut attempts: u32 = 0;
    loop {
        wake.mark_unchanged();
        let Some(job) = next_job(&shared, &account_id) else {
            attempts = 0;
            if wake.changed().await.is_err() {
                return;
            }
            continue;
        };
        attempts += 1;
        let (status, error) = post(&shared, &job).await;
        let ok = error.is_none();
        let give_up = !ok && attempts >= shared.config.webhook_max_attempts.max(1);
        let now = shared.now_ms();
        {
            let mut state = shared.lock();
            let Some(account) = state.accounts.get_mut(&account_id) else {
                return;
            };
            match job.key {
                JobKey::Telegram(update_id) => {
                    telegram::delivery_done(account, update_id, error.clone(), now, give_up);
                }
                JobKey::WhatsApp(seq) => whatsapp::delivery_done(account, seq, ok, give_up),
            }
            account.last_webhook_error.clone_from(&error);
            account.log_delivery(DeliveryRecord {
                kind: job.kind.to_string(),
                reference: job.reference.clone(),
                status,
                error: error.clone(),
                at: to_datetime(now),
            });
        }
        tracing::debug!(
            account = %account_id,
            kind = job.kind,
            status = ?status,
            ok,
            attempts,
            "sandbox: webhook delivery"
        );
        if ok || give_up {
            attempts = 0;
            continue;
        }
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        let delay = shared
            .config
            .webhook_retry_delay
            .saturating_mul(factor)
            .min(Duration::from_secs(30));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            changed = wake.changed() => {
                if changed.is_err() {
                    return;
                }
                // A configuration change (a new URL) retries at once.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}
