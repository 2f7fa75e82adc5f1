//! Long polling: WhatsApp has none.
//!
//! Every connector has a `poll.rs`, so that each one reads the same; on WhatsApp it only says
//! why it is empty.
//!
//! The Cloud API delivers inbound messages, statuses and account changes **only** to the
//! webhook of the Meta app (`shared/platforms/whatsapp.md` §0 and §5: "a single webhook URL per
//! Meta app"): there is no `getUpdates`-like endpoint to pull them, no cursor, and nothing kept
//! for a client to fetch later (Meta retries an unanswered delivery for days instead, §5.4).
//! So:
//!
//! - [`Messenger::updates`](messenger_core::Messenger::updates) keeps the trait's default
//!   (`Unsupported`), and the capabilities say webhook intake only;
//! - intake is [`Messenger::handle_webhook`](messenger_core::Messenger::handle_webhook) (see
//!   [`crate::webhook`]), and the CLI's `listen` runs a webhook receiver for WhatsApp;
//! - the core's long-poll driver ([`messenger_core::poll`]) is not used here.
//!
//! Should Meta add a pull API, it belongs in this file, on the core's driver, as Telegram's
//! `getUpdates` does.
