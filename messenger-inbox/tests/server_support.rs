//! What the server of the module keeps in the inbox: sign-in logins and bearer tokens (hashes
//! only, by right), leases across processes, and the client's idempotency key of a send.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use messenger_inbox::{Draft, InboxErrorKind, OutboxState, Permissions, Role, TokenKind};

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

fn token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

both! {
    async fn logins_and_tokens_follow_rights(f: Fixture) {
        let s = f.seed().await;
        let admin = f.inbox.add_employee(s.owner.id, "Vera", Role::Admin).await.unwrap();
        let agent = f.inbox.add_employee(s.owner.id, "Boris", Role::Agent).await.unwrap();
        f.inbox.set_login_by_service(s.owner.id, "anna", HASH).await.unwrap();
        // An admin manages an agent's login, not the owner's; an agent only their own.
        f.inbox.set_login(admin.id, agent.id, "boris", HASH).await.unwrap();
        assert_eq!(f.inbox.set_login(admin.id, s.owner.id, "anna", HASH).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.set_login(agent.id, admin.id, "vera", HASH).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        f.inbox.set_login(agent.id, agent.id, "boris.p", HASH).await.unwrap();
        assert_eq!(f.inbox.set_login(admin.id, admin.id, "boris.p", HASH).await.unwrap_err().kind(), InboxErrorKind::Conflict);
        assert_eq!(f.inbox.set_login(admin.id, admin.id, "vera", "plain password").await.unwrap_err().kind(), InboxErrorKind::InvalidInput);
        assert_eq!(f.inbox.login_credentials("boris.p").await.unwrap().unwrap().0, agent.id);
        assert!(f.inbox.login_credentials("boris").await.unwrap().is_none());

        // Sessions authenticate until revoked or expired; kinds do not mix.
        let later = Utc::now() + chrono::Duration::hours(1);
        f.inbox.issue_token(agent.id, TokenKind::Session, &token(1), later).await.unwrap();
        let got = f.inbox.authenticate(&token(1), &[TokenKind::Session]).await.unwrap().unwrap();
        assert_eq!((got.employee, got.workspace), (agent.id, s.workspace.id));
        assert!(f.inbox.authenticate(&token(1), &[TokenKind::ApiKey]).await.unwrap().is_none());
        f.inbox.issue_token(agent.id, TokenKind::Session, &token(2), Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
        assert!(f.inbox.authenticate(&token(2), &[TokenKind::Session]).await.unwrap().is_none());
        f.inbox.revoke_token(&token(1)).await.unwrap();
        assert!(f.inbox.authenticate(&token(1), &[TokenKind::Session]).await.unwrap().is_none());

        // Tickets are used once.
        f.inbox.issue_token(agent.id, TokenKind::Ticket, &token(3), later).await.unwrap();
        assert!(f.inbox.consume_ticket(&token(3)).await.unwrap().is_some());
        assert!(f.inbox.consume_ticket(&token(3)).await.unwrap().is_none());

        // API keys: owners and admins, never an agent; an admin not for an owner.
        assert_eq!(f.inbox.create_api_key(agent.id, agent.id, &token(4), "bot").await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        assert_eq!(f.inbox.create_api_key(admin.id, s.owner.id, &token(4), "bot").await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        let key = f.inbox.create_api_key(admin.id, agent.id, &token(4), "crm sync").await.unwrap();
        assert!(f.inbox.authenticate(&token(4), &[TokenKind::ApiKey]).await.unwrap().is_some());
        assert_eq!(f.inbox.api_keys(s.owner.id).await.unwrap().len(), 1);
        assert_eq!(f.inbox.api_keys(agent.id).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        // A removed employee's tokens stop working at once.
        f.inbox.issue_token(agent.id, TokenKind::Session, &token(5), later).await.unwrap();
        f.inbox.remove_employee(s.owner.id, agent.id).await.unwrap();
        assert!(f.inbox.authenticate(&token(4), &[TokenKind::ApiKey]).await.unwrap().is_none());
        assert!(f.inbox.authenticate(&token(5), &[TokenKind::Session]).await.unwrap().is_none());
        assert!(f.inbox.login_credentials("boris.p").await.unwrap().is_none());
        f.inbox.revoke_api_key(s.owner.id, key.id).await.unwrap();
        assert!(f.inbox.api_keys(s.owner.id).await.unwrap().is_empty());
        assert!(f.inbox.purge_expired_tokens().await.unwrap() >= 3);
        // The purge of the workspace takes logins and tokens with it.
        let act = f.inbox.purge_workspace(s.owner.id, "withdrawn").await.unwrap();
        assert_eq!(act.what["employee_logins"], 2);
        assert!(f.inbox.login_credentials("anna").await.unwrap().is_none());
    }

    async fn a_lease_has_one_holder_and_moves_when_it_runs_out(f: Fixture) {
        let other = f.reopen().await;
        let ttl = Duration::from_millis(800);
        let a = f.inbox.acquire_lease("poll:1", "node-a", ttl).await.unwrap().unwrap();
        assert!(other.acquire_lease("poll:1", "node-b", ttl).await.unwrap().is_none());
        // Held by a: renewals work, b still cannot take it.
        let a = f.inbox.renew_lease(&a, ttl).await.unwrap().unwrap();
        assert!(other.acquire_lease("poll:1", "node-b", ttl).await.unwrap().is_none());
        // a stops renewing (it died): after the lease runs out, b takes it, and a cannot renew.
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        let b = other.acquire_lease("poll:1", "node-b", ttl).await.unwrap().unwrap();
        assert!(b.epoch > a.epoch);
        assert!(f.inbox.renew_lease(&a, ttl).await.unwrap().is_none());
        assert_eq!(f.inbox.lease("poll:1").await.unwrap().unwrap().holder, "node-b");
        // Released: free at once.
        other.release_lease(&b).await.unwrap();
        assert!(f.inbox.acquire_lease("poll:1", "node-a", ttl).await.unwrap().is_some());
        // Many contenders at once: exactly one wins.
        let contenders: Vec<_> = (0..6).map(|i| {
            let inbox = if i % 2 == 0 { f.inbox.clone() } else { other.clone() };
            tokio::spawn(async move { inbox.acquire_lease("poll:2", &format!("node-{i}"), Duration::from_secs(30)).await.unwrap() })
        }).collect();
        let mut winners = 0;
        for c in contenders {
            winners += usize::from(c.await.unwrap().is_some());
        }
        assert_eq!(winners, 1);
    }

    async fn a_repeated_client_key_returns_the_first_row(f: Fixture) {
        let s = f.seed().await;
        let stubs = with_stubs(&f.inbox);
        let agent = f.inbox.add_employee(s.owner.id, "Boris", Role::Agent).await.unwrap();
        f.inbox.grant(s.owner.id, agent.id, s.account.id, Permissions::REPLY).await.unwrap();
        f.inbox.ingest(s.account.id, &[tg("1", "1", "hi"), tg("2", "1", "hi")]).await.unwrap();
        let c1 = conversation_of(&f, &s.owner, &s.account, "1").await;
        let c2 = conversation_of(&f, &s.owner, &s.account, "2").await;
        let (first, replay) = f.inbox.send_idempotent(agent.id, c1, Draft::text("once"), "k-1").await.unwrap();
        assert!(!replay);
        let (again, replay) = f.inbox.send_idempotent(agent.id, c1, Draft::text("once"), "k-1").await.unwrap();
        assert!(replay);
        assert_eq!(again.id, first.id);
        // Concurrent repeats, from two processes: one row.
        let other = f.reopen().await;
        let tasks: Vec<_> = (0..6).map(|i| {
            let inbox = if i % 2 == 0 { f.inbox.clone() } else { other.clone() };
            let id = agent.id;
            tokio::spawn(async move { inbox.send_idempotent(id, c1, Draft::text("burst"), "k-2").await.unwrap() })
        }).collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().0.id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "one outbox row for one key");
        // The key is the employee's: the owner's k-1 is another send; another conversation is a conflict.
        let (owners, replay) = f.inbox.send_idempotent(s.owner.id, c1, Draft::text("owner"), "k-1").await.unwrap();
        assert!(!replay && owners.id != first.id);
        assert_eq!(f.inbox.send_idempotent(agent.id, c2, Draft::text("x"), "k-1").await.unwrap_err().kind(), InboxErrorKind::Conflict);
        assert_eq!(f.inbox.send_idempotent(agent.id, c1, Draft::text("x"), "").await.unwrap_err().kind(), InboxErrorKind::InvalidInput);
        f.inbox.worker("w").run_until_idle(Duration::from_secs(20)).await.unwrap();
        let texts = stubs.stub(s.account.id).texts();
        assert_eq!(texts.iter().filter(|t| t.contains("once")).count(), 1);
        assert_eq!(texts.iter().filter(|t| t.contains("burst")).count(), 1);
        assert_eq!(f.inbox.outbox_entry(agent.id, first.id).await.unwrap().state, OutboxState::Sent);
        let counts = f.inbox.outbox_counts().await.unwrap();
        assert_eq!(counts.iter().filter(|c| c.state == "sent").map(|c| c.count).sum::<u64>(), 3);
    }

    async fn service_reads_for_the_server(f: Fixture) {
        let s = f.seed().await;
        let agent = f.inbox.add_employee(s.owner.id, "Boris", Role::Agent).await.unwrap();
        f.inbox.ping().await.unwrap();
        assert_eq!(f.inbox.accounts_unchecked().await.unwrap().len(), 1);
        assert_eq!(f.inbox.permissions(agent.id, s.account.id).await.unwrap(), Permissions::NONE);
        f.inbox.grant(s.owner.id, agent.id, s.account.id, Permissions::ALL).await.unwrap();
        // Capped by the role.
        assert_eq!(f.inbox.permissions(agent.id, s.account.id).await.unwrap(), Permissions::REPLY);
        assert_eq!(f.inbox.grants(s.owner.id).await.unwrap().len(), 1);
        assert_eq!(f.inbox.me(agent.id).await.unwrap().role, Role::Agent);
        f.inbox.ingest(s.account.id, &[tg("1", "1", "hi")]).await.unwrap();
        let c = conversation_of(&f, &s.owner, &s.account, "1").await;
        let summary = f.inbox.conversation(agent.id, c).await.unwrap();
        assert_eq!((summary.unread, summary.account), (1, s.account.id));
        let viewer = f.inbox.add_employee(s.owner.id, "Gleb", Role::Viewer).await.unwrap();
        assert_eq!(f.inbox.conversation(viewer.id, c).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        let secret = f.secrets.insert("refresh", "r-1");
        assert_eq!(f.inbox.set_account_secret(agent.id, s.account.id, "refresh_token", secret.clone()).await.unwrap_err().kind(), InboxErrorKind::Forbidden);
        f.inbox.set_account_secret(s.owner.id, s.account.id, "refresh_token", secret).await.unwrap();
        let account = f.inbox.account_unchecked(s.account.id).await.unwrap();
        assert!(account.secrets.contains_key("refresh_token") && account.secrets.contains_key("token"));
    }
}
