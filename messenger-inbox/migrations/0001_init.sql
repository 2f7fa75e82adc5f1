-- messenger-inbox schema, version 1.
-- Written once for both backends: {ID} is the integer primary key, {INT} a 64-bit integer,
-- {BLOB} bytes. Timestamps are microseconds since the Unix epoch; flags are 0/1.

-- The business (the operator of its customers' personal data).
CREATE TABLE workspaces (
    id {ID},
    name TEXT NOT NULL,
    created_at {INT} NOT NULL
);

CREATE TABLE employees (
    id {ID},
    workspace_id {INT} NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    active {INT} NOT NULL DEFAULT 1,
    created_at {INT} NOT NULL
);
CREATE INDEX employees_workspace ON employees(workspace_id);

-- A connected messenger account. Credentials are never here: `secrets` holds references
-- (env:NAME, file:/path, ...) that a resolver outside the database turns into values.
CREATE TABLE accounts (
    id {ID},
    workspace_id {INT} NOT NULL REFERENCES workspaces(id),
    platform TEXT NOT NULL,
    display_name TEXT NOT NULL,
    state TEXT NOT NULL,
    settings TEXT NOT NULL,
    secrets TEXT NOT NULL,
    health TEXT,
    created_at {INT} NOT NULL,
    updated_at {INT} NOT NULL
);
CREATE INDEX accounts_workspace ON accounts(workspace_id);

CREATE TABLE grants (
    employee_id {INT} NOT NULL REFERENCES employees(id),
    account_id {INT} NOT NULL REFERENCES accounts(id),
    can_read {INT} NOT NULL,
    can_reply {INT} NOT NULL,
    can_manage {INT} NOT NULL,
    PRIMARY KEY (employee_id, account_id)
);
CREATE INDEX grants_account ON grants(account_id);

-- The data subjects: one per account and conversation id. chat_id and user_id are NULL once
-- anonymised.
CREATE TABLE customers (
    id {ID},
    workspace_id {INT} NOT NULL,
    account_id {INT} NOT NULL REFERENCES accounts(id),
    platform TEXT NOT NULL,
    chat_id TEXT,
    user_id TEXT,
    display_name TEXT,
    state TEXT NOT NULL,
    first_inbound_at {INT},
    last_inbound_at {INT},
    created_at {INT} NOT NULL
);
CREATE INDEX customers_account ON customers(account_id);

-- Every id a customer was known by on the account (relinked on id_changed).
CREATE TABLE customer_ids (
    account_id {INT} NOT NULL,
    chat_id TEXT NOT NULL,
    customer_id {INT} NOT NULL REFERENCES customers(id),
    PRIMARY KEY (account_id, chat_id)
);
CREATE INDEX customer_ids_customer ON customer_ids(customer_id);

CREATE TABLE conversations (
    id {ID},
    workspace_id {INT} NOT NULL,
    account_id {INT} NOT NULL REFERENCES accounts(id),
    customer_id {INT} NOT NULL UNIQUE REFERENCES customers(id),
    assigned_to {INT},
    last_message_at {INT},
    created_at {INT} NOT NULL
);
CREATE INDEX conversations_account ON conversations(account_id, last_message_at);

-- Messages both ways, unique on the platform's id per direction (intake is idempotent; a
-- platform may number both directions of a chat separately).
CREATE TABLE messages (
    id {ID},
    workspace_id {INT} NOT NULL,
    account_id {INT} NOT NULL,
    conversation_id {INT} NOT NULL REFERENCES conversations(id),
    chat_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    platform_message_id TEXT,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    search_text TEXT NOT NULL,
    sender_employee {INT},
    status TEXT,
    status_error TEXT,
    outbox_id {INT},
    sent_at {INT} NOT NULL,
    edited {INT} NOT NULL DEFAULT 0,
    anonymised {INT} NOT NULL DEFAULT 0,
    created_at {INT} NOT NULL,
    UNIQUE (account_id, chat_id, direction, platform_message_id)
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);

-- Every platform id of an outbound message (a long text goes out in several parts): where
-- statuses find their message.
CREATE TABLE message_parts (
    account_id {INT} NOT NULL,
    chat_id TEXT NOT NULL,
    platform_message_id TEXT NOT NULL,
    message_id {INT} NOT NULL,
    part_no {INT} NOT NULL,
    PRIMARY KEY (account_id, chat_id, platform_message_id)
);
CREATE INDEX message_parts_message ON message_parts(message_id);

-- The durable outbox: a send is a row before it is a request.
CREATE TABLE outbox (
    id {ID},
    workspace_id {INT} NOT NULL,
    account_id {INT} NOT NULL,
    conversation_id {INT} NOT NULL,
    message_id {INT} NOT NULL,
    chat_id TEXT NOT NULL,
    draft TEXT NOT NULL,
    media {BLOB},
    idempotency_key TEXT NOT NULL UNIQUE,
    dedup {INT} NOT NULL,
    unsolicited {INT} NOT NULL,
    state TEXT NOT NULL,
    attempts {INT} NOT NULL DEFAULT 0,
    next_attempt_at {INT} NOT NULL,
    lease_until {INT},
    worker TEXT,
    error_kind TEXT,
    error_message TEXT,
    created_by {INT},
    created_at {INT} NOT NULL,
    updated_at {INT} NOT NULL
);
CREATE INDEX outbox_state ON outbox(state, next_attempt_at);
CREATE INDEX outbox_conversation ON outbox(conversation_id, state);
CREATE INDEX outbox_account_unsolicited ON outbox(account_id, unsolicited, created_at);

-- Unread counters are derived from these marks, never kept as counters.
CREATE TABLE conversation_reads (
    employee_id {INT} NOT NULL,
    conversation_id {INT} NOT NULL,
    last_seen_message_id {INT} NOT NULL,
    PRIMARY KEY (employee_id, conversation_id)
);
CREATE INDEX conversation_reads_conversation ON conversation_reads(conversation_id);

-- Intake from a blocked customer: the fact, never the content.
CREATE TABLE blocked_intake (
    account_id {INT} NOT NULL,
    chat_id TEXT NOT NULL,
    platform_message_id TEXT NOT NULL,
    customer_id {INT} NOT NULL,
    received_at {INT} NOT NULL,
    PRIMARY KEY (account_id, chat_id, platform_message_id)
);
CREATE INDEX blocked_intake_customer ON blocked_intake(customer_id);

-- Who did (or was refused) what. Targets are internal ids, never personal data.
CREATE TABLE audit_log (
    id {ID},
    workspace_id {INT},
    employee_id {INT},
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at {INT} NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_id, id);

-- Who read or exported which customer's data.
CREATE TABLE processing_log (
    id {ID},
    workspace_id {INT} NOT NULL,
    employee_id {INT},
    customer_id {INT},
    account_id {INT},
    operation TEXT NOT NULL,
    at {INT} NOT NULL
);
CREATE INDEX processing_log_workspace ON processing_log(workspace_id, id);

-- Acts of destruction: what, when, by whom, on what ground; no personal data.
CREATE TABLE destruction_acts (
    id {ID},
    workspace_id {INT} NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    what TEXT NOT NULL,
    ground TEXT NOT NULL,
    by_employee {INT},
    by_service {INT} NOT NULL,
    at {INT} NOT NULL
);

-- Requests of data subjects, forwarded to the workspace owner (the service never answers).
CREATE TABLE subject_requests (
    id {ID},
    workspace_id {INT} NOT NULL,
    account_id {INT},
    customer_id {INT},
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    details TEXT NOT NULL,
    state TEXT NOT NULL,
    forwarded_to {INT},
    received_at {INT} NOT NULL,
    closed_at {INT},
    closed_by {INT}
);

-- messenger-core's stores --------------------------------------------------------------------

CREATE TABLE agreement_editions (
    seq {ID},
    edition_id TEXT NOT NULL UNIQUE,
    published {INT} NOT NULL,
    url TEXT NOT NULL,
    text_sha256 TEXT NOT NULL
);

CREATE TABLE module_states (
    account TEXT PRIMARY KEY,
    active {INT} NOT NULL,
    edition TEXT NOT NULL,
    changed_at {INT} NOT NULL
);

-- The keyed acceptance log: append-only, seq without gaps (the key is never here).
CREATE TABLE acceptance_records (
    seq {INT} PRIMARY KEY,
    owner TEXT NOT NULL,
    edition TEXT NOT NULL,
    edition_sha256 TEXT NOT NULL,
    accepted_at {INT} NOT NULL,
    method TEXT NOT NULL,
    evidence TEXT NOT NULL,
    key_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE platform_suspensions (
    platform TEXT PRIMARY KEY,
    at {INT} NOT NULL
);

CREATE TABLE opt_outs (
    account TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    cause TEXT NOT NULL,
    at {INT} NOT NULL,
    PRIMARY KEY (account, platform, chat)
);

CREATE TABLE contact_log (
    account TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    at {INT} NOT NULL,
    PRIMARY KEY (account, platform, chat)
);

CREATE TABLE reply_windows (
    scope TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    last_inbound {INT} NOT NULL,
    PRIMARY KEY (scope, platform, chat)
);

CREATE TABLE seen_events (
    event_key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    seen_at {INT} NOT NULL
);
CREATE INDEX seen_events_scope ON seen_events(scope, seen_at);

CREATE TABLE delivery_statuses (
    scope TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    updated_at {INT} NOT NULL,
    PRIMARY KEY (scope, platform, chat, message)
);
