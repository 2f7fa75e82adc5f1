//! Shared helpers for the connector's tests (mockito on loopback, signed webhook requests).

#![allow(dead_code)]

use connector_whatsapp::{WhatsApp, WhatsAppConfig};
use messenger_core::webhook::{WebhookRequest, hmac_sha256_hex};
use serde_json::{Value, json};

pub const TOKEN: &str = "EAAG-test-token-5f1c9b";
pub const PHONE_ID: &str = "106540352242922";
pub const APP_SECRET: &str = "app-secret-7d2e";
pub const VERIFY_TOKEN: &str = "verify-token-31ab";
pub const CUSTOMER: &str = "16505551234";
pub const MESSAGES_PATH: &str = "/v25.0/106540352242922/messages";
pub const MEDIA_PATH: &str = "/v25.0/106540352242922/media";

/// A config pointed at `server`, with every secret set.
pub fn config(server: &mockito::ServerGuard) -> WhatsAppConfig {
    WhatsAppConfig::new(TOKEN, PHONE_ID)
        .app_secret(APP_SECRET)
        .verify_token(VERIFY_TOKEN)
        .base_url(server.url())
}

/// A connector pointed at `server`.
pub fn client(server: &mockito::ServerGuard) -> WhatsApp {
    WhatsApp::new(config(server)).expect("valid config")
}

/// The answer WhatsApp gives to an accepted send.
pub fn accepted(wamid: &str) -> String {
    json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
        "messages": [{"id": wamid, "message_status": "accepted"}]
    })
    .to_string()
}

/// A Graph error envelope with `code`.
pub fn graph_error(code: i64, message: &str) -> String {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": "details"},
                      "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})
    .to_string()
}

/// A POST webhook request signed with the app secret.
pub fn signed(body: &str) -> WebhookRequest {
    signed_with(body, APP_SECRET)
}

/// A POST webhook request signed with `secret`.
pub fn signed_with(body: &str, secret: &str) -> WebhookRequest {
    WebhookRequest::post(body.to_owned()).header(
        "X-Hub-Signature-256",
        format!(
            "sha256={}",
            hmac_sha256_hex(secret.as_bytes(), body.as_bytes())
        ),
    )
}

/// A webhook envelope around one `messages` change value for the test number.
pub fn envelope(value: Value) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "419561257915477", "changes": [{"field": "messages", "value": value}]}]
    })
    .to_string()
}

/// The `metadata` of the test number.
pub fn metadata() -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_ID})
}

/// A delivery with one inbound text from `from`, sent at unix `ts`.
pub fn inbound_text(from: &str, wamid: &str, ts: i64, text: &str) -> String {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": ts.to_string(),
                      "type": "text", "text": {"body": text}}]
    }))
}

/// A delivery with one status.
pub fn status_delivery(status: Value) -> String {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "statuses": [status]
    }))
}

/// The current unix time.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct FormPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a `multipart/form-data` body into its parts (enough of RFC 7578 for these tests).
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<FormPart> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("multipart boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let end = find(rest, format!("\r\n{delimiter}").as_bytes()).expect("part end");
        let part = &rest[..end];
        let split = find(part, b"\r\n\r\n").expect("part headers");
        let headers = String::from_utf8_lossy(&part[..split]).to_string();
        let data = part[split + 4..].to_vec();
        let mut name = String::new();
        let mut file_name = None;
        let mut content_type = None;
        for line in headers.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').map(str::trim) {
                    if let Some(v) = attr.strip_prefix("name=") {
                        name = v.trim_matches('"').to_owned();
                    } else if let Some(v) = attr.strip_prefix("filename=") {
                        file_name = Some(v.trim_matches('"').to_owned());
                    }
                }
            } else if lower.starts_with("content-type:") {
                content_type = Some(line["content-type:".len()..].trim().to_owned());
            }
        }
        parts.push(FormPart {
            name,
            file_name,
            content_type,
            data,
        });
        rest = &rest[end + 2..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Captures the raw body and content type of the request a mock matches.
#[derive(Debug, Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Option<Request>>>);

/// A captured request: its content type and raw body.
pub type Request = (String, Vec<u8>);

impl Captured {
    /// A matcher closure for `Mock::match_request` that records the request and matches it.
    pub fn matcher(&self) -> impl Fn(&mockito::Request) -> bool + Send + Sync + 'static {
        let slot = self.0.clone();
        move |req: &mockito::Request| {
            let ct = req
                .header("content-type")
                .first()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = req.body().cloned().unwrap_or_default();
            *slot.lock().unwrap() = Some((ct, body));
            true
        }
    }

    /// The recorded content type and body.
    pub fn get(&self) -> (String, Vec<u8>) {
        self.0
            .lock()
            .unwrap()
            .clone()
            .expect("a request was captured")
    }
}
