//! The Avito connector against the sandbox, both ways: OAuth with both grants (a day passes on
//! the sandbox clock, the token is refused and refreshed; the authorization-code flow checks
//! its `state`, and the refresh token rotates, the old one refused from then on); every kind
//! the account sends (text, split text, images; voice and files refused before any request or
//! sent as a link); every kind a customer sends, by webhook and by polling (a voice note
//! resolved through getVoiceFiles at download time, an hour and more after it arrived);
//! read statuses by polling, each reported once; webhook deliveries with a wrong or missing URL
//! token refused; the account's own messages never taken for the customer's.

use std::sync::Arc;
use std::time::Duration;

use connector_avito::{Avito, AvitoConfig};
use futures::StreamExt;
use integration_tests::{
    Events, WAIT, download, eventually, functional_config, media, sha256_hex, start_sandbox,
};
use messenger_core::connection::{ConnectionInput, ConnectionStep};
use messenger_core::oauth::{MemoryTokenStore, TokenStore};
use messenger_core::plan::DowngradeReason;
use messenger_core::{
    AccountId, ChatId, Content, ContentKind, DeliveryStatus, ErrorKind, EventStream, InboundEvent,
    MediaSource, Messenger, OutgoingContent, OutgoingMessage, Platform,
};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, MediaUpload, MessageKind, NewCustomer, Sandbox,
    SandboxAccount,
};

/// A sandbox with one account and one customer (one chat).
async fn setup() -> (Sandbox, SandboxAccount, String) {
    let sandbox = start_sandbox(functional_config()).await;
    let account = sandbox
        .create_account(&AccountSpec::new(Platform::Avito).name("Магазин"))
        .expect("an account");
    let chat = sandbox
        .create_customer(&account.id, &NewCustomer::named("Marina"))
        .expect("a customer")
        .id;
    (sandbox, account, chat)
}

/// The connector's configuration from the sandbox's credentials, polling every 50 ms.
fn config(sandbox: &Sandbox, account: &SandboxAccount) -> AvitoConfig {
    let c = sandbox.credentials(&account.id).expect("credentials");
    AvitoConfig::new(
        c.get("client_id").expect("client_id"),
        c.get("client_secret").expect("client_secret"),
    )
    .base_url(c.get("base_url").expect("base_url"))
    .webhook_token(c.get("webhook_token").expect("webhook_token"))
    .poll_interval(Duration::from_millis(50))
    .read_interval(Duration::from_millis(50))
}

fn avito(sandbox: &Sandbox, account: &SandboxAccount) -> Avito {
    config(sandbox, account)
        .build()
        .expect("the connector builds")
}

/// How many requests of `operation` (with `status`, when given) the account made.
fn count(sandbox: &Sandbox, account: &str, operation: &str, status: Option<u16>) -> usize {
    sandbox
        .requests(account)
        .expect("requests")
        .iter()
        .filter(|r| r.operation == operation && status.is_none_or(|s| r.status == s))
        .count()
}

/// The next item of `stream` within [`WAIT`].
async fn next(stream: &mut EventStream, what: &str) -> InboundEvent {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
        .unwrap_or_else(|| panic!("the stream ended before {what}"))
        .unwrap_or_else(|e| panic!("an error instead of {what}: {e}"))
}

/// Whether `stream` yields nothing within 400 ms (eight polls at 50 ms).
async fn quiet(stream: &mut EventStream) -> bool {
    tokio::time::timeout(Duration::from_millis(400), stream.next())
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_connect_and_a_day_later_the_token_is_refreshed() {
    let (sandbox, account, chat) = setup().await;
    let store = Arc::new(MemoryTokenStore::new());
    let key = AccountId::new("shop-1");
    let first = config(&sandbox, &account)
        .token_store(store.clone())
        .account_key(key.clone())
        .build()
        .unwrap();
    let me = first.connect().await.unwrap();
    assert_eq!(me.id.as_str(), account.id);
    assert_eq!(me.name.as_deref(), Some("Магазин"));
    first
        .send(&OutgoingMessage::text(chat.as_str(), "первое"))
        .await
        .unwrap();
    assert_eq!(count(&sandbox, &account.id, "token", Some(200)), 1);
    assert!(
        store.load(&key).await.unwrap().is_some(),
        "the token was saved"
    );

    // A day passes on the sandbox clock; a process started with the saved token sees it
    // refused (403), obtains a new one once and sends.
    sandbox.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let restarted = config(&sandbox, &account)
        .token_store(store.clone())
        .account_key(key)
        .build()
        .unwrap();
    restarted
        .send(&OutgoingMessage::text(chat.as_str(), "через сутки"))
        .await
        .unwrap();
    assert_eq!(count(&sandbox, &account.id, "token", Some(200)), 2);
    // The first call of the new process (accounts/self, for its user id) was refused, once.
    let refused: Vec<String> = sandbox
        .requests(&account.id)
        .unwrap()
        .into_iter()
        .filter(|r| r.status == 403)
        .map(|r| r.operation)
        .collect();
    assert_eq!(refused, ["getUserInfoSelf"]);
    let texts: Vec<String> = sandbox
        .received(&account.id, &chat)
        .unwrap()
        .into_iter()
        .filter_map(|m| m.text)
        .collect();
    assert_eq!(texts, ["первое", "через сутки"]);

    // Wrong client credentials: Unauthorized, with a clear message.
    let wrong = AvitoConfig::new(account.token.clone(), "not-the-secret")
        .base_url(sandbox.urls().platform(Platform::Avito).unwrap())
        .build()
        .unwrap();
    let err = wrong.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_code_flow_checks_state_and_the_refresh_token_rotates() {
    let (sandbox, account, chat) = setup().await;
    let store = Arc::new(MemoryTokenStore::new());
    let key = AccountId::new("app:shop-1");
    let app_config = config(&sandbox, &account)
        .authorization_code()
        .token_store(store.clone())
        .account_key(key.clone());
    let app = app_config.clone().build().unwrap();
    // Not connected yet: it says how to connect.
    let err = app.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.to_string().contains("authorization flow"), "{err}");

    let flow = app.connection_flow();
    let ConnectionStep::OpenUrl { url, state } = flow.start().await.unwrap() else {
        panic!("the flow starts with the consent page");
    };
    let root = sandbox.urls().platform(Platform::Avito).unwrap().to_owned();
    assert!(
        url.as_str()
            .starts_with(&format!("{root}/oauth?response_type=code")),
        "{url}"
    );
    // The "browser": the consent page redirects to the callback with the code and the state.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let landed = http.get(url.as_str()).send().await.unwrap().url().clone();
    let returned: std::collections::HashMap<String, String> =
        landed.query_pairs().into_owned().collect();
    assert_eq!(returned["state"], state);

    // A redirect with another state is refused and the code is not exchanged.
    let mut forged = landed.clone();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("code", &returned["code"])
        .append_pair("state", "forged");
    let err = flow
        .submit(ConnectionInput::text(forged.as_str()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(count(&sandbox, &account.id, "token", None), 0);
    assert!(matches!(
        flow.submit(ConnectionInput::Continue).await.unwrap(),
        ConnectionStep::EnterCode { .. }
    ));
    let ConnectionStep::Done(me) = flow
        .submit(ConnectionInput::text(landed.as_str()))
        .await
        .unwrap()
    else {
        panic!("connected");
    };
    assert_eq!(me.id.as_str(), account.id);
    let r1 = store
        .load(&key)
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap();
    app.send(&OutgoingMessage::text(chat.as_str(), "подключено"))
        .await
        .unwrap();

    // A day later, after a restart: the saved access token is refused, the refresh token
    // obtains a new pair, and the rotated refresh token is saved.
    sandbox.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let restarted = app_config.clone().build().unwrap();
    restarted
        .send(&OutgoingMessage::text(chat.as_str(), "через сутки"))
        .await
        .unwrap();
    let r2 = store
        .load(&key)
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap();
    assert_ne!(r1.expose_str(), r2.expose_str(), "rotated on refresh");
    assert_eq!(count(&sandbox, &account.id, "token", Some(200)), 2);
    // The rotated-away refresh token is refused from then on.
    let stale = config(&sandbox, &account)
        .refresh_token(r1.expose_str())
        .build()
        .unwrap();
    let err = stale.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    // The current one works.
    let current = config(&sandbox, &account)
        .refresh_token(r2.expose_str())
        .build()
        .unwrap();
    assert_eq!(current.connect().await.unwrap().id.as_str(), account.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_the_account_sends() {
    let (sandbox, account, chat) = setup().await;
    let avito = avito(&sandbox, &account);
    let to = ChatId::new(chat.as_str());

    // Text (a reply's quote cannot be sent: the text goes without it), and text over 1000
    // characters in three parts.
    let question = sandbox
        .customer_sends(
            &account.id,
            &chat,
            &CustomerMessage::text("Есть в наличии?"),
        )
        .unwrap();
    let report = avito
        .send(&OutgoingMessage::text(to.clone(), "Да").reply_to(question.message_id.as_str()))
        .await
        .unwrap();
    assert_eq!(report.parts.len(), 1);
    let long = "Описание товара. ".repeat(150);
    let report = avito
        .send(&OutgoingMessage::text(to.clone(), long.clone()))
        .await
        .unwrap();
    assert_eq!(report.parts.len(), 3);

    // An image (uploadImages, then messages/image); its caption follows as a text.
    let png = media::png();
    let report = avito
        .send(&OutgoingMessage::new(
            to.clone(),
            OutgoingContent::Image {
                media: MediaSource::bytes(png.clone(), "image/png", "photo.png"),
                caption: Some("Фото".into()),
            },
        ))
        .await
        .unwrap();
    assert_eq!(report.parts.len(), 2);
    assert!(
        report
            .downgrades
            .iter()
            .any(|d| d.from == ContentKind::Image && d.to == ContentKind::Text),
        "{:?}",
        report.downgrades
    );
    assert_eq!(count(&sandbox, &account.id, "uploadImages", Some(200)), 1);

    // Voice and file bytes: refused before any request; a file by URL goes as a link.
    let before = sandbox.requests(&account.id).unwrap().len();
    for content in [
        OutgoingContent::Voice {
            media: MediaSource::bytes(media::ogg(500), "audio/ogg", "note.ogg"),
            caption: None,
        },
        OutgoingContent::File {
            media: MediaSource::bytes(media::pdf(), "application/pdf", "invoice.pdf"),
            caption: None,
        },
    ] {
        let err = avito
            .send(&OutgoingMessage::new(to.clone(), content))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    }
    assert_eq!(sandbox.requests(&account.id).unwrap().len(), before);
    let report = avito
        .send(&OutgoingMessage::new(
            to.clone(),
            OutgoingContent::File {
                media: MediaSource::url("https://crm.example/invoice.pdf".parse().unwrap()),
                caption: None,
            },
        ))
        .await
        .unwrap();
    assert!(
        report
            .downgrades
            .iter()
            .any(|d| d.reason == DowngradeReason::UrlAsLink),
        "{:?}",
        report.downgrades
    );

    let received = sandbox.received(&account.id, &chat).unwrap();
    let kinds: Vec<MessageKind> = received.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::Text,
            MessageKind::Text,
            MessageKind::Text,
            MessageKind::Text,
            MessageKind::Image,
            MessageKind::Text,
            MessageKind::Text
        ]
    );
    assert_eq!(received[0].text.as_deref(), Some("Да"));
    assert!(
        received[1..4]
            .iter()
            .all(|m| m.text.as_ref().unwrap().chars().count() <= 1000)
    );
    assert_eq!(
        received[4].media.as_ref().unwrap().sha256.as_deref(),
        Some(sha256_hex(&png).as_str())
    );
    assert_eq!(received[5].text.as_deref(), Some("Фото"));
    assert!(
        received[6]
            .text
            .as_ref()
            .unwrap()
            .contains("https://crm.example/invoice.pdf")
    );

    // Delete within the hour; mark the chat read.
    let last = report.parts[0].message_id.clone();
    avito.delete_message(&to, &last).await.unwrap();
    let received = sandbox.received(&account.id, &chat).unwrap();
    assert_eq!(received.last().unwrap().kind, MessageKind::Other);
    assert!(received.last().unwrap().text.is_none());
    avito
        .mark_read(&to, &question.message_id.as_str().into())
        .await
        .unwrap();
    let inbound = &sandbox.messages(&account.id, &chat).unwrap()[0];
    assert_eq!(inbound.status, messenger_sandbox::MessageStatus::Read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_a_customer_sends_arrives_by_webhook_and_by_polling() {
    let (sandbox, account, chat) = setup().await;
    let avito = avito(&sandbox, &account);
    let mut events = Events::webhook(Arc::new(avito.clone())).await;
    events.register(&sandbox, &account.id);

    let send = |message: CustomerMessage| {
        sandbox
            .customer_sends(&account.id, &chat, &message)
            .expect("the customer writes")
    };
    send(CustomerMessage::text("Здравствуйте"));
    let m = events.message().await;
    assert_eq!(m.chat_id.as_str(), chat);
    assert!(matches!(&m.content, Content::Text { text } if text == "Здравствуйте"));
    assert_ne!(
        m.sender.as_ref().map(|s| s.id.as_str()),
        Some(account.id.as_str())
    );

    let png = media::png();
    send(CustomerMessage::media(MediaUpload::new(MessageKind::Image, png.clone())).caption("чек"));
    let image = events.message().await;
    let Content::Image {
        media: image_ref, ..
    } = &image.content
    else {
        panic!("an image: {:?}", image.content);
    };
    assert!(
        image_ref.id.as_str().contains("size=1280x960"),
        "the largest size"
    );
    assert_eq!(download(&avito, image_ref).await, png);
    let caption = events.message().await;
    assert!(matches!(&caption.content, Content::Text { text } if text == "чек"));

    // A voice note: its file link is asked for at download time, not at intake, so an hour
    // and more later it still downloads.
    let voice = media::ogg(700);
    send(CustomerMessage::media(MediaUpload::new(
        MessageKind::Voice,
        voice.clone(),
    )));
    let note = events.message().await;
    let Content::Voice {
        media: voice_ref, ..
    } = &note.content
    else {
        panic!("a voice note: {:?}", note.content);
    };
    assert!(
        voice_ref.id.as_str().starts_with("voice:"),
        "{:?}",
        voice_ref.id
    );
    assert_eq!(count(&sandbox, &account.id, "getVoiceFiles", None), 0);
    sandbox.advance_clock(Duration::from_secs(2 * 3600));
    let restarted = avito_restarted(&sandbox, &account);
    assert_eq!(download(&restarted, voice_ref).await, voice);
    assert_eq!(count(&sandbox, &account.id, "getVoiceFiles", Some(200)), 1);

    // Files and videos arrive with an empty content: unsupported, never an error.
    for (kind, bytes) in [
        (MessageKind::File, media::pdf()),
        (MessageKind::Video, media::mp4(300)),
    ] {
        send(CustomerMessage::media(MediaUpload::new(kind, bytes)));
        let m = events.message().await;
        match &m.content {
            Content::Unsupported { platform_kind } => assert_eq!(platform_kind, kind.as_str()),
            other => panic!("{kind:?}: {other:?}"),
        }
    }

    // The account's own message is pushed too, and is not a customer message.
    restarted
        .send(&OutgoingMessage::text(chat.as_str(), "Добрый день"))
        .await
        .unwrap();
    let own = events
        .next_matching("the own message", |e| matches!(e, InboundEvent::Other(_)))
        .await;
    let InboundEvent::Other(own) = own else {
        unreachable!()
    };
    assert_eq!(own.kind, connector_avito::convert::OWN_MESSAGE);
    assert_eq!(
        own.chat_id.as_ref().map(ChatId::as_str),
        Some(chat.as_str())
    );

    // Polling finds the same customer messages (not the account's), each once; after the
    // chat is marked read, nothing until the customer writes again.
    let mut polled = restarted.updates().unwrap();
    let mut kinds = Vec::new();
    for _ in 0..6 {
        let InboundEvent::Message(m) = next(&mut polled, "a polled message").await else {
            panic!("polling yields messages");
        };
        kinds.push(m.content.kind());
    }
    // (Messages of one second come in no particular order: `created` is in seconds.)
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        [
            ContentKind::Image,
            ContentKind::Text,
            ContentKind::Text,
            ContentKind::Unsupported,
            ContentKind::Unsupported,
            ContentKind::Voice
        ]
    );
    assert!(quiet(&mut polled).await, "each message once");
    restarted
        .mark_read(&ChatId::new(chat.as_str()), &m.message_id)
        .await
        .unwrap();
    send(CustomerMessage::text("Ещё вопрос"));
    let InboundEvent::Message(again) = next(&mut polled, "the new message").await else {
        panic!("a message");
    };
    assert!(matches!(&again.content, Content::Text { text } if text == "Ещё вопрос"));
    assert!(quiet(&mut polled).await);
}

/// A second connector of the same account (a process started later).
fn avito_restarted(sandbox: &Sandbox, account: &SandboxAccount) -> Avito {
    avito(sandbox, account)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_statuses_are_polled_and_each_is_reported_once() {
    let (sandbox, account, chat) = setup().await;
    let avito = avito(&sandbox, &account);
    let mut ids = Vec::new();
    for text in ["один", "два", "три"] {
        let report = avito
            .send(&OutgoingMessage::text(chat.as_str(), text))
            .await
            .unwrap();
        ids.push(report.parts[0].message_id.clone());
    }
    let mut statuses = avito.read_statuses();
    assert!(quiet(&mut statuses).await, "nothing is read yet");
    sandbox
        .customer_reads(&account.id, &chat, Some(ids[1].as_str()))
        .unwrap();
    let mut read = Vec::new();
    for _ in 0..2 {
        let InboundEvent::Status(s) = next(&mut statuses, "a read status").await else {
            panic!("a status");
        };
        assert_eq!(s.status, DeliveryStatus::Read);
        assert_eq!(s.chat_id.as_str(), chat);
        read.push(s.message_id);
    }
    read.sort();
    let mut first_two = ids[..2].to_vec();
    first_two.sort();
    assert_eq!(read, first_two);
    assert!(quiet(&mut statuses).await, "each read once");
    sandbox.customer_reads(&account.id, &chat, None).unwrap();
    let InboundEvent::Status(third) = next(&mut statuses, "the third read").await else {
        panic!("a status");
    };
    assert_eq!(third.message_id, ids[2]);
    assert!(quiet(&mut statuses).await, "each read once");
    // With nothing left to watch, a poll makes no request.
    let polls = count(&sandbox, &account.id, "getMessagesV3", None);
    assert!(quiet(&mut statuses).await);
    assert_eq!(count(&sandbox, &account.id, "getMessagesV3", None), polls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_without_the_url_token_are_refused() {
    let (sandbox, account, chat) = setup().await;
    let avito = avito(&sandbox, &account);
    let mut events = Events::webhook(Arc::new(avito.clone())).await;
    let url = events.url().unwrap().to_owned();
    let patch = |webhook_url: String, webhook_secret: Option<String>| {
        sandbox
            .update_account(
                &account.id,
                &AccountPatch {
                    webhook_url: Some(webhook_url),
                    webhook_secret,
                    ..AccountPatch::default()
                },
            )
            .unwrap()
    };

    // A wrong token in the URL.
    patch(format!("{url}?token=wrong"), None);
    sandbox
        .customer_sends(&account.id, &chat, &CustomerMessage::text("раз"))
        .unwrap();
    let err = events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{err}");
    // No token at all.
    let token = account.webhook_secret.clone().unwrap();
    patch(url.clone(), Some(String::new()));
    sandbox
        .customer_sends(&account.id, &chat, &CustomerMessage::text("два"))
        .unwrap();
    let err = events.rejection().await;
    assert_eq!(err.kind(), ErrorKind::WebhookRejected, "{err}");
    eventually("refused deliveries logged as 401", || {
        sandbox
            .deliveries(&account.id)
            .unwrap()
            .iter()
            .any(|d| d.status == Some(401))
            .then_some(())
    })
    .await;
    // The right one: accepted.
    let account = patch(String::new(), Some(token));
    patch(url.clone(), None);
    assert!(account.webhook_url.is_none());
    sandbox
        .customer_sends(&account.id, &chat, &CustomerMessage::text("три"))
        .unwrap();
    let m = events.message().await;
    assert!(matches!(&m.content, Content::Text { text } if text == "три"));

    // Subscribing through the connector: the URL carries the token; the probe is answered.
    let hook = avito.webhook_url(&url.parse().unwrap()).unwrap();
    patch(String::new(), None);
    avito.subscribe_webhook(&hook).await.unwrap();
    let subscriptions = avito.webhook_subscriptions().await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].url.expose(), &hook);
    sandbox
        .customer_sends(&account.id, &chat, &CustomerMessage::text("четыре"))
        .unwrap();
    let m = events.message().await;
    assert!(matches!(&m.content, Content::Text { text } if text == "четыре"));
    avito.unsubscribe_webhook(&hook).await.unwrap();
    assert!(avito.webhook_subscriptions().await.unwrap().is_empty());
}
