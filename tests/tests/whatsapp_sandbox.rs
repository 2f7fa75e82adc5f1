//! The WhatsApp connector against the sandbox, both ways, through signed webhooks received by
//! the CLI's receiver: every content kind a customer sends arrives with its bytes; every kind
//! the business sends lands in order (an MP3 voice note downgraded to audio and reported);
//! statuses end at `read` in a [`StatusTracker`], also out of order; the 24-hour window is
//! enforced before any request where the store knows it closed, left to WhatsApp where it
//! cannot know (a new process), templates pass, and a late 131047 comes back as
//! `outside_reply_window`; a delivery signed with another secret is refused; an opt-out is
//! enforced by the gate.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use connector_whatsapp::WhatsApp;
use integration_tests::{
    Events, active_consent, download, eventually, functional_config, media, sha256_hex,
    start_sandbox, whatsapp,
};
use messenger_core::layers::Gated;
use messenger_core::plan::{DowngradeReason, ReplyWindow};
use messenger_core::status::{Applied, Ignored, StatusTracker};
use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
use messenger_core::{
    AccountId, ChatId, ContactChange, Content, ContentKind, Delivery, DeliveryStatus, ErrorKind,
    InboundEvent, MediaSource, MessageId, Messenger, OutgoingContent, OutgoingMessage, Platform,
    StatusEvent,
};
use messenger_sandbox::{
    AccountPatch, AccountSpec, Customer, CustomerMessage, MediaUpload, MessageKind, MessageStatus,
    NewCustomer, Sandbox, SandboxAccount,
};

/// A sandbox with one business number and one customer, the connector, and its webhook
/// receiver registered as the number's callback URL.
struct Wa {
    sandbox: Sandbox,
    account: SandboxAccount,
    customer: Customer,
    connector: WhatsApp,
    store: Arc<MemoryReplyWindowStore>,
    events: Events,
}

/// [`setup_with`] a store that has watched the number's inbound messages for 25 hours (a CRM
/// with a day of history): it knows which windows are closed.
async fn setup() -> Wa {
    setup_with(
        MemoryReplyWindowStore::default()
            .with_watching_since(Some(Utc::now() - chrono::Duration::hours(25))),
    )
    .await
}

async fn setup_with(store: MemoryReplyWindowStore) -> Wa {
    let sandbox = start_sandbox(functional_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::whatsapp().name("Shop"))
        .expect("a number");
    let customer = sandbox
        .create_customer(&account.id, &NewCustomer::named("Maria"))
        .expect("a customer");
    let store = Arc::new(store);
    let connector = whatsapp(&sandbox, &account, Some(store.clone()));
    let events = Events::webhook(Arc::new(connector.clone())).await;
    events.register_whatsapp(&sandbox, &account.id);
    Wa {
        sandbox,
        account,
        customer,
        connector,
        store,
        events,
    }
}

impl Wa {
    fn chat(&self) -> ChatId {
        ChatId::new(self.customer.id.clone())
    }

    /// The customer writes and the message arrives through the webhook (opening the window).
    async fn customer_writes(&mut self, text: &str) -> MessageId {
        let receipt = self
            .sandbox
            .customer_sends(
                &self.account.id,
                &self.customer.id,
                &CustomerMessage::text(text),
            )
            .expect("the customer writes");
        let event = self.events.message().await;
        assert_eq!(event.message_id.as_str(), receipt.message_id);
        event.message_id
    }

    /// Status events of `message` until one with `status` arrives; returns all of them in
    /// arrival order.
    async fn statuses_until(
        &mut self,
        message: &MessageId,
        status: DeliveryStatus,
    ) -> Vec<StatusEvent> {
        let mut seen = Vec::new();
        loop {
            let event = self.events.status().await;
            if &event.message_id != message {
                continue;
            }
            let done = event.status == status;
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}

struct Inbound {
    kind: ContentKind,
    upload: Option<MediaUpload>,
    caption: Option<&'static str>,
    /// What the event's `text()` must be (captions exist on image, video and document only).
    expected_text: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_content_of_every_kind_arrives_by_webhook_with_its_bytes() {
    let mut wa = setup().await;
    let cases = vec![
        Inbound {
            kind: ContentKind::Text,
            upload: None,
            caption: None,
            expected_text: Some("Здравствуйте! Где мой заказ? 📦"),
        },
        Inbound {
            kind: ContentKind::Image,
            upload: Some(MediaUpload::new(MessageKind::Image, media::png()).mime_type("image/png")),
            caption: Some("Вот чек"),
            expected_text: Some("Вот чек"),
        },
        Inbound {
            kind: ContentKind::File,
            upload: Some(
                MediaUpload::new(MessageKind::File, media::pdf())
                    .mime_type("application/pdf")
                    .file_name("invoice-1042.pdf"),
            ),
            caption: Some("Счёт"),
            expected_text: Some("Счёт"),
        },
        Inbound {
            kind: ContentKind::Voice,
            upload: Some(
                MediaUpload::new(MessageKind::Voice, media::ogg(3000)).mime_type("audio/ogg"),
            ),
            caption: None,
            expected_text: None,
        },
        Inbound {
            kind: ContentKind::Audio,
            upload: Some(
                MediaUpload::new(MessageKind::Audio, media::mp3(5000)).mime_type("audio/mpeg"),
            ),
            caption: None,
            expected_text: None,
        },
        Inbound {
            kind: ContentKind::Video,
            upload: Some(
                MediaUpload::new(MessageKind::Video, media::mp4(7000)).mime_type("video/mp4"),
            ),
            caption: Some("Видео"),
            expected_text: Some("Видео"),
        },
    ];
    for case in &cases {
        let mut message = match &case.upload {
            Some(upload) => CustomerMessage::media(upload.clone()),
            None => CustomerMessage::text(case.expected_text.expect("text")),
        };
        if let Some(caption) = case.caption {
            message = message.caption(caption);
        }
        let receipt = wa
            .sandbox
            .customer_sends(&wa.account.id, &wa.customer.id, &message)
            .expect("the customer sends");
        let event = wa.events.message().await;
        assert_eq!(event.platform, Platform::WhatsApp);
        assert_eq!(event.chat_id, wa.chat());
        assert_eq!(event.message_id.as_str(), receipt.message_id);
        assert_eq!(event.content.kind(), case.kind, "kind of {:?}", case.kind);
        assert_eq!(
            event.content.text(),
            case.expected_text,
            "text of {:?}",
            case.kind
        );
        if let Some(upload) = &case.upload {
            let media_ref = event.content.media().expect("media").clone();
            assert_eq!(
                media_ref.id.as_str(),
                receipt.media_id.as_deref().expect("a media id")
            );
            let mime = media_ref
                .mime_type
                .clone()
                .expect("WhatsApp gives the MIME type");
            assert!(
                mime.starts_with(upload.mime_type.as_deref().expect("declared")),
                "{mime} for {:?}",
                case.kind
            );
            if let Some(name) = &upload.file_name {
                assert_eq!(media_ref.file_name.as_deref(), Some(name.as_str()));
            }
            let bytes = download(&wa.connector, &media_ref).await;
            assert_eq!(bytes, upload.data.to_vec(), "downloaded {:?}", case.kind);
        }
    }
    // Every inbound message opened (kept open) the reply window in the connector's store.
    assert_eq!(
        wa.connector.reply_window(&wa.chat()).await.expect("window"),
        ReplyWindow::Open
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_sends_every_kind_and_an_mp3_voice_note_goes_as_audio() {
    let mut wa = setup().await;
    let question = wa.customer_writes("Пришлите документы").await;
    let chat = wa.chat();

    // 4096 is WhatsApp's limit in characters: 5000 Cyrillic characters make two messages.
    let long: String = (0..500).map(|i| format!("Строка {i:03}. ")).collect();
    assert!(long.chars().count() > 4096);
    let (png, pdf, ogg, mp3, mp4, mp3_voice) = (
        media::png(),
        media::pdf(),
        media::ogg(4000),
        media::mp3(6000),
        media::mp4(8000),
        media::mp3(2500),
    );
    let sends: Vec<(OutgoingMessage, usize)> = vec![
        (
            OutgoingMessage::text(chat.clone(), "Добрый день! Отправляю.")
                .reply_to(question.clone()),
            1,
        ),
        (OutgoingMessage::text(chat.clone(), long.clone()), 2),
        (
            OutgoingMessage::new(
                chat.clone(),
                OutgoingContent::Image {
                    media: MediaSource::bytes(png.clone(), "image/png", "route.png"),
                    caption: Some("Маршрут".into()),
                },
            ),
            1,
        ),
        (
            OutgoingMessage::new(
                chat.clone(),
                OutgoingContent::File {
                    media: MediaSource::bytes(pdf.clone(), "application/pdf", "invoice.pdf"),
                    caption: Some("Счёт".into()),
                },
            ),
            1,
        ),
        (
            OutgoingMessage::new(
                chat.clone(),
                OutgoingContent::Voice {
                    media: MediaSource::bytes(ogg.clone(), "audio/ogg", "note.ogg"),
                    caption: None,
                },
            ),
            1,
        ),
        (
            OutgoingMessage::new(
                chat.clone(),
                OutgoingContent::Audio {
                    media: MediaSource::bytes(mp3.clone(), "audio/mpeg", "track.mp3"),
                    caption: None,
                },
            ),
            1,
        ),
        (
            OutgoingMessage::new(
                chat.clone(),
                OutgoingContent::Video {
                    media: MediaSource::bytes(mp4.clone(), "video/mp4", "clip.mp4"),
                    caption: Some("Видео".into()),
                },
            ),
            1,
        ),
    ];
    let mut sent_ids = Vec::new();
    for (message, parts) in &sends {
        let report = wa.connector.send(message).await.expect("the send succeeds");
        assert_eq!(report.parts.len(), *parts, "{:?}", message.content.kind());
        sent_ids.extend(report.parts.iter().map(|p| p.message_id.to_string()));
    }
    // A voice note must be OGG/Opus on WhatsApp: an MP3 one goes as audio, and the send says so.
    let report = wa
        .connector
        .send(&OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Voice {
                media: MediaSource::bytes(mp3_voice.clone(), "audio/mpeg", "note.mp3"),
                caption: None,
            },
        ))
        .await
        .expect("the MP3 voice note goes out");
    assert_eq!(report.parts.len(), 1);
    assert_eq!(report.downgrades.len(), 1, "{:?}", report.downgrades);
    let downgrade = &report.downgrades[0];
    assert_eq!(
        (downgrade.from, downgrade.to),
        (ContentKind::Voice, ContentKind::Audio)
    );
    assert_eq!(
        downgrade.reason,
        DowngradeReason::MimeRefused {
            mime_type: "audio/mpeg".into()
        }
    );
    sent_ids.push(report.parts[0].message_id.to_string());

    let received = wa
        .sandbox
        .received(&wa.account.id, &wa.customer.id)
        .expect("the conversation");
    let ids: Vec<&str> = received.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids, sent_ids,
        "the customer sees exactly what was sent, in order"
    );
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Text,
            MessageKind::Text,
            MessageKind::Text,
            MessageKind::Image,
            MessageKind::File,
            MessageKind::Voice,
            MessageKind::Audio,
            MessageKind::Video,
            MessageKind::Audio,
        ]
    );
    assert!(received.iter().all(|m| m.status != MessageStatus::Failed));
    assert_eq!(received[0].reply_to.as_deref(), Some(question.as_str()));
    let long_parts: Vec<&str> = received[1..3]
        .iter()
        .map(|m| m.text.as_deref().expect("text"))
        .collect();
    assert!(long_parts.iter().all(|p| p.chars().count() <= 4096));
    let joined: String = long_parts.concat();
    assert_eq!(
        joined.split_whitespace().collect::<String>(),
        long.split_whitespace().collect::<String>()
    );
    let media_expect: [(&Vec<u8>, Option<&str>, Option<&str>); 6] = [
        (&png, Some("Маршрут"), None),
        (&pdf, Some("Счёт"), Some("invoice.pdf")),
        (&ogg, None, None),
        (&mp3, None, None),
        (&mp4, Some("Видео"), None),
        (&mp3_voice, None, None),
    ];
    for (view, (bytes, caption, name)) in received[3..].iter().zip(media_expect) {
        assert_eq!(view.caption.as_deref(), caption, "{:?}", view.kind);
        let m = view.media.as_ref().expect("media");
        assert_eq!(m.size, Some(bytes.len() as u64), "{:?}", view.kind);
        assert_eq!(
            m.sha256.as_deref(),
            Some(sha256_hex(bytes).as_str()),
            "{:?}",
            view.kind
        );
        if let Some(name) = name {
            assert_eq!(m.file_name.as_deref(), Some(name));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_end_at_read_in_order_and_out_of_order() {
    let mut wa = setup().await;
    wa.customer_writes("Привет").await;
    let chat = wa.chat();
    let tracker = StatusTracker::default();
    wa.sandbox
        .set_online(&wa.account.id, &wa.customer.id, false)
        .expect("offline");

    // In order: sent; delivered when the phone comes online; read when the customer reads.
    let first = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Заказ собран"))
        .await
        .expect("sent")
        .parts[0]
        .message_id
        .clone();
    let mut seen = wa.statuses_until(&first, DeliveryStatus::Sent).await;
    wa.sandbox
        .set_online(&wa.account.id, &wa.customer.id, true)
        .expect("online");
    seen.extend(wa.statuses_until(&first, DeliveryStatus::Delivered).await);
    wa.sandbox
        .customer_reads(&wa.account.id, &wa.customer.id, None)
        .expect("reads");
    seen.extend(wa.statuses_until(&first, DeliveryStatus::Read).await);
    let order: Vec<DeliveryStatus> = seen.iter().map(|s| s.status.clone()).collect();
    assert_eq!(
        order,
        [
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read
        ]
    );
    for status in &seen {
        assert_eq!(status.chat_id, chat);
        assert!(tracker.apply(status).await.expect("apply").advanced());
    }
    let current = tracker
        .get(Platform::WhatsApp, &chat, &first)
        .await
        .expect("get")
        .expect("tracked");
    assert_eq!(current.status, DeliveryStatus::Read);

    // Out of order: `sent` and `delivered` of one send are delivered reversed.
    wa.sandbox
        .update_account(
            &wa.account.id,
            &AccountPatch {
                out_of_order_statuses: Some(true),
                ..AccountPatch::default()
            },
        )
        .expect("out-of-order statuses");
    let second = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Курьер выехал"))
        .await
        .expect("sent")
        .parts[0]
        .message_id
        .clone();
    let mut seen = wa.statuses_until(&second, DeliveryStatus::Sent).await;
    wa.sandbox
        .customer_reads(&wa.account.id, &wa.customer.id, None)
        .expect("reads");
    seen.extend(wa.statuses_until(&second, DeliveryStatus::Read).await);
    let order: Vec<DeliveryStatus> = seen.iter().map(|s| s.status.clone()).collect();
    assert_eq!(
        order,
        [
            DeliveryStatus::Delivered,
            DeliveryStatus::Sent,
            DeliveryStatus::Read
        ]
    );
    let mut results = Vec::new();
    for status in &seen {
        results.push(tracker.apply(status).await.expect("apply"));
    }
    assert!(results[0].advanced());
    assert!(matches!(
        results[1],
        Applied::Ignored {
            reason: Ignored::Outranked,
            ..
        }
    ));
    assert_eq!(results[1].current().status, DeliveryStatus::Delivered);
    assert!(results[2].advanced());
    let current = tracker
        .get(Platform::WhatsApp, &chat, &second)
        .await
        .expect("get")
        .expect("tracked");
    assert_eq!(current.status, DeliveryStatus::Read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_window_refuses_free_form_before_any_request_and_templates_pass() {
    let mut wa = setup().await;
    let chat = wa.chat();

    let before = wa.sandbox.requests(&wa.account.id).expect("requests").len();
    let err = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Здравствуйте!"))
        .await
        .expect_err("the customer never wrote in the day watched: the window is closed");
    assert_eq!(err.kind(), ErrorKind::OutsideReplyWindow);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(
        wa.sandbox.requests(&wa.account.id).expect("requests").len(),
        before,
        "no request left"
    );

    let template = wa
        .connector
        .send_template(&chat, &messenger_core::Template::new("order_update", "ru"))
        .await
        .expect("a template goes out whatever the window");
    let sent = wa
        .statuses_until(&template.message_id, DeliveryStatus::Sent)
        .await;
    assert!(sent.iter().all(|s| s.status != DeliveryStatus::Failed));

    wa.customer_writes("Да, слушаю").await;
    let reply = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Ваш заказ готов"))
        .await
        .expect("the window is open now");

    let received = wa
        .sandbox
        .received(&wa.account.id, &wa.customer.id)
        .expect("the conversation");
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].kind, MessageKind::Template);
    assert_eq!(received[0].template.as_deref(), Some("order_update"));
    assert_eq!(received[0].id, template.message_id.as_str());
    assert_eq!(received[1].kind, MessageKind::Text);
    assert_eq!(received[1].id, reply.parts[0].message_id.as_str());
    assert_eq!(received[1].text.as_deref(), Some("Ваш заказ готов"));
    assert!(received.iter().all(|m| m.status != MessageStatus::Failed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_knows_no_window_and_whatsapp_decides() {
    // A store created now has watched nothing: the customer may have written an hour ago. The
    // message goes; WhatsApp accepts it (200 and a wamid) and, the window being closed (this
    // customer never wrote), fails it in a `failed` status with 131047.
    let mut wa = setup_with(MemoryReplyWindowStore::default()).await;
    let chat = wa.chat();
    assert_eq!(
        wa.connector.reply_window(&chat).await.expect("window"),
        ReplyWindow::Unknown
    );
    let sent = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Здравствуйте!"))
        .await
        .expect("an unknown window is not a closed one: WhatsApp decides");
    let id = sent.parts[0].message_id.clone();
    let statuses = wa.statuses_until(&id, DeliveryStatus::Failed).await;
    let error = statuses
        .last()
        .and_then(|s| s.error.clone())
        .expect("the failure says why");
    assert_eq!(error.kind, ErrorKind::OutsideReplyWindow);
    assert_eq!(error.code.as_deref(), Some("131047"));

    // Once the customer writes, the window is open and known.
    wa.customer_writes("Да, слушаю").await;
    assert_eq!(
        wa.connector.reply_window(&chat).await.expect("window"),
        ReplyWindow::Open
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_expired_at_the_platform_comes_back_as_outside_reply_window() {
    let mut wa = setup().await;
    let chat = wa.chat();
    wa.customer_writes("Добрый вечер").await;

    // 25 hours pass on the platform's clock; our store still holds a recent inbound time (a
    // clock skew, a lost webhook...), so the connector lets a free-form message through.
    wa.sandbox.advance_clock(Duration::from_secs(25 * 3600));
    wa.store
        .record_inbound(Platform::WhatsApp, &chat, Utc::now())
        .await
        .expect("recorded");
    assert_eq!(
        wa.connector.reply_window(&chat).await.expect("window"),
        ReplyWindow::Open
    );
    let sent = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Вы ещё ждёте заказ?"))
        .await
        .expect("WhatsApp accepts the request (200 and a wamid)");
    let id = sent.parts[0].message_id.clone();

    // ...and fails it later, with 131047, in a `failed` status.
    let statuses = wa.statuses_until(&id, DeliveryStatus::Failed).await;
    let failed = statuses.last().expect("a failed status");
    let error = failed.error.clone().expect("the failure says why");
    assert_eq!(error.kind, ErrorKind::OutsideReplyWindow);
    assert_eq!(error.code.as_deref(), Some("131047"));

    let tracker = StatusTracker::default();
    for status in &statuses {
        tracker.apply(status).await.expect("apply");
    }
    let current = tracker
        .get(Platform::WhatsApp, &chat, &id)
        .await
        .expect("get")
        .expect("tracked");
    assert_eq!(current.status, DeliveryStatus::Failed);
    assert_eq!(
        current.error.map(|e| e.kind),
        Some(ErrorKind::OutsideReplyWindow)
    );

    let received = wa
        .sandbox
        .received(&wa.account.id, &wa.customer.id)
        .expect("the conversation");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].status, MessageStatus::Failed);
    assert_eq!(received[0].error.as_ref().map(|e| e.code), Some(131_047));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_a_blocking_customer_fails_later_with_recipient_blocked() {
    let mut wa = setup().await;
    let chat = wa.chat();
    wa.customer_writes("Здравствуйте").await;
    wa.sandbox
        .block(&wa.account.id, &wa.customer.id)
        .expect("the customer blocks the business");
    // WhatsApp accepts the request and reports the failure in a status (131026).
    let sent = wa
        .connector
        .send(&OutgoingMessage::text(chat.clone(), "Ваш заказ готов"))
        .await
        .expect("accepted");
    let id = sent.parts[0].message_id.clone();
    let statuses = wa.statuses_until(&id, DeliveryStatus::Failed).await;
    let error = statuses
        .last()
        .and_then(|s| s.error.clone())
        .expect("the failure says why");
    assert_eq!(error.kind, ErrorKind::RecipientBlocked);
    assert_eq!(error.code.as_deref(), Some("131026"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_signed_with_another_app_secret_is_rejected() {
    let mut wa = setup().await;
    let right = wa
        .account
        .app_secret
        .clone()
        .expect("the sandbox made an app secret");
    let patch_secret = |secret: &str| AccountPatch {
        app_secret: Some(secret.to_owned()),
        ..AccountPatch::default()
    };

    wa.sandbox
        .update_account(&wa.account.id, &patch_secret("someone-else's-secret"))
        .expect("patched");
    let receipt = wa
        .sandbox
        .customer_sends(
            &wa.account.id,
            &wa.customer.id,
            &CustomerMessage::text("подпись"),
        )
        .expect("the customer writes");
    let err = wa.events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    let attempts = eventually("two rejected attempts", || {
        let deliveries = wa.sandbox.deliveries(&wa.account.id).expect("deliveries");
        let attempts: Vec<_> = deliveries
            .into_iter()
            .filter(|d| d.reference == receipt.message_id)
            .collect();
        (attempts.len() >= 2).then_some(attempts)
    })
    .await;
    assert!(attempts.iter().all(|d| d.status == Some(401)));
    // A forged delivery opens no window.
    assert_eq!(
        wa.connector.reply_window(&wa.chat()).await.expect("window"),
        ReplyWindow::Closed
    );

    // With the right secret the retried delivery is accepted: nothing was lost.
    wa.sandbox
        .update_account(&wa.account.id, &patch_secret(&right))
        .expect("patched");
    let event = loop {
        match wa.events.next_item().await {
            Ok(InboundEvent::Message(m)) => break m,
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::WebhookRejected),
        }
    };
    assert_eq!(event.message_id.as_str(), receipt.message_id);
    assert_eq!(
        event.content,
        Content::Text {
            text: "подпись".into()
        }
    );
    assert_eq!(
        wa.connector.reply_window(&wa.chat()).await.expect("window"),
        ReplyWindow::Open
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_word_opts_the_customer_out_and_the_gate_sends_nothing() {
    let sandbox = start_sandbox(functional_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::whatsapp())
        .expect("a number");
    let customer = sandbox
        .create_customer(&account.id, &NewCustomer::named("Oleg"))
        .expect("a customer");
    let owner = AccountId::new("shop-whatsapp");
    let consent = active_consent(&[&owner]).await;
    let gated: Arc<dyn Messenger> = Arc::new(Gated::new(
        whatsapp(&sandbox, &account, None),
        owner,
        consent.clone(),
    ));
    let mut events = Events::webhook(gated.clone()).await;
    events.register_whatsapp(&sandbox, &account.id);
    let chat = ChatId::new(customer.id.clone());

    sandbox
        .customer_sends(
            &account.id,
            &customer.id,
            &CustomerMessage::text("Здравствуйте"),
        )
        .expect("the customer writes");
    events.message().await;
    gated
        .send(&OutgoingMessage::text(chat.clone(), "Чем помочь?"))
        .await
        .expect("the first message goes out");
    let first = &sandbox.received(&account.id, &customer.id).expect("chat")[0];
    assert!(
        first
            .text
            .as_deref()
            .expect("text")
            .contains(consent.notice().text()),
        "the first message carries the opt-out notice"
    );

    sandbox
        .customer_sends(&account.id, &customer.id, &CustomerMessage::text("СТОП"))
        .expect("the customer writes STOP");
    let contact = events.contact().await;
    assert_eq!(contact.change, ContactChange::OptedOut);
    assert_eq!(contact.chat_id, chat);

    let before = sandbox.requests(&account.id).expect("requests").len();
    let err = gated
        .send(&OutgoingMessage::text(chat.clone(), "Новая акция!"))
        .await
        .expect_err("an opted-out customer gets nothing");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(
        sandbox.requests(&account.id).expect("requests").len(),
        before,
        "no request left"
    );
    assert_eq!(
        sandbox
            .received(&account.id, &customer.id)
            .expect("chat")
            .len(),
        1
    );
}
