//! Sandbox settings: the emulated limits and the webhook delivery behaviour.

use std::time::Duration;

use crate::clock::RateLimit;

/// One allowance of 30 a second: 1/30 s, rounded down to a nanosecond (so the bucket refills at
/// a hair over 30/s, never under: a sender keeping exactly 30/s is never refused).
const THIRTIETH_OF_A_SECOND: Duration = Duration::from_nanos(33_333_333);

/// How the sandbox behaves. `Default` follows the platform sheets, and is the referee the
/// senders' rate limits are measured against: every limit a connector's capabilities document
/// (`messenger_core::capabilities`) is enforced at that rate, a pace as a bucket (with the
/// platform's tolerance for short bursts where it has one) and a quota as a sliding window.
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
    /// Telegram per-chat limit, in every chat (groups and channels included): "avoid more than
    /// 1 message per second; short bursts are tolerated" (telegram.md §7). Default: a bucket of
    /// 5, then 1/s. `None` disables it.
    pub telegram_per_chat: Option<RateLimit>,
    /// Telegram per-group limit, in groups, supergroups and channels on top of the per-chat
    /// one: "no more than 20 messages per minute" (telegram.md §7). Default: a sliding window,
    /// at most 20 in any 60 s ([`RateLimit::quota`]).
    pub telegram_per_group: Option<RateLimit>,
    /// Telegram per-bot limit: about 30 messages per second (telegram.md §7). Default: a bucket
    /// of 30, then 30/s (one every 1/30 s).
    pub telegram_per_bot: Option<RateLimit>,
    /// WhatsApp throughput per business number: 80 msg/s (whatsapp.md §9, error 130429).
    /// Default: a bucket of 80, then 80/s.
    pub whatsapp_per_number: Option<RateLimit>,
    /// WhatsApp pair rate: about 1 message per 6 s to one user, bursts of up to 45
    /// (whatsapp.md §9, error 131056).
    pub whatsapp_pair: Option<RateLimit>,
    /// VK: 20 API requests per second per community token (vk.md §5, error 6). Default: a burst
    /// of 20, then 20/s.
    pub vk_per_community: Option<RateLimit>,
    /// MAX: about 30 requests per second per bot (max.md §6; 429 past it). Default: a bucket of
    /// 30, then 30/s (one every 1/30 s).
    pub max_per_bot: Option<RateLimit>,
    /// MAX: how long an upload is processed after its bytes arrive (sandbox clock); a message
    /// that attaches it sooner is refused with 400 `attachment.not.ready` (max.md §4).
    /// Default: 500 ms.
    pub max_processing_delay: Duration,
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
    /// The longest long poll honoured (Telegram `getUpdates` `timeout`, VK `a_check` `wait`).
    pub max_long_poll: Duration,
    /// The largest request body accepted, in bytes (above it: 413).
    pub max_request_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            telegram_per_chat: Some(RateLimit::new(5, Duration::from_secs(1))),
            telegram_per_group: Some(RateLimit::quota(20, Duration::from_secs(60))),
            telegram_per_bot: Some(RateLimit::new(30, THIRTIETH_OF_A_SECOND)),
            whatsapp_per_number: Some(RateLimit::new(80, Duration::from_micros(12_500))),
            whatsapp_pair: Some(RateLimit::new(45, Duration::from_secs(6))),
            vk_per_community: Some(RateLimit::new(20, Duration::from_millis(50))),
            max_per_bot: Some(RateLimit::new(30, THIRTIETH_OF_A_SECOND)),
            max_processing_delay: Duration::from_millis(500),
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
        self.telegram_per_group = None;
        self.telegram_per_bot = None;
        self.whatsapp_per_number = None;
        self.whatsapp_pair = None;
        self.vk_per_community = None;
        self.max_per_bot = None;
        self
    }
}
