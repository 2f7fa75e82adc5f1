//! One emulator per platform, over the shared model in [`crate::state`].
//!
//! An emulator is a value implementing [`Emulator`]: it names its platform and its path prefix,
//! serves its routes under `{base}/{prefix}/...`, builds its accounts and customers, plays the
//! customer's side for the control API and shapes (and signs) its webhook deliveries. The
//! server, the control API and the delivery worker know emulators only through this trait and
//! find them in [`EMULATORS`], so a new platform is one folder here plus one line in that list
//! (and its `mod` line); a platform without an emulator is refused with `Unsupported`
//! ("no emulator for vk"), never handled by another platform's code.

mod avito;
mod max;
mod telegram;
mod vk;
mod whatsapp;

use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use messenger_core::registry::Credentials;
use messenger_core::{Error, ErrorKind, Platform, Result};

use crate::api::{
    AccountPatch, AccountSpec, CustomerMessage, Group, GroupMessage, InboundReceipt,
    MessageDirection, MessageStatus, MessageView, NewCustomer, NewGroup, SandboxAccount,
    WebhookCheck,
};
use crate::state::{Account, Customer, Shared, State};

/// Every emulator the sandbox serves, one line per platform. The order is the order of
/// [`SandboxUrls`](crate::SandboxUrls) and of nothing else.
pub(crate) static EMULATORS: &[&dyn Emulator] = &[
    &telegram::Telegram,
    &whatsapp::WhatsApp,
    &max::Max,
    &vk::Vk,
    &avito::Avito,
];

/// The platforms the sandbox emulates, in [`EMULATORS`] order.
pub(crate) fn platforms() -> impl Iterator<Item = Platform> {
    EMULATORS.iter().map(|e| e.platform())
}

/// The emulator of a platform, or `Unsupported` ("no emulator for max").
pub(crate) fn emulator(platform: Platform) -> Result<&'static dyn Emulator> {
    EMULATORS
        .iter()
        .copied()
        .find(|e| e.platform() == platform)
        .ok_or_else(|| {
            Error::unsupported(format!("no emulator for {platform}")).with_platform(platform)
        })
}

/// One webhook delivery an emulator wants made: where, with which headers (its signature
/// included), and what the delivery log records about it.
pub(crate) struct Delivery {
    /// The receiver's URL (the worker delivers to loopback URLs only).
    pub url: String,
    /// Every header of the POST, `content-type` and signatures included.
    pub headers: Vec<(&'static str, String)>,
    /// The exact body.
    pub body: Bytes,
    /// The kind the delivery log shows (`update`, `message`, `status`).
    pub kind: &'static str,
    /// The reference the delivery log shows (an update id, a wamid).
    pub reference: String,
    /// The emulator's own key of the queued item, handed back to
    /// [`Emulator::delivery_done`].
    pub key: u64,
}

/// How one delivery attempt ended.
pub(crate) struct Outcome<'a> {
    /// Why it failed (a transport error or a non-2xx answer); `None` when accepted.
    pub error: Option<&'a str>,
    /// The worker gives up on this item (too many attempts): drop it.
    pub give_up: bool,
    /// When (sandbox clock, ms).
    pub now_ms: i64,
}

/// One platform's emulator. Every method that takes `&mut State` is called with the sandbox
/// lock held and must not block; none is `async` except the webhook handshake, which makes an
/// HTTP request without the lock.
pub(crate) trait Emulator: Send + Sync + 'static {
    // --- what it is and where it is served ---------------------------------------------------

    /// The platform it emulates.
    fn platform(&self) -> Platform;

    /// The first path segment of its routes: the platform's root is `{base}/{prefix}`.
    fn prefix(&self) -> &'static str {
        self.platform().as_str()
    }

    /// The account and first customer `messenger sandbox` and `messenger demo` seed, with
    /// fixed credentials so that a second terminal can use them.
    fn demo(&self) -> (AccountSpec, NewCustomer);

    /// Its routes, relative to its root (`/bot{token}/{method}`, `/{version}/{id}`, ...),
    /// with a fallback in the platform's own "not found" shape.
    fn routes(&self) -> Router<Arc<Shared>>;

    // --- accounts --------------------------------------------------------------------------

    /// Builds an account from a spec (the caller checks id and token uniqueness and stores it).
    fn new_account(
        &self,
        shared: &Shared,
        state: &mut State,
        spec: &AccountSpec,
    ) -> Result<Account>;

    /// Applies the parts of a patch that the platform has; refuses what it cannot have.
    fn patch_account(&self, account: &mut Account, patch: &AccountPatch) -> Result<()>;

    /// Fills the platform's fields of the control view of an account (the common ones are
    /// filled already).
    fn describe(&self, account: &Account, view: &mut SandboxAccount);

    /// What a connector needs to talk to this account, with the registry's keys
    /// (`token`, [`BASE_URL`](messenger_core::registry::BASE_URL), ...); `root` is the
    /// platform's root URL.
    fn credentials(&self, account: &Account, root: &str) -> Credentials;

    // --- customers -------------------------------------------------------------------------

    /// Builds a customer of an account (the caller checks id uniqueness and stores it).
    fn new_customer(
        &self,
        shared: &Shared,
        state: &mut State,
        new: &NewCustomer,
    ) -> Result<Customer>;

    /// The end of the customer's reply window, where the platform has one and it is open.
    fn window_open_until(&self, _shared: &Shared, _customer: &Customer) -> Option<DateTime<Utc>> {
        None
    }

    /// The customer sends a message to the account.
    fn customer_sends(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        message: &CustomerMessage,
    ) -> Result<InboundReceipt>;

    /// The customer reads the account's messages up to `up_to` (all when `None`); returns how
    /// many became read.
    fn customer_reads(
        &self,
        shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        up_to: Option<&str>,
    ) -> Result<usize>;

    /// The customer blocks or unblocks the account. Platforms that tell the account nothing
    /// keep this default, which sets the flag their sends check.
    fn set_blocked(
        &self,
        _shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        blocked: bool,
    ) -> Result<()> {
        state.account_mut(account)?.customer_mut(customer)?.blocked = blocked;
        Ok(())
    }

    /// The customer allows (`true`) or denies (`false`) the account's messages: VK's
    /// `message_allow` / `message_deny`. Platforms without such a consent signal keep this
    /// default: `Unsupported` (block and unblock are their customer's refusal).
    fn set_consent(
        &self,
        _shared: &Shared,
        _state: &mut State,
        _account: &str,
        _customer: &str,
        _allowed: bool,
    ) -> Result<()> {
        Err(Error::unsupported(format!(
            "{} has no message consent signal; use block and unblock",
            self.platform().display_name()
        )))
    }

    /// The customer's device goes online or offline. Platforms without delivery receipts keep
    /// this default, which sets the flag.
    fn set_online(
        &self,
        _shared: &Shared,
        state: &mut State,
        account: &str,
        customer: &str,
        online: bool,
    ) -> Result<()> {
        state.account_mut(account)?.customer_mut(customer)?.online = online;
        Ok(())
    }

    // --- group chats ---------------------------------------------------------------------

    /// Creates a group chat of the account with customers of it as members (Telegram: a
    /// group, supergroup or channel). Platforms without group chats in the sandbox keep this
    /// default: `Unsupported`.
    fn create_group(
        &self,
        _shared: &Shared,
        _state: &mut State,
        _account: &str,
        _new: &NewGroup,
    ) -> Result<Group> {
        Err(no_groups(self.platform()))
    }

    /// The account's group chats, in creation order (default: `Unsupported`).
    fn groups(&self, _state: &State, _account: &str) -> Result<Vec<Group>> {
        Err(no_groups(self.platform()))
    }

    /// A member writes in a group chat, or a channel posts (default: `Unsupported`).
    fn group_sends(
        &self,
        _shared: &Shared,
        _state: &mut State,
        _account: &str,
        _group: &str,
        _message: &GroupMessage,
    ) -> Result<InboundReceipt> {
        Err(no_groups(self.platform()))
    }

    /// Everything posted in a group chat, the account's messages included, in order (default:
    /// `Unsupported`).
    fn group_messages(
        &self,
        _state: &State,
        _account: &str,
        _group: &str,
    ) -> Result<Vec<MessageView>> {
        Err(no_groups(self.platform()))
    }

    // --- deliveries ------------------------------------------------------------------------

    /// The next webhook delivery of the account, if it has a webhook and something queued.
    fn next_delivery(&self, account: &Account) -> Option<Delivery>;

    /// Whether the receiver's 2xx answer to the delivery of `key` is what the platform expects
    /// (VK: the body `ok`, or the confirmation string for a `confirmation`); `Err` with the
    /// reason makes it a failed attempt. Platforms that take any 2xx keep this default.
    fn delivery_answer(&self, _account: &Account, _key: u64, _body: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// Records how the delivery of `key` ended (a success or giving up dequeues it).
    fn delivery_done(&self, account: &mut Account, key: u64, outcome: &Outcome<'_>);

    /// The platform's webhook verification handshake against the account's callback URL
    /// (WhatsApp's `hub.challenge`, VK's `confirmation` event). Platforms without one keep
    /// this default: `Unsupported`.
    fn verify_webhook<'a>(
        &'a self,
        _shared: &'a Shared,
        _account: &'a str,
    ) -> BoxFuture<'a, Result<WebhookCheck>> {
        let platform = self.platform();
        Box::pin(async move {
            Err(Error::unsupported(format!(
                "{} has no webhook verification handshake",
                platform.display_name()
            )))
        })
    }
}

/// What the group hooks of an emulator without group chats answer.
fn no_groups(platform: Platform) -> Error {
    Error::unsupported(format!(
        "the {} emulator has no group chats to create",
        platform.display_name()
    ))
    .with_platform(platform)
}

/// Marks the account's outbound messages up to `up_to` (all when `None`) whose status is one
/// of `from` as read; returns the ids marked, in order. Shared by the emulators' reads.
pub(crate) fn mark_outbound_read(
    customer: &mut Customer,
    up_to: Option<&str>,
    from: &[MessageStatus],
) -> Result<Vec<String>> {
    let limit = match up_to {
        Some(id) => customer
            .messages
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such message"))?,
        None => customer.messages.len().saturating_sub(1),
    };
    let mut read = Vec::new();
    for m in customer.messages.iter_mut().take(limit + 1) {
        if m.direction == MessageDirection::Outbound && from.contains(&m.status) {
            m.status = MessageStatus::Read;
            read.push(m.id.clone());
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emulator_per_platform_and_prefix() {
        for (i, a) in EMULATORS.iter().enumerate() {
            assert_ne!(a.prefix(), "control", "control is the control API's prefix");
            assert!(
                !a.prefix().is_empty() && !a.prefix().contains('/'),
                "a prefix is one path segment"
            );
            for b in &EMULATORS[i + 1..] {
                assert_ne!(a.platform(), b.platform());
                assert_ne!(a.prefix(), b.prefix());
            }
            assert_eq!(emulator(a.platform()).unwrap().prefix(), a.prefix());
        }
    }

    #[test]
    fn a_platform_without_an_emulator_is_unsupported() {
        for platform in Platform::ALL {
            if EMULATORS.iter().any(|e| e.platform() == platform) {
                continue;
            }
            let err = emulator(platform).map(|e| e.prefix()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            assert_eq!(err.message(), format!("no emulator for {platform}"));
        }
    }
}
