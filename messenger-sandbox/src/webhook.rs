//! Webhook deliveries: one worker per account POSTs what the account's emulator queued, in
//! order, retrying failures with backoff. The emulator shapes each delivery (URL, headers,
//! signature, body: see [`Emulator::next_delivery`](crate::platforms::Emulator::next_delivery));
//! the worker only carries it. The sandbox has no network: it delivers to loopback URLs only
//! and records any other URL as a failed delivery.

use std::sync::Arc;
use std::time::Duration;

use messenger_core::Error;
use tokio::sync::watch;

use crate::api::DeliveryRecord;
use crate::clock::to_datetime;
use crate::platforms::{Delivery, Outcome};
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

fn next_job(shared: &Shared, account_id: &str) -> Option<Delivery> {
    let state = shared.lock();
    let account = state.accounts.get(account_id)?;
    account.emulator.next_delivery(account)
}

/// The most of a receiver's answer the worker reads (to check what the platform expects).
const ANSWER_CAP: usize = 64 * 1024;

/// Reads at most [`ANSWER_CAP`] bytes of an answer (the rest is dropped).
async fn read_answer(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ANSWER_CAP.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    body
}

/// Whether the account's emulator takes a 2xx answer (VK wants the body `ok`).
fn answer_refusal(shared: &Shared, account_id: &str, key: u64, body: &[u8]) -> Option<String> {
    let state = shared.lock();
    let account = state.accounts.get(account_id)?;
    account.emulator.delivery_answer(account, key, body).err()
}

async fn post(shared: &Shared, account_id: &str, job: &Delivery) -> (Option<u16>, Option<String>) {
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
            // Read the body (the connection can be reused, and some platforms check it).
            let body = read_answer(response).await;
            if status.is_success() {
                let refusal = answer_refusal(shared, account_id, job.key, &body);
                (Some(status.as_u16()), refusal)
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
        let (status, error) = post(&shared, &account_id, &job).await;
        let ok = error.is_none();
        let give_up = !ok && attempts >= shared.config.webhook_max_attempts.max(1);
        let now = shared.now_ms();
        {
            let mut state = shared.lock();
            let Some(account) = state.accounts.get_mut(&account_id) else {
                return;
            };
            let outcome = Outcome {
                error: error.as_deref(),
                give_up,
                now_ms: now,
            };
            let emulator = account.emulator;
            emulator.delivery_done(account, job.key, &outcome);
            account.last_webhook_error.clone_from(&error);
            account.log_delivery(DeliveryRecord {
                kind: job.kind.to_string(),
                reference: job.reference,
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
