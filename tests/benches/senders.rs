//! Senders at the platforms' allowed rate: workloads driven through the recommended layer stack
//! (`Stack`: dedup, gate, retry, rate limit) and each platform's connector against the sandbox
//! with its rate limits on (`SandboxConfig::default()`, the referee), measuring utilisation
//! (the time the documented limits allow / the time taken) and the throttling answers the
//! sandbox gave (Telegram and MAX 429, WhatsApp 130429 / 131056, VK error 6).
//!
//! ```sh
//! cargo bench -p integration-tests --bench senders            # every workload (~4 min)
//! cargo bench -p integration-tests --bench senders -- W3      # the workloads whose name starts W3
//! cargo bench -p integration-tests --bench senders -- --limits-only   # only what the limits allow
//! cargo bench -p integration-tests --bench senders -- control  # the referee refuses a sender without limits
//! ```
//!
//! Timing is measured here and printed, never asserted. Every send of a workload is called at
//! once (a CRM's outbox releasing a backlog), in rounds across the chats, so each chat's sends
//! queue in order behind its own limits and every chat competes for the account's.
//!
//! "The time the limits allow" is computed from the platform's documented limits
//! (`Capabilities::rate_limits`, without the sender's 1 % quota margin or its rounding of a
//! spacing up to a whole millisecond): the last start of the fastest schedule a sender with no
//! latency could keep (see `allowed`). "Taken" runs from the moment every send was called to
//! the last answer, so it also holds the connector's, the sandbox's and the network's time.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use connector_max::MaxConfig;
use connector_telegram::TelegramConfig;
use connector_vk::VkConfig;
use connector_whatsapp::{WhatsApp, WhatsAppConfig};
use messenger_core::capabilities::{Rate, RateLimits};
use messenger_core::consent::{AgreementEdition, Consent};
use messenger_core::layers::{Stack, Wrapper};
use messenger_core::plan::Part;
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    AccountId, ChatId, ErrorKind, Messenger, OutgoingMessage, Platform, Result, SentPart, Template,
};
use messenger_sandbox::{
    AccountSpec, CustomerMessage, GroupKind, MessageDirection, MessageView, NewCustomer, NewGroup,
    Sandbox, SandboxConfig,
};

/// One workload: `per_chat` sends to each of `chats` chats of one account.
#[derive(Debug, Clone, Copy)]
struct Workload {
    name: &'static str,
    platform: Platform,
    chats: usize,
    per_chat: usize,
    /// Telegram supergroups instead of private chats.
    groups: bool,
    /// The sender keeps the platform's limits itself (`false`: a control run, the stack without
    /// proactive limits, to show that the referee refuses what goes over them).
    proactive: bool,
    /// What the workload is about.
    what: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "W1",
        platform: Platform::Telegram,
        chats: 60,
        per_chat: 10,
        groups: false,
        proactive: true,
        what: "600 msgs, 60 private chats (the bot's 30/s binds)",
    },
    Workload {
        name: "W2",
        platform: Platform::Telegram,
        chats: 10,
        per_chat: 30,
        groups: false,
        proactive: true,
        what: "300 msgs, 10 private chats (1/s per chat binds)",
    },
    Workload {
        name: "W3",
        platform: Platform::Telegram,
        chats: 5,
        per_chat: 10,
        groups: true,
        proactive: true,
        what: "50 msgs, 5 supergroups (1/s per chat binds; 20/min not reached)",
    },
    Workload {
        name: "W3q",
        platform: Platform::Telegram,
        chats: 1,
        per_chat: 25,
        groups: true,
        proactive: true,
        what: "25 msgs, 1 supergroup (20/min quota binds)",
    },
    Workload {
        name: "WA1",
        platform: Platform::WhatsApp,
        chats: 400,
        per_chat: 2,
        groups: false,
        proactive: true,
        what: "800 msgs, 400 users (80/s per number and the 6 s pair rate bind)",
    },
    Workload {
        name: "WA2",
        platform: Platform::WhatsApp,
        chats: 10,
        per_chat: 5,
        groups: false,
        proactive: true,
        what: "50 msgs, 10 users (pair rate 1/6 s binds)",
    },
    Workload {
        name: "VK1",
        platform: Platform::Vk,
        chats: 40,
        per_chat: 10,
        groups: false,
        proactive: true,
        what: "400 msgs, 40 users (20 req/s per community binds)",
    },
    Workload {
        name: "MAX1",
        platform: Platform::Max,
        chats: 60,
        per_chat: 10,
        groups: false,
        proactive: true,
        what: "600 msgs, 60 users (30 rps binds)",
    },
    Workload {
        name: "control-W1",
        platform: Platform::Telegram,
        chats: 60,
        per_chat: 10,
        groups: false,
        proactive: false,
        what: "W1 with no proactive limits in the stack (control)",
    },
    Workload {
        name: "control-W3q",
        platform: Platform::Telegram,
        chats: 1,
        per_chat: 25,
        groups: true,
        proactive: false,
        what: "W3q with no proactive limits in the stack (control)",
    },
];

/// The connector under the stack: counts the platform's throttling answers.
struct Counting<M> {
    inner: M,
    throttled: AtomicU64,
}

impl<M: Messenger> Counting<M> {
    fn new(inner: M) -> Self {
        Self {
            inner,
            throttled: AtomicU64::new(0),
        }
    }

    fn count<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(err) = &result
            && err.kind() == ErrorKind::RateLimited
        {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        result
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
    messenger_core::forward_messenger!(except [send_part, send_template]);

    async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
        self.count(self.inner.send_part(chat, part).await)
    }

    async fn send_template(&self, chat: &ChatId, template: &Template) -> Result<SentPart> {
        self.count(self.inner.send_template(chat, template).await)
    }
}

/// What a workload measured.
struct Outcome {
    workload: Workload,
    sends: usize,
    allowed: Duration,
    taken: Duration,
    throttled: u64,
    failed: usize,
    delivered: usize,
    in_order: bool,
}

/// One chat of a workload: what the connector sends to, and where the sandbox shows it.
struct Chat {
    target: ChatId,
    customer: Option<String>,
    group: Option<String>,
}

/// The earliest instant a send may start under `rate`, given the starts so far under it.
fn ready(rate: Rate, starts: &[f64]) -> f64 {
    let count = usize::try_from(rate.count.max(1)).unwrap_or(usize::MAX);
    if rate.is_quota() {
        if starts.len() >= count {
            starts[starts.len() - count] + rate.per.as_secs_f64()
        } else {
            0.0
        }
    } else {
        starts
            .last()
            .map_or(0.0, |last| last + rate.interval().as_secs_f64())
    }
}

/// The time the documented limits allow for the workload: the last start of an ideal schedule
/// made by a sender with no latency under the exact limits (no margin, no rounding), that sends
/// at every instant the limits allow, the chat that can go earliest first (ties: the one with
/// the most sends left). For these workloads (every chat alike) that schedule is the fastest
/// there is.
fn allowed(workload: &Workload, limits: RateLimits) -> Duration {
    let chat_rates: Vec<Rate> = [
        limits.per_chat,
        limits.per_group.filter(|_| workload.groups),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut chats: Vec<Vec<f64>> = vec![Vec::new(); workload.chats];
    let mut overall: Vec<f64> = Vec::new();
    let mut last = 0.0_f64;
    for _ in 0..workload.chats * workload.per_chat {
        let (chat, at) = chats
            .iter()
            .enumerate()
            .filter(|(_, starts)| starts.len() < workload.per_chat)
            .map(|(i, starts)| {
                let at = chat_rates
                    .iter()
                    .map(|rate| ready(*rate, starts))
                    .fold(0.0_f64, f64::max);
                (i, at, starts.len())
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)))
            .map(|(i, at, _)| (i, at))
            .expect("a chat with sends left");
        let at = limits
            .overall
            .map_or(at, |rate| at.max(ready(rate, &overall)));
        chats[chat].push(at);
        overall.push(at);
        last = last.max(at);
    }
    Duration::from_secs_f64(last)
}

async fn active_consent(owner: &AccountId) -> Arc<Consent> {
    let consent = Arc::new(Consent::builder().build());
    consent
        .publish(AgreementEdition::new(
            "2026-01",
            Utc::now() - chrono::Duration::days(1),
            "https://crm.example/messenger-agreement/2026-01"
                .parse()
                .expect("a valid URL"),
            "The messenger module agreement, edition 2026-01.",
        ))
        .await
        .expect("the edition is published");
    consent
        .activate(
            owner,
            "2026-01",
            "benchmark: the owner activated the module",
        )
        .await
        .expect("the module is activated");
    consent
}

/// The account, its chats and its connector (boxed so that every platform runs the same code).
async fn setup(sandbox: &Sandbox, workload: &Workload) -> (String, Vec<Chat>, Arc<dyn Messenger>) {
    let platform = workload.platform;
    let spec = match platform {
        Platform::Vk => AccountSpec::vk(),
        other => AccountSpec::new(other),
    };
    let account = sandbox.create_account(&spec).expect("an account");
    let root = sandbox
        .urls()
        .platform(platform)
        .expect("the sandbox emulates the platform")
        .to_owned();
    let mut chats = Vec::new();
    let window_store = Arc::new(MemoryReplyWindowStore::default());
    for i in 0..workload.chats {
        let mut new = NewCustomer::named(format!("Customer {i}"));
        if platform == Platform::Vk {
            new = new.allows_messages(true);
        }
        let customer = sandbox
            .create_customer(&account.id, &new)
            .expect("a customer");
        if workload.groups {
            let group = sandbox
                .create_group(
                    &account.id,
                    &NewGroup::new(GroupKind::Supergroup)
                        .title(format!("Group {i}"))
                        .member(&customer.id),
                )
                .expect("a group");
            chats.push(Chat {
                target: ChatId::new(group.id.clone()),
                customer: None,
                group: Some(group.id),
            });
            continue;
        }
        let target = match platform {
            Platform::Max => ChatId::new(format!("user:{}", customer.id)),
            _ => ChatId::new(customer.id.clone()),
        };
        if platform == Platform::WhatsApp {
            // The customer wrote first: the 24 h window is open, at the sandbox and in the
            // connector's store.
            sandbox
                .customer_sends(&account.id, &customer.id, &CustomerMessage::text("hello"))
                .expect("the customer writes");
            window_store
                .record_inbound(
                    Platform::WhatsApp,
                    &ChatId::new(customer.id.clone()),
                    Utc::now(),
                )
                .await
                .expect("the window opens");
        }
        chats.push(Chat {
            target,
            customer: Some(customer.id),
            group: None,
        });
    }
    let connector: Arc<dyn Messenger> = match platform {
        Platform::Telegram => Arc::new(
            TelegramConfig::new(account.token.clone())
                .base_url(root)
                .build()
                .expect("a Telegram connector"),
        ),
        Platform::WhatsApp => Arc::new(
            WhatsApp::new(
                WhatsAppConfig::new(account.token.clone(), account.id.clone())
                    .base_url(root)
                    .window_store(window_store),
            )
            .expect("a WhatsApp connector"),
        ),
        Platform::Vk => Arc::new(
            VkConfig::new(
                account.token.clone(),
                account.id.parse().expect("a VK community id is a number"),
            )
            .base_url(root)
            .build()
            .expect("a VK connector"),
        ),
        Platform::Max => Arc::new(
            MaxConfig::new(account.token.clone())
                .base_url(root)
                .build()
                .expect("a MAX connector"),
        ),
        other => unreachable!("no workload on {other}: it documents no limits"),
    };
    (account.id, chats, connector)
}

/// What the sandbox shows the account sent to a chat, in order.
fn sent_to(sandbox: &Sandbox, account: &str, chat: &Chat) -> Vec<MessageView> {
    match (&chat.customer, &chat.group) {
        (Some(customer), _) => sandbox.received(account, customer).expect("the chat"),
        (None, Some(group)) => sandbox
            .group_messages(account, group)
            .expect("the group")
            .into_iter()
            .filter(|m| m.direction == MessageDirection::Outbound)
            .collect(),
        (None, None) => Vec::new(),
    }
}

async fn run(workload: Workload) -> Outcome {
    let sandbox = Sandbox::start_with("127.0.0.1:0", SandboxConfig::default())
        .await
        .expect("the sandbox starts on 127.0.0.1:0");
    let (account, chats, connector) = setup(&sandbox, &workload).await;
    let limits = connector.capabilities().rate_limits;
    let counting = Arc::new(Counting::new(connector));
    let owner = AccountId::new(format!("bench-{}", workload.name));
    let mut stack = Stack::new(
        Arc::clone(&counting),
        owner.clone(),
        active_consent(&owner).await,
    );
    if !workload.proactive {
        stack = stack.rate_limits(RateLimits::default());
    }
    let stack = stack.build();

    let mut sends = Vec::new();
    for round in 0..workload.per_chat {
        for chat in &chats {
            let message =
                OutgoingMessage::text(chat.target.clone(), format!("{} #{round}", workload.name));
            sends.push(message);
        }
    }
    let started = Instant::now();
    let results = futures::future::join_all(sends.iter().map(|message| {
        let stack = &stack;
        async move {
            let result = stack.send(message).await;
            (result.is_ok(), Instant::now())
        }
    }))
    .await;
    let last = results.iter().map(|(_, at)| *at).max().unwrap_or(started);

    let mut delivered = 0;
    let mut in_order = true;
    for chat in &chats {
        let got = sent_to(&sandbox, &account, chat);
        delivered += got.len();
        let expected = (0..workload.per_chat).map(|round| format!("{} #{round}", workload.name));
        in_order &= got.len() == workload.per_chat
            && got
                .iter()
                .zip(expected)
                .all(|(m, want)| m.text.as_deref().is_some_and(|t| t.starts_with(&want)));
    }
    let outcome = Outcome {
        workload,
        sends: sends.len(),
        allowed: allowed(&workload, limits),
        taken: last - started,
        throttled: counting.throttled.load(Ordering::Relaxed),
        failed: results.iter().filter(|(ok, _)| !ok).count(),
        delivered,
        in_order,
    };
    sandbox.shutdown().await;
    outcome
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {cpu}")
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let chosen: Vec<Workload> = WORKLOADS
        .iter()
        .copied()
        .filter(|w| {
            // The control runs only when asked for by name.
            (filters.is_empty() && w.proactive)
                || filters.iter().any(|f| w.name.starts_with(f.as_str()))
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if std::env::args().any(|a| a == "--limits-only") {
        // What the limits allow, without running anything.
        for w in &chosen {
            let limits = messenger_core::Capabilities::of(w.platform).rate_limits;
            let _ = writeln!(
                out,
                "{} {}: {:.3} s",
                w.name,
                w.what,
                allowed(w, limits).as_secs_f64()
            );
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let _ = writeln!(out, "senders against the sandbox's limits; {}", machine());
    let _ = writeln!(
        out,
        "| workload | platform | what | sends | limits allow | taken | utilisation | throttling answers | failed | delivered, in order |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let mut summary = BTreeMap::new();
    for workload in chosen {
        let o = runtime.block_on(run(workload));
        let utilisation = o.allowed.as_secs_f64() / o.taken.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} s | {:.2} s | **{:.3}** | {} | {} | {}/{}, {} |",
            o.workload.name,
            o.workload.platform,
            o.workload.what,
            o.sends,
            o.allowed.as_secs_f64(),
            o.taken.as_secs_f64(),
            utilisation,
            o.throttled,
            o.failed,
            o.delivered,
            o.sends,
            if o.in_order {
                "in order"
            } else {
                "OUT OF ORDER"
            },
        );
        let _ = out.flush();
        summary.insert(o.workload.name, (utilisation, o.throttled));
    }
    let short: Vec<&str> = summary
        .iter()
        .filter(|(name, (u, t))| !name.starts_with("control") && (*u < 0.95 || *t > 0))
        .map(|(name, _)| *name)
        .collect();
    let _ = writeln!(
        out,
        "target: utilisation >= 0.95 and 0 throttling answers; short of it: {}",
        if short.is_empty() {
            "none".to_owned()
        } else {
            short.join(", ")
        }
    );
}
