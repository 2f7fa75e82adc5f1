//! Notifications and unread counters: per employee, by right; derived from last-seen marks;
//! across processes through PostgreSQL LISTEN/NOTIFY.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use messenger_inbox::{ConversationFilter, Notification, Permissions, Role};

async fn next_new_message(s: &mut messenger_inbox::NotificationStream) -> Notification {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("no notification within 10 s")
            .expect("the stream ended");
        if matches!(n, Notification::NewMessage { .. }) {
            return n;
        }
    }
}

both! {
    async fn unread_counts_follow_last_seen_marks(f: Fixture) {
        let s = f.seed().await;
        let agent = f.inbox.add_employee(s.owner.id, "Boris", Role::Agent).await.unwrap();
        f.inbox.grant(s.owner.id, agent.id, s.account.id, Permissions::REPLY).await.unwrap();
        f.inbox.ingest(s.account.id, &[tg("1", "1", "a"), tg("1", "2", "b"), tg("2", "1", "c")]).await.unwrap();
        assert_eq!(f.inbox.unread_total(agent.id).await.unwrap(), 3);
        assert_eq!(f.inbox.unread_total(s.owner.id).await.unwrap(), 3);
        let c1 = conversation_of(&f, &s.owner, &s.account, "1").await;
        let first = f.inbox.history(agent.id, c1, None, 10).await.unwrap()[0].id;
        f.inbox.mark_read(agent.id, c1, Some(first)).await.unwrap();
        assert_eq!(f.inbox.unread_total(agent.id).await.unwrap(), 2);
        f.inbox.mark_read(agent.id, c1, None).await.unwrap();
        // Marks only move forward; each employee has their own.
        f.inbox.mark_read(agent.id, c1, Some(first)).await.unwrap();
        assert_eq!(f.inbox.unread_total(agent.id).await.unwrap(), 1);
        assert_eq!(f.inbox.unread_total(s.owner.id).await.unwrap(), 3);
        let unread = f.inbox.conversations(agent.id, ConversationFilter::default().unread_only(true)).await.unwrap();
        assert_eq!(unread.len(), 1);
        // Derived, not counted: a redelivery changes nothing, a new message adds one.
        f.inbox.ingest(s.account.id, &[tg("1", "2", "b"), tg("1", "3", "d")]).await.unwrap();
        assert_eq!(f.inbox.unread_total(agent.id).await.unwrap(), 2);
        // Another process derives the same.
        assert_eq!(f.reopen().await.unread_total(agent.id).await.unwrap(), 2);
    }

    async fn streams_follow_grants_and_assignments(f: Fixture) {
        let s = f.seed().await;
        let other = f.account(&s.owner, messenger_core::Platform::Telegram, "Other").await;
        let agent = f.inbox.add_employee(s.owner.id, "Boris", Role::Agent).await.unwrap();
        f.inbox.grant(s.owner.id, agent.id, s.account.id, Permissions::REPLY).await.unwrap();
        let mut stream = f.inbox.subscribe(agent.id).await.unwrap();
        f.inbox.ingest(other.id, &[tg("9", "1", "not for Boris")]).await.unwrap();
        f.inbox.ingest(s.account.id, &[tg("1", "1", "for Boris")]).await.unwrap();
        let Notification::NewMessage { account, conversation, .. } = next_new_message(&mut stream).await else { unreachable!() };
        assert_eq!(account, s.account.id);
        f.inbox.assign(s.owner.id, conversation, Some(agent.id)).await.unwrap();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap();
            if let Notification::Assigned { assignee, .. } = n { assert_eq!(assignee, Some(agent.id)); break; }
        }
        assert_eq!(f.inbox.conversations(agent.id, ConversationFilter { assigned_to: Some(agent.id), ..Default::default() }).await.unwrap().len(), 1);
        // Granted mid-stream: what follows is filtered by the new rights.
        f.inbox.grant(s.owner.id, agent.id, other.id, Permissions::READ).await.unwrap();
        f.inbox.ingest(other.id, &[tg("9", "2", "now for Boris")]).await.unwrap();
        let Notification::NewMessage { account, .. } = next_new_message(&mut stream).await else { unreachable!() };
        assert_eq!(account, other.id);
        // Revoked: nothing more from that account.
        f.inbox.grant(s.owner.id, agent.id, other.id, Permissions::NONE).await.unwrap();
        f.inbox.ingest(other.id, &[tg("9", "3", "not any more")]).await.unwrap();
        f.inbox.ingest(s.account.id, &[tg("1", "2", "still mine")]).await.unwrap();
        let Notification::NewMessage { account, .. } = next_new_message(&mut stream).await else { unreachable!() };
        assert_eq!(account, s.account.id);
        // Removed: the stream ends.
        f.inbox.remove_employee(s.owner.id, agent.id).await.unwrap();
        let end = tokio::time::timeout(Duration::from_secs(10), async { while stream.next().await.is_some() {} }).await;
        assert!(end.is_ok(), "the stream of a removed employee ends");
    }
}

/// Two inboxes on one PostgreSQL database (two processes, as far as the database can tell): a
/// message ingested by one is notified on the other; after the listener's connection is cut,
/// subscribers are told to resync and notifications flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notifies_across_instances() {
    let Some(f) = Fixture::postgres().await else {
        pg_skipped("notify::postgres_notifies_across_instances");
        return;
    };
    tokio::time::timeout(LIMIT, async {
        let s = f.seed().await;
        let node_b = f.reopen().await;
        let mut on_b = node_b.subscribe(s.owner.id).await.unwrap();
        f.inbox.ingest(s.account.id, &[tg("1", "1", "hello node A")]).await.unwrap();
        let Notification::NewMessage { account, message, .. } = next_new_message(&mut on_b).await else { unreachable!() };
        assert_eq!(account, s.account.id);
        // Node B reads it by right.
        let list = node_b.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        assert_eq!(node_b.history(s.owner.id, list[0].id, None, 5).await.unwrap()[0].id, message);
        // Cut node B's listening connection: its subscribers resync, then notifications flow.
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&pg_url().unwrap()).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'messenger-inbox' AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")
            .execute(&mut admin).await.unwrap();
        let mut resynced = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            f.inbox.ingest(s.account.id, &[tg("2", &format!("{}", fastrand::u32(..)), "after the cut")]).await.unwrap();
            match tokio::time::timeout(Duration::from_millis(500), on_b.next()).await {
                Ok(Some(Notification::Resync)) => resynced = true,
                Ok(Some(Notification::NewMessage { .. })) if resynced => break,
                _ => {}
            }
        }
        assert!(resynced, "subscribers were told to re-read after the reconnect");
        assert!(tokio::time::Instant::now() < deadline, "notifications flow again after the reconnect");
    })
    .await
    .expect("timed out");
}
