//! Personal data: export, anonymise, delete, destroy with an act, purge of an account and of a
//! workspace, subject requests routed to the owner, the processing log.

mod common;

use common::*;
use messenger_core::Platform;
use messenger_core::consent::ChatKey;
use messenger_inbox::{
    ConversationFilter, CustomerState, Draft, InboxErrorKind, NewSubjectRequest, Notification,
    SubjectRequestKind,
};

both! {
    async fn export_then_destroy_leaves_an_act_without_personal_data(f: Fixture) {
        let s = f.seed().await;
        with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("79991234567", "1", "my address is Lenina 1"), tg("79991234567", "2", "STOP")]).await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        let export = f.inbox.export_customer(s.owner.id, c.customer).await.unwrap();
        let text = export.to_string();
        assert!(text.contains("Lenina 1") && text.contains("79991234567") && text.contains("Ivan Petrov"));
        assert_eq!(export["conversation"]["messages"].as_array().unwrap().len(), 2);
        assert_eq!(export["opt_outs"].as_array().unwrap().len(), 1);
        let act = f.inbox.destroy_customer(s.owner.id, c.customer, "the subject's request of 2026-06-01").await.unwrap();
        assert_eq!(act.what["messages"], 2);
        assert_eq!(act.what["customers"], 1);
        assert_eq!(act.what["opt_outs"], 1);
        let act_json = serde_json::to_string(&act).unwrap();
        for pd in ["79991234567", "Lenina", "Ivan", "Petrov"] {
            assert!(!act_json.contains(pd), "the act holds no personal data");
        }
        assert!(f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap().is_empty());
        assert!(f.inbox.search(s.owner.id, "lenina", 10).await.unwrap().is_empty());
        let key = ChatKey::new(s.account.id.core_id(), Platform::Telegram, "79991234567");
        assert!(!f.inbox.consent().opt_outs().is_opted_out(&key).await.unwrap());
        assert_eq!(f.inbox.destruction_acts(s.owner.id).await.unwrap(), vec![act]);
        let log = f.inbox.processing_log(s.owner.id, 100).await.unwrap();
        let ops: Vec<&str> = log.iter().map(|e| e.operation.as_str()).collect();
        assert!(ops.contains(&"export") && ops.contains(&"destroy"), "{ops:?}");
    }

    async fn anonymise_keeps_statistics_only(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        f.inbox.ingest(s.account.id, &[tg("555", "1", "I am Ivan from Tver"), tg("555", "2", "call me")]).await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        f.inbox.send(s.owner.id, c.id, Draft::text("Hello Ivan")).await.unwrap();
        f.inbox.worker("w").run_until_idle(std::time::Duration::from_secs(10)).await.unwrap();
        assert_eq!(stubs.stub(s.account.id).texts().len(), 1);
        f.inbox.anonymise_customer(s.owner.id, c.customer).await.unwrap();
        let customer = f.inbox.customer(s.owner.id, c.customer).await.unwrap();
        assert_eq!((customer.state, customer.chat_id, customer.display_name), (CustomerState::Anonymised, None, None));
        let history = f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap();
        assert_eq!(history.len(), 3, "the messages (statistics) remain");
        assert!(history.iter().all(|m| m.anonymised && m.content.text().is_none()));
        let export = f.inbox.export_customer(s.owner.id, c.customer).await.unwrap().to_string();
        assert!(!export.contains("Ivan") && !export.contains("Tver") && !export.contains("555"));
        // They write again: a new, separate customer.
        f.inbox.ingest(s.account.id, &[tg("555", "3", "hi again")]).await.unwrap();
        assert_eq!(f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap().len(), 2);
    }

    async fn delete_history_keeps_the_customer(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("1", "1", "a"), tg("1", "2", "b")]).await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        assert_eq!(f.inbox.delete_history(s.owner.id, c.customer).await.unwrap(), 2);
        assert!(f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap().is_empty());
        assert_eq!(f.inbox.unread_total(s.owner.id).await.unwrap(), 0);
        f.inbox.ingest(s.account.id, &[tg("1", "3", "c")]).await.unwrap();
        assert_eq!(f.inbox.history(s.owner.id, c.id, None, 10).await.unwrap().len(), 1);
    }

    async fn deleting_an_account_purges_its_history(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        let keep = f.account(&s.owner, Platform::Telegram, "Kept").await;
        f.inbox.ingest(s.account.id, &[tg("1", "1", "a"), tg("2", "1", "STOP")]).await.unwrap();
        f.inbox.ingest(keep.id, &[tg("1", "1", "kept")]).await.unwrap();
        let c = conversation_of(&f, &s.owner, &s.account, "1").await;
        f.inbox.send(s.owner.id, c, Draft::text("x")).await.unwrap();
        f.inbox.worker("w").run_until_idle(std::time::Duration::from_secs(10)).await.unwrap();
        assert_eq!(stubs.stub(s.account.id).texts().len(), 1);
        let act = f.inbox.delete_account(s.owner.id, s.account.id, "the owner deleted the account").await.unwrap();
        assert_eq!(act.what["accounts"], 1);
        assert_eq!(act.what["messages"], 3);
        assert_eq!(act.what["opt_outs"], 1);
        assert!(act.what["contact_log"] >= 1);
        let list = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].account, keep.id);
        assert_eq!(f.inbox.ingest(s.account.id, &[tg("1", "9", "late")]).await.unwrap_err().kind(), InboxErrorKind::NotFound);
        // The agreement's evidence stays.
        assert!(!f.inbox.consent().acceptance_log().records_for(&s.account.id.core_id()).await.unwrap().is_empty());
        f.inbox.acceptance_head(s.owner.id).await.unwrap();
    }

    async fn subject_requests_go_to_the_owner_and_purge_ends_everything(f: Fixture) {
        let s = f.seed().await;
        f.inbox.ingest(s.account.id, &[tg("1", "1", "hello")]).await.unwrap();
        let c = f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap()[0].clone();
        let admin = f.inbox.add_employee(s.owner.id, "Admin", messenger_inbox::Role::Admin).await.unwrap();
        let mut owner_stream = f.inbox.subscribe(s.owner.id).await.unwrap();
        let mut admin_stream = f.inbox.subscribe(admin.id).await.unwrap();
        let r = f.inbox.receive_subject_request(s.workspace.id, NewSubjectRequest {
            account: Some(s.account.id), customer: Some(c.customer), kind: SubjectRequestKind::Erase,
            channel: "email".into(), details: "Please delete everything about me. Ivan".into(),
        }).await.unwrap();
        assert_eq!(r.forwarded_to, Some(s.owner.id));
        use futures::StreamExt;
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop { if let Some(Notification::SubjectRequest { request }) = owner_stream.next().await { return request; } }
        }).await.unwrap();
        assert_eq!(got, r.id);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(300), admin_stream.next()).await.is_err(), "admins are not told");
        assert_eq!(f.inbox.subject_requests(s.owner.id).await.unwrap().len(), 1);
        f.inbox.close_subject_request(s.owner.id, r.id).await.unwrap();
        assert_eq!(f.inbox.subject_requests(s.owner.id).await.unwrap()[0].state, "closed");
        // Withdrawal of the instruction: the whole workspace goes; an act remains.
        let act = f.inbox.purge_workspace(s.owner.id, "the instruction was withdrawn").await.unwrap();
        assert_eq!(act.what["workspaces"], 1);
        assert_eq!(act.what["employees"], 2);
        assert_eq!(act.what["subject_requests"], 1);
        assert_eq!(f.inbox.conversations(s.owner.id, ConversationFilter::default()).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
    }
}
