-- Issue 7: availability probes, exclusions, prices, invoices, claims.
-- Instants compared in ranges are unix seconds (INTEGER); recorded times are
-- RFC 3339 text like every other table.

-- R6.2: one row per name server x probe point x slot of the probe interval.
CREATE TABLE availability_probes (
    id          BIGSERIAL PRIMARY KEY,
    server      TEXT NOT NULL,
    probe_point TEXT NOT NULL,
    slot_start  BIGINT NOT NULL,
    probed_at   BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    udp_ok      BIGINT NOT NULL,
    tcp_ok      BIGINT NOT NULL,
    zones       BIGINT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    UNIQUE (server, probe_point, slot_start)
);
CREATE INDEX availability_probes_slot ON availability_probes(slot_start);

-- R6.3: periods the operator removes from availability, with who and why.
CREATE TABLE availability_exclusions (
    id          BIGSERIAL PRIMARY KEY,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    author      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

-- App. 2: every version of the price table (a PriceTable as JSON).
CREATE TABLE price_versions (
    id             BIGSERIAL PRIMARY KEY,
    version        TEXT NOT NULL UNIQUE,
    effective_from TEXT NOT NULL UNIQUE,
    body           TEXT NOT NULL,
    author         TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

-- The operator's billing settings (BillingSettings as JSON); one row.
CREATE TABLE billing_settings (
    id         BIGINT PRIMARY KEY,
    body       TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- What billing reads beyond the contract rows: the billing start date
-- (課金開始日) the operator set, and where a migrated contract or service
-- came from (R9.1). kind: contract | zone | lb_domain.
CREATE TABLE billing_origins (
    kind          TEXT NOT NULL,
    object_id     BIGINT NOT NULL,
    billing_start TEXT,
    legacy_id     TEXT,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (kind, object_id)
);

-- Closed months: their invoices are frozen.
CREATE TABLE billing_months (
    month     TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    closed_by TEXT NOT NULL
);

-- One invoice per contract per month (an Invoice as JSON).
CREATE TABLE invoices (
    id          BIGSERIAL PRIMARY KEY,
    contract_id BIGINT NOT NULL REFERENCES contracts(id),
    month       TEXT NOT NULL,
    total       BIGINT NOT NULL,
    body        TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    closed      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (contract_id, month)
);

-- R8.2: claims for service credits and their decisions (ClaimDecision JSON).
CREATE TABLE credit_claims (
    id             BIGSERIAL PRIMARY KEY,
    public_id      TEXT NOT NULL UNIQUE,
    contract_id    BIGINT NOT NULL REFERENCES contracts(id),
    service        TEXT NOT NULL,
    breach_month   TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    filed_by       TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    decision       TEXT,
    decided_at     TEXT,
    credited_month TEXT,
    credit         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX credit_claims_contract ON credit_claims(contract_id, breach_month);
