//! The intake benchmark harness that every connector's `benches/intake.rs` includes with
//! `#[path]` (one file for five benches; the tests crate holds it as it holds the other shared
//! test support).
//!
//! Each set of bodies is measured four or five ways over the same bytes, one iteration being
//! one pass over every body of the set:
//!
//! - `ignored_any`: `serde_json::from_slice::<serde::de::IgnoredAny>`, the validate-only floor
//!   (every byte read and checked, nothing built);
//! - `value`: `serde_json::from_slice::<serde_json::Value>`, the whole tree;
//! - `parse`: the connector's one parser (what `messenger parse` runs);
//! - `handle_webhook`: `Messenger::handle_webhook` of a connector with its secret configured,
//!   each body presented with a valid secret or signature (size check, verification, parse);
//! - `verify`, where the connector has a public check of its own: that check alone (the
//!   secret header's compare, WhatsApp's HMAC-SHA256 over the body), to show its share.
//!
//! criterion measures each function on its own (its estimates are under
//! `target/criterion/<set>/<function>`). The ratios are measured side by side: after
//! criterion, [`measure`] runs the functions of the set in turn, a few milliseconds each, for
//! [`ROUNDS`] rounds (the order rotating every round), and takes each round's ratios, so that
//! a machine whose load changes during the run (these two cores are shared) slows the floor
//! and the parser alike. [`report`] prints, per set, the median ratio over the rounds and the
//! middle half of them: the throughput of `parse` and `handle_webhook` as a fraction of
//! `ignored_any`'s and of `value`'s (1.0 is as fast; higher is faster). Timing is printed,
//! never asserted.

use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use messenger_core::webhook::{WebhookOutcome, WebhookRequest};

/// The function names of a set, in the order criterion measures them.
pub const FUNCTIONS: [&str; 5] = ["ignored_any", "value", "parse", "handle_webhook", "verify"];

/// Rounds of the side-by-side measurement.
pub const ROUNDS: usize = 41;

/// How long one function runs in one round of the side-by-side measurement.
const SLICE: Duration = Duration::from_millis(4);

/// Criterion as the intake benches run it: shorter runs than the defaults (the command line
/// still overrides them).
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args()
}

/// Runs a future that never waits (the connectors' webhook handlers do no I/O) to completion.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("the webhook handler kept waiting");
}

/// One set of bodies and how the connector takes them.
pub struct Set<'a> {
    /// The set's name (`telegram_public_updates`): criterion's group.
    pub name: &'a str,
    /// The bodies, exactly as a platform sends them.
    pub bodies: Vec<Vec<u8>>,
    /// The connector's `parse`: the number of events.
    pub parse: &'a dyn Fn(&[u8]) -> usize,
    /// How the set's bodies reach `handle_webhook` (`None`: the set is not a webhook body,
    /// such as a long-poll answer).
    pub webhook: Option<Webhook<'a>>,
}

/// How a body becomes a verified request, and what the connector does with it.
#[derive(Clone, Copy)]
pub struct Webhook<'a> {
    /// The request of body `i` (with a valid secret or signature).
    pub request: &'a dyn Fn(usize, &[u8]) -> WebhookRequest,
    /// `handle_webhook` of the request of body `i`.
    pub handle: &'a dyn Fn(usize, &WebhookRequest) -> WebhookOutcome,
    /// The verification alone, where the connector has a public one.
    pub verify: Option<&'a dyn Fn(&WebhookRequest) -> bool>,
}

/// A function of a set, by name: one pass over the set.
type Named<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// The side-by-side result of one set.
struct Row {
    name: String,
    bodies: usize,
    bytes: usize,
    /// Seconds per pass of each function (the median over the rounds).
    seconds: Vec<(&'static str, f64)>,
    /// Per round: the ratios of each function to `ignored_any` and to `value`.
    rounds: Vec<Vec<(&'static str, f64, f64)>>,
}

thread_local! {
    static ROWS: RefCell<Vec<Row>> = const { RefCell::new(Vec::new()) };
}

/// Whether the bench runs as a benchmark (`cargo bench`), not as a test (`cargo test
/// --benches` runs each function once).
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Whether criterion's filter (the first free argument, a regular expression in criterion;
/// taken here as a substring) leaves `name` in.
fn selected(name: &str) -> bool {
    let mut args = std::env::args().skip(1);
    let mut filter = None;
    while let Some(arg) = args.next() {
        if arg.starts_with("--") {
            // Options of criterion that take a value.
            if matches!(
                arg.as_str(),
                "--warm-up-time"
                    | "--measurement-time"
                    | "--sample-size"
                    | "--save-baseline"
                    | "--baseline"
                    | "--load-baseline"
                    | "--profile-time"
                    | "--nresamples"
                    | "--noise-threshold"
                    | "--confidence-level"
                    | "--significance-level"
                    | "--color"
                    | "--plotting-backend"
                    | "--output-format"
                    | "--format"
            ) {
                args.next();
            }
            continue;
        }
        filter = Some(arg);
        break;
    }
    filter.is_none_or(|f| name.contains(f.as_str()))
}

/// Measures one set with criterion, then side by side; checks first that every body parses
/// (and passes the webhook) outside the timed loops.
pub fn measure(c: &mut Criterion, set: Set<'_>) {
    let bytes: usize = set.bodies.iter().map(Vec::len).sum();
    assert!(!set.bodies.is_empty(), "{}: no bodies", set.name);
    let bodies = &set.bodies;
    let parse = set.parse;
    for body in bodies {
        parse(body);
    }
    let requests: Vec<WebhookRequest> = match set.webhook {
        Some(webhook) => bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (webhook.request)(i, b))
            .collect(),
        None => Vec::new(),
    };
    if let Some(webhook) = set.webhook {
        for (i, r) in requests.iter().enumerate() {
            let outcome = (webhook.handle)(i, r);
            assert_eq!(outcome.response.status, 200, "{}: not accepted", set.name);
            if let Some(verify) = webhook.verify {
                assert!(verify(r), "{}: not verified", set.name);
            }
        }
    }

    // One pass over the set, per function.
    let ignored_any = || {
        for body in bodies {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok());
        }
    };
    let value = || {
        for body in bodies {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).is_ok());
        }
    };
    let parse_all = || {
        for body in bodies {
            black_box(parse(black_box(body)));
        }
    };
    let handle_all = |handle: &dyn Fn(usize, &WebhookRequest) -> WebhookOutcome| {
        for (i, r) in requests.iter().enumerate() {
            black_box(handle(i, black_box(r)).events.len());
        }
    };
    let verify_all = |verify: &dyn Fn(&WebhookRequest) -> bool| {
        for r in &requests {
            black_box(verify(black_box(r)));
        }
    };
    let mut functions: Vec<Named<'_>> = vec![
        (FUNCTIONS[0], Box::new(ignored_any)),
        (FUNCTIONS[1], Box::new(value)),
        (FUNCTIONS[2], Box::new(parse_all)),
    ];
    if let Some(webhook) = set.webhook {
        functions.push((FUNCTIONS[3], Box::new(move || handle_all(webhook.handle))));
        if let Some(verify) = webhook.verify {
            functions.push((FUNCTIONS[4], Box::new(move || verify_all(verify))));
        }
    }

    let mut group = c.benchmark_group(set.name);
    group.throughput(Throughput::Bytes(bytes as u64));
    for (name, f) in &functions {
        group.bench_function(*name, |b| b.iter(f));
    }
    group.finish();

    if benchmarking() && selected(set.name) {
        let row = side_by_side(set.name, bodies.len(), bytes, &functions);
        ROWS.with(|rows| rows.borrow_mut().push(row));
    }
}

/// Runs `functions` in turn, [`SLICE`] each, for [`ROUNDS`] rounds.
fn side_by_side(name: &str, bodies: usize, bytes: usize, functions: &[Named<'_>]) -> Row {
    // Passes per slice, per function, from a first timing.
    let passes: Vec<u32> = functions
        .iter()
        .map(|(_, f)| {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < SLICE / 4 {
                f();
                n += 1;
            }
            (n * 4).max(1)
        })
        .collect();
    let mut per_round: Vec<Vec<f64>> = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let mut seconds = vec![0.0; functions.len()];
        for k in 0..functions.len() {
            let i = (k + round) % functions.len();
            let f = &functions[i].1;
            let start = Instant::now();
            for _ in 0..passes[i] {
                f();
            }
            seconds[i] = start.elapsed().as_secs_f64() / f64::from(passes[i]);
        }
        per_round.push(seconds);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let seconds = functions
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, median(per_round.iter().map(|r| r[i]).collect())))
        .collect();
    let rounds = per_round
        .iter()
        .map(|r| {
            functions
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (*n, r[0] / r[i], r[1] / r[i]))
                .collect()
        })
        .collect();
    Row {
        name: name.to_owned(),
        bodies,
        bytes,
        seconds,
        rounds,
    }
}

/// The median, first and third quartile of `values`.
fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    (at(2), at(1), at(3))
}

/// Prints the side-by-side ratios of every set this run measured (nothing in test mode).
#[allow(clippy::print_stdout)]
pub fn report() {
    let rows = ROWS.with(|rows| rows.take());
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "Side by side, {ROUNDS} rounds: median ratio (middle half of the rounds). \
         × IgnoredAny / × Value: the function's throughput over theirs."
    );
    println!();
    println!(
        "| set | bodies | bytes | IgnoredAny MiB/s | Value MiB/s | parse × IgnoredAny | parse × Value | handle_webhook × IgnoredAny | handle_webhook × Value | verification's share of handle_webhook |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let ratio = |f: &str, floor: bool| -> Option<String> {
            let values: Vec<f64> = row
                .rounds
                .iter()
                .filter_map(|r| r.iter().find(|(n, _, _)| *n == f))
                .map(|(_, a, b)| if floor { *a } else { *b })
                .collect();
            (!values.is_empty()).then(|| {
                let (m, q1, q3) = quartiles(values);
                format!("{m:.2} ({q1:.2}–{q3:.2})")
            })
        };
        let cell = |f: &str, floor: bool| ratio(f, floor).unwrap_or_else(|| "–".to_owned());
        let secs = |f: &str| row.seconds.iter().find(|(n, _)| *n == f).map(|(_, s)| *s);
        let mibps = |f: &str| {
            secs(f).map_or("–".to_owned(), |s| {
                format!("{:.0}", row.bytes as f64 / s / f64::from(1 << 20))
            })
        };
        let share = match (secs(FUNCTIONS[4]), secs(FUNCTIONS[3])) {
            (Some(verify), Some(handle)) => format!("{:.0} %", verify / handle * 100.0),
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {share} |",
            row.name,
            row.bodies,
            row.bytes,
            mibps(FUNCTIONS[0]),
            mibps(FUNCTIONS[1]),
            cell(FUNCTIONS[2], true),
            cell(FUNCTIONS[2], false),
            cell(FUNCTIONS[3], true),
            cell(FUNCTIONS[3], false),
        );
    }
}
