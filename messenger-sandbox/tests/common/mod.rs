//! Helpers shared by the sandbox's integration tests: a sandbox with test-friendly settings,
//! a plain reqwest client, and a tiny webhook receiver on 127.0.0.1:0.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use messenger_sandbox::{RateLimit, Sandbox, SandboxConfig};
use tokio::sync::{Mutex, mpsc};

/// A sandbox with fast webhook retries and no emulated rate limits.
pub async fn sandbox() -> Sandbox {
    sandbox_with(SandboxConfig {
        webhook_retry_delay: Duration::from_millis(20),
        ..SandboxConfig::default().without_rate_limits()
    })
    .await
}

pub async fn sandbox_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start_with("127.0.0.1:0", config)
        .await
        .expect("sandbox starts")
}

/// A limit that refills so slowly a test never sees it refill by itself.
pub fn strict(burst: u32) -> Option<RateLimit> {
    Some(RateLimit::new(burst, Duration::from_secs(3600)))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub query: Option<String>,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    /// The first `fail_first` POSTs are answered 500.
    fail_first: usize,
    seen: AtomicUsize,
    verify_token: String,
}

/// A webhook receiver: `POST /hook` records the request; `GET /hook` answers the WhatsApp
/// handshake when `hub.verify_token` matches.
pub struct Receiver {
    pub url: String,
    rx: Mutex<mpsc::UnboundedReceiver<Received>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_failing(0, "verify-me").await
    }

    pub async fn start_failing(fail_first: usize, verify_token: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(ReceiverState {
            tx,
            fail_first,
            seen: AtomicUsize::new(0),
            verify_token: verify_token.to_string(),
        });
        let app = Router::new()
            .route("/hook", post(on_post).get(on_get))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            rx: Mutex::new(rx),
            server,
        }
    }

    /// The next request (a generous safety timeout, not a timing assertion).
    pub async fn next(&self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.rx.lock().await.recv())
            .await
            .expect("a webhook delivery arrives")
            .expect("receiver open")
    }

    /// Whether nothing else arrives within a short while.
    pub async fn nothing_more(&self) -> bool {
        tokio::time::timeout(Duration::from_millis(300), self.rx.lock().await.recv())
            .await
            .is_err()
    }
}

async fn on_post(
    State(state): State<Arc<ReceiverState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = state.seen.fetch_add(1, Ordering::SeqCst);
    let _ = state.tx.send(Received {
        headers,
        query,
        body,
    });
    if n < state.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn on_get(
    State(state): State<Arc<ReceiverState>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, String) {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("hub.mode").as_deref() == Some("subscribe")
        && get("hub.verify_token").as_deref() == Some(state.verify_token.as_str())
    {
        (StatusCode::OK, get("hub.challenge").unwrap_or_default())
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

/// A tiny valid PNG header of the given dimensions (enough for the sandbox's sniffing).
pub fn png(width: u32, height: u32, extra: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0]);
    v.resize(v.len() + extra, 0);
    v
}

pub fn ogg(len: usize) -> Vec<u8> {
    let mut v = b"OggS\0\x02".to_vec();
    v.resize(len.max(6), 0);
    v
}

pub fn pdf(len: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.resize(len.max(9), b'x');
    v
}

/// Waits until `check` holds (a safety timeout of 20 s, not a timing assertion).
pub async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
