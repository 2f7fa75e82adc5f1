//! Prometheus text-format metrics (`GET /metrics`), hand-rolled: counters kept by this node,
//! and gauges read from the database at scrape time (the outbox, shared by every node).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::state::ServerState;

/// Every metric: name (without the `messenger_` prefix), type, help.
const METRICS: &[(&str, &str, &str)] = &[
    (
        "http_requests_total",
        "counter",
        "HTTP requests answered, by route template, method and status.",
    ),
    (
        "webhook_requests_total",
        "counter",
        "Webhook deliveries, by platform and outcome (accepted, rejected, refused, failed, unknown_account).",
    ),
    (
        "webhook_verification_failures_total",
        "counter",
        "Webhook deliveries whose verification failed (signature, secret, token), by platform.",
    ),
    (
        "intake_events_total",
        "counter",
        "Inbound events handed to the inbox, by platform and source (webhook, poll).",
    ),
    (
        "intake_messages_total",
        "counter",
        "New inbound messages stored, by platform and source.",
    ),
    (
        "intake_duplicates_total",
        "counter",
        "Inbound messages already stored (redeliveries), by platform and source.",
    ),
    (
        "intake_failures_total",
        "counter",
        "Intake attempts the inbox refused or failed, by platform, source and kind.",
    ),
    (
        "sends_enqueued_total",
        "counter",
        "Sends accepted into the outbox through the API, by platform.",
    ),
    (
        "send_replays_total",
        "counter",
        "Sends answered with the first outbox row of a repeated idempotency key.",
    ),
    (
        "outbox_attempts_total",
        "counter",
        "Outbox rows this node's workers attempted.",
    ),
    (
        "outbox_sent_total",
        "counter",
        "Outbox rows this node's workers sent.",
    ),
    (
        "outbox_recovered_total",
        "counter",
        "Outbox rows of dead workers this node recovered.",
    ),
    (
        "outbox_rows",
        "gauge",
        "Outbox rows in the database, by state and error kind (failures by kind: state=\"failed\").",
    ),
    (
        "outbox_depth",
        "gauge",
        "Outbox rows waiting to go out (queued or sending), in the database.",
    ),
    (
        "sign_ins_total",
        "counter",
        "Sign-in attempts, by outcome (ok, refused, rate_limited).",
    ),
    (
        "auth_refused_total",
        "counter",
        "Requests refused for an unknown, expired or revoked token.",
    ),
    (
        "api_errors_total",
        "counter",
        "API errors answered, by kind.",
    ),
    (
        "poll_leases_held",
        "gauge",
        "Accounts this node long-polls (it holds their lease).",
    ),
    (
        "poll_lease_changes_total",
        "counter",
        "Poll leases this node took (acquired) or gave up (lost, released).",
    ),
    (
        "event_streams",
        "gauge",
        "Server-sent event streams open on this node.",
    ),
    (
        "workers_alive",
        "gauge",
        "Outbox workers running on this node.",
    ),
];

/// The node's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    pub(crate) poll_leases: AtomicI64,
    pub(crate) event_streams: AtomicI64,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    /// Adds one to counter `name` with `labels`.
    pub fn count(&self, name: &'static str, pairs: &[(&str, &str)]) {
        self.add(name, pairs, 1);
    }

    /// Adds `n` to counter `name` with `labels`.
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], n: u64) {
        if n == 0 {
            return;
        }
        *self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((name, labels(pairs)))
            .or_default() += n;
    }

    /// The value of a counter (tests, figures).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> u64 {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(name, labels(pairs)))
            .copied()
            .unwrap_or(0)
    }
}

/// Renders every metric in the Prometheus text format (0.0.4).
pub(crate) async fn render(state: &ServerState) -> String {
    let metrics = state.metrics();
    let mut values: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for ((name, labels), v) in metrics
        .counters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        values
            .entry(name)
            .or_default()
            .push((labels.clone(), v.to_string()));
    }
    values.entry("poll_leases_held").or_default().push((
        String::new(),
        metrics.poll_leases.load(Ordering::SeqCst).to_string(),
    ));
    values.entry("event_streams").or_default().push((
        String::new(),
        metrics.event_streams.load(Ordering::SeqCst).to_string(),
    ));
    values.entry("workers_alive").or_default().push((
        String::new(),
        state
            .inner
            .health
            .workers_alive
            .load(Ordering::SeqCst)
            .to_string(),
    ));
    let mut scrape_ok = 1;
    match state.inbox().outbox_counts().await {
        Ok(counts) => {
            let mut depth = 0;
            for c in &counts {
                if c.state == "queued" || c.state == "sending" {
                    depth += c.count;
                }
                values.entry("outbox_rows").or_default().push((
                    labels(&[
                        ("state", &c.state),
                        ("error_kind", c.error_kind.as_deref().unwrap_or("")),
                    ]),
                    c.count.to_string(),
                ));
            }
            values
                .entry("outbox_depth")
                .or_default()
                .push((String::new(), depth.to_string()));
        }
        Err(e) => {
            tracing::warn!(kind = %e.kind(), "metrics: the outbox could not be read");
            scrape_ok = 0;
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP messenger_up Whether this scrape could read the database (1) or not (0).\n# TYPE messenger_up gauge\nmessenger_up {scrape_ok}"
    );
    for (name, kind, help) in METRICS {
        let _ = writeln!(out, "# HELP messenger_{name} {help}");
        let _ = writeln!(out, "# TYPE messenger_{name} {kind}");
        for (labels, value) in values.get(name).into_iter().flatten() {
            let _ = writeln!(out, "messenger_{name}{labels} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_counters_add_up() {
        let m = Metrics::default();
        m.count("api_errors_total", &[("kind", "a\"b")]);
        m.add("api_errors_total", &[("kind", "a\"b")], 2);
        assert_eq!(m.get("api_errors_total", &[("kind", "a\"b")]), 3);
        assert_eq!(labels(&[("kind", "a\"b\\\n")]), "{kind=\"a\\\"b\\\\\\n\"}");
    }
}
