//! Under injected faults, runs of sends per platform in which no message is lost and none is
//! delivered twice, through the recommended layer stack (`messenger_core::layers::Stack`:
//! dedup, gate, retry, rate limit) over the connector, against the sandbox.
//!
//! - The normal run (`cargo test`): 300 sends per platform, with the sandbox's emulated rate
//!   limits on and the stack pacing below them.
//! - The run at scale (`#[ignore]`d: `MESSENGER_FAULT_SENDS=10000 cargo test -p
//!   integration-tests --test faults -- --ignored --nocapture --test-threads 1`): as many sends
//!   per platform as `MESSENGER_FAULT_SENDS` says (300 when unset, as `.ci/run`'s `--ignored`
//!   step runs it), with the sandbox's emulated rate limits off
//!   (`SandboxConfig::without_rate_limits`) and no proactive limits in the stack, so that the
//!   time is the faults' and the sends', not the pacing's. Each run prints its counts and how
//!   long it took.
//!
//! Before every 10th send one fault is queued for the next send request, in rotation:
//!
//! | fault | what the sandbox does | what the caller must get |
//! |---|---|---|
//! | 5xx | answers at once, stores nothing | an error marked `MaybeSent` (see below); not delivered |
//! | 429 + retry-after 1 s | answers at once, stores nothing | `Ok` after a retry; delivered once |
//! | delay 150 ms | answers late | `Ok`; delivered once |
//! | connection dropped after processing | stores and delivers, never answers | `MaybeSent`; delivered once |
//! | body truncated | stores and delivers, answers half a body | `MaybeSent`; delivered once |
//! | connection dropped before processing | stores nothing, never answers | `MaybeSent`; not delivered |
//! | 429 without any retry-after | answers at once, stores nothing | `Ok` after a retry (the policy's backoff); delivered once |
//!
//! "No message lost" means every send is either confirmed (`Ok`, and then delivered exactly
//! once) or reported `MaybeSent` to the caller (and then delivered at most once); a `NotSent`
//! error would be a silent loss, since every injected fault is retryable. The counts are
//! checked against what the customers' phones show in the sandbox, and the connector's
//! requests are counted under the stack: one per send, plus one per 429 answered.
//!
//! The gate of the stack adds the first-contact opt-out notice to the first message in each
//! chat (after a blank line); a message is matched to its send by the text before that.
//!
//! VK is the exception the design plans for: `messages.send` carries a `random_id` derived from
//! the idempotency key and VK drops a repeat, so with a key on every send `Retrying` resends
//! whatever may have gone out (a 5xx, a dropped or truncated answer) and every send is
//! confirmed, delivered once ([`vk_300_keyed_sends_under_faults_are_resent_and_delivered_once`]).
//! VK's rate-limit answer (error 6) never carries a retry-after.
//!
//! MAX and Avito take no idempotency key either (`keyed_sends: false`): an ambiguous send there
//! is `MaybeSent` and never resent blindly, exactly as on Telegram and WhatsApp
//! ([`max_300_sends_under_faults_lose_nothing_and_duplicate_nothing`],
//! [`avito_300_sends_under_faults_lose_nothing_and_duplicate_nothing`]).
//!
//! A 5xx is `MaybeSent` on every connector, so `Retrying` does not resend it without an
//! idempotency key. That is the right call for the real platforms even though the sandbox's
//! 5xx is documented as "not processed": a client cannot tell a 5xx raised before the work from
//! one raised after it (a 502/504 from a gateway in front of a backend that did send the
//! message), and neither Telegram nor WhatsApp de-duplicates a resent message, so resending
//! on a 5xx can deliver twice. The caller learns `MaybeSent` and decides.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use integration_tests::{active_consent, start_sandbox};
use messenger_core::backoff::Backoff;
use messenger_core::capabilities::{Rate, RateLimits};
use messenger_core::layers::{RetryPolicy, Stack, Stacked, Wrapper};
use messenger_core::plan::Part;
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    AccountId, ChatId, Delivery, ErrorKind, Messenger, OutgoingMessage, Platform, Result,
    SendReport, SentPart,
};
use messenger_sandbox::{
    AccountSpec, CustomerMessage, Fault, FaultSpec, NewCustomer, Sandbox, SandboxConfig,
};

/// Sends of the normal run.
const NORMAL_SENDS: usize = 300;
const FAULT_EVERY: usize = 10;

/// How many request records the sandbox keeps per account: a longer run is checked by the
/// requests counted under the stack alone.
const SANDBOX_LOG_CAP: usize = 1000;

/// The faults, in the order they are injected.
const FAULTS: [Fault; 7] = [
    Fault::ServerError { status: 502 },
    Fault::RateLimited { retry_after: 1 },
    Fault::Delay { millis: 150 },
    Fault::DropConnection {
        before_processing: false,
    },
    Fault::TruncatedBody,
    Fault::DropConnection {
        before_processing: true,
    },
    // No retry-after at all: the retry policy's backoff decides.
    Fault::RateLimited { retry_after: 0 },
];

/// How big a run is.
#[derive(Debug, Clone, Copy)]
struct Scale {
    sends: usize,
    /// The sandbox's emulated rate limits and the stack's proactive limits: on in the normal
    /// run, off in the run at scale.
    limits: bool,
}

const NORMAL: Scale = Scale {
    sends: NORMAL_SENDS,
    limits: true,
};

/// The run at scale: `MESSENGER_FAULT_SENDS` sends (300 when unset), limits off.
fn at_scale() -> Scale {
    let sends = std::env::var("MESSENGER_FAULT_SENDS")
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .expect("MESSENGER_FAULT_SENDS is a number of sends")
        })
        .unwrap_or(NORMAL_SENDS);
    assert!(sends >= FAULT_EVERY, "at least {FAULT_EVERY} sends");
    Scale {
        sends,
        limits: false,
    }
}

impl Scale {
    fn sandbox_config(self) -> SandboxConfig {
        if self.limits {
            SandboxConfig::default()
        } else {
            SandboxConfig::default().without_rate_limits()
        }
    }
}

/// What a send under a fault must end as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// `Ok`, delivered exactly once.
    Confirmed,
    /// `Err` marked `MaybeSent`, and the message did reach the customer (once).
    MaybeSentDelivered,
    /// `Err` marked `MaybeSent`, and the message did not reach the customer.
    MaybeSentNotDelivered,
}

fn expected(fault: Option<Fault>) -> Expected {
    match fault {
        None | Some(Fault::RateLimited { .. } | Fault::Delay { .. }) => Expected::Confirmed,
        Some(
            Fault::DropConnection {
                before_processing: false,
            }
            | Fault::TruncatedBody,
        ) => Expected::MaybeSentDelivered,
        Some(
            Fault::ServerError { .. }
            | Fault::DropConnection {
                before_processing: true,
            },
        ) => Expected::MaybeSentNotDelivered,
        Some(Fault::PollFailed { .. }) => unreachable!("long-poll faults are not put on sends"),
    }
}

/// The connector under the stack: counts the requests that reach it and the platform's
/// rate-limit answers.
struct Counting<M> {
    inner: M,
    attempts: AtomicUsize,
    throttled: AtomicUsize,
}

impl<M> Counting<M> {
    fn new(inner: M) -> Arc<Self> {
        Arc::new(Self {
            inner,
            attempts: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
        })
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::Relaxed)
    }

    fn throttled(&self) -> usize {
        self.throttled.load(Ordering::Relaxed)
    }
}

impl<M: Messenger> Wrapper for Counting<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

#[async_trait]
impl<M: Messenger> Messenger for Counting<M> {
    messenger_core::forward_messenger!(except[send_part]);

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.send_part(chat, part).await;
        if let Err(err) = &result
            && err.kind() == ErrorKind::RateLimited
        {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// The recommended stack over `connector` (counted), for the sandbox account `account`:
/// `Stack` with the module activated for it, `retry` as the retry policy, and the rate limits
/// the caller sets in `limits` in the normal run or none at scale.
async fn stack<C: Messenger + 'static>(
    connector: &Arc<Counting<C>>,
    account: &str,
    retry: RetryPolicy,
    scale: Scale,
    limits: impl FnOnce(Stack<Arc<Counting<C>>>) -> Stack<Arc<Counting<C>>>,
) -> Stacked<Arc<Counting<C>>> {
    let owner = AccountId::new(format!("faults-{account}"));
    let consent = active_consent(&[&owner]).await;
    let stack = Stack::new(Arc::clone(connector), owner, consent).retry_policy(retry);
    if scale.limits {
        limits(stack).build()
    } else {
        stack.rate_limits(RateLimits::default()).build()
    }
}

/// The outcome of one send.
struct Sent {
    text: String,
    customer: String,
    fault: Option<Fault>,
    result: Result<SendReport>,
}

/// A finished run: the sends and how long they took.
struct Run {
    sent: Vec<Sent>,
    took: Duration,
}

/// Sends `msg-00001`... round-robin to `customers` through `stack`, queueing a fault for the
/// next `operation` request before every 10th send; `keyed` gives each send its text as its
/// idempotency key. A customer is written to in the chat `chat_of(customer)` names.
#[allow(clippy::too_many_arguments)]
async fn run(
    scale: Scale,
    sandbox: &Sandbox,
    account: &str,
    operation: &str,
    stack: &dyn Messenger,
    customers: &[String],
    chat_of: &(dyn Fn(&str) -> String + Sync),
    keyed: bool,
) -> Run {
    let started = Instant::now();
    let mut sent = Vec::with_capacity(scale.sends);
    for i in 0..scale.sends {
        let fault = ((i + 1) % FAULT_EVERY == 0).then(|| FAULTS[(i / FAULT_EVERY) % FAULTS.len()]);
        if let Some(fault) = fault {
            sandbox
                .inject_fault(account, &FaultSpec::new(fault).operation(operation))
                .expect("the fault is queued");
        }
        let customer = customers[i % customers.len()].clone();
        let text = format!("msg-{:05}", i + 1);
        let mut message = OutgoingMessage::text(chat_of(&customer), text.as_str());
        if keyed {
            message = message.idempotency_key(text.as_str());
        }
        let result = tokio::time::timeout(Duration::from_secs(20), stack.send(&message))
            .await
            .unwrap_or_else(|_| panic!("send {text} hung"));
        sent.push(Sent {
            text,
            customer,
            fault,
            result,
        });
    }
    Run {
        sent,
        took: started.elapsed(),
    }
}

/// The text a send was made with: the customer's phone shows the gate's first-contact notice
/// after a blank line in the first message of a chat.
fn sent_text(shown: &str) -> String {
    shown.split("\n\n").next().unwrap_or(shown).to_owned()
}

/// Every message the customers received, by the text it was sent with: (customer, message id).
fn delivered(
    sandbox: &Sandbox,
    account: &str,
    customers: &[String],
) -> HashMap<String, Vec<(String, String)>> {
    let mut delivered: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for customer in customers {
        for view in sandbox.received(account, customer).expect("received") {
            let text = sent_text(view.text.as_deref().expect("a text message"));
            delivered
                .entry(text)
                .or_default()
                .push((customer.clone(), view.id.clone()));
        }
    }
    delivered
}

/// How many of `faults` match `f`.
fn count(faults: &[Fault], f: impl Fn(&Fault) -> bool) -> usize {
    faults.iter().filter(|x| f(x)).count()
}

/// The faults of a run by kind, for a summary.
fn fault_mix(faults: &[Fault]) -> String {
    format!(
        "{} faults injected ({} x 5xx, {} x 429 with retry-after, {} x 429 without, {} x delay, \
         {} x drop after processing, {} x truncated body, {} x drop before processing)",
        faults.len(),
        count(faults, |f| matches!(f, Fault::ServerError { .. })),
        count(
            faults,
            |f| matches!(f, Fault::RateLimited { retry_after } if *retry_after > 0)
        ),
        count(faults, |f| matches!(
            f,
            Fault::RateLimited { retry_after: 0 }
        )),
        count(faults, |f| matches!(f, Fault::Delay { .. })),
        count(faults, |f| matches!(
            f,
            Fault::DropConnection {
                before_processing: false
            }
        )),
        count(faults, |f| matches!(f, Fault::TruncatedBody)),
        count(faults, |f| matches!(
            f,
            Fault::DropConnection {
                before_processing: true
            }
        )),
    )
}

/// Checks a run (no idempotency key) against what the customers' phones show, and returns a
/// one-line summary.
#[allow(clippy::too_many_arguments)]
fn check<C>(
    platform: Platform,
    scale: Scale,
    sandbox: &Sandbox,
    account: &str,
    operation: &str,
    customers: &[String],
    run: &Run,
    connector: &Counting<C>,
) -> String {
    let sent = &run.sent;
    let delivered = delivered(sandbox, account, customers);
    let twice: Vec<&String> = delivered
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(t, _)| t)
        .collect();
    assert!(twice.is_empty(), "{platform}: delivered twice: {twice:?}");

    let (mut confirmed, mut maybe_delivered, mut maybe_lost) = (0, 0, 0);
    for s in sent {
        let got = delivered.get(&s.text).map_or(&[][..], Vec::as_slice);
        match (&s.result, expected(s.fault)) {
            (Ok(report), Expected::Confirmed) => {
                confirmed += 1;
                assert_eq!(report.parts.len(), 1);
                assert_eq!(
                    got,
                    [(
                        s.customer.clone(),
                        report.parts[0].message_id.as_str().to_owned()
                    )],
                    "{platform}: {} (fault {:?}) confirmed but not delivered once to its customer",
                    s.text,
                    s.fault
                );
            }
            (Err(err), want @ (Expected::MaybeSentDelivered | Expected::MaybeSentNotDelivered)) => {
                assert_eq!(
                    err.delivery(),
                    Delivery::MaybeSent,
                    "{platform}: {} failed under {:?} as NotSent: a silent loss ({err})",
                    s.text,
                    s.fault
                );
                assert_eq!(err.kind(), ErrorKind::Transport, "{platform}: {err}");
                assert!(err.is_retryable(), "{platform}: {err}");
                if want == Expected::MaybeSentDelivered {
                    maybe_delivered += 1;
                    assert_eq!(got.len(), 1, "{platform}: {} processed once", s.text);
                    assert_eq!(got[0].0, s.customer);
                } else {
                    maybe_lost += 1;
                    assert!(got.is_empty(), "{platform}: {} was never processed", s.text);
                }
            }
            (result, want) => panic!(
                "{platform}: {} under {:?}: expected {want:?}, got {:?}",
                s.text,
                s.fault,
                result
                    .as_ref()
                    .map(|r| r.parts.len())
                    .map_err(|e| (e.kind(), e.delivery()))
            ),
        }
    }

    // The counts follow from the injected faults alone.
    let faults: Vec<Fault> = sent.iter().filter_map(|s| s.fault).collect();
    let expect = |want: Expected| {
        faults
            .iter()
            .filter(|f| expected(Some(**f)) == want)
            .count()
    };
    assert_eq!(faults.len(), scale.sends / FAULT_EVERY);
    assert_eq!(maybe_delivered, expect(Expected::MaybeSentDelivered));
    assert_eq!(maybe_lost, expect(Expected::MaybeSentNotDelivered));
    assert_eq!(confirmed, scale.sends - maybe_delivered - maybe_lost);
    assert_eq!(
        delivered.len(),
        confirmed + maybe_delivered,
        "{platform}: nothing arrived that was not sent"
    );

    // Every fault was taken by a send request, and only rate limits were retried (once each):
    // the connector saw one request per send plus one per 429.
    assert!(sandbox.faults(account).expect("faults").is_empty());
    let rate_limited = count(&faults, |f| matches!(f, Fault::RateLimited { .. }));
    let throttled = connector.throttled();
    assert!(
        throttled >= rate_limited,
        "{platform}: every 429 reached the connector"
    );
    if !scale.limits {
        assert_eq!(
            throttled, rate_limited,
            "{platform}: without emulated limits, the only 429s are the injected ones"
        );
    }
    assert_eq!(
        connector.attempts(),
        scale.sends + throttled,
        "{platform}: one request per send, plus one retry per 429"
    );
    let requests: Vec<_> = sandbox
        .requests(account)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation.eq_ignore_ascii_case(operation))
        .collect();
    let organic_429 = requests
        .iter()
        .filter(|r| r.fault.is_none() && r.status == 429)
        .count();
    if scale.sends + throttled < SANDBOX_LOG_CAP {
        // The sandbox's own log agrees, request for request.
        assert_eq!(
            requests.len(),
            scale.sends + rate_limited + organic_429,
            "{platform}: the sandbox saw one request per send, plus one retry per 429"
        );
        assert_eq!(
            requests.iter().filter(|r| r.fault.is_some()).count(),
            faults.len()
        );
    }

    format!(
        "{platform}: {} sends in {:.1} s, {}; {confirmed} confirmed, {} MaybeSent \
         ({maybe_delivered} of them delivered, {maybe_lost} not), 0 NotSent, 0 lost, \
         0 duplicates; {} requests ({} x 429 answered, {} of them organic)",
        scale.sends,
        run.took.as_secs_f64(),
        fault_mix(&faults),
        maybe_delivered + maybe_lost,
        connector.attempts(),
        throttled,
        throttled - rate_limited,
    )
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy::default().max_attempts(4).backoff(Backoff::new(
        Duration::from_millis(50),
        Duration::from_secs(1),
    ))
}

#[allow(clippy::print_stderr)]
fn report(summary: &str) {
    eprintln!("{summary}");
}

/// `n` customers of `account`, named with `prefix`; VK customers allow messages.
fn customers(sandbox: &Sandbox, account: &str, n: usize, vk: bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            sandbox
                .create_customer(
                    account,
                    &NewCustomer::named(format!("Customer {i}")).allows_messages(vk),
                )
                .expect("a customer")
                .id
        })
        .collect()
}

async fn telegram(scale: Scale) -> String {
    // The sandbox keeps Telegram's limits in the normal run: 1 msg/s per chat (bursts of 5)
    // and 30/s per bot; 30 chats round-robin at 25/s overall: each chat gets a message every
    // 1.2 s.
    let sandbox = start_sandbox(scale.sandbox_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::telegram())
        .expect("a bot");
    let customers = customers(&sandbox, &account.id, 30, false);
    let connector = Counting::new(integration_tests::telegram_bot(&sandbox, &account));
    let stack = stack(&connector, &account.id, retry_policy(), scale, |s| {
        s.overall(Some(Rate::per_second(25)))
            .per_chat(Some(Rate::per_second(1)))
    })
    .await;
    let operation = "sendMessage";
    let sent = run(
        scale,
        &sandbox,
        &account.id,
        operation,
        &stack,
        &customers,
        &|c| c.to_owned(),
        false,
    )
    .await;
    check(
        Platform::Telegram,
        scale,
        &sandbox,
        &account.id,
        operation,
        &customers,
        &sent,
        &connector,
    )
}

async fn whatsapp(scale: Scale) -> String {
    // The sandbox keeps WhatsApp's limits in the normal run: 80 msg/s per number, and per
    // customer a burst of 45 then one per 6 s; 10 customers get 30 messages each, within the
    // burst.
    let sandbox = start_sandbox(scale.sandbox_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::whatsapp())
        .expect("a number");
    let store = Arc::new(MemoryReplyWindowStore::default());
    let customers = customers(&sandbox, &account.id, 10, false);
    for customer in &customers {
        // The customer writes (the platform's window opens) and the CRM saw it (ours does).
        sandbox
            .customer_sends(
                &account.id,
                customer,
                &CustomerMessage::text("Здравствуйте"),
            )
            .expect("the customer writes");
        store
            .record_inbound(
                Platform::WhatsApp,
                &ChatId::new(customer.clone()),
                chrono::Utc::now(),
            )
            .await
            .expect("recorded");
    }
    let connector = Counting::new(integration_tests::whatsapp(&sandbox, &account, Some(store)));
    let stack = stack(&connector, &account.id, retry_policy(), scale, |s| {
        s.per_chat(Some(Rate::per_second(20)))
    })
    .await;
    let operation = "messages";
    let sent = run(
        scale,
        &sandbox,
        &account.id,
        operation,
        &stack,
        &customers,
        &|c| c.to_owned(),
        false,
    )
    .await;
    check(
        Platform::WhatsApp,
        scale,
        &sandbox,
        &account.id,
        operation,
        &customers,
        &sent,
        &connector,
    )
}

async fn max(scale: Scale) -> String {
    // The sandbox keeps MAX's limit in the normal run: about 30 requests per second per bot.
    // The connector is built from the credentials the sandbox gives, as the registry builds
    // it; customers are written to as `user:<id>` (their dialogs' chat ids would do as well).
    let sandbox = start_sandbox(scale.sandbox_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::new(Platform::Max))
        .expect("a bot");
    let customers = customers(&sandbox, &account.id, 10, false);
    let connector = connector_max::MaxConfig::from_credentials(
        &sandbox.credentials(&account.id).expect("credentials"),
    )
    .and_then(connector_max::MaxConfig::build)
    .expect("the MAX connector accepts the sandbox credentials");
    assert!(
        !connector.capabilities().keyed_sends,
        "MAX drops no repeats"
    );
    let connector = Counting::new(connector);
    let stack = stack(&connector, &account.id, retry_policy(), scale, |s| {
        s.overall(Some(Rate::per_second(25)))
    })
    .await;
    let operation = "POST /messages";
    let sent = run(
        scale,
        &sandbox,
        &account.id,
        operation,
        &stack,
        &customers,
        &|c| format!("user:{c}"),
        false,
    )
    .await;
    check(
        Platform::Max,
        scale,
        &sandbox,
        &account.id,
        operation,
        &customers,
        &sent,
        &connector,
    )
}

async fn avito(scale: Scale) -> String {
    // Avito documents no rate limit (none is emulated); the connector is built from the
    // credentials the sandbox gives, as the registry builds it (client credentials: the first
    // send obtains a token), and writes to each customer's chat (`u2i-...`).
    let sandbox = start_sandbox(scale.sandbox_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::new(Platform::Avito))
        .expect("an account");
    let customers = customers(&sandbox, &account.id, 10, false);
    let connector =
        connector_avito::from_credentials(&sandbox.credentials(&account.id).expect("credentials"))
            .expect("the Avito connector accepts the sandbox credentials");
    assert!(
        !connector.capabilities().keyed_sends,
        "Avito drops no repeats"
    );
    let connector = Counting::new(connector);
    let stack = stack(&connector, &account.id, retry_policy(), scale, |s| {
        s.overall(Some(Rate::per_second(50)))
    })
    .await;
    let operation = "postSendMessage";
    let sent = run(
        scale,
        &sandbox,
        &account.id,
        operation,
        &stack,
        &customers,
        &|c| c.to_owned(),
        false,
    )
    .await;
    check(
        Platform::Avito,
        scale,
        &sandbox,
        &account.id,
        operation,
        &customers,
        &sent,
        &connector,
    )
}

async fn vk(scale: Scale) -> String {
    // The sandbox keeps VK's limit in the normal run: 20 requests per second per community;
    // the stack keeps VK's documented rate (the connector's capabilities) and a retry policy
    // that resends keyed parts (VK drops a repeated `random_id`).
    let sandbox = start_sandbox(scale.sandbox_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::vk())
        .expect("a community");
    let customers = customers(&sandbox, &account.id, 10, true);
    let connector = Counting::new(integration_tests::vk(&sandbox, &account));
    let policy = connector_vk::retry_policy()
        .max_attempts(4)
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_secs(1),
        ));
    let stack = stack(&connector, &account.id, policy, scale, |s| s).await;
    let operation = "messages.send";
    let run = run(
        scale,
        &sandbox,
        &account.id,
        operation,
        &stack,
        &customers,
        &|c| c.to_owned(),
        true,
    )
    .await;
    let sent = &run.sent;

    // What the customers' phones show, by text.
    let delivered = delivered(&sandbox, &account.id, &customers);
    let twice: Vec<&String> = delivered
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(t, _)| t)
        .collect();
    assert!(twice.is_empty(), "VK: delivered twice: {twice:?}");

    let (mut confirmed, mut maybe_sent) = (0, 0);
    for s in sent {
        let got = delivered.get(&s.text).map_or(&[][..], Vec::as_slice);
        match &s.result {
            Ok(report) => {
                confirmed += 1;
                assert_eq!(
                    got,
                    [(
                        s.customer.clone(),
                        report.parts[0].message_id.as_str().to_owned()
                    )],
                    "VK: {} (fault {:?}) confirmed but not delivered once, under its id",
                    s.text,
                    s.fault
                );
            }
            Err(err) => {
                assert_eq!(
                    err.delivery(),
                    Delivery::MaybeSent,
                    "VK: {} failed under {:?} as NotSent: a silent loss ({err})",
                    s.text,
                    s.fault
                );
                maybe_sent += 1;
                assert!(got.len() <= 1);
            }
        }
    }
    // With a key on every send, a send that may have gone out is resent: none is left MaybeSent.
    assert_eq!(
        maybe_sent, 0,
        "VK: keyed sends are resent, not reported MaybeSent"
    );
    assert_eq!(confirmed, scale.sends);
    assert_eq!(
        delivered.len(),
        scale.sends,
        "VK: nothing lost, nothing extra"
    );

    let faults: Vec<Fault> = sent.iter().filter_map(|s| s.fault).collect();
    assert_eq!(faults.len(), scale.sends / FAULT_EVERY);
    assert!(sandbox.faults(&account.id).expect("faults").is_empty());
    // Every fault but a delay makes one resend; the two that stored the message first (a
    // dropped or truncated answer) have their resend absorbed by VK's random_id check.
    let resent_after_faults = count(&faults, |f| !matches!(f, Fault::Delay { .. }));
    let absorbed = count(&faults, |f| {
        matches!(
            f,
            Fault::DropConnection {
                before_processing: false
            } | Fault::TruncatedBody
        )
    });
    let attempts = connector.attempts();
    let extra = attempts - scale.sends;
    assert!(
        extra >= resent_after_faults,
        "VK: {extra} resends for {resent_after_faults} faults that need one"
    );
    if !scale.limits {
        assert_eq!(
            extra, resent_after_faults,
            "VK: without emulated limits, a resend follows each fault but a delay, and only those"
        );
    }
    let requests: Vec<_> = sandbox
        .requests(&account.id)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation == operation)
        .collect();
    if attempts < SANDBOX_LOG_CAP {
        assert_eq!(
            requests.len(),
            attempts,
            "VK: the sandbox saw every request"
        );
        assert_eq!(
            requests.iter().filter(|r| r.fault.is_some()).count(),
            faults.len()
        );
    }
    format!(
        "VK: {} keyed sends in {:.1} s, {} (VK answers both 429s as error 6, without a \
         retry-after); {confirmed} confirmed, {maybe_sent} MaybeSent, 0 NotSent, 0 lost, \
         0 duplicates; {attempts} messages.send requests ({extra} resends: \
         {resent_after_faults} after faults, {absorbed} of them absorbed by random_id, {} after \
         organic error 6)",
        scale.sends,
        run.took.as_secs_f64(),
        fault_mix(&faults),
        extra - resent_after_faults,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    report(&telegram(NORMAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    report(&whatsapp(NORMAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vk_300_keyed_sends_under_faults_are_resent_and_delivered_once() {
    report(&vk(NORMAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    report(&max(NORMAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avito_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    report(&avito(NORMAL).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the run at scale: MESSENGER_FAULT_SENDS sends (300 unset), emulated limits off"]
async fn telegram_sends_at_scale_under_faults() {
    report(&telegram(at_scale()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the run at scale: MESSENGER_FAULT_SENDS sends (300 unset), emulated limits off"]
async fn whatsapp_sends_at_scale_under_faults() {
    report(&whatsapp(at_scale()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the run at scale: MESSENGER_FAULT_SENDS sends (300 unset), emulated limits off"]
async fn vk_keyed_sends_at_scale_under_faults() {
    report(&vk(at_scale()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the run at scale: MESSENGER_FAULT_SENDS sends (300 unset), emulated limits off"]
async fn max_sends_at_scale_under_faults() {
    report(&max(at_scale()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the run at scale: MESSENGER_FAULT_SENDS sends (300 unset), emulated limits off"]
async fn avito_sends_at_scale_under_faults() {
    report(&avito(at_scale()).await);
}
