//! The Telegram connector against the sandbox, both ways: every content kind a customer sends
//! arrives through long polling with its bytes; every kind the bot sends lands in the
//! customer's chat in order; webhook intake verifies its secret; a block is reported and
//! refused; an opt-out is enforced by the gate with no request; long polling survives faults.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use integration_tests::{
    Events, WAIT, active_consent, download, eventually, functional_config, media,
    requests_except_polling, sha256_hex, start_sandbox, telegram_bot, telegram_config,
};
use messenger_core::layers::Gated;
use messenger_core::{
    AccountId, ChatId, ContactChange, Content, ContentKind, Delivery, ErrorKind, InboundEvent,
    MediaSource, Messenger, OutgoingContent, OutgoingMessage, Platform,
};
use messenger_sandbox::{
    AccountSpec, Customer, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageKind,
    NewCustomer, Sandbox, SandboxAccount,
};

/// A sandbox with one bot and one customer who started it.
async fn setup() -> (Sandbox, SandboxAccount, Customer) {
    let sandbox = start_sandbox(functional_config()).await;
    let bot = sandbox
        .create_account(
            &AccountSpec::telegram()
                .name("Shop Bot")
                .username("shop_bot"),
        )
        .expect("a bot");
    let customer = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .expect("a customer");
    (sandbox, bot, customer)
}

struct Inbound {
    kind: ContentKind,
    upload: Option<MediaUpload>,
    text: Option<&'static str>,
    caption: Option<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_content_of_every_kind_arrives_by_long_polling_with_its_bytes() {
    let (sandbox, account, customer) = setup().await;
    let bot = telegram_bot(&sandbox, &account);
    let mut events = Events::poll(&bot);

    let cases = vec![
        Inbound {
            kind: ContentKind::Text,
            upload: None,
            text: Some("Здравствуйте! Где мой заказ №1042? 📦"),
            caption: None,
        },
        Inbound {
            kind: ContentKind::Image,
            upload: Some(MediaUpload::new(MessageKind::Image, media::png()).mime_type("image/png")),
            text: None,
            caption: Some("Вот чек"),
        },
        Inbound {
            kind: ContentKind::File,
            upload: Some(
                MediaUpload::new(MessageKind::File, media::pdf())
                    .mime_type("application/pdf")
                    .file_name("invoice-1042.pdf"),
            ),
            text: None,
            caption: Some("Счёт"),
        },
        Inbound {
            kind: ContentKind::Voice,
            upload: Some(
                MediaUpload::new(MessageKind::Voice, media::ogg(3000)).mime_type("audio/ogg"),
            ),
            text: None,
            caption: Some("голосовое"),
        },
        Inbound {
            kind: ContentKind::Audio,
            upload: Some(
                MediaUpload::new(MessageKind::Audio, media::mp3(5000))
                    .mime_type("audio/mpeg")
                    .file_name("track.mp3"),
            ),
            text: None,
            caption: Some("трек"),
        },
        Inbound {
            kind: ContentKind::Video,
            upload: Some(
                MediaUpload::new(MessageKind::Video, media::mp4(7000)).mime_type("video/mp4"),
            ),
            text: None,
            caption: None,
        },
    ];

    for case in &cases {
        let mut message = match (&case.upload, case.text) {
            (Some(upload), _) => CustomerMessage::media(upload.clone()),
            (None, Some(text)) => CustomerMessage::text(text),
            (None, None) => unreachable!("every case has text or media"),
        };
        if let Some(caption) = case.caption {
            message = message.caption(caption);
        }
        let receipt = sandbox
            .customer_sends(&account.id, &customer.id, &message)
            .expect("the customer sends");

        let event = events.message().await;
        assert_eq!(event.platform, Platform::Telegram);
        assert_eq!(event.chat_id.as_str(), customer.id);
        assert_eq!(event.message_id.as_str(), receipt.message_id);
        assert_eq!(
            event.sender.as_ref().map(|s| s.id.as_str()),
            Some(customer.id.as_str())
        );
        assert!(!event.edited);
        assert_eq!(event.content.kind(), case.kind, "kind of {:?}", case.kind);
        match (&event.content, case.text) {
            (Content::Text { text }, Some(expected)) => assert_eq!(text, expected),
            (content, _) => assert_eq!(content.text(), case.caption, "caption of {:?}", case.kind),
        }
        if let Some(upload) = &case.upload {
            let media_ref = event
                .content
                .media()
                .expect("media content has media")
                .clone();
            assert_eq!(
                media_ref.id.as_str(),
                receipt
                    .media_id
                    .as_deref()
                    .expect("the sandbox names the file_id")
            );
            let bytes = download(&bot, &media_ref).await;
            assert_eq!(bytes, upload.data.to_vec(), "downloaded {:?}", case.kind);
            assert_eq!(media_ref.size, Some(upload.data.len() as u64));
            if case.kind != ContentKind::Image {
                assert_eq!(
                    media_ref.mime_type, upload.mime_type,
                    "MIME of {:?}",
                    case.kind
                );
            }
            if let Some(name) = &upload.file_name {
                assert_eq!(media_ref.file_name.as_deref(), Some(name.as_str()));
            }
        }
    }
}

/// A text over Telegram's 4096 UTF-16 code units that has fewer than 4096 characters: only a
/// planner that counts UTF-16 splits it.
fn long_emoji_text() -> String {
    let text: String = (0..260).map(|i| format!("😀😀😀😀😀😀 ок {i}. ")).collect();
    assert!(text.chars().count() < 4096);
    assert!(text.encode_utf16().count() > 4096);
    text
}

fn without_whitespace(s: &str) -> String {
    s.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_sends_every_kind_and_the_customer_sees_them_in_order() {
    let (sandbox, account, customer) = setup().await;
    let bot = telegram_bot(&sandbox, &account);
    let chat = ChatId::new(customer.id.clone());
    let question = sandbox
        .customer_sends(
            &account.id,
            &customer.id,
            &CustomerMessage::text("Где заказ?"),
        )
        .expect("the customer writes");

    let long = long_emoji_text();
    let (png, pdf, ogg, mp3, mp4) = (
        media::png(),
        media::pdf(),
        media::ogg(4000),
        media::mp3(6000),
        media::mp4(8000),
    );
    let sends: Vec<OutgoingMessage> = vec![
        OutgoingMessage::text(chat.clone(), "Добрый день! Заказ уже в пути.")
            .reply_to(question.message_id.clone()),
        OutgoingMessage::text(chat.clone(), long.clone()),
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Image {
                media: MediaSource::bytes(png.clone(), "image/png", "route.png"),
                caption: Some("Маршрут курьера".into()),
            },
        ),
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::File {
                media: MediaSource::bytes(pdf.clone(), "application/pdf", "invoice.pdf"),
                caption: Some("Счёт".into()),
            },
        ),
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Voice {
                media: MediaSource::bytes(ogg.clone(), "audio/ogg", "note.ogg"),
                caption: Some("Голосовое".into()),
            },
        ),
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Audio {
                media: MediaSource::bytes(mp3.clone(), "audio/mpeg", "track.mp3"),
                caption: Some("Трек".into()),
            },
        ),
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Video {
                media: MediaSource::bytes(mp4.clone(), "video/mp4", "clip.mp4"),
                caption: Some("Видео".into()),
            },
        ),
    ];
    let mut sent_ids = Vec::new();
    let mut long_parts = 0;
    for (i, message) in sends.iter().enumerate() {
        let report = bot.send(message).await.expect("the send succeeds");
        if i == 1 {
            long_parts = report.parts.len();
            assert!(long_parts >= 2, "the long text is split");
            assert_eq!(report.downgrades.len(), 1, "the split is reported");
        } else {
            assert_eq!(report.parts.len(), 1);
            assert!(report.downgrades.is_empty(), "{:?}", report.downgrades);
        }
        sent_ids.extend(report.parts.iter().map(|p| p.message_id.to_string()));
    }

    let received = sandbox
        .received(&account.id, &customer.id)
        .expect("the conversation");
    let ids: Vec<&str> = received.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids, sent_ids,
        "the customer sees exactly what was sent, in order"
    );

    let mut expected_kinds = vec![MessageKind::Text];
    expected_kinds.extend(std::iter::repeat_n(MessageKind::Text, long_parts));
    expected_kinds.extend([
        MessageKind::Image,
        MessageKind::File,
        MessageKind::Voice,
        MessageKind::Audio,
        MessageKind::Video,
    ]);
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, expected_kinds);

    // The reply lands on the customer's message.
    assert_eq!(
        received[0].reply_to.as_deref(),
        Some(question.message_id.as_str())
    );
    assert_eq!(
        received[0].text.as_deref(),
        Some("Добрый день! Заказ уже в пути.")
    );
    // No part of the long text is over 4096 UTF-16 units, and nothing is lost.
    let parts = &received[1..=long_parts];
    for part in parts {
        let text = part.text.as_deref().expect("a text part");
        assert!(text.encode_utf16().count() <= 4096);
    }
    let joined: String = parts.iter().filter_map(|p| p.text.as_deref()).collect();
    assert_eq!(without_whitespace(&joined), without_whitespace(&long));

    let media_expect = [
        (&png, "Маршрут курьера"),
        (&pdf, "Счёт"),
        (&ogg, "Голосовое"),
        (&mp3, "Трек"),
        (&mp4, "Видео"),
    ];
    for (view, (bytes, caption)) in received[1 + long_parts..].iter().zip(media_expect) {
        assert_eq!(view.caption.as_deref(), Some(caption), "{:?}", view.kind);
        let m = view.media.as_ref().expect("media");
        assert_eq!(m.size, Some(bytes.len() as u64), "{:?}", view.kind);
        assert_eq!(
            m.sha256.as_deref(),
            Some(sha256_hex(bytes).as_str()),
            "{:?}",
            view.kind
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_intake_accepts_the_right_secret_and_rejects_a_wrong_one() {
    let (sandbox, account, customer) = setup().await;
    let bot = telegram_config(&sandbox, &account)
        .webhook_secret("right-secret_1")
        .build()
        .expect("a bot");
    let mut events = Events::webhook(Arc::new(bot.clone())).await;
    let url = events.url().expect("a receiver URL").to_owned();

    bot.set_webhook(&url, Some("right-secret_1"), None, false)
        .await
        .expect("setWebhook");
    let first = sandbox
        .customer_sends(
            &account.id,
            &customer.id,
            &CustomerMessage::text("через вебхук"),
        )
        .expect("the customer writes");
    let event = events.message().await;
    assert_eq!(event.message_id.as_str(), first.message_id);
    assert_eq!(
        event.content,
        Content::Text {
            text: "через вебхук".into()
        }
    );

    // Telegram now sends a secret the receiver does not know: every attempt is refused.
    bot.set_webhook(&url, Some("wrong-secret_2"), None, false)
        .await
        .expect("setWebhook");
    let second = sandbox
        .customer_sends(&account.id, &customer.id, &CustomerMessage::text("второе"))
        .expect("the customer writes");
    let update_id = second.update_id.expect("an update id").to_string();
    let err = events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    // The sandbox logs the 401 and retries the same update.
    let rejected = eventually("two rejected attempts of the update", || {
        let deliveries = sandbox.deliveries(&account.id).expect("deliveries");
        let attempts: Vec<_> = deliveries
            .into_iter()
            .filter(|d| d.reference == update_id)
            .collect();
        (attempts.len() >= 2).then_some(attempts)
    })
    .await;
    for attempt in &rejected {
        assert_eq!(attempt.status, Some(401));
        assert!(attempt.error.is_some());
    }
    assert!(sandbox.account(&account.id).expect("account").pending >= 1);

    // With the right secret again, the same update arrives: refused deliveries lose nothing.
    bot.set_webhook(&url, Some("right-secret_1"), None, false)
        .await
        .expect("setWebhook");
    let event = loop {
        // Attempts made before the change may still be on their way: they are refused too.
        match events.next_item().await {
            Ok(InboundEvent::Message(m)) => break m,
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::WebhookRejected),
        }
    };
    assert_eq!(event.message_id.as_str(), second.message_id);
    assert_eq!(
        event.content,
        Content::Text {
            text: "второе".into()
        }
    );
    eventually("the queue is confirmed", || {
        (sandbox.account(&account.id).ok()?.pending == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_is_reported_and_sends_fail_with_recipient_blocked_or_are_gated() {
    let (sandbox, account, customer) = setup().await;
    let bot = telegram_bot(&sandbox, &account);
    let owner = AccountId::new("shop-telegram-block");
    let consent = active_consent(&[&owner]).await;
    let gated = Gated::new(bot.clone(), owner, consent);
    let mut events = Events::poll(&gated);

    sandbox
        .block(&account.id, &customer.id)
        .expect("the customer blocks the bot");
    let contact = events.contact().await;
    assert_eq!(contact.platform, Platform::Telegram);
    assert_eq!(contact.change, ContactChange::Blocked);
    assert_eq!(contact.chat_id.as_str(), customer.id);
    assert_eq!(contact.user_id.as_str(), customer.id);

    // The platform refuses a send to the blocked customer...
    let err = bot
        .send(&OutgoingMessage::text(customer.id.as_str(), "Вы тут?"))
        .await
        .expect_err("a blocked customer cannot be messaged");
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    assert_eq!(err.platform_code(), Some("403"));
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(!err.is_retryable());

    // ...and through the gate, the block opted the customer out: no request at all.
    let before = requests_except_polling(&sandbox, &account.id);
    let err = gated
        .send(&OutgoingMessage::text(customer.id.as_str(), "Вы тут?"))
        .await
        .expect_err("the gate refuses an opted-out customer");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(requests_except_polling(&sandbox, &account.id), before);
    assert!(
        sandbox
            .received(&account.id, &customer.id)
            .expect("chat")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_word_opts_the_customer_out_and_the_gate_sends_nothing() {
    let (sandbox, account, customer) = setup().await;
    let owner = AccountId::new("shop-telegram");
    let consent = active_consent(&[&owner]).await;
    let gated = Gated::new(telegram_bot(&sandbox, &account), owner, consent.clone());
    let mut events = Events::poll(&gated);
    let chat = ChatId::new(customer.id.clone());

    gated
        .send(&OutgoingMessage::text(chat.clone(), "Ваш заказ готов"))
        .await
        .expect("the first message goes out");
    let first = &sandbox.received(&account.id, &customer.id).expect("chat")[0];
    let first_text = first.text.as_deref().expect("text");
    assert!(first_text.starts_with("Ваш заказ готов"));
    assert!(
        first_text.contains(consent.notice().text()),
        "the first message carries the opt-out notice"
    );

    sandbox
        .customer_sends(&account.id, &customer.id, &CustomerMessage::text("СТОП"))
        .expect("the customer writes STOP");
    let stop = events.message().await;
    assert_eq!(stop.content.text(), Some("СТОП"));
    let contact = events.contact().await;
    assert_eq!(contact.change, ContactChange::OptedOut);
    assert_eq!(contact.chat_id, chat);

    let before = requests_except_polling(&sandbox, &account.id);
    let err = gated
        .send(&OutgoingMessage::text(chat.clone(), "Новая акция!"))
        .await
        .expect_err("an opted-out customer gets nothing");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(
        requests_except_polling(&sandbox, &account.id),
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

/// Pulls events from `stream` until a message with `last` as its text, and returns the texts
/// of every message event on the way.
async fn texts_until(stream: &mut messenger_core::EventStream, last: &str) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        let item = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no event within {WAIT:?}; got so far {texts:?}"))
            .expect("the stream does not end");
        if let InboundEvent::Message(m) = item.expect("long polling survives the faults") {
            let text = m.content.text().expect("text").to_owned();
            let done = text == last;
            texts.push(text);
            if done {
                return texts;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_across_faults_loses_and_repeats_nothing() {
    let (sandbox, account, customer) = setup().await;
    let bot = telegram_bot(&sandbox, &account);
    let send = |text: String| {
        sandbox
            .customer_sends(&account.id, &customer.id, &CustomerMessage::text(text))
            .expect("the customer writes");
    };
    let poll_fault = |fault: Fault| {
        sandbox
            .inject_fault(&account.id, &FaultSpec::new(fault).operation("getUpdates"))
            .expect("a fault is queued");
    };

    // Phase 1: the updates wait in the queue, and the first getUpdates calls fail: a 5xx, an
    // answer dropped after the batch was read, and a batch cut in half.
    let phase1: Vec<String> = (1..=5).map(|i| format!("poll-{i:02}")).collect();
    phase1.iter().cloned().for_each(send);
    poll_fault(Fault::ServerError { status: 502 });
    poll_fault(Fault::DropConnection {
        before_processing: false,
    });
    poll_fault(Fault::TruncatedBody);
    let mut stream = bot.updates().expect("long polling");
    assert_eq!(texts_until(&mut stream, "poll-05").await, phase1);

    // Phase 2: the stream is lazy, so nothing is polled until the next pull; then a connection
    // dropped before the request was read, a 429 with retry-after and a slow answer.
    let phase2: Vec<String> = (6..=10).map(|i| format!("poll-{i:02}")).collect();
    phase2.iter().cloned().for_each(send);
    send("poll-end".to_owned());
    poll_fault(Fault::DropConnection {
        before_processing: true,
    });
    poll_fault(Fault::RateLimited { retry_after: 1 });
    poll_fault(Fault::Delay { millis: 300 });
    let mut expected = phase2.clone();
    expected.push("poll-end".to_owned());
    assert_eq!(texts_until(&mut stream, "poll-end").await, expected);

    assert!(
        sandbox.faults(&account.id).expect("faults").is_empty(),
        "every fault was hit"
    );
    let faulted: Vec<String> = sandbox
        .requests(&account.id)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation == "getUpdates")
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faulted,
        [
            "server_error",
            "drop_connection",
            "truncated_body",
            "drop_connection",
            "rate_limited",
            "delay"
        ]
    );
    // Nothing more comes: the next poll is empty (no update is handed out twice).
    let extra = tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            match stream.next().await {
                Some(Ok(InboundEvent::Message(m))) => return Some(m),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the stream failed: {e}"),
                None => return None,
            }
        }
    })
    .await;
    assert!(
        extra.is_err(),
        "no message repeated after the last one: {extra:?}"
    );
}
