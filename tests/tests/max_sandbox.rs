//! The MAX connector against the sandbox, both ways: every kind the bot sends lands in the
//! customer's dialog (a voice note as audio, reported); an upload still being processed is
//! refused with `attachment.not.ready`, retried by the connector and delivered once; every kind
//! a customer sends arrives and downloads; long polling keeps its marker across a reconnect
//! without loss or repeats; webhook intake checks `X-Max-Bot-Api-Secret`; `bot_stopped` opts
//! the customer out and the gate refuses the next send without a request.

use std::sync::Arc;
use std::time::Duration;

use connector_max::{Max, MaxConfig, MemoryMarkerStore};
use futures::StreamExt;
use integration_tests::{
    Events, WAIT, active_consent, download, eventually, functional_config, media, sha256_hex,
    start_sandbox,
};
use messenger_core::backoff::Backoff;
use messenger_core::layers::Gated;
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    AccountId, ChatId, ContactChange, Content, ContentKind, Delivery, ErrorKind, InboundEvent,
    MediaSource, Messenger, OutgoingContent, OutgoingMessage, Platform,
};
use messenger_sandbox::{
    AccountPatch, AccountSpec, Customer, CustomerMessage, Fault, FaultSpec, MediaUpload,
    MessageKind, NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};

/// A MAX connector for a sandbox bot: 1 s long polls, a quick long-poll backoff, and
/// `attachment.not.ready` retried every 50–200 ms (up to 40 times).
fn max_config(sandbox: &Sandbox, account: &SandboxAccount) -> MaxConfig {
    MaxConfig::new(account.token.clone())
        .base_url(
            sandbox
                .urls()
                .platform(Platform::Max)
                .expect("the sandbox emulates MAX"),
        )
        .poll_timeout(Duration::from_secs(1))
        .backoff(Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .not_ready_retries(40)
        .not_ready_backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
        ))
}

/// [`max_config`], built.
fn max(sandbox: &Sandbox, account: &SandboxAccount) -> Max {
    max_config(sandbox, account)
        .build()
        .expect("the MAX connector accepts the sandbox configuration")
}

/// A sandbox with one bot and one customer who started it.
async fn setup(config: SandboxConfig) -> (Sandbox, SandboxAccount, Customer) {
    let sandbox = start_sandbox(config).await;
    let bot = sandbox
        .create_account(
            &AccountSpec::new(Platform::Max)
                .name("Shop Bot")
                .username("shop_bot"),
        )
        .expect("a bot");
    let customer = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .expect("a customer");
    (sandbox, bot, customer)
}

/// The platform requests of an account but long polls.
fn requests_but_polls(sandbox: &Sandbox, account: &str) -> usize {
    sandbox
        .requests(account)
        .expect("the account exists")
        .iter()
        .filter(|r| r.operation != "GET /updates")
        .count()
}

/// The customer writes; returns the dialog's chat id from the event the bot receives.
async fn dialog(sandbox: &Sandbox, account: &str, customer: &str, events: &mut Events) -> ChatId {
    let receipt = sandbox
        .customer_sends(account, customer, &CustomerMessage::text("Здравствуйте"))
        .expect("the customer writes");
    let event = events.message().await;
    assert_eq!(event.message_id.as_str(), receipt.message_id);
    assert_ne!(
        event.chat_id.as_str(),
        customer,
        "a dialog has its own chat id"
    );
    event.chat_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_sends_every_kind_and_the_customer_sees_them_in_order() {
    let (sandbox, account, customer) = setup(functional_config()).await;
    let bot = max(&sandbox, &account);
    let me = bot.connect().await.expect("GET /me");
    assert_eq!(me.id.as_str(), account.id);
    assert_eq!(me.name.as_deref(), Some("Shop Bot"));
    assert_eq!(me.username.as_deref(), Some("shop_bot"));

    // A first contact by user id, before the bot knows the dialog.
    let first = bot
        .send(&OutgoingMessage::text(
            format!("user:{}", customer.id).as_str(),
            "Здравствуйте! Ваш заказ принят.",
        ))
        .await
        .expect("a send by user id");
    let mut events = Events::poll(&bot);
    let chat = dialog(&sandbox, &account.id, &customer.id, &mut events).await;
    let question = sandbox
        .messages(&account.id, &customer.id)
        .expect("the conversation")
        .pop()
        .expect("the customer's message");

    let long: String = (0..300)
        .map(|i| format!("Пункт {i}: всё в порядке. "))
        .collect();
    assert!(long.chars().count() > 4000);
    let (png, pdf, ogg, mp3, mp4) = (
        media::png(),
        media::pdf(),
        media::ogg(4000),
        media::mp3(6000),
        media::mp4(8000),
    );
    let sends = [
        OutgoingMessage::text(chat.clone(), "Заказ уже в пути.").reply_to(question.id.clone()),
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
    let mut sent_ids = vec![first.parts[0].message_id.to_string()];
    let mut long_parts = 0;
    for (i, message) in sends.iter().enumerate() {
        let report = bot.send(message).await.expect("the send succeeds");
        match i {
            1 => {
                long_parts = report.parts.len();
                assert!(long_parts >= 2, "the long text is split");
                assert!(matches!(
                    report.downgrades[..],
                    [ref d] if matches!(d.reason, DowngradeReason::TextSplit { limit: 4000, .. })
                ));
            }
            4 => {
                assert_eq!(report.parts.len(), 1);
                assert_eq!(report.downgrades.len(), 1, "{:?}", report.downgrades);
                assert_eq!(report.downgrades[0].from, ContentKind::Voice);
                assert_eq!(report.downgrades[0].to, ContentKind::Audio);
                assert_eq!(
                    report.downgrades[0].reason,
                    DowngradeReason::KindUnsupported
                );
            }
            _ => {
                assert_eq!(report.parts.len(), 1);
                assert!(report.downgrades.is_empty(), "{:?}", report.downgrades);
            }
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
    let mut kinds = vec![MessageKind::Text, MessageKind::Text];
    kinds.extend(std::iter::repeat_n(MessageKind::Text, long_parts));
    kinds.extend([
        MessageKind::Image,
        MessageKind::File,
        MessageKind::Audio,
        MessageKind::Audio,
        MessageKind::Video,
    ]);
    assert_eq!(received.iter().map(|m| m.kind).collect::<Vec<_>>(), kinds);
    assert_eq!(received[1].reply_to.as_deref(), Some(question.id.as_str()));
    assert_eq!(received[1].text.as_deref(), Some("Заказ уже в пути."));
    let parts = &received[2..2 + long_parts];
    assert!(
        parts
            .iter()
            .all(|p| p.text.as_deref().is_some_and(|t| t.chars().count() <= 4000))
    );
    let joined: String = parts.iter().filter_map(|p| p.text.as_deref()).collect();
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(
        squeeze(&joined),
        squeeze(&long),
        "nothing of the long text is lost"
    );

    let expected = [
        (&png, "Маршрут курьера"),
        (&pdf, "Счёт"),
        (&ogg, "Голосовое"),
        (&mp3, "Трек"),
        (&mp4, "Видео"),
    ];
    for (view, (bytes, caption)) in received[2 + long_parts..].iter().zip(expected) {
        assert_eq!(view.caption.as_deref(), Some(caption), "{:?}", view.kind);
        let m = view.media.as_ref().expect("media");
        assert_eq!(m.size, Some(bytes.len() as u64), "{:?}", view.kind);
        assert_eq!(m.sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
    }
    assert_eq!(
        received[2 + long_parts + 1]
            .media
            .as_ref()
            .unwrap()
            .file_name
            .as_deref(),
        Some("invoice.pdf")
    );

    // Edits and deletes name the message by its id.
    let target = messenger_core::MessageId::new(sent_ids[1].clone());
    bot.edit_text(&chat, &target, "Заказ доставлен.")
        .await
        .expect("PUT /messages");
    let err = bot
        .edit_text(&chat, &target, &"x".repeat(4001))
        .await
        .expect_err("an edit over 4000 characters fails before any request");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    bot.delete_message(&chat, &messenger_core::MessageId::new(sent_ids[0].clone()))
        .await
        .expect("DELETE /messages");
    let received = sandbox.received(&account.id, &customer.id).expect("chat");
    assert_eq!(received.len(), sent_ids.len() - 1);
    assert_eq!(received[0].text.as_deref(), Some("Заказ доставлен."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_still_processing_is_retried_by_the_connector_then_delivered_once() {
    let (sandbox, account, customer) = setup(SandboxConfig {
        max_processing_delay: Duration::from_millis(1200),
        ..functional_config()
    })
    .await;
    let bot = max(&sandbox, &account);
    let chat = format!("user:{}", customer.id);
    let pdf = media::pdf();
    let report = tokio::time::timeout(
        WAIT,
        bot.send(&OutgoingMessage::new(
            chat.as_str(),
            OutgoingContent::File {
                media: MediaSource::bytes(pdf.clone(), "application/pdf", "act.pdf"),
                caption: Some("Акт".into()),
            },
        )),
    )
    .await
    .expect("the send ends in time")
    .expect("the send succeeds once the file is processed");
    assert_eq!(report.parts.len(), 1);

    let sends: Vec<u16> = sandbox
        .requests(&account.id)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation == "POST /messages")
        .map(|r| r.status)
        .collect();
    assert!(sends.len() >= 2, "refused at least once: {sends:?}");
    assert_eq!(sends.last(), Some(&200));
    assert!(
        sends[..sends.len() - 1].iter().all(|s| *s == 400),
        "{sends:?}"
    );
    let received = sandbox.received(&account.id, &customer.id).expect("chat");
    assert_eq!(received.len(), 1, "delivered once");
    assert_eq!(received[0].id, report.parts[0].message_id.as_str());
    assert_eq!(received[0].kind, MessageKind::File);
    assert_eq!(
        received[0].media.as_ref().and_then(|m| m.sha256.clone()),
        Some(sha256_hex(&pdf))
    );

    // With a budget smaller than the processing time, a clear error and nothing sent.
    let (sandbox, account, customer) = setup(SandboxConfig {
        max_processing_delay: Duration::from_secs(3600),
        ..functional_config()
    })
    .await;
    let impatient = max_config(&sandbox, &account)
        .not_ready_retries(2)
        .build()
        .expect("a bot");
    let err = tokio::time::timeout(
        WAIT,
        impatient.send(&OutgoingMessage::new(
            format!("user:{}", customer.id).as_str(),
            OutgoingContent::Image {
                media: MediaSource::bytes(media::png(), "image/png", "a.png"),
                caption: None,
            },
        )),
    )
    .await
    .expect("the send ends in time")
    .expect_err("the image is never processed in time");
    assert_eq!(err.platform_code(), Some("attachment.not.ready"));
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(err.is_retryable());
    assert!(err.message().contains("3 attempts"), "{}", err.message());
    assert!(
        sandbox
            .received(&account.id, &customer.id)
            .expect("chat")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_content_of_every_kind_arrives_and_downloads() {
    let (sandbox, account, customer) = setup(functional_config()).await;
    let bot = max(&sandbox, &account);
    let mut events = Events::poll(&bot);
    let chat = dialog(&sandbox, &account.id, &customer.id, &mut events).await;

    let cases = [
        (
            ContentKind::Image,
            MediaUpload::new(MessageKind::Image, media::png()).mime_type("image/png"),
        ),
        (
            ContentKind::File,
            MediaUpload::new(MessageKind::File, media::pdf())
                .mime_type("application/pdf")
                .file_name("invoice-1042.pdf"),
        ),
        (
            ContentKind::Audio,
            MediaUpload::new(MessageKind::Audio, media::mp3(5000)).mime_type("audio/mpeg"),
        ),
        (
            ContentKind::Video,
            MediaUpload::new(MessageKind::Video, media::mp4(7000)).mime_type("video/mp4"),
        ),
        (
            ContentKind::Sticker,
            MediaUpload::new(MessageKind::Sticker, media::png()).mime_type("image/png"),
        ),
    ];
    for (kind, upload) in &cases {
        let message = CustomerMessage::media(upload.clone());
        let message = if *kind == ContentKind::Sticker {
            message
        } else {
            message.caption("Вот")
        };
        let receipt = sandbox
            .customer_sends(&account.id, &customer.id, &message)
            .expect("the customer sends");
        let event = events.message().await;
        assert_eq!(event.platform, Platform::Max);
        assert_eq!(event.chat_id, chat);
        assert_eq!(event.message_id.as_str(), receipt.message_id);
        assert_eq!(
            event.sender.as_ref().map(|s| s.id.as_str()),
            Some(customer.id.as_str())
        );
        assert_eq!(event.content.kind(), *kind);
        let media_ref = event.content.media().expect("media").clone();
        let media_id = receipt.media_id.expect("the sandbox names the media");
        if *kind == ContentKind::Video {
            assert_eq!(media_ref.id.as_str(), format!("video:{media_id}"));
        } else {
            assert_eq!(media_ref.id.as_str(), media_id);
            if *kind != ContentKind::Sticker {
                assert_eq!(event.content.text(), Some("Вот"));
            }
        }
        if *kind == ContentKind::File {
            assert_eq!(media_ref.file_name.as_deref(), Some("invoice-1042.pdf"));
            assert_eq!(media_ref.size, Some(upload.data.len() as u64));
            assert_eq!(media_ref.mime_type.as_deref(), Some("application/pdf"));
        }
        let bytes = download(&bot, &media_ref).await;
        assert_eq!(bytes, upload.data.to_vec(), "downloaded {kind:?}");
    }

    // A reply names the replied message.
    let question = sandbox.received(&account.id, &customer.id).expect("chat");
    assert!(question.is_empty());
    let earlier = sandbox
        .messages(&account.id, &customer.id)
        .expect("chat")
        .remove(0);
    sandbox
        .customer_sends(
            &account.id,
            &customer.id,
            &CustomerMessage::text("это ответ").reply_to(earlier.id.clone()),
        )
        .expect("a reply");
    let event = events.message().await;
    assert_eq!(
        event.reply_to.as_ref().map(|m| m.as_str()),
        Some(earlier.id.as_str())
    );

    // A native voice note reaches a bot without its message (MAX's current behaviour): an
    // `other` event, never an error.
    sandbox
        .customer_sends(
            &account.id,
            &customer.id,
            &CustomerMessage::media(MediaUpload::new(MessageKind::Voice, media::ogg(3000))),
        )
        .expect("a voice note");
    let other = events
        .next_matching("the voice note", |e| matches!(e, InboundEvent::Other(_)))
        .await;
    let InboundEvent::Other(other) = other else {
        unreachable!()
    };
    assert_eq!(other.kind, connector_max::convert::MESSAGE_UNAVAILABLE);
}

/// Pulls message texts from `stream` until `last`.
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
async fn long_polling_keeps_its_marker_across_a_reconnect_without_loss_or_repeats() {
    let (sandbox, account, customer) = setup(functional_config()).await;
    let store = MemoryMarkerStore::default();
    let bot = max_config(&sandbox, &account)
        .marker_store(Arc::new(store.clone()))
        .build()
        .expect("a bot");
    let say = |text: String| {
        sandbox
            .customer_sends(&account.id, &customer.id, &CustomerMessage::text(text))
            .expect("the customer writes");
    };
    let poll_fault = |fault: Fault| {
        sandbox
            .inject_fault(
                &account.id,
                &FaultSpec::new(fault).operation("GET /updates"),
            )
            .expect("a fault is queued");
    };

    // First connection: three messages, a 5xx and an answer dropped after it was made.
    let first: Vec<String> = (1..=3).map(|i| format!("msg-{i}")).collect();
    let last_marker = first
        .iter()
        .map(|text| {
            sandbox
                .customer_sends(
                    &account.id,
                    &customer.id,
                    &CustomerMessage::text(text.clone()),
                )
                .expect("the customer writes")
                .update_id
                .expect("a marker")
        })
        .max()
        .expect("three markers");
    poll_fault(Fault::ServerError { status: 502 });
    poll_fault(Fault::DropConnection {
        before_processing: false,
    });
    let mut stream = bot.updates().expect("long polling");
    assert_eq!(texts_until(&mut stream, "msg-3").await, first);
    // Asking for more hands the batch's marker to the store before the next call confirms it.
    let more = tokio::time::timeout(Duration::from_millis(1500), stream.next()).await;
    assert!(more.is_err(), "nothing more yet: {more:?}");
    let saved = store.get().expect("the marker was saved");
    assert_eq!(
        saved,
        last_marker + 1,
        "the marker after the last update taken"
    );
    drop(stream);

    // While nobody listens the customer writes again; a new connection starts from the saved
    // marker through a cut answer and a rate limit.
    let second: Vec<String> = (4..=6).map(|i| format!("msg-{i}")).collect();
    second.iter().cloned().for_each(say);
    poll_fault(Fault::TruncatedBody);
    poll_fault(Fault::RateLimited { retry_after: 1 });
    let mut stream = bot.updates().expect("long polling");
    assert_eq!(
        texts_until(&mut stream, "msg-6").await,
        second,
        "no repeat, no loss"
    );
    let extra = tokio::time::timeout(Duration::from_millis(1500), stream.next()).await;
    assert!(extra.is_err(), "nothing repeated: {extra:?}");
    assert!(store.get().expect("a marker") > saved);
    assert!(
        sandbox.faults(&account.id).expect("faults").is_empty(),
        "every fault was hit"
    );
    let faulted: Vec<String> = sandbox
        .requests(&account.id)
        .expect("requests")
        .into_iter()
        .filter(|r| r.operation == "GET /updates")
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faulted,
        [
            "server_error",
            "drop_connection",
            "truncated_body",
            "rate_limited"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_intake_checks_the_secret_and_polling_waits_for_unsubscribe() {
    let (sandbox, account, customer) = setup(functional_config()).await;
    let bot = max_config(&sandbox, &account)
        .webhook_secret("Right_Secret-1")
        .build()
        .expect("a bot");
    let mut events = Events::webhook(Arc::new(bot.clone())).await;
    let url = events.url().expect("a receiver URL").to_owned();
    bot.subscribe(&url, None)
        .await
        .expect("POST /subscriptions");
    let subscriptions = bot.subscriptions().await.expect("GET /subscriptions");
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].url, url);
    assert_eq!(
        sandbox
            .credentials(&account.id)
            .expect("credentials")
            .get("webhook_secret"),
        Some("Right_Secret-1")
    );

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

    // Long polling is unavailable while subscribed: a clear error ends the stream.
    let mut stream = bot.updates().expect("a stream");
    let err = loop {
        match tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the stream answers")
            .expect("an item")
        {
            Err(err) => break err,
            Ok(InboundEvent::Account(_)) => {}
            Ok(other) => panic!("no event while subscribed: {other:?}"),
        }
    };
    assert_eq!(err.kind(), ErrorKind::Conflict);
    drop(stream);

    // MAX now sends a secret the receiver does not know: refused, retried, nothing lost.
    sandbox
        .update_account(
            &account.id,
            &AccountPatch {
                webhook_secret: Some("Wrong_Secret-2".into()),
                ..AccountPatch::default()
            },
        )
        .expect("the secret changes");
    let second = sandbox
        .customer_sends(&account.id, &customer.id, &CustomerMessage::text("второе"))
        .expect("the customer writes");
    let err = events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    let marker = second.update_id.expect("a marker").to_string();
    eventually("two refused attempts", || {
        let refused = sandbox
            .deliveries(&account.id)
            .ok()?
            .into_iter()
            .filter(|d| d.reference == marker && d.status == Some(401))
            .count();
        (refused >= 2).then_some(())
    })
    .await;
    sandbox
        .update_account(
            &account.id,
            &AccountPatch {
                webhook_secret: Some("Right_Secret-1".into()),
                ..AccountPatch::default()
            },
        )
        .expect("the secret is right again");
    let event = loop {
        match events.next_item().await {
            Ok(InboundEvent::Message(m)) => break m,
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::WebhookRejected),
        }
    };
    assert_eq!(event.message_id.as_str(), second.message_id);
    eventually("the queue is delivered", || {
        (sandbox.account(&account.id).ok()?.pending == 0).then_some(())
    })
    .await;

    bot.unsubscribe(&url).await.expect("DELETE /subscriptions");
    assert!(
        bot.subscriptions()
            .await
            .expect("GET /subscriptions")
            .is_empty()
    );
    let third = sandbox
        .customer_sends(&account.id, &customer.id, &CustomerMessage::text("третье"))
        .expect("the customer writes");
    let mut polled = Events::poll(&bot);
    let event = polled.message().await;
    assert_eq!(event.message_id.as_str(), third.message_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_stopped_opts_the_customer_out_and_the_gate_sends_nothing() {
    let (sandbox, account, customer) = setup(functional_config()).await;
    let bot = max(&sandbox, &account);
    let owner = AccountId::new("shop-max");
    let consent = active_consent(&[&owner]).await;
    let gated = Gated::new(bot.clone(), owner, consent);
    let mut events = Events::poll(&gated);
    let chat = dialog(&sandbox, &account.id, &customer.id, &mut events).await;

    sandbox
        .block(&account.id, &customer.id)
        .expect("the customer stops the bot");
    let contact = events.contact().await;
    assert_eq!(contact.platform, Platform::Max);
    assert_eq!(contact.change, ContactChange::Blocked);
    assert_eq!(contact.chat_id, chat);
    assert_eq!(contact.user_id.as_str(), customer.id);

    // MAX refuses a send to the stopped dialog...
    let err = bot
        .send(&OutgoingMessage::text(chat.clone(), "Вы тут?"))
        .await
        .expect_err("a stopped dialog cannot be written to");
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    assert_eq!(err.platform_code(), Some("chat.denied"));
    assert!(!err.is_retryable());

    // ...and through the gate no request leaves at all.
    let before = requests_but_polls(&sandbox, &account.id);
    let err = gated
        .send(&OutgoingMessage::text(chat.clone(), "Вы тут?"))
        .await
        .expect_err("the gate refuses an opted-out customer");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(
        requests_but_polls(&sandbox, &account.id),
        before,
        "no request left"
    );
    assert!(
        sandbox
            .received(&account.id, &customer.id)
            .expect("chat")
            .is_empty()
    );

    // Restarting the bot lifts the block.
    sandbox
        .unblock(&account.id, &customer.id)
        .expect("the customer restarts the bot");
    let contact = events.contact().await;
    assert_eq!(contact.change, ContactChange::Unblocked);
    assert_eq!(contact.chat_id, chat);
    gated
        .send(&OutgoingMessage::text(chat.clone(), "С возвращением!"))
        .await
        .expect("the send goes through again");
    let received = sandbox.received(&account.id, &customer.id).expect("chat");
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("С возвращением!"))
    );
}
