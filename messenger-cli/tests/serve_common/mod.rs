//! Running `messenger serve` as a real process in tests: start, read what it prints, talk to
//! its API, stop it (SIGTERM) or kill it (SIGKILL).
#![allow(dead_code, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The longest any wait lasts.
pub const WAIT: Duration = Duration::from_secs(30);

/// A `messenger serve` process.
pub struct Node {
    pub child: Child,
    /// Everything it printed on standard output.
    pub printed: Vec<String>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Node {
    /// Starts `messenger serve <args>` and waits for it to print `Ctrl-C stops it.`.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_messenger"));
        command
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("RUST_LOG", "warn");
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the messenger binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = Vec::new();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.trim() == "Ctrl-C stops it.";
                    printed.push(line);
                    if done {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("messenger serve did not start within {WAIT:?}; printed: {printed:#?}");
                }
            }
        }
        let url = printed
            .iter()
            .find_map(|l| l.strip_prefix("messenger server listening on "))
            .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
            .expect("the URL is printed");
        Node {
            child,
            printed,
            url,
        }
    }

    /// The value printed after `label` (`  sandbox:       http://...`).
    pub fn printed_value(&self, label: &str) -> Option<String> {
        self.printed.iter().find_map(|l| {
            l.trim_start()
                .strip_prefix(label)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        })
    }

    /// SIGTERM, then waits for the exit (within [`WAIT`]); the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("messenger serve did not stop within {WAIT:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the process dies at once, mid-whatever.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON client of a server's API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    pub async fn signed_in(base: &str, login: &str, password: &str) -> Api {
        let mut api = Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            token: None,
        };
        let (status, body) = api
            .call(
                Method::POST,
                "/api/auth/sign-in",
                Some(json!({"login": login, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "sign-in of {login}: {body}");
        api.token = Some(body["token"].as_str().unwrap().to_owned());
        api
    }

    /// The same credentials against another node.
    pub fn at(&self, base: &str) -> Api {
        Api {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(response) => {
                let status = response.status();
                let bytes = response.bytes().await.unwrap_or_default();
                (
                    status,
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                )
            }
            Err(e) => panic!("{} {path}: {e}", self.base),
        }
    }

    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// The server's id of the account on `platform` (one per platform here).
    pub async fn account_of(&self, platform: &str) -> i64 {
        let accounts = self.ok("/api/accounts").await;
        accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["platform"] == platform)
            .unwrap_or_else(|| panic!("no {platform} account: {accounts}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The conversation of the first customer of `account`, once there is one.
    pub async fn conversation_of(&self, account: i64) -> i64 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let list = self
                .ok(&format!("/api/conversations?account={account}"))
                .await;
            if let Some(c) = list["conversations"].as_array().and_then(|a| a.first()) {
                return c["id"].as_i64().unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no conversation on account {account}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An event stream opened with a one-use ticket; events as `(name, data)`.
    pub async fn events(&self) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
        let (status, t) = self.post("/api/auth/ticket", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let response = self
            .http
            .get(format!("{}{}", self.base, t["url"].as_str().unwrap()))
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let (mut buffer, mut event, mut data) = (String::new(), String::new(), String::new());
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buffer.find('\n') {
                    let line = buffer[..i].trim_end_matches('\r').to_owned();
                    buffer.drain(..=i);
                    if line.is_empty() {
                        if !event.is_empty() {
                            let value = serde_json::from_str(&data).unwrap_or(Value::Null);
                            if tx.send((std::mem::take(&mut event), value)).is_err() {
                                return;
                            }
                        }
                        data.clear();
                    } else if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
            }
        });
        rx
    }
}

/// Waits until `check` holds, within `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
