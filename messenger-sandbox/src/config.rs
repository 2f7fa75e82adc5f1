//! Sandbox settings: the emulated limits and the webhook delivery behaviour.

use std::time::Duration;

use crate::clock::RateLimit;

/// How the sandbox behaves. `Default` follows the platform sheets.
///
/// ```
/// use std::time::Duration;
/// use messenger_sandbox::{RateLimit, SandboxConfig};
/// let config = SandboxConfig {
///     // one message per minute per chat, so a test sees a 429 on the second send
///     telegram_per_chat: Some(RateLimit::new(1, Duration::from_secs(60))),
///     webhook_retry_delay: Duration::from_millis(20),
///     ..SandboxConfig::default()
/// };
/// assert_eq!(config.media_url_ttl, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Telegram per-chat limit: "avoid more than 1 message per second; short bursts are
    /// tolerated" (telegram.md §7). Default: a burst of 5, then 1/s. `None` disables it.
    pub telegram_per_chat: Option<RateLimit>,
    /// Telegram per-bot limit: about 30 messages per second (telegram.md §7). Default: a burst
    /// of 30, then 30/s.
    pub telegram_per_bot: Option<RateLimit>,
    /// WhatsApp throughput per business number: 80 msg/s (whatsapp.md §9, error 130429).
    pub whatsapp_per_number: Option<RateLimit>,
    /// WhatsApp pair rate: about 1 message per 6 s to one user, bursts of up to 45
    /// (whatsapp.md §9, error 131056).
    pub whatsapp_pair: Option<RateLimit>,
    /// WhatsApp media URL lifetime: 5 minutes (whatsapp.md §4.2).
    pub media_url_ttl: Duration,
    /// WhatsApp customer service window: 24 h (whatsapp.md §2.4).
    pub reply_window: Duration,
    /// Timeout of one webhook POST.
    pub webhook_timeout: Duration,
    /// Delay before the first retry of a failed webhook delivery; doubled each time, at most
    /// 30 s.
    pub webhook_retry_delay: Duration,
    /// Attempts per webhook delivery before it is dropped (Telegram retries "a reasonable
    /// amount of times"; Meta for up to 7 days).
    pub webhook_max_attempts: u32,
    /// The longest Telegram `getUpdates` long poll honoured.
    pub max_long_poll: Duration,
    /// The largest request body accepted, in bytes (above it: 413).
    pub max_request_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            telegram_per_chat: Some(RateLimit::new(5, Duration::from_secs(1))),
            telegram_per_bot: Some(RateLimit::new(30, Duration::from_millis(34))),
            whatsapp_per_number: Some(RateLimit::new(80, Duration::from_micros(12_500))),
            whatsapp_pair: Some(RateLimit::new(45, Duration::from_secs(6))),
            media_url_ttl: Duration::from_secs(300),
            reply_window: Duration::from_secs(24 * 3600),
            webhook_timeout: Duration::from_secs(10),
            webhook_retry_delay: Duration::from_secs(1),
            webhook_max_attempts: 10,
            max_long_poll: Duration::from_secs(50),
            max_request_bytes: 110 * 1024 * 1024,
        }
    }
}

impl SandboxConfig {
    /// Every emulated rate limit switched off (for load-free functional tests).
    pub fn without_rate_limits(mut self) -> Self {
        self.telegram_per_chat = None;
        self.telegram_per_bot = None;
        self.whatsapp_per_number = None;
        self.whatsapp_pair = None;
        self
    }
}
