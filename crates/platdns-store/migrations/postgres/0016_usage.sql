-- Contract usage (SPEC R2.1, R4.4): each DNS node writes, once a second,
-- how many queries each service's answers counted (answered) and how many
-- a restriction took (restricted). A contract's figure is the sum over
-- nodes. Seconds are rolled up into minutes (kept 90 days) and months.
CREATE TABLE usage_seconds (
    node         TEXT NOT NULL,
    second       BIGINT NOT NULL,
    contract_id  BIGINT NOT NULL,
    service_kind TEXT NOT NULL,
    service_id   BIGINT NOT NULL,
    answered     BIGINT NOT NULL,
    restricted   BIGINT NOT NULL,
    PRIMARY KEY (node, second, service_kind, service_id)
);
CREATE INDEX usage_seconds_contract ON usage_seconds(contract_id, second);
CREATE INDEX usage_seconds_second ON usage_seconds(second);
CREATE TABLE usage_minutes (
    minute       BIGINT NOT NULL,
    contract_id  BIGINT NOT NULL,
    service_kind TEXT NOT NULL,
    service_id   BIGINT NOT NULL,
    answered     BIGINT NOT NULL,
    restricted   BIGINT NOT NULL,
    PRIMARY KEY (minute, service_kind, service_id)
);
CREATE INDEX usage_minutes_contract ON usage_minutes(contract_id, minute);
-- R4.3: each restriction of a contract, with its cause and its end.
CREATE TABLE restrictions (
    id            BIGSERIAL PRIMARY KEY,
    contract_id   BIGINT NOT NULL REFERENCES contracts(id),
    started_at    TEXT NOT NULL,
    ends_at       TEXT NOT NULL,
    ended_at      TEXT,
    measured_mqps BIGINT NOT NULL,
    limit_qps     BIGINT NOT NULL,
    window_secs   BIGINT NOT NULL,
    action        TEXT NOT NULL,
    freeze_changes BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX restrictions_contract ON restrictions(contract_id, started_at);
-- The operator's restriction policy for one contract, overriding its
-- plan's (JSON of platdns_contract::usage::RestrictionPolicy; NULL: none).
CREATE TABLE restriction_overrides (
    contract_id BIGINT PRIMARY KEY REFERENCES contracts(id),
    policy      TEXT
);
