//! Memory flat in size: the largest file each platform allows, up and down through its
//! connector, with the connector's and the sandbox's peak memory growth under 16 MiB each; and
//! 10 000 accounts (`Messenger` values with the recommended layers) per platform in one
//! process, under 100 KB each.
//!
//! `#[ignore]`d (`.ci/run` runs them in its `--ignored` step); each prints its figures:
//! `cargo test -p integration-tests --test memory -- --ignored --nocapture --test-threads 1`.
//!
//! # How it is measured
//!
//! - **The connector** (this process): a counting global allocator ([`peakmem_alloc`]) whose
//!   peak is reset right before the transfer; the figure is the most bytes allocated at any
//!   moment of the transfer above what was allocated when it started. The tests of this binary
//!   run one at a time ([`serial`]), so nothing else allocates meanwhile but the runtime.
//! - **The sandbox** runs in a process of its own (`sandbox-process`, `tests/bin/`): its
//!   resident-set peak (`VmHWM` of `/proc/<pid>/status`) is reset to its current resident set
//!   (`echo 5 > /proc/<pid>/clear_refs`) right before the transfer, and the figure is the peak
//!   after it minus the resident set before it: everything the process touched, allocator or
//!   not.
//! - **The transfer**: uploads are `MediaSource::file` sends (read from disk in chunks at each
//!   attempt); downloads are the connector's `download` stream drained into a sink that
//!   compares each chunk with the file on disk and keeps nothing. An upload is checked by the
//!   size and SHA-256 the sandbox reports; a download by comparing every byte. The files are
//!   written to a temporary folder of this test and removed with it.
//!
//! A connector that buffered a whole file would allocate at least the file's size (20 to
//! 100 MB here) and fail the 16 MiB bound; so would a sandbox that kept uploads in memory.
//! Each test also checks that its instruments do see a whole file when one is held: the
//! sandbox process's peak while it takes the customer's file from the control API (which
//! takes media as bytes), and this process's counter while it reads the file into memory.
//!
//! # Sizes (the platforms' own limits, `messenger-core/src/capabilities/`)
//!
//! | platform | upload | download |
//! |---|---|---|
//! | Telegram | 50 MiB document (the cloud Bot API's upload limit; 100 MB is not allowed) | 20 MiB (`getFile`'s limit) |
//! | WhatsApp | 100 MB document | 100 MB document |
//! | MAX | 100 MB file (files go to 4 GB) | 100 MB file |
//! | VK | 100 MB document (documents go to 200 MB) | 100 MB document |
//! | Avito | 24 MB image (the upload limit; 100 MB is not allowed) | 24 MB image |
//!
//! # Accounts
//!
//! 10 000 accounts of one platform are built from credentials, each its connector (the
//! registry's `ENTRY.build`, as the CLI and the server build them) in the layer stack
//! (`messenger_core::layers::Stack`: dedup, gate, retry, rate limit), all sharing one
//! `Consent`, and all held at once; the figure is the allocator's peak growth while building
//! and holding them, divided by 10 000 (an upper bound of what each keeps). It is measured
//! twice: each connector with an HTTP client of its own (what the registry builds), and with
//! one HTTP client shared by all (`HttpSettings::client`, what a process of many accounts
//! should do). No request is made: "connected" here is the value a CRM holds per account;
//! a connection's pooled sockets come on top while they are open.

use std::alloc::System;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use integration_tests::{Events, active_consent};
use messenger_core::layers::{RetryPolicy, Stack};
use messenger_core::registry::Credentials;
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    AccountId, ChatId, ContentKind, MediaRef, MediaSource, Messenger, OutgoingContent,
    OutgoingMessage, Platform,
};
use messenger_sandbox::{
    AccountSpec, Control, CustomerMessage, InboundReceipt, MessageView, NewCustomer,
};
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const MIB: u64 = 1 << 20;
const MB: u64 = 1_000_000;

/// The most a transfer may add to either side's memory at any moment.
const TRANSFER_BUDGET: u64 = 16 * MIB;

/// The most one account may keep.
const ACCOUNT_BUDGET: usize = 100 * 1000;

/// How many accounts of one platform are built.
const ACCOUNTS: usize = 10_000;

/// The longest one step (a transfer, a command to the sandbox process) may take.
const STEP: Duration = Duration::from_secs(180);

/// The tests of this binary run one at a time: the allocator's counters are process-wide.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

#[allow(clippy::print_stdout)]
fn report(line: &str) {
    println!("{line}");
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

// ---------------------------------------------------------------------------------------------
// The sandbox in a process of its own
// ---------------------------------------------------------------------------------------------

/// `sandbox-process`, its control API and its memory figures. Dropping it closes its
/// standard input (the sandbox shuts down and removes its media folder) and waits for it.
struct SandboxProcess {
    process: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    control: Control,
    media_dir: PathBuf,
}

impl SandboxProcess {
    fn start() -> Self {
        let mut process = Command::new(env!("CARGO_BIN_EXE_sandbox-process"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the sandbox process starts");
        let stdout = process.stdout.take().expect("its standard output");
        let stdin = process.stdin.take();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the sandbox process says it is ready");
        let mut words = ready.split_whitespace();
        assert_eq!(words.next(), Some("ready"), "{ready}");
        let base = words.next().expect("its base URL").to_owned();
        let media_dir = PathBuf::from(words.next().expect("its media folder"));
        let control = Control::new(format!("{base}/control")).expect("a control client");
        Self {
            process,
            stdin,
            lines,
            control,
            media_dir,
        }
    }

    /// A field of `/proc/<pid>/status`, in bytes.
    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.id()))
            .expect("the sandbox process's status");
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a number of kB");
        kb * 1024
    }

    /// Resets the process's resident-set peak to its resident set; returns that.
    fn reset_peak(&self) -> u64 {
        std::fs::write(format!("/proc/{}/clear_refs", self.process.id()), "5")
            .expect("the kernel resets the peak of a child process (/proc/<pid>/clear_refs)");
        let (rss, hwm) = (self.status("VmRSS"), self.status("VmHWM"));
        assert!(
            hwm <= rss + MIB,
            "the peak was not reset: VmHWM {} over VmRSS {}",
            mib(hwm),
            mib(rss)
        );
        rss
    }

    /// Sends a command line and returns the JSON of its `ok` answer.
    fn command(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().expect("standard input is open");
        writeln!(stdin, "{line}").expect("the command is written");
        stdin.flush().expect("the command is sent");
        let answer = tokio::task::block_in_place(|| self.lines.recv_timeout(STEP))
            .expect("the sandbox process answers in time");
        match answer.split_once(' ') {
            Some(("ok", json)) => json.to_owned(),
            _ => panic!("the sandbox process refused `{line}`: {answer}"),
        }
    }

    /// The customer sends the file at `path` (media of `kind`: `file`, `image`).
    fn customer_file(
        &mut self,
        account: &str,
        customer: &str,
        kind: &str,
        mime: &str,
        path: &Path,
    ) -> InboundReceipt {
        let json = self.command(&format!(
            "customer-file {account} {customer} {kind} {mime} {}",
            path.display()
        ));
        serde_json::from_str(&json).expect("a receipt")
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.process.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.process.kill();
                    let _ = self.process.wait();
                    break;
                }
            }
        }
    }
}

/// What a transfer cost each side.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// The peak of this process's allocations above where they were when it started.
    connector: u64,
    /// The sandbox process's resident-set peak above its resident set when it started.
    sandbox: u64,
}

/// Runs `work`, measuring both sides.
async fn measured<T>(sandbox: &SandboxProcess, work: impl Future<Output = T>) -> (T, Usage) {
    let rss_before = sandbox.reset_peak();
    ALLOCATOR.reset_peak_memory();
    let out = tokio::time::timeout(STEP, work)
        .await
        .expect("the transfer ends in time");
    let connector = ALLOCATOR.get_peak_memory() as u64;
    let sandbox = sandbox.status("VmHWM").saturating_sub(rss_before);
    (out, Usage { connector, sandbox })
}

// ---------------------------------------------------------------------------------------------
// Files on disk
// ---------------------------------------------------------------------------------------------

/// A temporary folder of this test, removed (with its files) when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "messenger-memory-test-{}-{:016x}",
            std::process::id(),
            fastrand_u64()
        ));
        std::fs::create_dir(&path).expect("a scratch folder");
        Self(path)
    }

    /// Writes a file of `size` bytes that starts with `magic` and goes on with a pattern in
    /// which every 64 KiB differ; returns its path and SHA-256.
    fn file(&self, name: &str, size: u64, magic: &[u8]) -> (PathBuf, String) {
        let path = self.0.join(name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("a file"));
        let mut block = vec![0u8; 64 * 1024];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for byte in &mut block {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8;
        }
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut n: u64 = 0;
        while written < size {
            block[..8].copy_from_slice(&n.to_be_bytes());
            if n == 0 {
                block[..magic.len()].copy_from_slice(magic);
            }
            let take = (size - written).min(block.len() as u64) as usize;
            file.write_all(&block[..take]).expect("the file is written");
            hasher.update(&block[..take]);
            written += take as u64;
            n += 1;
        }
        file.flush().expect("the file is written");
        (path, hex::encode(hasher.finalize()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    hasher.finish()
}

/// A PDF's magic bytes.
const PDF: &[u8] = b"%PDF-1.7\n";

/// A PNG's signature and an `IHDR` of 1000x1000 (1 megapixel).
fn png_magic() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(b"\x08\x02\0\0\0");
    v
}

/// Drains a download into a sink that compares every chunk with the file at `expected` and
/// keeps nothing; returns the number of bytes.
async fn drain_and_compare(messenger: &dyn Messenger, media: &MediaRef, expected: &Path) -> u64 {
    let mut stream = messenger
        .download(media)
        .await
        .unwrap_or_else(|e| panic!("the download starts: {e}"));
    let mut file = std::fs::File::open(expected).expect("the expected file");
    let mut want = Vec::new();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap_or_else(|e| panic!("a download chunk at {total}: {e}"));
        want.resize(chunk.len(), 0);
        file.read_exact(&mut want)
            .unwrap_or_else(|_| panic!("the download is longer than the file ({total}+)"));
        assert!(
            chunk.as_ref() == want.as_slice(),
            "the download differs from the file within bytes {total}..{}",
            total + chunk.len() as u64
        );
        total += chunk.len() as u64;
    }
    total
}

// ---------------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------------

/// One platform's case.
struct Case {
    platform: Platform,
    upload_size: u64,
    upload_kind: ContentKind,
    upload_mime: &'static str,
    upload_name: &'static str,
    download_size: u64,
    /// The customer's media kind (`file`, `image`).
    download_kind: &'static str,
    download_mime: &'static str,
    download_name: &'static str,
    magic: Vec<u8>,
}

/// An account of the case's platform in the sandbox process, one customer, the chat to write
/// to, and the connector built from the sandbox's credentials.
async fn setup(
    platform: Platform,
    control: &Control,
) -> (String, String, ChatId, Arc<dyn Messenger>) {
    let spec = match platform {
        Platform::Vk => AccountSpec::vk(),
        other => AccountSpec::new(other),
    };
    let account = control.create_account(&spec).await.expect("an account");
    let mut new = NewCustomer::named("Anna");
    if platform == Platform::Vk {
        new = new.allows_messages(true);
    }
    let customer = control
        .create_customer(&account.id, &new)
        .await
        .expect("a customer")
        .id;
    let credentials = control
        .credentials(&account.id)
        .await
        .expect("the account's credentials");
    let connector: Arc<dyn Messenger> = match platform {
        Platform::Telegram => Arc::new(
            connector_telegram::TelegramConfig::from_credentials(&credentials)
                .and_then(connector_telegram::TelegramConfig::build)
                .expect("a Telegram connector"),
        ),
        Platform::WhatsApp => {
            // The customer writes first: the reply window is open, and the connector knows.
            control
                .customer_sends(&account.id, &customer, &CustomerMessage::text("Hello"))
                .await
                .expect("the customer writes");
            let store = Arc::new(MemoryReplyWindowStore::default());
            store
                .record_inbound(
                    Platform::WhatsApp,
                    &ChatId::new(customer.clone()),
                    chrono::Utc::now(),
                )
                .await
                .expect("recorded");
            let config = connector_whatsapp::WhatsAppConfig::from_credentials(&credentials)
                .expect("WhatsApp credentials")
                .window_store(store);
            Arc::new(connector_whatsapp::WhatsApp::new(config).expect("a WhatsApp connector"))
        }
        Platform::Max => Arc::new(
            connector_max::MaxConfig::from_credentials(&credentials)
                .and_then(connector_max::MaxConfig::build)
                .expect("a MAX connector"),
        ),
        Platform::Vk => {
            let config = connector_vk::VkConfig::new(
                credentials.get("token").expect("a token"),
                account.id.parse().expect("a numeric community id"),
            )
            .base_url(credentials.get("base_url").expect("a base URL"))
            .poll_wait(Duration::from_secs(1));
            Arc::new(config.build().expect("a VK connector"))
        }
        Platform::Avito => {
            Arc::new(connector_avito::from_credentials(&credentials).expect("an Avito connector"))
        }
        other => panic!("no case for {other}"),
    };
    let chat = match platform {
        Platform::Max => ChatId::new(format!("user:{customer}")),
        _ => ChatId::new(customer.clone()),
    };
    (account.id, customer, chat, connector)
}

/// The last message the customer received.
async fn last_received(control: &Control, account: &str, customer: &str) -> MessageView {
    control
        .received(account, customer)
        .await
        .expect("the chat")
        .pop()
        .expect("a message arrived")
}

async fn transfer(case: Case) {
    let platform = case.platform;
    let mut sandbox = SandboxProcess::start();
    let scratch = Scratch::new();
    let (account, customer, chat, connector) = setup(platform, &sandbox.control).await;

    // Upload: a send of the file, read from disk in chunks.
    let (up_path, up_sha) = scratch.file(case.upload_name, case.upload_size, &case.magic);
    let source = MediaSource::file(&up_path, case.upload_mime)
        .await
        .expect("the file's size");
    let content =
        OutgoingContent::media(case.upload_kind, source, None).expect("a media content kind");
    let message = OutgoingMessage::new(chat, content);
    let started = Instant::now();
    let (sent, up) = measured(&sandbox, connector.send(&message)).await;
    let up_time = started.elapsed();
    sent.unwrap_or_else(|e| panic!("{platform}: the upload is sent: {e}"));
    let view = last_received(&sandbox.control, &account, &customer).await;
    let media = view.media.expect("the message carries the file");
    assert_eq!(media.size, Some(case.upload_size), "{platform}: size");
    assert_eq!(
        media.sha256.as_deref(),
        Some(up_sha.as_str()),
        "{platform}: bytes"
    );
    let stored: u64 = std::fs::read_dir(&sandbox.media_dir)
        .expect("the sandbox's media folder")
        .map(|e| e.expect("an entry").metadata().expect("metadata").len())
        .max()
        .unwrap_or(0);
    assert_eq!(
        stored, case.upload_size,
        "{platform}: the upload is a file of the sandbox's media folder"
    );
    std::fs::remove_file(&up_path).expect("the upload file is removed");

    // Download: a customer's file, streamed to a sink.
    let (down_path, _) = scratch.file(case.download_name, case.download_size, &case.magic);
    let mut events = (platform == Platform::Vk).then(|| Events::poll(connector.as_ref()));
    // The control API takes a customer's media as bytes: the sandbox process holds the whole
    // file for a moment here, which its peak must show (the instrument sees a whole file).
    let rss_before = sandbox.reset_peak();
    let receipt = sandbox.customer_file(
        &account,
        &customer,
        case.download_kind,
        case.download_mime,
        &down_path,
    );
    let held_by_sandbox = sandbox.status("VmHWM").saturating_sub(rss_before);
    assert!(
        held_by_sandbox >= case.download_size * 9 / 10,
        "{platform}: the sandbox process's peak did not show a whole file held ({})",
        mib(held_by_sandbox)
    );
    let media_ref = match &mut events {
        // VK's media id carries the download URL, which only the event has.
        Some(events) => events
            .message()
            .await
            .content
            .media()
            .expect("the customer's file")
            .clone(),
        None => MediaRef::new(receipt.media_id.expect("a media id")),
    };
    let started = Instant::now();
    let (got, down) = measured(
        &sandbox,
        drain_and_compare(connector.as_ref(), &media_ref, &down_path),
    )
    .await;
    let down_time = started.elapsed();
    assert_eq!(got, case.download_size, "{platform}: every byte arrived");
    drop(events);
    // And this process's counter sees a whole file held.
    let (len, held) = measured(&sandbox, async {
        std::fs::read(&down_path).expect("the file").len()
    })
    .await;
    assert_eq!(len as u64, case.download_size);
    // The counter is net (allocations minus frees since the reset), so what the runtime's
    // other tasks free meanwhile (a few KiB of the download's buffers) counts against the
    // peak: allow 1 MiB under the file's size, far below the 16 MiB the figures are held to.
    assert!(
        held.connector >= case.download_size.saturating_sub(MIB),
        "{platform}: the allocator counter did not show a whole file held ({})",
        mib(held.connector)
    );

    report(&format!(
        "{platform}: upload {} ({} bytes) in {:.1} s: connector peak +{}, sandbox peak +{}; \
         download {} ({} bytes) in {:.1} s: connector peak +{}, sandbox peak +{}",
        mib(case.upload_size),
        case.upload_size,
        up_time.as_secs_f64(),
        mib(up.connector),
        mib(up.sandbox),
        mib(case.download_size),
        case.download_size,
        down_time.as_secs_f64(),
        mib(down.connector),
        mib(down.sandbox),
    ));
    for (what, usage) in [("upload", up), ("download", down)] {
        assert!(
            usage.connector < TRANSFER_BUDGET,
            "{platform}: the connector's {what} grew memory by {} (budget {})",
            mib(usage.connector),
            mib(TRANSFER_BUDGET)
        );
        assert!(
            usage.sandbox < TRANSFER_BUDGET,
            "{platform}: the sandbox's {what} grew memory by {} (budget {})",
            mib(usage.sandbox),
            mib(TRANSFER_BUDGET)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 50 MiB upload and a 20 MiB download; .ci/run runs it with --ignored"]
async fn telegram_largest_files_up_and_down_keep_memory_flat() {
    let _serial = serial().await;
    transfer(Case {
        platform: Platform::Telegram,
        upload_size: messenger_core::capabilities::telegram::UPLOAD_MAX,
        upload_kind: ContentKind::File,
        upload_mime: "application/pdf",
        upload_name: "upload.pdf",
        download_size: messenger_core::capabilities::telegram::DOWNLOAD_MAX,
        download_kind: "file",
        download_mime: "application/pdf",
        download_name: "download.pdf",
        magic: PDF.to_vec(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 100 MB upload and download; .ci/run runs it with --ignored"]
async fn whatsapp_100_mb_up_and_down_keep_memory_flat() {
    let _serial = serial().await;
    transfer(Case {
        platform: Platform::WhatsApp,
        upload_size: 100 * MB,
        upload_kind: ContentKind::File,
        upload_mime: "application/pdf",
        upload_name: "upload.pdf",
        download_size: 100 * MB,
        download_kind: "file",
        download_mime: "application/pdf",
        download_name: "download.pdf",
        magic: PDF.to_vec(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 100 MB upload and download; .ci/run runs it with --ignored"]
async fn max_100_mb_up_and_down_keep_memory_flat() {
    let _serial = serial().await;
    transfer(Case {
        platform: Platform::Max,
        upload_size: 100 * MB,
        upload_kind: ContentKind::File,
        upload_mime: "application/pdf",
        upload_name: "upload.pdf",
        download_size: 100 * MB,
        download_kind: "file",
        download_mime: "application/pdf",
        download_name: "download.pdf",
        magic: PDF.to_vec(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 100 MB upload and download; .ci/run runs it with --ignored"]
async fn vk_100_mb_up_and_down_keep_memory_flat() {
    let _serial = serial().await;
    transfer(Case {
        platform: Platform::Vk,
        upload_size: 100 * MB,
        upload_kind: ContentKind::File,
        upload_mime: "application/pdf",
        upload_name: "upload.pdf",
        download_size: 100 * MB,
        download_kind: "file",
        download_mime: "application/pdf",
        download_name: "download.pdf",
        magic: PDF.to_vec(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 24 MB image up and down; .ci/run runs it with --ignored"]
async fn avito_largest_images_up_and_down_keep_memory_flat() {
    let _serial = serial().await;
    transfer(Case {
        platform: Platform::Avito,
        upload_size: messenger_core::capabilities::avito::IMAGE_MAX,
        upload_kind: ContentKind::Image,
        upload_mime: "image/png",
        upload_name: "upload.png",
        download_size: messenger_core::capabilities::avito::IMAGE_MAX,
        download_kind: "image",
        download_mime: "image/png",
        download_name: "download.png",
        magic: png_magic(),
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 10 000 accounts
// ---------------------------------------------------------------------------------------------

/// The credentials of the `i`-th account of `platform` (nothing is ever sent with them).
fn credentials(platform: Platform, i: usize) -> Credentials {
    let base = "http://127.0.0.1:9/api";
    let c = Credentials::new().with("base_url", base);
    match platform {
        Platform::Telegram => c.with("token", format!("{}:AAH{i:032}", 7_000_000_000 + i)),
        Platform::WhatsApp => c
            .with("token", format!("EAAG{i:060}"))
            .with(
                "phone_number_id",
                format!("{}", 106_540_000_000_000_u64 + i as u64),
            )
            .with("app_secret", format!("{i:032x}")),
        Platform::Max => c.with("token", format!("max-token-{i:040}")),
        Platform::Vk => c
            .with("token", format!("vk1.a.{i:080}"))
            .with("group_id", format!("{}", 200_000_000 + i))
            .with("secret", format!("secret{i}"))
            .with("confirmation", format!("{i:08x}")),
        Platform::Avito => c
            .with("client_id", format!("client{i:020}"))
            .with("client_secret", format!("secret{i:040}")),
        other => panic!("no case for {other}"),
    }
}

/// The connector of `credentials`, with one shared HTTP client where given.
fn connector(
    platform: Platform,
    credentials: &Credentials,
    client: Option<&reqwest::Client>,
) -> Arc<dyn Messenger> {
    let Some(client) = client else {
        let entry = match platform {
            Platform::Telegram => connector_telegram::ENTRY,
            Platform::WhatsApp => connector_whatsapp::ENTRY,
            Platform::Max => connector_max::ENTRY,
            Platform::Vk => connector_vk::ENTRY,
            Platform::Avito => connector_avito::ENTRY,
            other => panic!("no case for {other}"),
        };
        return (entry.build)(credentials, &messenger_core::registry::AccountStores::new())
            .expect("the registry builds the account");
    };
    let settings = connector_telegram::HttpSettings::default().client(client.clone());
    let get = |key: &str| credentials.get(key).expect("a credential").to_owned();
    match platform {
        Platform::Telegram => Arc::new(
            connector_telegram::TelegramConfig::from_credentials(credentials)
                .map(|c| c.http(settings))
                .and_then(connector_telegram::TelegramConfig::build)
                .expect("a Telegram connector"),
        ),
        Platform::WhatsApp => Arc::new(
            connector_whatsapp::WhatsAppConfig::from_credentials(credentials)
                .map(|c| c.http(settings))
                .and_then(connector_whatsapp::WhatsApp::new)
                .expect("a WhatsApp connector"),
        ),
        Platform::Max => Arc::new(
            connector_max::MaxConfig::from_credentials(credentials)
                .map(|c| c.http(settings))
                .and_then(connector_max::MaxConfig::build)
                .expect("a MAX connector"),
        ),
        Platform::Vk => Arc::new(
            connector_vk::VkConfig::new(get("token"), get("group_id").parse().expect("an id"))
                .base_url(get("base_url"))
                .secret(get("secret"))
                .confirmation(get("confirmation"))
                .http(settings)
                .build()
                .expect("a VK connector"),
        ),
        Platform::Avito => Arc::new(
            connector_avito::AvitoConfig::new(get("client_id"), get("client_secret"))
                .base_url(get("base_url"))
                .http(settings)
                .build()
                .expect("an Avito connector"),
        ),
        other => panic!("no case for {other}"),
    }
}

/// Builds and holds [`ACCOUNTS`] stacked accounts of `platform`; returns the peak growth per
/// account and the time it took.
async fn accounts(platform: Platform, shared_client: bool) -> (usize, Duration) {
    let consent = active_consent(&[]).await;
    let client = shared_client.then(|| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
    });
    let retry = match platform {
        Platform::Vk => connector_vk::retry_policy(),
        _ => RetryPolicy::default(),
    };
    let started = Instant::now();
    ALLOCATOR.reset_peak_memory();
    let mut held: Vec<Arc<dyn Messenger>> = Vec::with_capacity(ACCOUNTS);
    for i in 0..ACCOUNTS {
        let credentials = credentials(platform, i);
        let connector = connector(platform, &credentials, client.as_ref());
        let stack = Stack::new(
            connector,
            AccountId::new(format!("{platform}-{i}")),
            consent.clone(),
        )
        .retry_policy(retry)
        .build();
        held.push(Arc::new(stack));
    }
    let peak = ALLOCATOR.get_peak_memory();
    let taken = started.elapsed();
    assert_eq!(held.len(), ACCOUNTS);
    assert!(held.iter().all(|m| m.platform() == platform));
    drop(held);
    (peak / ACCOUNTS, taken)
}

async fn accounts_case(platform: Platform) {
    let (own, own_time) = accounts(platform, false).await;
    let (shared, shared_time) = accounts(platform, true).await;
    report(&format!(
        "{platform}: {ACCOUNTS} stacked accounts: {own} bytes each with an HTTP client each \
         ({:.1} s to build), {shared} bytes each with one shared HTTP client ({:.1} s)",
        own_time.as_secs_f64(),
        shared_time.as_secs_f64(),
    ));
    assert!(
        shared < ACCOUNT_BUDGET,
        "{platform}: {shared} bytes per account with a shared HTTP client (budget {ACCOUNT_BUDGET})"
    );
    assert!(
        own < ACCOUNT_BUDGET,
        "{platform}: {own} bytes per account with an HTTP client each (budget {ACCOUNT_BUDGET})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "10 000 accounts; .ci/run runs it with --ignored"]
async fn ten_thousand_accounts_per_platform_under_100_kb_each() {
    let _serial = serial().await;
    for platform in [
        Platform::Telegram,
        Platform::WhatsApp,
        Platform::Max,
        Platform::Vk,
        Platform::Avito,
    ] {
        accounts_case(platform).await;
    }
}
