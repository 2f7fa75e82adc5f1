//! What the fuzz targets share: connectors built once per process with known secrets, signed and
//! forged webhook requests, and the checks every target makes of what a parser returned.
//!
//! Nothing here prints or logs an input: a failing check names the invariant and the sizes only
//! (libFuzzer keeps the input itself in `fuzz/artifacts/`).

use std::sync::{Arc, Mutex, OnceLock};

use messenger_core::webhook::{WebhookOutcome, WebhookRequest, hmac_sha256_hex};
use messenger_core::{ErrorKind, InboundEvent, Messenger, Platform, Result};

/// The secret every connector of the targets is configured with.
pub const SECRET: &str = "fuzz-Secret_7f3a";
/// A secret that is never the configured one.
pub const WRONG: &str = "fuzz-Secret_7f3b";
/// The VK community of the targets' connectors, where a body names none.
pub const VK_GROUP: u64 = 123_456;
/// The WhatsApp phone-number id of the target's connector.
pub const WA_NUMBER: &str = "106540352242922";

/// The platforms, in the order a leading selector byte picks them.
pub const PLATFORMS: [Platform; 5] = [
    Platform::Telegram,
    Platform::WhatsApp,
    Platform::Max,
    Platform::Vk,
    Platform::Avito,
];

/// Runs a future that never waits on I/O (the webhook handlers) to completion.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

/// The events of a parse, checked: each serialises to the JSON that `messenger parse` prints
/// (one object, one line), that JSON reads back as the same event, and every event names the
/// platform that parsed it.
pub fn check_events(platform: Platform, events: &[InboundEvent]) {
    for event in events {
        assert_eq!(event.platform(), platform, "an event of another platform");
        let line = serde_json::to_string(event).expect("an event serialises");
        assert!(!line.contains('\n'), "an event is one JSON line");
        let back: InboundEvent = serde_json::from_str(&line).expect("printed JSON reads back");
        assert_eq!(&back, event, "printed JSON reads back as the same event");
    }
}

/// Whether two paths decoded a body into the same events: equal, but for a `timestamp` that
/// the connector took from its clock (an event the platform sends without a time of its own,
/// such as VK's `message_deny`), which may differ by the moment between the two calls.
pub fn same_events(a: &[InboundEvent], b: &[InboundEvent]) -> bool {
    fn at(value: &serde_json::Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        chrono::DateTime::parse_from_rfc3339(value.get("timestamp")?.as_str()?).ok()
    }
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            if a == b {
                return true;
            }
            let (Ok(mut a), Ok(mut b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
                return false;
            };
            let close = match (at(&a), at(&b)) {
                (Some(x), Some(y)) => (x - y).num_seconds().abs() < 5,
                _ => false,
            };
            for v in [&mut a, &mut b] {
                if let Some(map) = v.as_object_mut() {
                    map.remove("timestamp");
                }
            }
            close && a == b
        })
}

/// The outcome of a parse: events are checked; an error is a typed one (a malformed body is a
/// `Decode` error, never a panic; an API error envelope maps to the platform's error kinds).
pub fn check_parse(platform: Platform, result: &Result<Vec<InboundEvent>>) {
    match result {
        Ok(events) => check_events(platform, events),
        Err(err) => {
            // Whatever kind, it names its platform where one was set, and its message is there.
            let _ = err.kind();
            let _ = err.to_string();
        }
    }
}

/// Checks a verified delivery's outcome: accepted with the platform's `200`, or refused for a
/// reason other than verification.
pub fn check_verified(platform: Platform, outcome: &Result<WebhookOutcome>) {
    match outcome {
        Ok(o) => {
            assert_eq!(
                o.response.status, 200,
                "an accepted delivery is answered 200"
            );
            check_events(platform, &o.events);
        }
        Err(err) => assert_ne!(
            err.kind(),
            ErrorKind::WebhookRejected,
            "a delivery with the right secret was refused as unverified"
        ),
    }
}

/// Checks a forged delivery's outcome: it yields no event (fail closed).
pub fn check_forged(outcome: &Result<WebhookOutcome>) {
    if let Ok(o) = outcome {
        assert!(o.events.is_empty(), "a forged delivery produced events");
    }
}

/// The Telegram bot of the targets, with [`SECRET`] as its webhook secret.
pub fn telegram() -> &'static connector_telegram::TelegramBot {
    static BOT: OnceLock<connector_telegram::TelegramBot> = OnceLock::new();
    BOT.get_or_init(|| {
        connector_telegram::TelegramConfig::new("123:fuzz")
            .webhook_secret(SECRET)
            .build()
            .expect("telegram bot")
    })
}

/// The MAX bot of the targets, with [`SECRET`] as its webhook secret.
pub fn max() -> &'static connector_max::Max {
    static BOT: OnceLock<connector_max::Max> = OnceLock::new();
    BOT.get_or_init(|| {
        connector_max::MaxConfig::new("fuzz-token")
            .webhook_secret(SECRET)
            .build()
            .expect("max bot")
    })
}

/// The WhatsApp number of the targets, with [`SECRET`] as app secret and verify token.
pub fn whatsapp() -> &'static connector_whatsapp::WhatsApp {
    static NUMBER: OnceLock<connector_whatsapp::WhatsApp> = OnceLock::new();
    NUMBER.get_or_init(|| {
        connector_whatsapp::WhatsAppConfig::new("fuzz-token", WA_NUMBER)
            .app_secret(SECRET)
            .verify_token(SECRET)
            .build()
            .expect("whatsapp number")
    })
}

/// The Avito account of the targets, with [`SECRET`] as its webhook token.
pub fn avito() -> &'static connector_avito::Avito {
    static ACCOUNT: OnceLock<connector_avito::Avito> = OnceLock::new();
    ACCOUNT.get_or_init(|| {
        connector_avito::AvitoConfig::new("fuzz-client", "fuzz-client-secret")
            .webhook_token(SECRET)
            .build()
            .expect("avito account")
    })
}

/// A VK community with `secret` and `group`, kept for reuse (a body names its community and
/// carries its secret, so the target builds the connector the body is meant for). At most 16
/// are kept; when full, all are dropped.
pub fn vk(group: u64, secret: &str) -> Arc<connector_vk::Vk> {
    type Cache = Mutex<Vec<((u64, String), Arc<connector_vk::Vk>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, vk)) = cache.iter().find(|((g, s), _)| *g == group && s == secret) {
        return vk.clone();
    }
    if cache.len() >= 16 {
        cache.clear();
    }
    let vk = Arc::new(
        connector_vk::VkConfig::new("fuzz-token", group)
            .secret(secret)
            .confirmation("fuzz-confirmation")
            .build()
            .expect("vk community"),
    );
    cache.push(((group, secret.to_owned()), vk.clone()));
    vk
}

/// Hands `request` to `messenger`'s webhook handler, as a CRM's server does.
pub fn handle(messenger: &dyn Messenger, request: &WebhookRequest) -> Result<WebhookOutcome> {
    block_on(messenger.handle_webhook(request))
}

/// A POST of `body` with header `name: value`.
pub fn post_with_header(body: &[u8], name: &str, value: &str) -> WebhookRequest {
    WebhookRequest::post(body.to_vec()).header(name, value)
}

/// A WhatsApp POST of `body` signed with `secret`, as Meta signs it.
pub fn whatsapp_signed(body: &[u8], secret: &str) -> WebhookRequest {
    let signature = format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body));
    post_with_header(body, "X-Hub-Signature-256", &signature)
}

/// An Avito POST of `body` to the registered URL carrying `token`.
pub fn avito_post(body: &[u8], token: &str) -> WebhookRequest {
    let mut request = WebhookRequest::post(body.to_vec());
    request.query = Some(format!("token={token}"));
    request
}

/// The `secret` and `group_id` a VK Callback body names, read as the connector reads them
/// (the same three typed fields, a JSON object only); `(None, None)` where the connector could
/// not read them either.
pub fn vk_head(body: &[u8]) -> (Option<String>, Option<i64>) {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type", default)]
        _kind: Option<String>,
        #[serde(default)]
        secret: Option<String>,
        #[serde(default)]
        group_id: Option<i64>,
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return (None, None);
    }
    match serde_json::from_slice::<Head>(body) {
        Ok(head) => (head.secret, head.group_id),
        Err(_) => (None, None),
    }
}

/// `body` with `"secret":"<secret>"` added as the first key of its top-level object (the way
/// VK carries the Callback secret), or `None` when the body does not start with an object.
pub fn vk_with_secret(body: &[u8], secret: &str) -> Option<Vec<u8>> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[start] != b'{' {
        return None;
    }
    let rest = &body[start + 1..];
    let closes = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'}');
    let mut out = Vec::with_capacity(body.len() + secret.len() + 16);
    out.extend_from_slice(&body[..=start]);
    out.extend_from_slice(br#""secret":""#);
    out.extend_from_slice(secret.as_bytes());
    out.push(b'"');
    if !closes {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}
