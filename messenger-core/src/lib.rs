//! # messenger-core
//!
//! The platform-neutral heart of messenger-connectors: one typed API over MAX, WhatsApp,
//! Telegram, Avito and VK, and the rules of a CRM's messenger module.
//!
//! - [`model`]: ids, [`Content`], [`MediaSource`]/[`MediaRef`], [`OutgoingMessage`],
//!   [`InboundEvent`] (its JSON is a public contract).
//! - [`Messenger`]: the object-safe trait every connector implements.
//! - [`capabilities`]: what each platform can do, with sources.
//! - [`plan`]: the pure send planner (splitting, fallbacks, limits, reply window).
//! - [`status`]: the monotonic status tracker.
//! - [`layers`]: [`RateLimited`](layers::RateLimited), [`Retrying`](layers::Retrying),
//!   [`Gated`](layers::Gated), [`Deduplicated`](layers::Deduplicated), stacked in the one safe
//!   order by [`Stack`](layers::Stack).
//! - [`consent`]: agreement editions, the keyed acceptance log with its exportable signed head,
//!   module activation, opt-outs, platform suspension.
//! - [`webhook`]: webhook request/response types and constant-time verification.
//!
//! ```
//! use messenger_core::{plan::{plan, ReplyWindow}, Capabilities, OutgoingMessage, Platform};
//! let caps = Capabilities::of(Platform::Telegram);
//! let long = "Ваш заказ готов. ".repeat(400);
//! let p = plan(&OutgoingMessage::text("1", long), &caps, ReplyWindow::NotApplicable).unwrap();
//! assert!(p.parts.len() > 1);
//! assert_eq!(p.downgrades.len(), 1);
//! ```

#![warn(missing_docs)]

pub mod backoff;
pub mod capabilities;
pub mod connection;
pub mod consent;
pub mod error;
pub mod json;
pub mod layers;
pub mod messenger;
pub mod model;
pub mod oauth;
pub mod plan;
pub mod poll;
pub mod redact;
pub mod registry;
pub mod send;
pub mod status;
pub mod webhook;
pub mod window;

pub use capabilities::{Capabilities, Direction, KindCapability, LengthUnit, Rate};
pub use connection::{ConnectionFlow, ConnectionInput, ConnectionStep};
pub use error::{Delivery, Error, ErrorKind, RateScope, Result};
pub use messenger::{EventStream, Messenger, SendReport, SentPart};
pub use model::{
    AccountEvent, AccountHealth, AccountId, AccountInfo, ByteStream, ChatId, ContactChange,
    ContactEvent, Content, ContentKind, DeliveryStatus, InboundEvent, MediaId, MediaRef,
    MediaSource, MessageEvent, MessageId, OtherEvent, OutgoingContent, OutgoingMessage, Platform,
    Policy, Sender, StatusError, StatusEvent, Template, UserId,
};
pub use oauth::{OAuthTokens, TokenCache, TokenStore};
