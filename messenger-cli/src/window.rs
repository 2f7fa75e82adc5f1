//! `messenger send --window`: the reply window as the caller knows it.
//!
//! A new process has watched no customer's messages, so a connector's own answer is
//! [`ReplyWindow::Unknown`] for a customer it never saw, and the platform decides. Someone who
//! knows better (the customer wrote an hour ago; nobody has written in days) says so with
//! `--window`, and [`KnownWindow`] answers that instead.

use std::sync::Arc;

use async_trait::async_trait;
use messenger_core::layers::Wrapper;
use messenger_core::plan::ReplyWindow;
use messenger_core::{ChatId, Messenger, Platform, Result};

/// A messenger whose reply window is the one given, for every chat; everything else is the
/// wrapped messenger's.
///
/// `send` is the trait's own (the planner over this window, then the wrapped `send_part` for
/// each part): forwarding it would plan with the wrapped messenger's window instead.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use messenger_cli::window::KnownWindow;
/// use messenger_core::plan::ReplyWindow;
/// use messenger_core::{ChatId, ErrorKind, Messenger, OutgoingMessage};
/// let whatsapp = connector_whatsapp::WhatsAppConfig::new("token", "106540352242922")
///     .base_url("http://127.0.0.1:9")
///     .build()?;
/// let chat = ChatId::new("16505551234");
/// assert_eq!(whatsapp.reply_window(&chat).await?, ReplyWindow::Unknown);
/// let closed = KnownWindow::new(Arc::new(whatsapp), ReplyWindow::Closed);
/// assert_eq!(closed.reply_window(&chat).await?, ReplyWindow::Closed);
/// // Refused by the planner: no request is made (nothing listens on port 9 anyway).
/// let err = closed.send(&OutgoingMessage::text(chat, "Hello")).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
/// # Ok::<(), messenger_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct KnownWindow<M: ?Sized> {
    inner: Arc<M>,
    window: ReplyWindow,
}

impl<M: Messenger + ?Sized> KnownWindow<M> {
    /// `inner`, whose reply window is `window` for every chat.
    pub fn new(inner: Arc<M>, window: ReplyWindow) -> Self {
        Self { inner, window }
    }
}

impl<M: Messenger + ?Sized> Wrapper for KnownWindow<M> {
    type Inner = M;
    fn wrapped(&self) -> &M {
        &self.inner
    }
}

#[async_trait]
impl<M: Messenger + ?Sized> Messenger for KnownWindow<M> {
    messenger_core::forward_messenger!(except [reply_window, send]);

    async fn reply_window(&self, chat: &ChatId) -> Result<ReplyWindow> {
        let _ = chat;
        Ok(self.window)
    }
}

/// What `messenger send` prints on standard error after a send that went out with the window
/// [`ReplyWindow::Unknown`]: the platform decided, and where its refusal would show.
pub fn unknown_window_note(platform: Platform) -> String {
    let code = match platform {
        Platform::WhatsApp => ", code 131047",
        _ => "",
    };
    let name = platform.display_name();
    format!(
        "reply window: unknown to this process (it has not watched {name}'s inbound messages \
         for a whole window), so {name} decides: outside the window it accepts the message, \
         then reports it `failed` (outside_reply_window{code}), which `messenger listen \
         --platform {platform}` shows; give --window open or --window closed if you know"
    )
}
