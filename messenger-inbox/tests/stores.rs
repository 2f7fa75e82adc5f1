//! Every core store trait, persisted, tested through core's own types: a `Consent` and a layer
//! `Stack` on the inbox's stores keep their state across a restart and between two instances.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::*;
use messenger_core::consent::ModuleStore;
use messenger_core::consent::{ChatKey, ContinuedUsePolicy};
use messenger_core::layers::Stack;
use messenger_core::plan::ReplyWindow;
use messenger_core::window::ReplyWindowStore;
use messenger_core::{ChatId, ErrorKind, Messenger, OutgoingMessage, Platform};
use messenger_inbox::stores::SqlModuleStore;
use messenger_inbox::{InboxErrorKind, NewAccount, SecretRef};

both! {
    async fn migrations_apply_once_and_the_acceptance_log_verifies_after_a_restart(f: Fixture) {
        let s = f.seed().await;
        let head = f.inbox.acceptance_head(s.owner.id).await.unwrap();
        assert_eq!(head.seq, 1);
        // Two more opens at once (two processes starting): migrations are applied once.
        let (a, b) = tokio::join!(f.reopen(), f.reopen());
        let records = a.consent().acceptance_log().records().await.unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].evidence.contains("ticked Activate"));
        b.consent().acceptance_log().verify_against(&head).await.unwrap();
        assert_eq!(messenger_inbox::latest_version(), 2);
        // Activation state and editions are in the database, not in a process.
        a.consent().check_active(&s.account.id.core_id()).await.unwrap();
        // Another key cannot verify it: the key is outside the database.
        let other_key = messenger_core::consent::AcceptanceKey::new(messenger_core::redact::Secret::new(vec![1; 32])).unwrap();
        let foreign = messenger_inbox::Inbox::builder(f.db.clone(), other_key).open().await.unwrap();
        assert!(foreign.consent().acceptance_log().verify().await.is_err());
    }

    async fn a_new_edition_is_accepted_by_continued_use_or_needs_activation(f: Fixture) {
        let s = f.seed().await;
        let mut june = edition();
        june.id = "2026-06-30".into();
        june.published = Utc::now() - chrono::Duration::seconds(1);
        june.text_sha256 = "ab".repeat(32);
        f.inbox.publish_edition(june).await.unwrap();
        // A stricter instance refuses until a fresh activation.
        let strict = f.builder().continued_use(ContinuedUsePolicy::RequireActivation).open().await.unwrap();
        assert_eq!(strict.ingest(s.account.id, &[tg("1", "1", "x")]).await.unwrap_err().kind(), InboxErrorKind::ModuleInactive);
        // The default records continued use.
        f.inbox.ingest(s.account.id, &[tg("1", "1", "x")]).await.unwrap();
        let records = f.inbox.consent().acceptance_log().records().await.unwrap();
        assert_eq!(records.last().unwrap().method, messenger_core::consent::AcceptanceMethod::ContinuedUse);
        f.inbox.acceptance_head(s.owner.id).await.unwrap();
    }

    async fn the_gate_and_dedup_layers_keep_state_in_the_database(f: Fixture) {
        let s = f.seed().await;
        let stub = Arc::new(Stub::new(Platform::Telegram));
        let build = |inbox: &messenger_inbox::Inbox| {
            Stack::new(stub.clone(), s.account.id.core_id(), inbox.consent().clone())
                .seen_events(inbox.seen_events())
                .per_chat(None)
                .build()
        };
        let first = build(&f.inbox);
        first.send(&OutgoingMessage::text("42", "hello")).await.unwrap();
        // Restart: the contact log says 42 had its notice.
        let restarted = f.reopen().await;
        build(&restarted).send(&OutgoingMessage::text("42", "again")).await.unwrap();
        let texts = stub.texts();
        assert!(texts[0].contains("STOP"));
        assert_eq!(texts[1], "again");
        // An opt-out recorded by one instance stops the other's send without a request.
        restarted.consent().opt_outs().opt_out(&ChatKey::new(s.account.id.core_id(), Platform::Telegram, "42")).await.unwrap();
        let err = first.send(&OutgoingMessage::text("42", "more")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OptedOut);
        assert_eq!(stub.texts().len(), 2);
        // Suspension of a platform is shared too.
        restarted.suspend_platform(Platform::Telegram).await.unwrap();
        assert_eq!(first.send(&OutgoingMessage::text("43", "x")).await.unwrap_err().kind(), ErrorKind::PlatformSuspended);
        restarted.resume_platform(Platform::Telegram).await.unwrap();
        // Seen events: one claim wins, across instances, even when they race.
        let keys: Vec<String> = (0..20).map(|i| format!("{}/telegram:m:42:{i}:false:0", s.account.id)).collect();
        let (sa, sb) = (f.inbox.seen_events(), restarted.seen_events());
        let (a, b) = tokio::join!(sa.claim(&keys), sb.claim(&keys));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.iter().zip(&b).all(|(x, y)| x ^ y), "each key claimed exactly once");
        assert_eq!(f.inbox.seen_events().claim(&["k".into(), "k".into()]).await.unwrap(), vec![true, false]);
        assert!(restarted.seen_events().is_seen("k").await.unwrap());
    }

    async fn reply_windows_and_statuses_are_per_account(f: Fixture) {
        let s = f.seed().await;
        let other = f.account(&s.owner, Platform::WhatsApp, "Number").await;
        let w1 = f.inbox.reply_window_store(s.account.id);
        let w2 = f.reopen().await.reply_window_store(other.id);
        let now = Utc::now();
        w1.record_inbound(Platform::WhatsApp, &"7999".into(), now).await.unwrap();
        w1.record_inbound(Platform::WhatsApp, &"7999".into(), now - chrono::Duration::hours(1)).await.unwrap();
        let got = f.reopen().await.reply_window_store(s.account.id).last_inbound(Platform::WhatsApp, &"7999".into()).await.unwrap().unwrap();
        assert_eq!(got.timestamp_micros(), now.timestamp_micros(), "only moves forward");
        assert!(w2.last_inbound(Platform::WhatsApp, &"7999".into()).await.unwrap().is_none(), "scoped per account");
        w1.record_inbound(Platform::WhatsApp, &"8000".into(), now - chrono::Duration::hours(25)).await.unwrap();
        assert!(w1.last_inbound(Platform::WhatsApp, &"8000".into()).await.unwrap().is_none(), "a closed window is no window");
        let _ = Duration::ZERO;
    }

    async fn a_reply_window_the_inbox_watched_is_known_after_a_restart(f: Fixture) {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        let s = f.seed().await;
        let number = f.account(&s.owner, Platform::WhatsApp, "Number").await;
        let (stranger, writer): (ChatId, ChatId) = ("79990000001".into(), "79990000002".into());
        let store = f.inbox.reply_window_store(number.id);
        // Activated a moment ago: a customer it never saw may have written before; unknown.
        let since = store.watching_since(Platform::WhatsApp).await.unwrap().expect("watching since activation");
        assert!((Utc::now() - since).num_seconds().abs() < 60, "{since}");
        assert_eq!(store.window_state(Platform::WhatsApp, &stranger, DAY).await.unwrap(), ReplyWindow::Unknown);
        store.record_inbound(Platform::WhatsApp, &writer, Utc::now() - chrono::Duration::hours(1)).await.unwrap();

        // The module has been active for 25 hours (as a day of uptime would leave it).
        let modules = SqlModuleStore::new(f.inbox.db().clone());
        let owner = number.id.core_id();
        let mut state = modules.state(&owner).await.unwrap().unwrap();
        state.changed_at = Utc::now() - chrono::Duration::hours(25);
        modules.set_state(&owner, state).await.unwrap();

        // A restart: a new process knows both windows from the database alone.
        let restarted = f.reopen().await;
        let store = restarted.reply_window_store(number.id);
        assert_eq!(store.window_state(Platform::WhatsApp, &stranger, DAY).await.unwrap(), ReplyWindow::Closed);
        assert_eq!(store.window_state(Platform::WhatsApp, &writer, DAY).await.unwrap(), ReplyWindow::Open);
        // Another platform's messages are not this account's to watch.
        assert_eq!(store.watching_since(Platform::Telegram).await.unwrap(), None);
        // Nothing is taken in while the platform is suspended: nothing is watched.
        restarted.suspend_platform(Platform::WhatsApp).await.unwrap();
        assert_eq!(store.window_state(Platform::WhatsApp, &stranger, DAY).await.unwrap(), ReplyWindow::Unknown);
        restarted.resume_platform(Platform::WhatsApp).await.unwrap();
        assert_eq!(store.window_state(Platform::WhatsApp, &stranger, DAY).await.unwrap(), ReplyWindow::Closed);
        // Deactivated, then activated again: the watch starts over.
        restarted.deactivate_account(s.owner.id, number.id).await.unwrap();
        assert_eq!(store.watching_since(Platform::WhatsApp).await.unwrap(), None);
        restarted.activate_account(s.owner.id, number.id, EDITION, "ticked Activate again").await.unwrap();
        assert_eq!(store.window_state(Platform::WhatsApp, &stranger, DAY).await.unwrap(), ReplyWindow::Unknown);
        assert_eq!(store.window_state(Platform::WhatsApp, &writer, DAY).await.unwrap(), ReplyWindow::Open);
    }

    async fn credentials_are_never_stored_in_clear(f: Fixture) {
        let s = f.seed().await;
        let err = f.inbox.add_account(s.owner.id, NewAccount::new(Platform::Telegram, "x").setting("token", "123:ABC")).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::InvalidInput);
        assert!(SecretRef::parse("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").is_err());
        let err = f.inbox.add_account(s.owner.id, NewAccount::new(Platform::Telegram, "x").secret("token", SecretRef::parse("vault:kv/bot").unwrap())).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::InvalidInput, "a reference the resolver cannot read is refused");
        // The seeded account's token resolves, but only its reference is stored.
        let account = f.inbox.account_unchecked(s.account.id).await.unwrap();
        assert!(account.secrets["token"].as_str().starts_with("mem:"));
        let credentials = f.inbox.credentials(&account).await.unwrap();
        assert_eq!(credentials.get("token"), Some("123456:SECRET-TOKEN"));
        assert!(!format!("{account:?}").contains("mem:"));
    }
}
