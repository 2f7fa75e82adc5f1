//! Long-poll workers: every account that takes its messages by long polling (Telegram
//! `getUpdates`, MAX `/updates`, VK Bots Long Poll) is polled by exactly one node at a time.
//!
//! Each node runs a manager that, every third of the lease:
//! - lists the accounts that should be polled (active, a platform that long-polls, intake not
//!   set to `webhook`);
//! - takes the lease `poll:{account}` of each one it does not hold, when it is free or expired
//!   ([`Inbox::acquire_lease`]), and starts a poller for it;
//! - renews the leases it holds; a poller whose lease was not renewed stops **before** the lease
//!   runs out (a margin of a sixth of the lease), so the next holder never polls at the same
//!   time; a lease it lost (someone else took it) stops its poller at once;
//! - stops pollers of accounts that should no longer be polled and gives their leases up.
//!
//! A poller stores every event through [`Inbox::ingest`] before it asks the stream for the
//! next one, and the core's driver confirms a batch to the platform only when the next is
//! fetched: a node that dies loses nothing, and the next holder gets the unconfirmed updates
//! again (ingest is idempotent). A poller whose stream fails (bad credentials, a conflicting
//! poller) gives its lease up and the account is tried again after a pause.
//!
//! [`Inbox::acquire_lease`]: messenger_inbox::Inbox::acquire_lease
//! [`Inbox::ingest`]: messenger_inbox::Inbox::ingest

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use messenger_inbox::{Account, AccountKey, AccountState, Lease};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Intake;
use crate::state::ServerState;

/// The lease name of an account's poller.
pub fn lease_name(account: AccountKey) -> String {
    format!("poll:{account}")
}

/// What the manager knows of one poller it runs.
struct Held {
    lease: Lease,
    deadline: watch::Sender<Instant>,
    task: JoinHandle<()>,
}

/// An observer of pollers starting and stopping (tests record intervals with it).
pub type PollObserver = std::sync::Arc<dyn Fn(AccountKey, bool) + Send + Sync>;

/// Runs this node's poll manager until `stop` turns true; then stops every poller and gives
/// its leases up.
pub async fn run(
    state: ServerState,
    node: String,
    lease: Duration,
    mut stop: watch::Receiver<bool>,
    observer: Option<PollObserver>,
) {
    let tick = (lease / 3).max(Duration::from_millis(50));
    let margin = lease / 6;
    let mut held: HashMap<AccountKey, Held> = HashMap::new();
    let mut pause: HashMap<AccountKey, Instant> = HashMap::new();
    let metrics_gauge = |n: usize| {
        state
            .metrics()
            .poll_leases
            .store(n as i64, Ordering::SeqCst);
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let inbox = state.inbox().clone();
        let wanted: Vec<Account> = match inbox.accounts_unchecked().await {
            Ok(accounts) => accounts
                .into_iter()
                .filter(|a| {
                    a.state == AccountState::Active
                        && state.intake_of(a) == Intake::Poll
                        && state
                            .inner
                            .provider
                            .connectors()
                            .entry(a.platform)
                            .is_some()
                })
                .collect(),
            Err(e) => {
                tracing::warn!(kind = %e.kind(), "poll manager: accounts could not be read");
                Vec::new()
            }
        };
        // Renew, or stop, what is held.
        let keys: Vec<AccountKey> = held.keys().copied().collect();
        for key in keys {
            let still_wanted = wanted.iter().any(|a| a.id == key);
            let finished = held.get(&key).is_some_and(|h| h.task.is_finished());
            if !still_wanted || finished {
                if let Some(h) = held.remove(&key) {
                    h.task.abort();
                    let _ = inbox.release_lease(&h.lease).await;
                    state
                        .metrics()
                        .count("poll_lease_changes_total", &[("change", "released")]);
                    if let Some(o) = &observer {
                        o(key, false);
                    }
                    if finished {
                        // The stream failed: let another node (or this one, later) try.
                        pause.insert(key, Instant::now() + lease);
                    }
                }
                continue;
            }
            let renewal_started = Instant::now();
            let renewed = inbox
                .renew_lease(&held[&key].lease, lease)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(kind = %e.kind(), "poll lease could not be renewed");
                    None
                });
            match renewed {
                Some(l) => {
                    if let Some(h) = held.get_mut(&key) {
                        h.lease = l;
                        let _ = h.deadline.send(renewal_started + lease - margin);
                    }
                }
                None => {
                    if let Some(h) = held.remove(&key) {
                        h.task.abort();
                        state
                            .metrics()
                            .count("poll_lease_changes_total", &[("change", "lost")]);
                        tracing::warn!(account = key.0, "poll lease lost; poller stopped");
                        if let Some(o) = &observer {
                            o(key, false);
                        }
                    }
                }
            }
        }
        // Take what is free.
        for account in &wanted {
            if held.contains_key(&account.id) {
                continue;
            }
            if pause
                .get(&account.id)
                .is_some_and(|until| Instant::now() < *until)
            {
                continue;
            }
            let asked = Instant::now();
            match inbox
                .acquire_lease(&lease_name(account.id), &node, lease)
                .await
            {
                Ok(Some(l)) => {
                    let (deadline, deadline_rx) = watch::channel(asked + lease - margin);
                    if let Some(o) = &observer {
                        o(account.id, true);
                    }
                    let task = tokio::spawn(poll_account(
                        state.clone(),
                        account.clone(),
                        deadline_rx,
                        observer.clone(),
                    ));
                    state
                        .metrics()
                        .count("poll_lease_changes_total", &[("change", "acquired")]);
                    tracing::info!(account = account.id.0, platform = %account.platform, node = %node, "polling");
                    held.insert(
                        account.id,
                        Held {
                            lease: l,
                            deadline,
                            task,
                        },
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(kind = %e.kind(), "poll lease could not be taken"),
            }
        }
        metrics_gauge(held.len());
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(tick) => {}
        }
    }
    for (key, h) in held.drain() {
        h.task.abort();
        let _ = h.task.await;
        let _ = state.inbox().release_lease(&h.lease).await;
        if let Some(o) = &observer {
            o(key, false);
        }
    }
    metrics_gauge(0);
}

/// Polls one account until its deadline passes without renewal, or its stream ends.
async fn poll_account(
    state: ServerState,
    account: Account,
    mut deadline: watch::Receiver<Instant>,
    observer: Option<PollObserver>,
) {
    let key = account.id;
    let label = account.platform.as_str();
    let metrics = state.metrics();
    let stream = async {
        let messenger = state.messenger(&account).await.map_err(|e| e.to_string())?;
        messenger.updates().map_err(|e| e.to_string())
    };
    let mut stream = tokio::select! {
        s = stream => match s {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(account = key.0, error = %e, "poller could not start");
                return;
            }
        },
        () = wait_deadline(&mut deadline) => return,
    };
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            () = wait_deadline(&mut deadline) => {
                tracing::warn!(account = key.0, "poll lease not renewed in time; poller stopped");
                if let Some(o) = &observer { o(key, false); }
                return;
            }
        };
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                tracing::warn!(account = key.0, kind = %e.kind(), "poll stream failed");
                return;
            }
            None => return,
        };
        // Stored before the next update is asked for (which confirms this batch).
        let mut delay = Duration::from_millis(100);
        loop {
            let stored = tokio::select! {
                r = state.inbox().ingest(key, std::slice::from_ref(&event)) => r,
                () = wait_deadline(&mut deadline) => return,
            };
            match stored {
                Ok(report) => {
                    metrics.count(
                        "intake_events_total",
                        &[("platform", label), ("source", "poll")],
                    );
                    metrics.add(
                        "intake_messages_total",
                        &[("platform", label), ("source", "poll")],
                        report.messages,
                    );
                    metrics.add(
                        "intake_duplicates_total",
                        &[("platform", label), ("source", "poll")],
                        report.duplicates,
                    );
                    break;
                }
                Err(e) => {
                    metrics.count(
                        "intake_failures_total",
                        &[
                            ("platform", label),
                            ("source", "poll"),
                            ("kind", e.kind().as_str()),
                        ],
                    );
                    tracing::warn!(account = key.0, kind = %e.kind(), "polled event could not be stored; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = wait_deadline(&mut deadline) => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Resolves when the current deadline passes (following renewals).
async fn wait_deadline(deadline: &mut watch::Receiver<Instant>) {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep_until(at) => {
                if *deadline.borrow() <= Instant::now() {
                    return;
                }
            }
            changed = deadline.changed() => {
                if changed.is_err() {
                    // The manager is gone: stop at the last deadline.
                    tokio::time::sleep_until(at).await;
                    return;
                }
            }
        }
    }
}
