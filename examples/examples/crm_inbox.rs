//! A CRM inbox with two employees on one sandbox, offline:
//!
//! ```sh
//! cargo run -p messenger-examples --example crm_inbox
//! ```
//!
//! A shop connects two Telegram bots (sales and support) to a `messenger-inbox` on an in-memory
//! SQLite database, activates the module (accepting the agreement), and grants Anna the sales
//! bot and Boris the support bot. Customers write to both bots; the inbox takes their messages
//! from the bots' long polls (through the full layer stack). Anna sees and answers only sales,
//! Boris only support: Boris's attempt to read Anna's conversation is refused and audited.
//! Finally a customer asks for their data: the owner exports it as JSON and destroys it, and
//! the act of destruction names no personal data.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use messenger_core::consent::{AcceptanceKey, AgreementEdition};
use messenger_core::registry::BASE_URL;
use messenger_core::{InboundEvent, Platform};
use messenger_inbox::{
    Account, ConversationFilter, DbConfig, Draft, Employee, Inbox, InboxErrorKind, MemoryResolver,
    MessengerProvider, NewAccount, Permissions, Role, StackProvider,
};
use messenger_sandbox::{AccountSpec, CustomerMessage, NewCustomer, Sandbox};

/// Connects one sandbox bot to the inbox: its token as a secret reference, its URL a setting.
async fn connect_bot(
    inbox: &Inbox,
    sandbox: &Sandbox,
    secrets: &MemoryResolver,
    owner: &Employee,
    name: &str,
) -> anyhow::Result<(String, Account)> {
    let bot = sandbox.create_account(&AccountSpec::telegram())?;
    let credentials = sandbox.credentials(&bot.id)?;
    let token = secrets.insert(format!("{name}-token"), credentials.require("token")?);
    let account = inbox
        .add_account(
            owner.id,
            NewAccount::new(Platform::Telegram, name)
                .setting(BASE_URL, credentials.require(BASE_URL)?)
                .secret("token", token),
        )
        .await?;
    inbox
        .activate_account(
            owner.id,
            account.id,
            "2026-05-31",
            "clicked Activate in settings",
        )
        .await?;
    Ok((bot.id, account))
}

/// Takes `n` events from the account's long poll into the inbox.
async fn poll_into_inbox(
    inbox: &Inbox,
    provider: &StackProvider,
    account: &Account,
    n: usize,
) -> anyhow::Result<()> {
    let messenger = provider.messenger(inbox, account).await?;
    let mut updates = messenger.updates()?;
    let mut taken = 0;
    while taken < n {
        let event = tokio::time::timeout(Duration::from_secs(10), updates.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the poll ended"))??;
        if matches!(event, InboundEvent::Message(_)) {
            taken += 1;
        }
        inbox.ingest(account.id, &[event]).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The key of the acceptance log comes from the CRM's secret store in production.
    let key = AcceptanceKey::generate()?;
    let secrets = Arc::new(MemoryResolver::new());
    let inbox = Inbox::builder(DbConfig::sqlite_memory(), key)
        .secret_resolver(secrets.clone())
        .open()
        .await?;
    let provider = Arc::new(StackProvider::new([connector_telegram::ENTRY]));
    inbox.set_provider(provider.clone());
    inbox
        .publish_edition(AgreementEdition::new(
            "2026-05-31",
            Utc::now() - chrono::Duration::days(1),
            "https://crm.example/legal/messengers".parse()?,
            "the agreement text",
        ))
        .await?;

    let sandbox = Sandbox::start("127.0.0.1:0").await?;
    let (_, owner) = inbox
        .create_workspace("Flower shop", "Olga (owner)")
        .await?;
    let (sales_bot, sales) = connect_bot(&inbox, &sandbox, &secrets, &owner, "Sales bot").await?;
    let (support_bot, support) =
        connect_bot(&inbox, &sandbox, &secrets, &owner, "Support bot").await?;
    let anna = inbox.add_employee(owner.id, "Anna", Role::Agent).await?;
    let boris = inbox.add_employee(owner.id, "Boris", Role::Agent).await?;
    inbox
        .grant(owner.id, anna.id, sales.id, Permissions::REPLY)
        .await?;
    inbox
        .grant(owner.id, boris.id, support.id, Permissions::REPLY)
        .await?;
    println!(
        "workspace ready: Anna answers {}, Boris answers {}",
        sales.display_name, support.display_name
    );

    // Customers write.
    let ivan = sandbox.create_customer(&sales_bot, &NewCustomer::named("Ivan"))?;
    let maria = sandbox.create_customer(&support_bot, &NewCustomer::named("Maria"))?;
    sandbox.customer_sends(
        &sales_bot,
        &ivan.id,
        &CustomerMessage::text("Do you deliver roses today?"),
    )?;
    sandbox.customer_sends(
        &support_bot,
        &maria.id,
        &CustomerMessage::text("My order has not arrived"),
    )?;
    poll_into_inbox(&inbox, &provider, &sales, 1).await?;
    poll_into_inbox(&inbox, &provider, &support, 1).await?;

    // Each employee sees only what they were granted.
    let annas = inbox
        .conversations(anna.id, ConversationFilter::default())
        .await?;
    let boris_list = inbox
        .conversations(boris.id, ConversationFilter::default())
        .await?;
    println!(
        "Anna sees {} conversation(s) ({} unread); Boris sees {}",
        annas.len(),
        annas[0].unread,
        boris_list.len()
    );
    assert!(annas.iter().all(|c| c.account == sales.id));
    assert!(boris_list.iter().all(|c| c.account == support.id));
    let refused = inbox
        .history(boris.id, annas[0].id, None, 20)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), InboxErrorKind::Forbidden);
    println!("Boris opens Anna's conversation: {refused}");
    let hits = inbox.search(boris.id, "roses", 10).await?;
    println!("Boris searches for \"roses\": {} result(s)", hits.len());

    // Anna answers through the durable outbox; a worker sends it.
    let history = inbox.history(anna.id, annas[0].id, None, 20).await?;
    println!("Anna reads: {:?}", history[0].content.text().unwrap_or(""));
    inbox
        .send(
            anna.id,
            annas[0].id,
            Draft::text("Yes, until 8 pm. Which bouquet?"),
        )
        .await?;
    inbox.mark_read(anna.id, annas[0].id, None).await?;
    inbox
        .worker("example")
        .run_until_idle(Duration::from_secs(20))
        .await?;
    for m in sandbox.received(&sales_bot, &ivan.id)? {
        println!("Ivan's phone shows: {:?}", m.text.unwrap_or_default());
    }
    println!("Anna's unread now: {}", inbox.unread_total(anna.id).await?);

    // Ivan asks for his data: the owner exports it, then destroys it.
    let ivan_customer = annas[0].customer;
    let export = inbox.export_customer(owner.id, ivan_customer).await?;
    println!(
        "export of customer {}: {} message(s), known ids {}, {} bytes of JSON",
        ivan_customer,
        export["conversation"]["messages"]
            .as_array()
            .map_or(0, Vec::len),
        export["known_ids"],
        export.to_string().len()
    );
    let act = inbox
        .destroy_customer(
            owner.id,
            ivan_customer,
            "the data subject's request by e-mail",
        )
        .await?;
    println!("act of destruction: {}", serde_json::to_string(&act)?);
    assert!(
        inbox
            .conversations(anna.id, ConversationFilter::default())
            .await?
            .is_empty()
    );
    println!("Anna's list after the destruction: empty");
    let denied = inbox
        .audit_log(owner.id, 100)
        .await?
        .into_iter()
        .filter(|r| r.outcome == "denied")
        .count();
    println!("audit log: {denied} refusal(s) recorded");
    sandbox.shutdown().await;
    Ok(())
}
