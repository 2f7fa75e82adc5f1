//! Intake: idempotent, opt-outs and contact changes applied, customers relinked, statuses
//! monotonic, blocked customers recorded without content, refused while inactive.

mod common;

use common::*;
use messenger_core::consent::ChatKey;
use messenger_core::{
    ContactChange, Content, DeliveryStatus, InboundEvent, MessageEvent, Platform,
};
use messenger_inbox::{ConversationFilter, InboxErrorKind};

both! {
    async fn redelivery_adds_nothing(f: Fixture) {
        let s = f.seed().await;
        let batch = vec![tg("100", "1", "hello"), tg("100", "2", "are you there?"), tg("200", "1", "hi")];
        let first = f.inbox.ingest(s.account.id, &batch).await.unwrap();
        assert_eq!(first.messages, 3);
        // A redelivered webhook and a repeated poll: nothing new.
        let again = f.inbox.ingest(s.account.id, &batch).await.unwrap();
        assert_eq!((again.messages, again.duplicates), (0, 3));
        // Another process redelivering it: nothing new either.
        let other = f.reopen().await;
        assert_eq!(other.ingest(s.account.id, &batch[..1]).await.unwrap().duplicates, 1);
        let list = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        assert_eq!(list.len(), 2);
        let unread: u64 = list.iter().map(|c| c.unread).sum();
        assert_eq!(unread, 3);
        let history = f.inbox.history(s.owner.id, list.iter().find(|c| c.unread == 2).unwrap().id, None, 50).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].content, Content::Text { text: "hello".into() });
    }

    async fn an_edit_replaces_the_text_once(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("100", "1", "helo")]).await.unwrap();
        let InboundEvent::Message(mut m) = tg("100", "1", "hello") else { unreachable!() };
        m.edited = true;
        let edit = InboundEvent::Message(m);
        assert_eq!(f.inbox.ingest(s.account.id, std::slice::from_ref(&edit)).await.unwrap().edits, 1);
        f.inbox.ingest(s.account.id, &[edit]).await.unwrap();
        let c = &f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0];
        let h = f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap();
        assert_eq!(h.len(), 1);
        assert!(h[0].edited);
        assert_eq!(h[0].content.text(), Some("hello"));
    }

    async fn stop_words_and_platform_signals_opt_out(f: Fixture) {
        let s = f.seed().await;
        let core = s.account.id.core_id();
        let r = f.inbox.ingest(s.account.id, &[tg("100", "1", "hi"), tg("100", "2", "СТОП")]).await.unwrap();
        assert_eq!(r.opt_out_changes, 1);
        let key = ChatKey::new(core.clone(), Platform::Telegram, "100");
        assert!(f.inbox.consent().opt_outs().is_opted_out(&key).await.unwrap());
        // Another process sees it.
        assert!(f.reopen().await.consent().opt_outs().is_opted_out(&key).await.unwrap());
        let c = &f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0];
        assert!(c.opted_out);
        // A block is a platform signal; an unblock lifts only that.
        f.inbox.ingest(s.account.id, &[tg("200", "1", "hi"), contact(Platform::Telegram, "200", ContactChange::Blocked)]).await.unwrap();
        let key2 = ChatKey::new(core.clone(), Platform::Telegram, "200");
        assert!(f.inbox.consent().opt_outs().is_opted_out(&key2).await.unwrap());
        f.inbox.ingest(s.account.id, &[contact(Platform::Telegram, "200", ContactChange::Unblocked)]).await.unwrap();
        assert!(!f.inbox.consent().opt_outs().is_opted_out(&key2).await.unwrap());
        f.inbox.ingest(s.account.id, &[contact(Platform::Telegram, "100", ContactChange::Unblocked)]).await.unwrap();
        assert!(f.inbox.consent().opt_outs().is_opted_out(&key).await.unwrap(), "an unblock does not take a STOP back");
    }

    async fn a_changed_id_relinks_the_customer(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("-100", "1", "group hello"), tg("-100", "2", "STOP")]).await.unwrap();
        let r = f.inbox.ingest(s.account.id, &[id_changed(Platform::Telegram, "-100", "-1001234")]).await.unwrap();
        assert_eq!(r.relinked, 1);
        // Redelivered: nothing changes.
        assert_eq!(f.inbox.ingest(s.account.id, &[id_changed(Platform::Telegram, "-100", "-1001234")]).await.unwrap().relinked, 0);
        f.inbox.ingest(s.account.id, &[tg("-1001234", "1", "from the supergroup")]).await.unwrap();
        let list = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        assert_eq!(list.len(), 1, "one conversation across the id change");
        let h = f.inbox.history(s.owner.id, list[0].id, None, 10).await.unwrap();
        assert_eq!(h.len(), 3);
        let customer = f.inbox.customer(s.owner.id, list[0].customer).await.unwrap();
        assert_eq!(customer.chat_id.as_deref(), Some("-1001234"));
        // The opt-out followed the customer.
        let key = ChatKey::new(s.account.id.core_id(), Platform::Telegram, "-1001234");
        assert!(f.inbox.consent().opt_outs().is_opted_out(&key).await.unwrap());
        // An old-id redelivery still finds them.
        assert_eq!(f.inbox.ingest(s.account.id, &[tg("-100", "1", "group hello")]).await.unwrap().duplicates, 1);
    }

    async fn both_ids_with_history_merge(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("1", "1", "old number"), tg("2", "1", "new number")]).await.unwrap();
        f.inbox.ingest(s.account.id, &[id_changed(Platform::Telegram, "1", "2")]).await.unwrap();
        let list = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(f.inbox.history(s.owner.id, list[0].id, None, 10).await.unwrap().len(), 2);
    }

    async fn statuses_apply_monotonically(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap();
        let conv = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].id;
        let entry = f.inbox.send(s.owner.id, conv, messenger_inbox::Draft::text("hello")).await.unwrap();
        f.inbox.worker("w").run_until_idle(std::time::Duration::from_secs(10)).await.unwrap();
        assert_eq!(stubs.stub(s.account.id).texts().len(), 1);
        let sent = f.inbox.history(s.owner.id, conv, None, 10).await.unwrap().pop().unwrap();
        assert_eq!(sent.id, entry.message);
        assert_eq!(sent.status, Some(DeliveryStatus::Sent));
        let pid = sent.platform_message_id.clone().unwrap();
        let read = status(Platform::Telegram, "100", &pid, DeliveryStatus::Read);
        let delivered = status(Platform::Telegram, "100", &pid, DeliveryStatus::Delivered);
        let r = f.inbox.ingest(s.account.id, std::slice::from_ref(&read)).await.unwrap();
        assert_eq!(r.statuses, 1);
        // A late `delivered`, and the `read` again: nothing changes.
        let r = f.inbox.ingest(s.account.id, &[delivered, read]).await.unwrap();
        assert_eq!(r.statuses, 0);
        let sent = f.inbox.history(s.owner.id, conv, None, 10).await.unwrap().pop().unwrap();
        assert_eq!(sent.status, Some(DeliveryStatus::Read), "a late delivered never overwrites read");
        // Another process applies the same rules on the same store.
        let other = f.reopen().await;
        let failed = status(Platform::Telegram, "100", &pid, DeliveryStatus::Failed);
        assert_eq!(other.ingest(s.account.id, &[failed]).await.unwrap().statuses, 0);
    }

    async fn a_blocked_customer_is_recorded_without_content(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        f.inbox.block_customer(s.owner.id, c.customer).await.unwrap();
        let r = f.inbox.ingest(s.account.id, &[tg("100", "2", "my passport number is 1234")]).await.unwrap();
        assert_eq!((r.messages, r.blocked), (0, 1));
        assert_eq!(f.inbox.ingest(s.account.id, &[tg("100", "2", "my passport number is 1234")]).await.unwrap().duplicates, 1);
        let err = f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::Blocked);
        let export = f.inbox.export_customer(s.owner.id, c.customer).await.unwrap();
        assert_eq!(export["blocked_intake"].as_array().unwrap().len(), 1);
        assert!(!export.to_string().contains("passport"));
        f.inbox.unblock_customer(s.owner.id, c.customer).await.unwrap();
        assert_eq!(f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap().len(), 1);
    }

    async fn intake_stops_when_deactivated_or_suspended(f: Fixture) {
        let s = f.seed().await;
        f.inbox.deactivate_account(s.owner.id, s.account.id).await.unwrap();
        let err = f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::ModuleInactive);
        f.inbox.activate_account(s.owner.id, s.account.id, EDITION, "again").await.unwrap();
        f.inbox.suspend_platform(Platform::Telegram).await.unwrap();
        let err = f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::PlatformSuspended);
        f.inbox.resume_platform(Platform::Telegram).await.unwrap();
        f.inbox.suspend_account(s.account.id).await.unwrap();
        let err = f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::AccountSuspended);
        f.inbox.resume_account(s.account.id).await.unwrap();
        assert_eq!(f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap().messages, 1);
        assert!(f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap().len() == 1);
    }

    async fn other_platforms_events_and_health(f: Fixture) {
        let s = f.seed().await;
        let r = f.inbox.ingest(s.account.id, &[msg(Platform::Vk, "1", "1", "not ours")]).await.unwrap();
        assert_eq!((r.messages, r.ignored), (0, 1));
        let health = InboundEvent::Account(messenger_core::AccountEvent {
            platform: Platform::Telegram,
            health: messenger_core::AccountHealth::Unauthorized,
            timestamp: chrono::Utc::now(),
        });
        f.inbox.ingest(s.account.id, &[health]).await.unwrap();
        let a = f.inbox.account_unchecked(s.account.id).await.unwrap();
        assert_eq!(a.health, Some(messenger_core::AccountHealth::Unauthorized));
        let _ = MessageEvent::clone;
    }
}
