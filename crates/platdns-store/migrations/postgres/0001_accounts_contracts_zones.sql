-- Accounts, tokens, contracts, zones, records, histories, jobs, logs.
CREATE TABLE accounts (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT REFERENCES accounts(id),
    -- SHA-256 of the secret, hex; the secret itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    -- 'operator' for the platform operator, else a space-separated DPF scope list.
    scopes      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE contracts (
    id              BIGSERIAL PRIMARY KEY,
    public_id       TEXT NOT NULL UNIQUE,
    service_code    TEXT NOT NULL UNIQUE,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    plan            BIGINT NOT NULL,
    extra_qps       BIGINT NOT NULL DEFAULT 0,
    state           BIGINT NOT NULL,
    favorite        BIGINT NOT NULL DEFAULT 2,
    description     TEXT NOT NULL DEFAULT '',
    notice_received TEXT,
    ends_on         TEXT,
    created_at      TEXT NOT NULL
);

-- Per-contract roles a token carries (DPF: viewer / operator).
CREATE TABLE token_contracts (
    token_id    BIGINT NOT NULL REFERENCES api_tokens(id),
    contract_id BIGINT NOT NULL REFERENCES contracts(id),
    role        TEXT NOT NULL,
    PRIMARY KEY (token_id, contract_id)
);

-- R5.1: every change request, with the time it was accepted.
CREATE TABLE change_requests (
    id          BIGSERIAL PRIMARY KEY,
    contract_id BIGINT NOT NULL REFERENCES contracts(id),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    accepted_at TEXT NOT NULL
);

CREATE TABLE zones (
    id               BIGSERIAL PRIMARY KEY,
    public_id        TEXT NOT NULL UNIQUE,
    service_code     TEXT NOT NULL UNIQUE,
    contract_id      BIGINT NOT NULL REFERENCES contracts(id),
    name             TEXT NOT NULL,
    network          TEXT,
    state            BIGINT NOT NULL,
    favorite         BIGINT NOT NULL DEFAULT 2,
    description      TEXT NOT NULL DEFAULT '',
    default_ttl      BIGINT NOT NULL DEFAULT 3600,
    -- R3.1: pending | txt | delegation | operator
    eligibility      TEXT NOT NULL,
    eligibility_token TEXT NOT NULL,
    approved_by      TEXT,
    approval_reason  TEXT,
    serial           BIGINT NOT NULL,
    -- Bumped by every commit: the ETag of the applied zone.
    version          BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX zones_name ON zones(name);

-- One row per DPF record (an RRset: name + rrtype). `applied_*` is what DNS
-- serves; `staged_*` and `pending` what the next commit will make of it.
CREATE TABLE records (
    id             BIGSERIAL PRIMARY KEY,
    public_id      TEXT NOT NULL UNIQUE,
    zone_id        BIGINT NOT NULL REFERENCES zones(id),
    name           TEXT NOT NULL,
    rrtype         TEXT NOT NULL,
    applied_ttl    BIGINT,
    applied_rdata  TEXT,
    staged_ttl     BIGINT,
    staged_rdata   TEXT,
    -- 0 none, 1 add, 2 delete, 3 update (DPF record states)
    pending        BIGINT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    operator       TEXT,
    updated_at     TEXT NOT NULL
);
CREATE INDEX records_zone ON records(zone_id, name, rrtype);

CREATE TABLE zone_histories (
    id           BIGSERIAL PRIMARY KEY,
    zone_id      BIGINT NOT NULL REFERENCES zones(id),
    serial       BIGINT NOT NULL,
    committed_at TEXT NOT NULL,
    operator     TEXT,
    description  TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL
);

CREATE TABLE jobs (
    request_id    TEXT PRIMARY KEY,
    account_id    BIGINT,
    status        TEXT NOT NULL,
    resources_url TEXT,
    error_type    TEXT,
    error_message TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);

-- Operation logs, kept at least 90 days (R11.4).
CREATE TABLE operation_logs (
    id          BIGSERIAL PRIMARY KEY,
    contract_id BIGINT,
    zone_id     BIGINT,
    at          TEXT NOT NULL,
    operator    TEXT,
    operation   TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    status      TEXT NOT NULL
);
