//! One delegation mechanism for every layer: [`Wrapper`] names the wrapped messenger, and
//! [`forward_messenger!`](crate::forward_messenger) writes every [`Messenger`] method that a
//! layer does not override as a call to it (in the manner of teloxide's `requester_forward!`).
//!
//! A layer lists only what it changes:
//!
//! ```
//! use async_trait::async_trait;
//! use messenger_core::layers::Wrapper;
//! use messenger_core::plan::Part;
//! use messenger_core::{ChatId, Messenger, Result, SentPart};
//!
//! /// Counts the parts sent through it.
//! struct Counting<M> {
//!     inner: M,
//!     sent: std::sync::atomic::AtomicUsize,
//! }
//!
//! impl<M: Messenger> Wrapper for Counting<M> {
//!     type Inner = M;
//!     fn wrapped(&self) -> &M {
//!         &self.inner
//!     }
//! }
//!
//! #[async_trait]
//! impl<M: Messenger> Messenger for Counting<M> {
//!     messenger_core::forward_messenger!(except [send_part]);
//!
//!     async fn send_part(&self, chat: &ChatId, part: &Part) -> Result<SentPart> {
//!         self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         self.inner.send_part(chat, part).await
//!     }
//! }
//! ```
//!
//! A method named in `except` and not written falls back to the trait's default (for `send`,
//! the planner over this layer's own `send_part`): `messenger-core/tests/forwarding.rs` calls
//! every method through every layer and checks that each reached the wrapped messenger where
//! the layer means it to.

use crate::messenger::Messenger;

/// A layer: a [`Messenger`] that wraps another one.
pub trait Wrapper {
    /// The wrapped messenger.
    type Inner: Messenger + ?Sized;

    /// The wrapped messenger.
    fn wrapped(&self) -> &Self::Inner;
}

impl<M: Messenger + ?Sized> Wrapper for std::sync::Arc<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        self
    }
}

/// Writes, inside an `#[async_trait] impl Messenger for L`, every trait method that is not
/// named in `except [...]` as a call to [`Wrapper::wrapped`]; see [`layers::forward`](crate::layers::forward).
///
/// `forward_messenger!(all)` forwards every method.
#[macro_export]
macro_rules! forward_messenger {
    (all) => {
        $crate::forward_messenger!(except []);
    };
    (except [$($skip:ident),* $(,)?]) => {
        $crate::forward_messenger!(@platform [$($skip)*]);
        $crate::forward_messenger!(@capabilities [$($skip)*]);
        $crate::forward_messenger!(@connect [$($skip)*]);
        $crate::forward_messenger!(@send_part [$($skip)*]);
        $crate::forward_messenger!(@send [$($skip)*]);
        $crate::forward_messenger!(@send_template [$($skip)*]);
        $crate::forward_messenger!(@edit_text [$($skip)*]);
        $crate::forward_messenger!(@delete_message [$($skip)*]);
        $crate::forward_messenger!(@is_group_chat [$($skip)*]);
        $crate::forward_messenger!(@canonical_chat [$($skip)*]);
        $crate::forward_messenger!(@reply_window [$($skip)*]);
        $crate::forward_messenger!(@download [$($skip)*]);
        $crate::forward_messenger!(@mark_read [$($skip)*]);
        $crate::forward_messenger!(@handle_webhook [$($skip)*]);
        $crate::forward_messenger!(@updates [$($skip)*]);
        $crate::forward_messenger!(@status_updates [$($skip)*]);
        $crate::forward_messenger!(@track_status [$($skip)*]);
    };

    // Each method: skipped when named, written when the list is exhausted.
    (@platform [platform $($r:ident)*]) => {};
    (@platform [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@platform [$($r)*]); };
    (@platform []) => {
        fn platform(&self) -> $crate::Platform {
            $crate::layers::Wrapper::wrapped(self).platform()
        }
    };

    (@capabilities [capabilities $($r:ident)*]) => {};
    (@capabilities [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@capabilities [$($r)*]); };
    (@capabilities []) => {
        fn capabilities(&self) -> &$crate::Capabilities {
            $crate::layers::Wrapper::wrapped(self).capabilities()
        }
    };

    (@connect [connect $($r:ident)*]) => {};
    (@connect [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@connect [$($r)*]); };
    (@connect []) => {
        fn connect<'life0, 'async_trait>(
            &'life0 self,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::AccountInfo>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).connect()
        }
    };

    (@send_part [send_part $($r:ident)*]) => {};
    (@send_part [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@send_part [$($r)*]); };
    (@send_part []) => {
        fn send_part<'life0, 'life1, 'life2, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
            part: &'life2 $crate::plan::Part,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::SentPart>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).send_part(chat, part)
        }
    };

    (@send [send $($r:ident)*]) => {};
    (@send [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@send [$($r)*]); };
    (@send []) => {
        fn send<'life0, 'life1, 'async_trait>(
            &'life0 self,
            message: &'life1 $crate::OutgoingMessage,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::SendReport>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).send(message)
        }
    };

    (@send_template [send_template $($r:ident)*]) => {};
    (@send_template [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@send_template [$($r)*]); };
    (@send_template []) => {
        fn send_template<'life0, 'life1, 'life2, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
            template: &'life2 $crate::Template,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::SentPart>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).send_template(chat, template)
        }
    };

    (@edit_text [edit_text $($r:ident)*]) => {};
    (@edit_text [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@edit_text [$($r)*]); };
    (@edit_text []) => {
        fn edit_text<'life0, 'life1, 'life2, 'life3, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
            message: &'life2 $crate::MessageId,
            text: &'life3 str,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<()>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            'life3: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).edit_text(chat, message, text)
        }
    };

    (@delete_message [delete_message $($r:ident)*]) => {};
    (@delete_message [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@delete_message [$($r)*]); };
    (@delete_message []) => {
        fn delete_message<'life0, 'life1, 'life2, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
            message: &'life2 $crate::MessageId,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<()>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).delete_message(chat, message)
        }
    };

    (@is_group_chat [is_group_chat $($r:ident)*]) => {};
    (@is_group_chat [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@is_group_chat [$($r)*]); };
    (@is_group_chat []) => {
        fn is_group_chat(&self, chat: &$crate::ChatId) -> bool {
            $crate::layers::Wrapper::wrapped(self).is_group_chat(chat)
        }
    };

    (@canonical_chat [canonical_chat $($r:ident)*]) => {};
    (@canonical_chat [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@canonical_chat [$($r)*]); };
    (@canonical_chat []) => {
        fn canonical_chat(&self, chat: &$crate::ChatId) -> $crate::ChatId {
            $crate::layers::Wrapper::wrapped(self).canonical_chat(chat)
        }
    };

    (@reply_window [reply_window $($r:ident)*]) => {};
    (@reply_window [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@reply_window [$($r)*]); };
    (@reply_window []) => {
        fn reply_window<'life0, 'life1, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::plan::ReplyWindow>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).reply_window(chat)
        }
    };

    (@download [download $($r:ident)*]) => {};
    (@download [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@download [$($r)*]); };
    (@download []) => {
        fn download<'life0, 'life1, 'async_trait>(
            &'life0 self,
            media: &'life1 $crate::MediaRef,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::ByteStream>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).download(media)
        }
    };

    (@mark_read [mark_read $($r:ident)*]) => {};
    (@mark_read [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@mark_read [$($r)*]); };
    (@mark_read []) => {
        fn mark_read<'life0, 'life1, 'life2, 'async_trait>(
            &'life0 self,
            chat: &'life1 $crate::ChatId,
            message: &'life2 $crate::MessageId,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<()>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            'life2: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).mark_read(chat, message)
        }
    };

    (@handle_webhook [handle_webhook $($r:ident)*]) => {};
    (@handle_webhook [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@handle_webhook [$($r)*]); };
    (@handle_webhook []) => {
        fn handle_webhook<'life0, 'life1, 'async_trait>(
            &'life0 self,
            request: &'life1 $crate::webhook::WebhookRequest,
        ) -> $crate::layers::forward::BoxFuture<'async_trait, $crate::Result<$crate::webhook::WebhookOutcome>>
        where
            'life0: 'async_trait,
            'life1: 'async_trait,
            Self: 'async_trait,
        {
            $crate::layers::Wrapper::wrapped(self).handle_webhook(request)
        }
    };

    (@updates [updates $($r:ident)*]) => {};
    (@updates [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@updates [$($r)*]); };
    (@updates []) => {
        fn updates(&self) -> $crate::Result<$crate::EventStream> {
            $crate::layers::Wrapper::wrapped(self).updates()
        }
    };

    (@status_updates [status_updates $($r:ident)*]) => {};
    (@status_updates [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@status_updates [$($r)*]); };
    (@status_updates []) => {
        fn status_updates(&self) -> $crate::Result<$crate::EventStream> {
            $crate::layers::Wrapper::wrapped(self).status_updates()
        }
    };

    (@track_status [track_status $($r:ident)*]) => {};
    (@track_status [$o:ident $($r:ident)*]) => { $crate::forward_messenger!(@track_status [$($r)*]); };
    (@track_status []) => {
        fn track_status(&self, chat: &$crate::ChatId, message: &$crate::MessageId) -> $crate::Result<()> {
            $crate::layers::Wrapper::wrapped(self).track_status(chat, message)
        }
    };
}

/// The future type `#[async_trait]` gives every async method of [`Messenger`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
