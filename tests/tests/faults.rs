//! Under injected faults, a run of 300 sends per platform in which no message is lost and none
//! is delivered twice, with the layers of messenger-core (`Retrying` over `RateLimited`) doing
//! the retrying, against the sandbox with its emulated rate limits on.
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
//!
//! "No message lost" means every send is either confirmed (`Ok`, and then delivered exactly
//! once) or reported `MaybeSent` to the caller (and then delivered at most once); a `NotSent`
//! error would be a silent loss, since every injected fault is retryable.
//!
//! A 5xx is `MaybeSent` on both connectors, so `Retrying` does not resend it without an
//! idempotency key. That is the right call for the real platforms even though the sandbox's
//! 5xx is documented as "not processed": a client cannot tell a 5xx raised before the work from
//! one raised after it (a 502/504 from a gateway in front of a backend that did send the
//! message), and neither Telegram nor WhatsApp de-duplicates a resent message, so resending
//! on a 5xx can deliver twice. The caller learns `MaybeSent` and decides.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::start_sandbox;
use messenger_core::backoff::Backoff;
use messenger_core::layers::{RateLimited, RetryPolicy, Retrying};
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    ChatId, Delivery, Error, ErrorKind, Messenger, OutgoingMessage, Platform, Rate, SendReport,
};
use messenger_sandbox::{
    AccountSpec, CustomerMessage, Fault, FaultSpec, NewCustomer, Sandbox, SandboxConfig,
};

const SENDS: usize = 300;
const FAULT_EVERY: usize = 10;

/// The faults, in the order they are injected (each one 5 times in a run of 300).
const FAULTS: [Fault; 6] = [
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
];

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
    }
}

/// The outcome of one send.
struct Sent {
    text: String,
    customer: String,
    fault: Option<Fault>,
    result: Result<SendReport, Error>,
}

/// Sends `msg-0001`...`msg-0300` round-robin to `customers` through `stack`, queueing a fault
/// for the next `operation` request before every 10th send.
async fn run(
    sandbox: &Sandbox,
    account: &str,
    operation: &str,
    stack: &dyn Messenger,
    customers: &[String],
) -> Vec<Sent> {
    let mut out = Vec::with_capacity(SENDS);
    for i in 0..SENDS {
        let fault = ((i + 1) % FAULT_EVERY == 0).then(|| FAULTS[(i / FAULT_EVERY) % FAULTS.len()]);
        if let Some(fault) = fault {
            sandbox
                .inject_fault(account, &FaultSpec::new(fault).operation(operation))
                .expect("the fault is queued");
        }
        let customer = customers[i % customers.len()].clone();
        let text = format!("msg-{:04}", i + 1);
        let result = tokio::time::timeout(
            Duration::from_secs(20),
            stack.send(&OutgoingMessage::text(customer.as_str(), text.as_str())),
        )
        .await
        .unwrap_or_else(|_| panic!("send {text} hung"));
        out.push(Sent {
            text,
            customer,
            fault,
            result,
        });
    }
    out
}

/// Checks a run against what the customers' phones show, and returns a one-line summary.
fn check(
    platform: Platform,
    sandbox: &Sandbox,
    account: &str,
    operation: &str,
    customers: &[String],
    sent: &[Sent],
) -> String {
    // Every message any customer received, by text: (customer, message id).
    let mut delivered: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for customer in customers {
        for view in sandbox.received(account, customer).expect("received") {
            let text = view.text.clone().expect("a text message");
            delivered
                .entry(text)
                .or_default()
                .push((customer.clone(), view.id.clone()));
        }
    }
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
    let count = |want: Expected| {
        faults
            .iter()
            .filter(|f| expected(Some(**f)) == want)
            .count()
    };
    assert_eq!(faults.len(), SENDS / FAULT_EVERY);
    assert_eq!(maybe_delivered, count(Expected::MaybeSentDelivered));
    assert_eq!(maybe_lost, count(Expected::MaybeSentNotDelivered));
    assert_eq!(confirmed, SENDS - maybe_delivered - maybe_lost);
    assert_eq!(
        delivered.len(),
        confirmed + maybe_delivered,
        "{platform}: nothing arrived that was not sent"
    );

    // Every fault hit exactly one request, and only rate limits were retried (once each).
    assert!(sandbox.faults(account).expect("faults").is_empty());
    let requests: Vec<_> = sandbox
        .requests(account)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation.eq_ignore_ascii_case(operation))
        .collect();
    let rate_limited = faults
        .iter()
        .filter(|f| matches!(f, Fault::RateLimited { .. }))
        .count();
    let organic_429 = requests
        .iter()
        .filter(|r| r.fault.is_none() && r.status == 429)
        .count();
    assert_eq!(
        requests.len(),
        SENDS + rate_limited + organic_429,
        "{platform}: one request per send, plus one retry per 429"
    );
    assert_eq!(
        requests.iter().filter(|r| r.fault.is_some()).count(),
        faults.len()
    );

    format!(
        "{platform}: {SENDS} sends, {} faults injected ({} x 5xx, {rate_limited} x 429, {} x delay, \
         {} x drop after processing, {} x truncated body, {} x drop before processing); \
         {confirmed} confirmed, {} MaybeSent ({maybe_delivered} of them delivered, {maybe_lost} \
         not), 0 NotSent, 0 duplicates; {} requests ({organic_429} organic 429s)",
        faults.len(),
        faults
            .iter()
            .filter(|f| matches!(f, Fault::ServerError { .. }))
            .count(),
        faults
            .iter()
            .filter(|f| matches!(f, Fault::Delay { .. }))
            .count(),
        faults
            .iter()
            .filter(|f| matches!(
                f,
                Fault::DropConnection {
                    before_processing: false
                }
            ))
            .count(),
        faults
            .iter()
            .filter(|f| matches!(f, Fault::TruncatedBody))
            .count(),
        faults
            .iter()
            .filter(|f| matches!(
                f,
                Fault::DropConnection {
                    before_processing: true
                }
            ))
            .count(),
        maybe_delivered + maybe_lost,
        requests.len(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    // The sandbox keeps Telegram's limits: 1 msg/s per chat (bursts of 5) and 30/s per bot.
    let sandbox = start_sandbox(SandboxConfig::default()).await;
    let account = sandbox
        .create_account(&AccountSpec::telegram())
        .expect("a bot");
    let customers: Vec<String> = (0..30)
        .map(|i| {
            sandbox
                .create_customer(&account.id, &NewCustomer::named(format!("Customer {i}")))
                .expect("a customer")
                .id
        })
        .collect();
    // 30 chats round-robin at 25/s overall: each chat gets a message every 1.2 s.
    let stack = Retrying::new(
        RateLimited::builder(integration_tests::telegram_bot(&sandbox, &account))
            .overall(Some(Rate::per_second(25)))
            .per_chat(Some(Rate::per_second(1)))
            .build(),
        retry_policy(),
    );
    let sent = run(&sandbox, &account.id, "sendMessage", &stack, &customers).await;
    let summary = check(
        Platform::Telegram,
        &sandbox,
        &account.id,
        "sendMessage",
        &customers,
        &sent,
    );
    report(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_300_sends_under_faults_lose_nothing_and_duplicate_nothing() {
    // The sandbox keeps WhatsApp's limits: 80 msg/s per number, and per customer a burst of 45
    // then one per 6 s; 10 customers get 30 messages each, within the burst.
    let sandbox = start_sandbox(SandboxConfig::default()).await;
    let account = sandbox
        .create_account(&AccountSpec::whatsapp())
        .expect("a number");
    let store = Arc::new(MemoryReplyWindowStore::default());
    let mut customers = Vec::new();
    for i in 0..10 {
        let customer = sandbox
            .create_customer(&account.id, &NewCustomer::named(format!("Customer {i}")))
            .expect("a customer");
        // The customer writes (the platform's window opens) and the CRM saw it (ours does).
        sandbox
            .customer_sends(
                &account.id,
                &customer.id,
                &CustomerMessage::text("Здравствуйте"),
            )
            .expect("the customer writes");
        store
            .record_inbound(
                Platform::WhatsApp,
                &ChatId::new(customer.id.clone()),
                chrono::Utc::now(),
            )
            .await
            .expect("recorded");
        customers.push(customer.id);
    }
    let connector = integration_tests::whatsapp(&sandbox, &account, Some(store));
    let stack = Retrying::new(
        RateLimited::builder(connector)
            .per_chat(Some(Rate::per_second(20)))
            .build(),
        retry_policy(),
    );
    let sent = run(&sandbox, &account.id, "messages", &stack, &customers).await;
    let summary = check(
        Platform::WhatsApp,
        &sandbox,
        &account.id,
        "messages",
        &customers,
        &sent,
    );
    report(&summary);
}
