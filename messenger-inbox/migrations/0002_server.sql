-- messenger-inbox schema, version 2: what the server of the module (messenger-server) keeps.
-- Same placeholders as 0001. No foreign keys: the purges delete these rows explicitly.

-- Employees' sign-in: a login and an argon2 hash (a PHC string); never a password in clear.
CREATE TABLE employee_logins (
    employee_id {INT} PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    updated_at {INT} NOT NULL
);

-- Bearer credentials: sign-in sessions, API keys of machines, one-use tickets of event
-- streams. Only the SHA-256 of a token is kept: a copy of the database signs nobody in.
CREATE TABLE access_tokens (
    id {ID},
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    employee_id {INT} NOT NULL,
    workspace_id {INT} NOT NULL,
    name TEXT,
    created_at {INT} NOT NULL,
    expires_at {INT},
    last_used_at {INT},
    revoked {INT} NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_employee ON access_tokens(employee_id);
CREATE INDEX access_tokens_workspace ON access_tokens(workspace_id, kind);

-- Leases: one holder at a time per name until `until` (a poller of an account across nodes).
-- `epoch` grows with every new holder, so a holder that lost its lease cannot renew it.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until {INT} NOT NULL,
    epoch {INT} NOT NULL
);

-- A client's idempotency key of a send: a repeated key finds the first outbox row.
CREATE TABLE send_keys (
    employee_id {INT} NOT NULL,
    client_key TEXT NOT NULL,
    outbox_id {INT} NOT NULL,
    created_at {INT} NOT NULL,
    PRIMARY KEY (employee_id, client_key)
);
CREATE INDEX send_keys_outbox ON send_keys(outbox_id);
