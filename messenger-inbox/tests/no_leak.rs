//! Content is transported, not inspected (the agreement's 2.3): a full intake + send cycle
//! through the inbox, the layers, a real connector and the sandbox logs no message text,
//! caption, file name, phone number, customer name or token, at any level.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use messenger_core::{
    Content, ContentKind, InboundEvent, MediaRef, MessageEvent, Platform, Sender,
};
use messenger_inbox::{ConversationFilter, Draft, DraftMedia};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every tracing event of this test binary, at every level.
fn captured() -> &'static Buffer {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

const SECRETS: [&str; 7] = [
    "Lenina street 5",     // message text
    "passport scan",       // caption
    "passport-ivanov.pdf", // file name
    "79991234567",         // phone number (a WhatsApp-style chat id)
    "Ivan Petrovich",      // customer name
    "Your parcel 77",      // outbound text
    "SECRET-TOKEN",        // token
];

both! {
    async fn an_ingest_and_send_cycle_logs_no_content(f: Fixture) {
        let buffer = captured();
        let s = f.seed().await;
        // Through a real connector and the sandbox.
        registry(&f.inbox);
        let t = telegram(&f, &s.owner, 1).await;
        let chat = t.customers[0].id.clone();
        let conv = conversation_of(&f, &s.owner, &t.account, &chat).await;
        f.inbox.ingest(t.account.id, &[tg(&chat, "in-2", "Lenina street 5")]).await.unwrap();
        f.inbox.send(s.owner.id, conv, Draft::text("Your parcel 77 is here")).await.unwrap();
        f.inbox.worker("w").run_until_idle(std::time::Duration::from_secs(20)).await.unwrap();
        assert_eq!(t.received(&t.customers[0]).len(), 1);
        // A phone-number chat, media with a caption and a file name, a customer's name.
        let photo = InboundEvent::Message(MessageEvent {
            platform: Platform::Telegram,
            chat_id: "79991234567".into(),
            message_id: "9".into(),
            sender: Some(Sender { id: "79991234567".into(), name: Some("Ivan Petrovich".into()) }),
            timestamp: chrono::Utc::now(),
            reply_to: None,
            edited: false,
            content: Content::File {
                media: MediaRef { id: "file-9".into(), mime_type: Some("application/pdf".into()), file_name: Some("passport-ivanov.pdf".into()), size: Some(10) },
                caption: Some("passport scan".into()),
            },
        });
        with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[photo.clone(), photo, tg("79991234567", "10", "STOP")]).await.unwrap();
        let list = f.inbox.conversations(s.owner.id, ConversationFilter::default().account(s.account.id)).await.unwrap();
        f.inbox.history(s.owner.id, list[0].id, None, 10).await.unwrap();
        let draft = Draft::media(ContentKind::File, DraftMedia::Bytes { data: b"x".to_vec(), mime_type: "application/pdf".into(), file_name: "passport-ivanov.pdf".into() }, Some("passport scan".into())).unwrap();
        let _ = f.inbox.send(s.owner.id, list[0].id, draft).await; // refused: opted out
        f.inbox.export_customer(s.owner.id, list[0].customer).await.unwrap();
        let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
        assert!(logs.len() > 1000, "the cycle was logged ({} bytes)", logs.len());
        assert!(!logs.contains(&t.bot.token), "the logs contain the bot token");
        for secret in SECRETS {
            assert!(!logs.contains(secret), "the logs contain {secret:?}");
        }
    }
}
