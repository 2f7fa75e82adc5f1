//! The VK connector against the sandbox, both ways: every kind a customer sends arrives through
//! the Bots Long Poll with its bytes; every kind the community sends lands on the customer's
//! phone in order; read receipts reach the status tracker; "Allow / Deny messages" become
//! contact events and the gate refuses without a request; the Callback API answers the
//! confirmation and refuses a wrong secret without losing the event; long polling recovers
//! from `failed` 1, 2 and 3 without loss or duplicates; a dropped answer is resent under the
//! idempotency key and the customer sees one message.

use std::sync::Arc;
use std::time::Duration;

use connector_vk::retry_policy;
use futures::StreamExt;
use integration_tests::{
    Events, WAIT, active_consent, download, eventually, functional_config, media,
    requests_except_polling, sha256_hex, start_sandbox, vk, vk_config,
};
use messenger_core::backoff::Backoff;
use messenger_core::layers::{Gated, Retrying};
use messenger_core::status::StatusTracker;
use messenger_core::{
    AccountId, ChatId, ContactChange, Content, ContentKind, Delivery, DeliveryStatus, ErrorKind,
    InboundEvent, MediaSource, MessageId, Messenger, OutgoingContent, OutgoingMessage, Platform,
};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageKind,
    MessageStatus, NewCustomer, Sandbox, SandboxAccount, SandboxConfig,
};

/// A sandbox with one community and one customer who allowed its messages.
async fn setup_with(config: SandboxConfig) -> (Sandbox, SandboxAccount, String) {
    let sandbox = start_sandbox(config).await;
    let community = sandbox
        .create_account(
            &AccountSpec::vk()
                .id("229000000")
                .name("Пекарня")
                .username("bakery"),
        )
        .expect("a community");
    let customer = sandbox
        .create_customer(
            &community.id,
            &NewCustomer::named("Anna").allows_messages(true),
        )
        .expect("a customer")
        .id;
    (sandbox, community, customer)
}

async fn setup() -> (Sandbox, SandboxAccount, String) {
    setup_with(functional_config()).await
}

/// A quick retry policy for VK (keyed parts are resent: VK drops repeats by `random_id`).
fn quick_retry() -> messenger_core::layers::RetryPolicy {
    retry_policy().backoff(Backoff::new(
        Duration::from_millis(20),
        Duration::from_millis(200),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_names_the_community_and_refuses_a_foreign_or_bad_token() {
    let (sandbox, account, _) = setup().await;
    let me = vk(&sandbox, &account).connect().await.expect("connect");
    assert_eq!(me.platform, Platform::Vk);
    assert_eq!(me.id.as_str(), "229000000");
    assert_eq!(me.name.as_deref(), Some("Пекарня"));
    assert_eq!(me.username.as_deref(), Some("bakery"));

    // Another community's token under this group id, and an unknown token: Unauthorized.
    let other = sandbox
        .create_account(&AccountSpec::vk())
        .expect("another community");
    let foreign = vk_config(&sandbox, &other).build().expect("a connector");
    assert_eq!(foreign.connect().await.unwrap().id.as_str(), other.id);
    let wrong = connector_vk::VkConfig::new(other.token.clone(), 229_000_000)
        .base_url(sandbox.urls().platform(Platform::Vk).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        wrong.connect().await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    let bad = connector_vk::VkConfig::new("vk1.a.revoked", 229_000_000)
        .base_url(sandbox.urls().platform(Platform::Vk).unwrap())
        .build()
        .unwrap();
    let err = bad.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.platform_code(), Some("5"));

    // The registry builds the same connector from the sandbox's credentials.
    let built = (connector_vk::ENTRY.build)(
        &sandbox.credentials(&account.id).unwrap(),
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    assert_eq!(built.connect().await.unwrap().id.as_str(), "229000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_content_of_every_kind_arrives_by_long_polling_with_its_bytes() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let mut events = Events::poll(&community);
    let cases: Vec<(ContentKind, Option<MediaUpload>, Option<&str>)> = vec![
        (
            ContentKind::Text,
            None,
            Some("Здравствуйте! Где мой заказ №1042? 📦"),
        ),
        (
            ContentKind::Image,
            Some(MediaUpload::new(MessageKind::Image, media::png()).mime_type("image/png")),
            Some("Вот чек"),
        ),
        (
            ContentKind::File,
            Some(
                MediaUpload::new(MessageKind::File, media::pdf())
                    .mime_type("application/pdf")
                    .file_name("invoice-1042.pdf"),
            ),
            Some("Счёт"),
        ),
        (
            ContentKind::Voice,
            Some(MediaUpload::new(MessageKind::Voice, media::ogg(3000)).mime_type("audio/ogg")),
            None,
        ),
        (
            ContentKind::Audio,
            Some(
                MediaUpload::new(MessageKind::Audio, media::mp3(5000))
                    .mime_type("audio/mpeg")
                    .file_name("track.mp3"),
            ),
            None,
        ),
        (
            ContentKind::Video,
            Some(MediaUpload::new(MessageKind::Video, media::mp4(7000)).mime_type("video/mp4")),
            None,
        ),
    ];
    for (kind, upload, text) in &cases {
        let message = match (upload, text) {
            (Some(upload), Some(caption)) => {
                CustomerMessage::media(upload.clone()).caption(*caption)
            }
            (Some(upload), None) => CustomerMessage::media(upload.clone()),
            (None, Some(text)) => CustomerMessage::text(*text),
            (None, None) => unreachable!("every case has text or media"),
        };
        let receipt = sandbox
            .customer_sends(&account.id, &customer, &message)
            .expect("the customer sends");
        let event = events.message().await;
        assert_eq!(event.platform, Platform::Vk);
        assert_eq!(event.chat_id.as_str(), customer);
        assert_eq!(event.message_id.as_str(), receipt.message_id);
        assert_eq!(
            event.sender.as_ref().map(|s| s.id.as_str()),
            Some(customer.as_str())
        );
        assert_eq!(event.content.kind(), *kind, "kind of {kind:?}");
        assert_eq!(event.content.text(), *text, "text or caption of {kind:?}");
        let Some(upload) = upload else { continue };
        let media_ref = event.content.media().expect("media").clone();
        let attachment = receipt.media_id.clone().expect("an attachment string");
        assert!(
            media_ref.id.as_str().starts_with(&attachment),
            "{kind:?}: {} / {attachment}",
            media_ref.id
        );
        if *kind == ContentKind::Video {
            // VK gives no download URL for videos: the connector says so.
            let Err(err) = community.download(&media_ref).await else {
                panic!("a video has no download URL");
            };
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            continue;
        }
        // Photos, documents (through their redirecting link), voice notes and music.
        let bytes = download(&community, &media_ref).await;
        assert_eq!(bytes, upload.data.to_vec(), "downloaded {kind:?}");
        if *kind == ContentKind::File {
            assert_eq!(media_ref.size, Some(upload.data.len() as u64));
            assert_eq!(media_ref.file_name.as_deref(), Some("invoice-1042.pdf"));
            assert_eq!(media_ref.mime_type.as_deref(), Some("application/pdf"));
        }
        if *kind == ContentKind::Voice {
            assert_eq!(media_ref.mime_type.as_deref(), Some("audio/ogg"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_community_sends_every_kind_and_the_customer_sees_them_in_order() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let chat = ChatId::new(customer.clone());
    let question = sandbox
        .customer_sends(
            &account.id,
            &customer,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::Image, media::png()).mime_type("image/png"),
            )
            .caption("Где заказ?"),
        )
        .expect("the customer writes");
    let long: String = (0..700).map(|i| format!("Подробности {i}. ")).collect();
    assert!(long.chars().count() > 9000);
    let (png, pdf, ogg, mp4) = (
        media::png(),
        media::pdf(),
        media::ogg(4000),
        media::mp4(8000),
    );
    let sends = [
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
                caption: None,
            },
        ),
        // VK cannot send video uploads for messages: the planner makes it a document.
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Video {
                media: MediaSource::bytes(mp4.clone(), "video/mp4", "clip.mp4"),
                caption: Some("Видео".into()),
            },
        ),
        // The customer's own photo, sent back by its attachment string.
        OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Image {
                media: MediaSource::Id(question.media_id.clone().unwrap().into()),
                caption: None,
            },
        ),
    ];
    let mut sent_ids = Vec::new();
    let mut long_parts = 0;
    for (i, message) in sends.iter().enumerate() {
        let report = community.send(message).await.expect("the send succeeds");
        match i {
            1 => {
                long_parts = report.parts.len();
                assert_eq!(long_parts, 2, "the long text is split");
            }
            5 => assert_eq!(report.downgrades.len(), 1, "video -> file"),
            _ => assert!(report.downgrades.is_empty(), "{:?}", report.downgrades),
        }
        sent_ids.extend(report.parts.iter().map(|p| p.message_id.to_string()));
    }
    let received = sandbox.received(&account.id, &customer).unwrap();
    let ids: Vec<&str> = received.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, sent_ids, "exactly what was sent, in order");
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
            MessageKind::File,
            MessageKind::Image
        ]
    );
    assert_eq!(
        received[0].reply_to.as_deref(),
        Some(question.message_id.as_str())
    );
    for part in &received[1..=long_parts] {
        assert!(part.text.as_deref().unwrap().chars().count() <= 9000);
    }
    let joined: String = received[1..=long_parts]
        .iter()
        .filter_map(|p| p.text.as_deref())
        .collect();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(
        squash(&joined),
        squash(&long),
        "nothing of the text is lost"
    );
    for (view, (bytes, caption)) in received[3..7].iter().zip([
        (&png, Some("Маршрут курьера")),
        (&pdf, Some("Счёт")),
        (&ogg, None),
        (&mp4, Some("Видео")),
    ]) {
        assert_eq!(view.caption.as_deref(), caption, "{:?}", view.kind);
        let m = view.media.as_ref().expect("media");
        assert_eq!(m.size, Some(bytes.len() as u64));
        assert_eq!(m.sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
    }

    // An MP3 (as audio, or as a voice note VK takes only as OGG) is planned as a document,
    // which VK refuses: nothing reaches the customer and the send says it was not sent.
    let err = community
        .send(&OutgoingMessage::new(
            chat.clone(),
            OutgoingContent::Audio {
                media: MediaSource::bytes(media::mp3(3000), "audio/mpeg", "track.mp3"),
                caption: None,
            },
        ))
        .await
        .expect_err("VK refuses an MP3 document");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(sandbox.received(&account.id, &customer).unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_read_edit_and_delete() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let chat = ChatId::new(customer.clone());
    let inbound = sandbox
        .customer_sends(&account.id, &customer, &CustomerMessage::text("Вопрос"))
        .unwrap();
    community
        .mark_read(&chat, &MessageId::new(inbound.message_id.clone()))
        .await
        .expect("markAsRead");
    assert_eq!(
        sandbox.messages(&account.id, &customer).unwrap()[0].status,
        MessageStatus::Read
    );
    let sent = community
        .send(&OutgoingMessage::text(chat.clone(), "Ответ"))
        .await
        .unwrap();
    let id = sent.first_message_id().unwrap().clone();
    community
        .edit_text(&chat, &id, "Исправленный ответ")
        .await
        .expect("edit");
    let received = sandbox.received(&account.id, &customer).unwrap();
    assert_eq!(received[0].text.as_deref(), Some("Исправленный ответ"));
    community.delete_message(&chat, &id).await.expect("delete");
    assert!(sandbox.received(&account.id, &customer).unwrap().is_empty());
    // The customer's message is not the community's to edit.
    let err = community
        .edit_text(&chat, &MessageId::new(inbound.message_id.clone()), "x")
        .await
        .unwrap_err();
    assert_eq!(err.platform_code(), Some("920"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_chats_go_by_conversation_message_ids() {
    let (sandbox, account, _) = setup().await;
    let community = vk(&sandbox, &account);
    let chat_id = sandbox
        .create_customer(&account.id, &NewCustomer::named("Команда").id("2000000001"))
        .unwrap()
        .id;
    let chat = ChatId::new(chat_id.clone());
    assert!(community.is_group_chat(&chat));
    let mut events = Events::poll(&community);
    sandbox
        .customer_sends(
            &account.id,
            &chat_id,
            &CustomerMessage::text("Кто дежурит?"),
        )
        .unwrap();
    let question = events.message().await;
    assert_eq!(question.message_id.as_str(), "c1");
    let report = community
        .send(&OutgoingMessage::text(chat.clone(), "Я").reply_to(question.message_id.clone()))
        .await
        .expect("a send to a group chat");
    let id = report.first_message_id().unwrap().clone();
    assert_eq!(id.as_str(), "c2");
    let received = sandbox.received(&account.id, &chat_id).unwrap();
    assert_eq!(received[0].reply_to.as_deref(), Some("c1"));
    community
        .edit_text(&chat, &id, "Я, до вечера")
        .await
        .unwrap();
    community
        .mark_read(&chat, &question.message_id)
        .await
        .unwrap();
    community.delete_message(&chat, &id).await.unwrap();
    assert!(sandbox.received(&account.id, &chat_id).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_reach_the_status_tracker() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let mut events = Events::poll(&community);
    let chat = ChatId::new(customer.clone());
    let mut ids = Vec::new();
    for text in ["раз", "два", "три"] {
        let report = community
            .send(&OutgoingMessage::text(chat.clone(), text))
            .await
            .unwrap();
        ids.push(report.first_message_id().unwrap().clone());
    }
    // The community's own messages come back as `message_reply`: not customer messages.
    let echo = events
        .next_matching("the echo of the first send", |e| {
            matches!(e, InboundEvent::Other(_))
        })
        .await;
    match echo {
        InboundEvent::Other(o) => {
            assert_eq!(o.kind, "message_reply");
            assert_eq!(
                o.chat_id.as_ref().map(ChatId::as_str),
                Some(customer.as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    // The customer reads the first two: one receipt, for the second.
    let read = sandbox
        .customer_reads(&account.id, &customer, Some(ids[1].as_str()))
        .unwrap();
    assert_eq!(read.read, 2);
    let status = events.status().await;
    assert_eq!(status.status, DeliveryStatus::Read);
    assert_eq!(status.message_id, ids[1]);
    assert_eq!(status.chat_id, chat);
    let tracker = StatusTracker::default();
    tracker.apply(&status).await.unwrap();
    let tracked = tracker
        .get(Platform::Vk, &chat, &ids[1])
        .await
        .unwrap()
        .expect("tracked");
    assert_eq!(tracked.status, DeliveryStatus::Read);
    let views = sandbox.received(&account.id, &customer).unwrap();
    let statuses: Vec<MessageStatus> = views.iter().map(|m| m.status).collect();
    assert_eq!(
        statuses,
        [
            MessageStatus::Read,
            MessageStatus::Read,
            MessageStatus::Sent
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_deny_become_contact_events_and_the_gate_follows_them() {
    let (sandbox, account, customer) = setup().await;
    let owner = AccountId::new("bakery-vk");
    let consent = active_consent(&[&owner]).await;
    let gated = Gated::new(vk(&sandbox, &account), owner, consent);
    let mut events = Events::poll(&gated);
    let chat = ChatId::new(customer.clone());
    gated
        .send(&OutgoingMessage::text(chat.clone(), "Ваш заказ готов"))
        .await
        .expect("allowed: the first message goes out");

    // "Deny messages": an opt-out the gate enforces with no request.
    sandbox.deny_messages(&account.id, &customer).unwrap();
    let contact = events.contact().await;
    assert_eq!(contact.platform, Platform::Vk);
    assert_eq!(contact.change, ContactChange::OptedOut);
    assert_eq!(contact.chat_id, chat);
    assert_eq!(contact.user_id.as_str(), customer);
    let before = requests_except_polling(&sandbox, &account.id);
    let err = gated
        .send(&OutgoingMessage::text(chat.clone(), "Новая акция!"))
        .await
        .expect_err("an opted-out customer gets nothing");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(requests_except_polling(&sandbox, &account.id), before);

    // "Allow messages": opted back in, sends go out again.
    sandbox.allow_messages(&account.id, &customer).unwrap();
    let contact = events.contact().await;
    assert_eq!(contact.change, ContactChange::OptedIn);
    gated
        .send(&OutgoingMessage::text(
            chat.clone(),
            "Спасибо, что вернулись",
        ))
        .await
        .expect("opted back in");
    assert_eq!(sandbox.received(&account.id, &customer).unwrap().len(), 2);

    // A customer who never wrote: the gate lets it through and VK refuses it (901).
    let stranger = sandbox
        .create_customer(&account.id, &NewCustomer::named("Oleg"))
        .unwrap()
        .id;
    let before = requests_except_polling(&sandbox, &account.id);
    let err = gated
        .send(&OutgoingMessage::text(stranger.as_str(), "Здравствуйте"))
        .await
        .expect_err("VK refuses a customer who never wrote");
    assert_eq!(err.kind(), ErrorKind::OptedOut);
    assert_eq!(err.platform_code(), Some("901"));
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_eq!(requests_except_polling(&sandbox, &account.id), before + 1);

    // A blacklisted community: 900, recipient blocked.
    sandbox.block(&account.id, &customer).unwrap();
    let err = vk(&sandbox, &account)
        .send(&OutgoingMessage::text(chat.clone(), "Вы тут?"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RecipientBlocked);
    assert_eq!(err.platform_code(), Some("900"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_intake_confirms_verifies_the_secret_and_loses_nothing() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let mut events = Events::webhook(Arc::new(community.clone())).await;
    events.register(&sandbox, &account.id);

    // The sandbox sends the confirmation event; the connector answers the string.
    eventually("the Callback server is confirmed", || {
        sandbox
            .deliveries(&account.id)
            .ok()?
            .iter()
            .find(|d| d.kind == "confirmation" && d.error.is_none())
            .map(|_| ())
    })
    .await;
    let check = sandbox.verify_webhook(&account.id).await.unwrap();
    assert!(check.challenge_echoed);
    let first = sandbox
        .customer_sends(
            &account.id,
            &customer,
            &CustomerMessage::text("через Callback"),
        )
        .unwrap();
    let event = events.message().await;
    assert_eq!(event.message_id.as_str(), first.message_id);
    assert_eq!(
        event.content,
        Content::Text {
            text: "через Callback".into()
        }
    );

    // The sandbox now signs with a secret the connector does not know: refused, and retried.
    let original = sandbox
        .credentials(&account.id)
        .unwrap()
        .get("secret")
        .expect("a secret")
        .to_owned();
    sandbox
        .update_account(
            &account.id,
            &AccountPatch {
                webhook_secret: Some("another-secret".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let second = sandbox
        .customer_sends(&account.id, &customer, &CustomerMessage::text("второе"))
        .unwrap();
    let err = events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    eventually("two refused attempts", || {
        let refused = sandbox
            .deliveries(&account.id)
            .ok()?
            .into_iter()
            .filter(|d| d.kind == "message_new" && d.status == Some(401))
            .count();
        (refused >= 2).then_some(())
    })
    .await;
    // The right secret again: the same event arrives, once.
    sandbox
        .update_account(
            &account.id,
            &AccountPatch {
                webhook_secret: Some(original),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let event = loop {
        match events.next_item().await {
            Ok(InboundEvent::Message(m)) => break m,
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::WebhookRejected),
        }
    };
    assert_eq!(event.message_id.as_str(), second.message_id);
    eventually("the queue is empty", || {
        (sandbox.account(&account.id).ok()?.pending == 0).then_some(())
    })
    .await;
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
async fn long_polling_recovers_from_failed_1_2_3_and_faults_without_loss_or_duplicates() {
    let (sandbox, account, customer) = setup().await;
    let community = vk(&sandbox, &account);
    let send = |text: String| {
        sandbox
            .customer_sends(&account.id, &customer, &CustomerMessage::text(text))
            .expect("the customer writes");
    };
    let poll_fault = |fault: Fault| {
        sandbox
            .inject_fault(&account.id, &FaultSpec::new(fault).operation("a_check"))
            .expect("a fault is queued");
    };
    // Phase 1: events wait; the first polls answer failed 1, 2 and 3 and a 5xx.
    let phase1: Vec<String> = (1..=5).map(|i| format!("poll-{i:02}")).collect();
    phase1.iter().cloned().for_each(send);
    poll_fault(Fault::PollFailed { failed: 1 });
    poll_fault(Fault::PollFailed { failed: 2 });
    poll_fault(Fault::PollFailed { failed: 3 });
    poll_fault(Fault::ServerError { status: 502 });
    let mut stream = community.updates().expect("long polling");
    assert_eq!(texts_until(&mut stream, "poll-05").await, phase1);

    // Phase 2: an answer dropped after the events were read, a truncated one, a key that
    // expires and a session lost while the stream already yielded events: each event once.
    let phase2: Vec<String> = (6..=10).map(|i| format!("poll-{i:02}")).collect();
    phase2.iter().cloned().for_each(send);
    poll_fault(Fault::DropConnection {
        before_processing: false,
    });
    poll_fault(Fault::TruncatedBody);
    poll_fault(Fault::PollFailed { failed: 2 });
    assert_eq!(texts_until(&mut stream, "poll-10").await, phase2);
    send("poll-11".to_owned());
    poll_fault(Fault::PollFailed { failed: 3 });
    send("poll-end".to_owned());
    assert_eq!(
        texts_until(&mut stream, "poll-end").await,
        ["poll-11", "poll-end"]
    );
    assert!(
        sandbox.faults(&account.id).unwrap().is_empty(),
        "every fault was hit"
    );
    let sessions = sandbox
        .requests(&account.id)
        .unwrap()
        .iter()
        .filter(|r| r.operation == "groups.getLongPollServer")
        .count();
    assert!(
        sessions >= 5,
        "failed 2 and 3 asked for new keys: {sessions}"
    );
    // Nothing more comes: no event is handed out twice.
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
    assert!(extra.is_err(), "nothing repeated: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_answer_is_resent_under_the_key_and_the_customer_sees_one_message() {
    let (sandbox, account, customer) = setup().await;
    let stack = Retrying::new(vk(&sandbox, &account), quick_retry());
    sandbox
        .inject_fault(
            &account.id,
            &FaultSpec::new(Fault::DropConnection {
                before_processing: false,
            })
            .operation("messages.send"),
        )
        .unwrap();
    let report = tokio::time::timeout(
        WAIT,
        stack.send(
            &OutgoingMessage::text(customer.as_str(), "Ваш заказ №17 готов")
                .idempotency_key("order-17"),
        ),
    )
    .await
    .expect("in time")
    .expect("resent under its key and confirmed");
    let received = sandbox.received(&account.id, &customer).unwrap();
    assert_eq!(received.len(), 1, "ONE message on the customer's phone");
    assert_eq!(received[0].text.as_deref(), Some("Ваш заказ №17 готов"));
    assert_eq!(
        report.first_message_id().unwrap().as_str(),
        received[0].id,
        "the resend answered the first message's id"
    );
    let sends: Vec<(u16, Option<String>)> = sandbox
        .requests(&account.id)
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "messages.send")
        .map(|r| (r.status, r.fault))
        .collect();
    assert_eq!(
        sends,
        [(0, Some("drop_connection".to_string())), (200, None)],
        "sent, the answer dropped, resent once"
    );

    // Without a key the send may have gone out: reported MaybeSent, never resent.
    sandbox
        .inject_fault(
            &account.id,
            &FaultSpec::new(Fault::DropConnection {
                before_processing: false,
            })
            .operation("messages.send"),
        )
        .unwrap();
    let err = stack
        .send(&OutgoingMessage::text(customer.as_str(), "Без ключа"))
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(sandbox.received(&account.id, &customer).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_6_past_20_requests_per_second_is_retried_with_backoff() {
    // VK's limit on, no client-side limit: the burst runs into error 6, which carries no
    // retry-after; the core's backoff retries and every message arrives once.
    let (sandbox, account, customer) = setup_with(SandboxConfig {
        webhook_retry_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await;
    let stack = Arc::new(Retrying::new(
        vk(&sandbox, &account),
        quick_retry().max_attempts(20),
    ));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let stack = stack.clone();
        let customer = customer.clone();
        tasks.push(tokio::spawn(async move {
            stack
                .send(
                    &OutgoingMessage::text(customer.as_str(), format!("m{i}"))
                        .idempotency_key(format!("burst-{i}")),
                )
                .await
        }));
    }
    for task in tasks {
        tokio::time::timeout(WAIT, task)
            .await
            .expect("in time")
            .unwrap()
            .expect("sent after retries");
    }
    let received = sandbox.received(&account.id, &customer).unwrap();
    assert_eq!(received.len(), 40);
    let mut texts: Vec<String> = received.into_iter().filter_map(|m| m.text).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 40, "none twice");
    let calls = sandbox
        .requests(&account.id)
        .unwrap()
        .iter()
        .filter(|r| r.operation == "messages.send")
        .count();
    assert!(
        calls > 40,
        "some were refused with error 6 and retried: {calls}"
    );
}
