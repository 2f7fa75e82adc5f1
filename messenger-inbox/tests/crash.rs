//! The crash test: a worker PROCESS is killed (SIGKILL) with sends in flight, between request
//! and acknowledgement, and restarted; the test counts what was lost and what was duplicated.
//!
//! This file is its own harness (`harness = false`): run plainly it is the test; run with
//! `INBOX_CRASH_WORKER=1` it is the worker process (an outbox worker on the database the test
//! names, sending through the registry's Telegram and VK connectors with credentials from
//! `file:` secret references), so the worker is a real child process of the test.
//!
//! - Telegram (the sandbox; a `Delay` fault holds the first sends in flight): Telegram drops no
//!   repeat, so every interrupted send must end `maybe_sent` and reach the customer at most
//!   once; every other one exactly once.
//! - VK (a small local stand-in of `messages.send` that, like VK, keeps one message per
//!   `random_id` and here acts on a request before holding its answer): every interrupted send
//!   is resent under its stored key after the restart and reaches the customer exactly once.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use messenger_core::Platform;
use messenger_core::layers::RetryPolicy;
use messenger_inbox::{
    ConversationId, DbConfig, Direction, Draft, Inbox, NewAccount, OutboxConfig, OutboxState,
    SecretRef, StackProvider,
};
use messenger_sandbox::{Fault, FaultSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PER_PLATFORM_CHATS: usize = 6;
const PER_CHAT: usize = 2;
const LEASE: Duration = Duration::from_millis(1500);

fn main() {
    if std::env::var_os("INBOX_CRASH_WORKER").is_some() {
        worker_main();
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tests = ["crash_sqlite", "crash_postgres"];
    if args.iter().any(|a| a == "--list") {
        for t in tests {
            println!("{t}: test");
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&str> = tests
        .iter()
        .copied()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.contains(f.as_str())))
        .filter(|_| !args.iter().any(|a| a == "--ignored"))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut passed, mut failed) = (0, 0);
    for name in selected {
        let result = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(180), async {
                let fixture = if name == "crash_sqlite" {
                    Some(Fixture::sqlite().await)
                } else {
                    Fixture::postgres().await
                };
                match fixture {
                    Some(f) => tokio::spawn(crash(f)).await.map_err(|e| e.to_string()),
                    None => {
                        eprintln!("SKIPPED: the PostgreSQL half of the crash test (set MESSENGER_PG_URL to run it)");
                        Ok(())
                    }
                }
            })
            .await
            .map_err(|_| "timed out".to_owned())?
        });
        match result {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed > 0 {
        std::process::exit(101);
    }
}

/// The worker process: one outbox worker until killed, or until idle with
/// `INBOX_CRASH_UNTIL_IDLE`.
fn worker_main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let target = std::env::var("INBOX_CRASH_DB").unwrap();
        let mut db = DbConfig::from_url(&target).unwrap();
        if let Ok(schema) = std::env::var("INBOX_CRASH_SCHEMA") {
            db = db.schema(schema);
        }
        let inbox = Inbox::builder(db, key())
            .outbox(OutboxConfig {
                lease: LEASE,
                batch: 32,
                ..OutboxConfig::default()
            })
            .open()
            .await
            .unwrap();
        inbox.set_provider(Arc::new(
            StackProvider::new([connector_telegram::ENTRY, connector_vk::ENTRY]).retry_policy(
                RetryPolicy::default().max_attempts(3).backoff(
                    messenger_core::backoff::Backoff::new(
                        Duration::from_millis(50),
                        Duration::from_millis(200),
                    ),
                ),
            ),
        ));
        let worker = inbox.worker(format!("crash-{}", std::process::id()));
        if std::env::var_os("INBOX_CRASH_UNTIL_IDLE").is_some() {
            worker
                .run_until_idle(Duration::from_secs(90))
                .await
                .unwrap();
        } else {
            let (_stop, stopped) = tokio::sync::watch::channel(false);
            worker.run(stopped).await;
        }
    });
}

/// A stand-in of VK's `messages.send`: acts on each request at once (a new `random_id` per
/// peer is a new message; a repeated one is dropped, as VK does) and, while `hold` is set,
/// keeps the answer back.
#[derive(Default)]
struct FakeVk {
    /// `(peer, random_id)` → the message id and the text delivered.
    delivered: Mutex<HashMap<(String, String), (usize, String)>>,
    requests: Mutex<usize>,
    repeats: Mutex<usize>,
    hold: std::sync::atomic::AtomicBool,
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("20");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b' '));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn fake_vk(state: Arc<FakeVk>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break String::from_utf8_lossy(&buf[end + 4..end + 4 + len])
                                .into_owned();
                        }
                    }
                };
                let params = form(&body);
                let key = (
                    params.get("peer_id").cloned().unwrap_or_default(),
                    params.get("random_id").cloned().unwrap_or_default(),
                );
                let id = {
                    *state.requests.lock().unwrap() += 1;
                    let mut delivered = state.delivered.lock().unwrap();
                    let next = delivered.len() + 1;
                    if delivered.contains_key(&key) {
                        *state.repeats.lock().unwrap() += 1;
                    } else {
                        delivered.insert(
                            key.clone(),
                            (next, params.get("message").cloned().unwrap_or_default()),
                        );
                    }
                    delivered[&key].0
                };
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while state.hold.load(std::sync::atomic::Ordering::SeqCst)
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let answer = format!(r#"{{"response":{id}}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    SecretRef::parse(&format!("file:{}", path.display())).unwrap()
}

fn spawn_worker(
    f: &Fixture,
    db_target: &str,
    schema: Option<&str>,
    until_idle: bool,
) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("INBOX_CRASH_WORKER", "1")
        .env("INBOX_CRASH_DB", db_target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(schema) = schema {
        cmd.env("INBOX_CRASH_SCHEMA", schema);
    }
    if until_idle {
        cmd.env("INBOX_CRASH_UNTIL_IDLE", "1");
    }
    let _ = f;
    cmd.spawn().unwrap()
}

async fn crash(f: Fixture) {
    let (db_target, schema) = f.target();
    let s = f.seed().await;
    let dir = std::env::temp_dir().join(Fixture::unique("crash-secrets"));
    std::fs::create_dir_all(&dir).unwrap();

    // Telegram on the sandbox.
    let sandbox = messenger_sandbox::Sandbox::start("127.0.0.1:0")
        .await
        .unwrap();
    let bot = sandbox
        .create_account(&messenger_sandbox::AccountSpec::telegram())
        .unwrap();
    let creds = sandbox.credentials(&bot.id).unwrap();
    let tg_account = f
        .inbox
        .add_account(
            s.owner.id,
            NewAccount::new(Platform::Telegram, "Crash bot")
                .setting("base_url", creds.get("base_url").unwrap())
                .secret(
                    "token",
                    secret_file(&dir, "tg", creds.get("token").unwrap()),
                ),
        )
        .await
        .unwrap();
    // VK on the stand-in.
    let vk_state = Arc::new(FakeVk::default());
    let vk_url = fake_vk(vk_state.clone()).await;
    let vk_account = f
        .inbox
        .add_account(
            s.owner.id,
            NewAccount::new(Platform::Vk, "Crash community")
                .setting("base_url", vk_url)
                .setting("group_id", "229000000")
                .secret("token", secret_file(&dir, "vk", "vk1.a.crash-test-token")),
        )
        .await
        .unwrap();
    for a in [tg_account.id, vk_account.id] {
        f.inbox
            .activate_account(s.owner.id, a, EDITION, "crash test")
            .await
            .unwrap();
    }

    // Customers who wrote, and the sends, all persisted before any worker runs.
    let mut tg_customers = Vec::new();
    let mut convs: Vec<(Platform, String, ConversationId)> = Vec::new();
    for i in 0..PER_PLATFORM_CHATS {
        let c = sandbox
            .create_customer(
                &bot.id,
                &messenger_sandbox::NewCustomer::named(format!("C{i}")),
            )
            .unwrap();
        f.inbox
            .ingest(tg_account.id, &[tg(&c.id, "in-1", "hello")])
            .await
            .unwrap();
        convs.push((
            Platform::Telegram,
            c.id.clone(),
            conversation_of(&f, &s.owner, &tg_account, &c.id).await,
        ));
        tg_customers.push(c);
        let peer = format!("{}", 100_001 + i);
        f.inbox
            .ingest(vk_account.id, &[msg(Platform::Vk, &peer, "1", "hello")])
            .await
            .unwrap();
        convs.push((
            Platform::Vk,
            peer.clone(),
            conversation_of(&f, &s.owner, &vk_account, &peer).await,
        ));
    }
    let mut markers: Vec<(Platform, String, String)> = Vec::new(); // platform, chat, marker
    for round in 0..PER_CHAT {
        for (platform, chat, conv) in &convs {
            let marker = format!("{}-{chat}-{round}", platform.as_str());
            f.inbox
                .send(
                    s.owner.id,
                    *conv,
                    Draft::text(format!("order update {marker}")),
                )
                .await
                .unwrap();
            markers.push((*platform, chat.clone(), marker));
        }
    }

    // Hold the first send of every chat in flight.
    sandbox
        .inject_fault(
            &bot.id,
            &FaultSpec::new(Fault::Delay { millis: 30_000 })
                .operation("sendMessage")
                .times(PER_PLATFORM_CHATS as u32),
        )
        .unwrap();
    vk_state
        .hold
        .store(true, std::sync::atomic::Ordering::SeqCst);

    let mut first = spawn_worker(&f, &db_target, schema.as_deref(), false);
    let chats = 2 * PER_PLATFORM_CHATS;
    eventually("every chat's first send in flight", || async {
        let sending = f
            .inbox
            .outbox_entries(s.owner.id, OutboxState::Sending, 100)
            .await
            .unwrap()
            .len();
        sending == chats && *vk_state.requests.lock().unwrap() >= PER_PLATFORM_CHATS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await; // the Telegram requests reach the sandbox
    first.kill().await.unwrap(); // SIGKILL, between request and acknowledgement
    let _ = first.wait().await;
    let interrupted = f
        .inbox
        .outbox_entries(s.owner.id, OutboxState::Sending, 100)
        .await
        .unwrap()
        .len();

    // The platforms answer normally again; a new worker process takes over.
    vk_state
        .hold
        .store(false, std::sync::atomic::Ordering::SeqCst);
    sandbox.clear_faults(&bot.id).unwrap();
    let mut second = spawn_worker(&f, &db_target, schema.as_deref(), true);
    let status = tokio::time::timeout(Duration::from_secs(120), second.wait())
        .await
        .expect("the second worker never finished")
        .unwrap();
    assert!(status.success(), "the second worker failed");

    // Count.
    let mut state_of: HashMap<String, OutboxState> = HashMap::new();
    for (_, _, conv) in &convs {
        for m in f.inbox.history(s.owner.id, *conv, None, 100).await.unwrap() {
            if m.direction == Direction::Outbound {
                let text = m.content.text().unwrap_or_default().to_owned();
                let marker = text.trim_start_matches("order update ").to_owned();
                let e = f
                    .inbox
                    .outbox_entry(s.owner.id, m.outbox.unwrap())
                    .await
                    .unwrap();
                state_of.insert(marker, e.state);
            }
        }
    }
    assert_eq!(
        state_of.len(),
        markers.len(),
        "every send is still accounted for"
    );
    let tg_received: Vec<String> = tg_customers
        .iter()
        .flat_map(|c| sandbox.received(&bot.id, &c.id).unwrap())
        .map(|m| m.text.unwrap_or_default())
        .collect();
    let vk_received: Vec<String> = vk_state
        .delivered
        .lock()
        .unwrap()
        .values()
        .map(|v| v.1.clone())
        .collect();
    let mut counts = HashMap::<&str, usize>::new();
    let (mut tg_sent, mut tg_maybe, mut tg_maybe_delivered, mut vk_sent) = (0, 0, 0, 0);
    for (platform, _, marker) in &markers {
        let received = if *platform == Platform::Telegram {
            &tg_received
        } else {
            &vk_received
        };
        let n = received
            .iter()
            .filter(|t| t.contains(&format!("{marker}\n")) || t.ends_with(marker.as_str()))
            .count();
        *counts.entry(marker).or_default() = n;
        let state = state_of[marker];
        assert!(n <= 1, "{marker} was delivered {n} times");
        match (platform, state) {
            (Platform::Telegram, OutboxState::Sent) => {
                assert_eq!(n, 1, "{marker}: sent but not delivered");
                tg_sent += 1;
            }
            (Platform::Telegram, OutboxState::MaybeSent) => {
                tg_maybe += 1;
                tg_maybe_delivered += n;
            }
            (Platform::Vk, OutboxState::Sent) => {
                assert_eq!(n, 1, "{marker}: sent but not delivered exactly once");
                vk_sent += 1;
            }
            other => panic!("{marker}: unexpected end state {other:?}"),
        }
    }
    let repeats = *vk_state.repeats.lock().unwrap();
    assert_eq!(
        interrupted, chats,
        "every chat had a send in flight at the kill"
    );
    assert_eq!(
        tg_maybe, PER_PLATFORM_CHATS,
        "every interrupted Telegram send is maybe_sent"
    );
    assert_eq!(tg_sent, PER_PLATFORM_CHATS * (PER_CHAT - 1));
    assert_eq!(
        vk_sent,
        PER_PLATFORM_CHATS * PER_CHAT,
        "every VK send went out"
    );
    assert!(
        repeats >= PER_PLATFORM_CHATS,
        "the interrupted VK sends were resent under their keys ({repeats})"
    );
    println!(
        "crash test ({}): {} sends, {} in flight at SIGKILL; telegram: {tg_sent} sent once, {tg_maybe} maybe_sent \
         (delivered {tg_maybe_delivered}, never resent), 0 lost, 0 duplicated; vk: {vk_sent} sent, {repeats} resent \
         under their key and dropped as repeats, each delivered exactly once",
        f.backend,
        markers.len(),
        interrupted
    );
    let _ = std::fs::remove_dir_all(&dir);
    sandbox.shutdown().await;
}
