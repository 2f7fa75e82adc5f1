//! Access rights as a table: each role × each operation × a granted and an ungranted account.
//! Every employee but the owner holds every right on account A and nothing on account B; a
//! refusal must be `Forbidden` with an audit record, and no path (list, search, history, media,
//! notifications, export) may show B's data to them.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use messenger_core::{Content, InboundEvent, MediaRef, MessageEvent, Platform};
use messenger_inbox::{
    Account, ConversationFilter, ConversationId, CustomerId, Draft, Employee, InboxErrorKind,
    MessageKey, Notification, Permissions, Role,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    List,
    Search,
    Notifications,
    History,
    Media,
    MarkRead,
    Send,
    Assign,
    StartConversation,
    Dismiss,
    Rename,
    Export,
    Block,
    Anonymise,
    DeleteHistory,
    Destroy,
    Activate,
}

const OPS: [Op; 17] = [
    Op::List,
    Op::Search,
    Op::Notifications,
    Op::History,
    Op::Media,
    Op::MarkRead,
    Op::Send,
    Op::Assign,
    Op::StartConversation,
    Op::Dismiss,
    Op::Rename,
    Op::Export,
    Op::Block,
    Op::Anonymise,
    Op::DeleteHistory,
    Op::Destroy,
    Op::Activate,
];

/// What the design says: owners everything; otherwise a grant, capped by the role.
fn expected(role: Role, op: Op, granted: bool) -> bool {
    if role == Role::Owner {
        return true;
    }
    match op {
        Op::List | Op::Search | Op::Notifications | Op::History | Op::Media | Op::MarkRead => {
            granted
        }
        Op::Send | Op::Assign | Op::StartConversation | Op::Dismiss => {
            granted && matches!(role, Role::Admin | Role::Agent)
        }
        Op::Rename | Op::Export | Op::Block | Op::Anonymise | Op::DeleteHistory => {
            granted && role == Role::Admin
        }
        Op::Destroy | Op::Activate => false,
    }
}

struct Cell {
    conversation: ConversationId,
    customer: CustomerId,
    message: MessageKey,
    marker: String,
}

async fn cell(f: &Fixture, owner: &Employee, account: &Account, n: usize) -> Cell {
    let chat = format!("{}", 1000 + n);
    let marker = format!("marker{n}x");
    let event = InboundEvent::Message(MessageEvent {
        platform: Platform::Telegram,
        chat_id: chat.as_str().into(),
        message_id: "1".into(),
        sender: None,
        timestamp: chrono::Utc::now(),
        reply_to: None,
        edited: false,
        content: Content::Image {
            media: MediaRef::new("file-1"),
            caption: Some(marker.clone()),
        },
    });
    f.inbox.ingest(account.id, &[event]).await.unwrap();
    let hit = f
        .inbox
        .search(owner.id, &marker, 5)
        .await
        .unwrap()
        .remove(0);
    let list = f
        .inbox
        .conversations(
            owner.id,
            ConversationFilter::default()
                .account(account.id)
                .limit(1000),
        )
        .await
        .unwrap();
    let c = list.into_iter().find(|c| c.id == hit.conversation).unwrap();
    Cell {
        conversation: c.id,
        customer: c.customer,
        message: hit.message.id,
        marker,
    }
}

async fn denials(f: &Fixture, owner: &Employee) -> usize {
    f.inbox
        .audit_log(owner.id, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.outcome == "denied")
        .count()
}

both! {
    async fn role_operation_grant_table(f: Fixture) {
        let s = f.seed().await;
        let _stubs = with_stubs(&f.inbox);
        let a = s.account.clone();
        let b = f.account(&s.owner, Platform::Telegram, "Other bot").await;
        let mut staff = vec![(Role::Owner, s.owner.clone())];
        for role in [Role::Admin, Role::Agent, Role::Viewer] {
            let e = f.inbox.add_employee(s.owner.id, role.as_str(), role).await.unwrap();
            f.inbox.grant(s.owner.id, e.id, a.id, Permissions::ALL).await.unwrap();
            staff.push((role, e));
        }
        let mut n = 0;
        let mut checked = 0;
        for (role, employee) in &staff {
            let mut stream = f.inbox.subscribe(employee.id).await.unwrap();
            for op in OPS {
                for (granted, account) in [(true, &a), (false, &b)] {
                    n += 1;
                    let c = cell(&f, &s.owner, account, n).await;
                    let before = denials(&f, &s.owner).await;
                    let id = employee.id;
                    let outcome: Result<(), InboxErrorKind> = match op {
                        Op::List => {
                            let list = f.inbox.conversations(id, ConversationFilter::default().limit(1000)).await.unwrap();
                            if list.iter().any(|x| x.id == c.conversation) { Ok(()) } else { Err(InboxErrorKind::Forbidden) }
                        }
                        Op::Search => {
                            let hits = f.inbox.search(id, &c.marker, 50).await.unwrap();
                            if hits.iter().any(|h| h.conversation == c.conversation) { Ok(()) } else { Err(InboxErrorKind::Forbidden) }
                        }
                        Op::Notifications => {
                            // A message on the other account first, then this one: what arrives
                            // first shows whether the other account leaks.
                            let other = if granted { &b } else { &a };
                            f.inbox.ingest(other.id, &[tg(&format!("{}", 900_000 + n), "1", "x")]).await.unwrap();
                            f.inbox.ingest(account.id, &[tg(&format!("{}", 1000 + n), "2", "y")]).await.unwrap();
                            let mut seen_self = false;
                            let mut seen_other = false;
                            loop {
                                let next = tokio::time::timeout(Duration::from_millis(if seen_self || seen_other { 300 } else { 5000 }), stream.next()).await;
                                let Ok(Some(note)) = next else { break };
                                if let Notification::NewMessage { conversation, account: acc, .. } = note {
                                    if conversation == c.conversation { seen_self = true; }
                                    else if acc == other.id { seen_other = true; }
                                }
                            }
                            let expect_other = if granted { *role == Role::Owner } else { true };
                            assert_eq!(seen_other, expect_other, "{role:?} {op:?}: the other account's notification");
                            if seen_self { Ok(()) } else { Err(InboxErrorKind::Forbidden) }
                        }
                        Op::History => f.inbox.history(id, c.conversation, None, 10).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Media => f.inbox.download_media(id, c.message).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::MarkRead => f.inbox.mark_read(id, c.conversation, None).await.map_err(|e| e.kind()),
                        Op::Send => f.inbox.send(id, c.conversation, Draft::text("hello")).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Assign => f.inbox.assign(id, c.conversation, None).await.map_err(|e| e.kind()),
                        Op::StartConversation => f.inbox.start_conversation(id, account.id, &format!("{}", 500_000 + n), None).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Dismiss => {
                            let entry = f.inbox.send(s.owner.id, c.conversation, Draft::text("queued")).await.unwrap();
                            f.inbox.dismiss(id, entry.id).await.map_err(|e| e.kind())
                        }
                        Op::Rename => f.inbox.rename_account(id, account.id, "Renamed").await.map_err(|e| e.kind()),
                        Op::Export => f.inbox.export_customer(id, c.customer).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Block => f.inbox.block_customer(id, c.customer).await.map_err(|e| e.kind()),
                        Op::Anonymise => f.inbox.anonymise_customer(id, c.customer).await.map_err(|e| e.kind()),
                        Op::DeleteHistory => f.inbox.delete_history(id, c.customer).await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Destroy => f.inbox.destroy_customer(id, c.customer, "the subject's request").await.map(|_| ()).map_err(|e| e.kind()),
                        Op::Activate => f.inbox.activate_account(id, account.id, EDITION, "again").await.map(|_| ()).map_err(|e| e.kind()),
                    };
                    let want = expected(*role, op, granted);
                    match (&outcome, want) {
                        (Ok(()), true) => {}
                        (Err(InboxErrorKind::Forbidden), false) => {
                            let filtered = matches!(op, Op::List | Op::Search | Op::Notifications);
                            if !filtered {
                                assert_eq!(denials(&f, &s.owner).await, before + 1, "{role:?} {op:?} granted={granted}: no audit record");
                            }
                        }
                        _ => panic!("{role:?} {op:?} granted={granted}: got {outcome:?}, expected allowed={want}"),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4 * OPS.len() * 2);
    }

    async fn nothing_leaks_across_workspaces(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("1", "1", "secret order")]).await.unwrap();
        let (_, intruder) = f.inbox.create_workspace("Other shop", "Eve").await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        assert!(f.inbox.conversations(intruder.id, ConversationFilter::default()).await.unwrap().is_empty());
        assert!(f.inbox.search(intruder.id, "secret", 10).await.unwrap().is_empty());
        for err in [
            f.inbox.history(intruder.id, c.id, None, 10).await.map(|_| ()).unwrap_err(),
            f.inbox.export_customer(intruder.id, c.customer).await.map(|_| ()).unwrap_err(),
            f.inbox.destroy_customer(intruder.id, c.customer, "x").await.map(|_| ()).unwrap_err(),
            f.inbox.grant(intruder.id, intruder.id, s.account.id, Permissions::ALL).await.map(|_| ()).unwrap_err(),
            // A target that does not exist is refused the same way.
            f.inbox.history(intruder.id, ConversationId(987_654), None, 10).await.map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), InboxErrorKind::Forbidden);
        }
        // Workspace-level operations by role.
        let viewer = f.inbox.add_employee(s.owner.id, "V", Role::Viewer).await.unwrap();
        let admin = f.inbox.add_employee(s.owner.id, "A", Role::Admin).await.unwrap();
        assert_eq!(f.inbox.add_employee(viewer.id, "X", Role::Agent).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.add_employee(admin.id, "X", Role::Owner).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert!(f.inbox.add_employee(admin.id, "X", Role::Agent).await.is_ok());
        assert_eq!(f.inbox.audit_log(admin.id, 10).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.processing_log(admin.id, 10).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.subject_requests(admin.id).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.purge_workspace(admin.id, "x").await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        // A removed employee can do nothing at all.
        f.inbox.remove_employee(s.owner.id, admin.id).await.unwrap();
        assert_eq!(f.inbox.conversations(admin.id, ConversationFilter::default()).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        let _ = CustomerId(0);
    }
}
