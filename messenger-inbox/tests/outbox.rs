//! The durable outbox against the sandbox's Telegram (through the registry entry and the full
//! layer stack) and the in-process stub: sent once, the first-contact notice kept across a
//! restart, maybe-sent never resent by itself, retries of what certainly did not go out, the
//! guard against unsolicited messaging, and the refusals that store nothing.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use messenger_core::consent::FirstContactNotice;
use messenger_core::{ContentKind, DeliveryStatus, Platform};
use messenger_inbox::{
    ConversationFilter, Draft, DraftMedia, InboxErrorKind, Notification, OutboxConfig, OutboxState,
    UnsolicitedLimit,
};
use messenger_sandbox::{Fault, FaultSpec};

const IDLE: Duration = Duration::from_secs(20);

both! {
    async fn sent_once_with_the_notice_kept_across_a_restart(f: Fixture) {
        let s = f.seed().await;
        registry(&f.inbox);
        let t = telegram(&f, &s.owner, 1).await;
        let ivan = &t.customers[0];
        let conv = conversation_of(&f, &s.owner, &t.account, &ivan.id).await;
        let mut notes = f.inbox.subscribe(s.owner.id).await.unwrap();
        let e1 = f.inbox.send(s.owner.id, conv, Draft::text("Your order #17 is ready")).await.unwrap();
        assert_eq!(e1.state, OutboxState::Queued);
        f.inbox.worker("w1").run_until_idle(IDLE).await.unwrap();
        assert_eq!(f.inbox.outbox_entry(s.owner.id, e1.id).await.unwrap().state, OutboxState::Sent);
        let got = t.received(ivan);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("Your order #17 is ready") && got[0].contains("STOP"), "first contact carries the notice");
        // A restart: a new inbox (new process) on the same database; the contact log persisted.
        let restarted = f.reopen().await;
        registry(&restarted);
        restarted.send(s.owner.id, conv, Draft::text("Pick it up today")).await.unwrap();
        restarted.worker("w2").run_until_idle(IDLE).await.unwrap();
        let got = t.received(ivan);
        assert_eq!(got, vec![got[0].clone(), "Pick it up today".to_owned()], "no second notice, nothing twice");
        let history = f.inbox.history(s.owner.id, conv, None, 10).await.unwrap();
        let out: Vec<_> = history.iter().filter(|m| m.direction == messenger_inbox::Direction::Outbound).collect();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|m| m.status == Some(DeliveryStatus::Sent) && m.platform_message_id.is_some()));
        // The employee was told (pending, then sent).
        let mut sent = false;
        while let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(2), notes.next()).await {
            if matches!(n, Notification::Status { status: DeliveryStatus::Sent, .. }) { sent = true; break; }
        }
        assert!(sent);
        let _ = FirstContactNotice::ENGLISH;
    }

    async fn a_maybe_sent_send_is_never_resent_by_itself(f: Fixture) {
        let s = f.seed().await;
        registry(&f.inbox);
        let t = telegram(&f, &s.owner, 1).await;
        let ivan = &t.customers[0];
        let conv = conversation_of(&f, &s.owner, &t.account, &ivan.id).await;
        // The platform stores the message, then the connection drops before the answer.
        t.sandbox.inject_fault(&t.bot.id, &FaultSpec::new(Fault::DropConnection { before_processing: false }).operation("sendMessage")).unwrap();
        let mut notes = f.inbox.subscribe(s.owner.id).await.unwrap();
        let e = f.inbox.send(s.owner.id, conv, Draft::text("maybe")).await.unwrap();
        f.inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        let entry = f.inbox.outbox_entry(s.owner.id, e.id).await.unwrap();
        assert_eq!(entry.state, OutboxState::MaybeSent);
        assert!(!entry.dedup);
        assert_eq!(t.received(ivan).len(), 1, "delivered once, not resent");
        let listed = f.inbox.outbox_entries(s.owner.id, OutboxState::MaybeSent, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        let mut told = false;
        while let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(2), notes.next()).await {
            if matches!(n, Notification::MaybeSent { outbox, .. } if outbox == e.id) { told = true; break; }
        }
        assert!(told, "the employee is shown the maybe-sent send");
        // More passes change nothing.
        f.inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        assert_eq!(t.received(ivan).len(), 1);
        // Only the employee's explicit decision sends it again.
        f.inbox.resend(s.owner.id, e.id).await.unwrap();
        f.inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        assert_eq!(t.received(ivan).len(), 2);
        assert_eq!(f.inbox.outbox_entry(s.owner.id, e.id).await.unwrap().state, OutboxState::Sent);
        assert_eq!(f.inbox.dismiss(s.owner.id, e.id).await.unwrap_err().kind(), InboxErrorKind::Conflict);
    }

    async fn a_send_refused_before_it_left_is_retried(f: Fixture) {
        let s = f.seed().await;
        let inbox = f.builder().outbox(OutboxConfig { retry_base: Duration::from_millis(10), ..OutboxConfig::default() }).open().await.unwrap();
        registry(&inbox);
        let t = telegram(&f, &s.owner, 1).await;
        let ivan = &t.customers[0];
        let conv = conversation_of(&f, &s.owner, &t.account, &ivan.id).await;
        t.sandbox.inject_fault(&t.bot.id, &FaultSpec::new(Fault::RateLimited { retry_after: 0 }).operation("sendMessage").times(2)).unwrap();
        let e = inbox.send(s.owner.id, conv, Draft::text("after the flood")).await.unwrap();
        inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        let entry = inbox.outbox_entry(s.owner.id, e.id).await.unwrap();
        assert_eq!(entry.state, OutboxState::Sent);
        assert_eq!(entry.attempts, 3);
        assert_eq!(t.received(ivan).len(), 1);
    }

    async fn a_dead_worker_is_recovered_by_what_the_platform_allows(f: Fixture) {
        let s = f.seed().await;
        let inbox = f.builder().outbox(OutboxConfig { lease: Duration::from_millis(300), ..OutboxConfig::default() }).open().await.unwrap();
        let stubs = with_stubs(&inbox);
        let vk = f.account(&s.owner, Platform::Vk, "Community").await;
        inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap();
        inbox.ingest(vk.id, &[msg(Platform::Vk, "2000000001", "1", "hi")]).await.unwrap();
        let list = inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        let tg_conv = list.iter().find(|c| c.account == s.account.id).unwrap().id;
        let vk_conv = list.iter().find(|c| c.account == vk.id).unwrap().id;
        let tg_row = inbox.send(s.owner.id, tg_conv, Draft::text("one")).await.unwrap();
        let vk_row = inbox.send(s.owner.id, vk_conv, Draft::text("two")).await.unwrap();
        assert!(vk_row.dedup && !tg_row.dedup);
        // A worker claims both and dies with the requests in flight.
        stubs.hang.store(true, Ordering::SeqCst);
        let dying = inbox.worker("dying");
        let task = tokio::spawn(async move { dying.run_once().await });
        eventually("both rows in flight", || async {
            inbox.outbox_entry(s.owner.id, tg_row.id).await.unwrap().state == OutboxState::Sending
                && inbox.outbox_entry(s.owner.id, vk_row.id).await.unwrap().state == OutboxState::Sending
        }).await;
        task.abort();
        let _ = task.await;
        stubs.hang.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(400)).await;
        inbox.worker("heir").run_until_idle(IDLE).await.unwrap();
        let t = inbox.outbox_entry(s.owner.id, tg_row.id).await.unwrap();
        let v = inbox.outbox_entry(s.owner.id, vk_row.id).await.unwrap();
        assert_eq!((t.state, t.error_kind.as_deref()), (OutboxState::MaybeSent, Some("interrupted")));
        assert_eq!(v.state, OutboxState::Sent, "resent under the same key where the platform drops repeats");
        assert_eq!(stubs.stub(vk.id).texts().iter().filter(|x| x.starts_with("two")).count(), 1);
    }

    async fn the_guard_limits_messages_to_customers_who_never_wrote(f: Fixture) {
        let s = f.seed().await;
        let inbox = f.builder().unsolicited_limit(UnsolicitedLimit::new(2, Duration::from_secs(3600))).open().await.unwrap();
        with_stubs(&inbox);
        let mut convs = Vec::new();
        for chat in ["7001", "7002", "7003"] {
            convs.push(inbox.start_conversation(s.owner.id, s.account.id, chat, Some("Lead")).await.unwrap());
        }
        inbox.send(s.owner.id, convs[0], Draft::text("offer")).await.unwrap();
        inbox.send(s.owner.id, convs[1], Draft::text("offer")).await.unwrap();
        let err = inbox.send(s.owner.id, convs[2], Draft::text("offer")).await.unwrap_err();
        assert_eq!(err.kind(), InboxErrorKind::UnsolicitedLimit);
        assert!(err.message().contains("limit 2"), "{}", err.message());
        // Another process sees the same count.
        let other = f.builder().unsolicited_limit(UnsolicitedLimit::new(2, Duration::from_secs(3600))).open().await.unwrap();
        assert_eq!(other.send(s.owner.id, convs[2], Draft::text("offer")).await.unwrap_err().kind(), InboxErrorKind::UnsolicitedLimit);
        // A customer who wrote is not limited.
        inbox.ingest(s.account.id, &[tg("8001", "1", "hello")]).await.unwrap();
        let wrote = conversation_of(&f, &s.owner, &s.account, "8001").await;
        for _ in 0..3 {
            inbox.send(s.owner.id, wrote, Draft::text("answer")).await.unwrap();
        }
        // Once the lead writes, the limit no longer applies to them.
        inbox.ingest(s.account.id, &[tg("7003", "1", "tell me more")]).await.unwrap();
        inbox.send(s.owner.id, convs[2], Draft::text("details")).await.unwrap();
    }

    async fn refusals_store_nothing(f: Fixture) {
        let s = f.seed().await;
        with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("100", "1", "hi"), tg("200", "1", "hi"), tg("300", "1", "STOP")]).await.unwrap();
        let c100 = conversation_of(&f, &s.owner, &s.account, "100").await;
        let c200 = conversation_of(&f, &s.owner, &s.account, "200").await;
        let c300 = conversation_of(&f, &s.owner, &s.account, "300").await;
        let count = || async { f.inbox.history(s.owner.id, c100, None, 100).await.unwrap().len() };
        assert_eq!(f.inbox.send(s.owner.id, c300, Draft::text("x")).await.unwrap_err().kind(), InboxErrorKind::OptedOut);
        assert_eq!(f.inbox.send(s.owner.id, c100, Draft::text("  ")).await.unwrap_err().kind(), InboxErrorKind::InvalidInput);
        f.inbox.suspend_platform(Platform::Telegram).await.unwrap();
        assert_eq!(f.inbox.send(s.owner.id, c100, Draft::text("x")).await.unwrap_err().kind(), InboxErrorKind::PlatformSuspended);
        f.inbox.resume_platform(Platform::Telegram).await.unwrap();
        f.inbox.deactivate_account(s.owner.id, s.account.id).await.unwrap();
        assert_eq!(f.inbox.send(s.owner.id, c100, Draft::text("x")).await.unwrap_err().kind(), InboxErrorKind::ModuleInactive);
        f.inbox.activate_account(s.owner.id, s.account.id, EDITION, "again").await.unwrap();
        let customer = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap().into_iter().find(|c| c.id == c200).unwrap().customer;
        f.inbox.block_customer(s.owner.id, customer).await.unwrap();
        assert_eq!(f.inbox.send(s.owner.id, c200, Draft::text("x")).await.unwrap_err().kind(), InboxErrorKind::Blocked);
        f.inbox.unblock_customer(s.owner.id, customer).await.unwrap();
        f.inbox.anonymise_customer(s.owner.id, customer).await.unwrap();
        assert_eq!(f.inbox.send(s.owner.id, c200, Draft::text("x")).await.unwrap_err().kind(), InboxErrorKind::Anonymised);
        assert_eq!(count().await, 1, "nothing was stored by a refusal");
        // A queued row whose account was deactivated meanwhile fails without a request.
        let e = f.inbox.send(s.owner.id, c100, Draft::text("late")).await.unwrap();
        f.inbox.deactivate_account(s.owner.id, s.account.id).await.unwrap();
        f.inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        let entry = f.inbox.outbox_entry(s.owner.id, e.id).await.unwrap();
        assert_eq!((entry.state, entry.error_kind.as_deref()), (OutboxState::Failed, Some("module_inactive")));
    }

    async fn media_goes_through_the_outbox_and_downloads(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("100", "1", "send me the invoice")]).await.unwrap();
        let conv = conversation_of(&f, &s.owner, &s.account, "100").await;
        let draft = Draft::media(
            ContentKind::File,
            DraftMedia::Bytes { data: b"%PDF-1.7 invoice".to_vec(), mime_type: "application/pdf".into(), file_name: "invoice-17.pdf".into() },
            Some("Invoice".into()),
        ).unwrap();
        let e = f.inbox.send(s.owner.id, conv, draft).await.unwrap();
        f.inbox.worker("w").run_until_idle(IDLE).await.unwrap();
        assert_eq!(stubs.stub(s.account.id).texts().len(), 1);
        assert!(stubs.stub(s.account.id).texts()[0].starts_with("[file] Invoice"));
        let (info, stream) = f.inbox.download_media(s.owner.id, e.message).await.unwrap();
        assert_eq!(info.mime_type.as_deref(), Some("application/pdf"));
        let bytes: Vec<u8> = stream.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(bytes, b"%PDF-1.7 invoice");
        assert!(Draft::media(ContentKind::Sticker, DraftMedia::Id("x".into()), None).is_err());
        let huge = Draft::media(ContentKind::File, DraftMedia::Bytes { data: vec![0; 21 << 20], mime_type: "application/pdf".into(), file_name: "a.pdf".into() }, None).unwrap();
        assert_eq!(f.inbox.send(s.owner.id, conv, huge).await.unwrap_err().kind(), InboxErrorKind::InvalidInput);
    }

    async fn conversations_keep_their_order(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("100", "1", "hi")]).await.unwrap();
        let conv = conversation_of(&f, &s.owner, &s.account, "100").await;
        for i in 0..6 {
            f.inbox.send(s.owner.id, conv, Draft::text(format!("m{i}"))).await.unwrap();
        }
        // Two workers at once.
        let (a, b) = (f.inbox.worker("a"), f.inbox.worker("b"));
        let (ra, rb) = tokio::join!(a.run_until_idle(IDLE), b.run_until_idle(IDLE));
        ra.unwrap();
        rb.unwrap();
        let texts: Vec<String> = stubs.stub(s.account.id).texts().into_iter().map(|t| t.split('\n').next().unwrap().to_owned()).collect();
        assert_eq!(texts, (0..6).map(|i| format!("m{i}")).collect::<Vec<_>>());
    }
}
