-- DPF common_configs: settings shared by a contract's zones and LB domains
-- (today: notice accounts; transfer settings come with issue 8). One per
-- contract is the default, applied to zones and LB domains created later.
CREATE TABLE common_configs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id         INTEGER NOT NULL REFERENCES contracts(id),
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    is_default          INTEGER NOT NULL DEFAULT 0,
    managed_dns_enabled INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    UNIQUE (contract_id, name)
);
-- DPF cc_notice_accounts: who hears of an LB domain's state changes.
CREATE TABLE cc_notice_accounts (
    common_config_id INTEGER NOT NULL REFERENCES common_configs(id),
    resource_name    TEXT NOT NULL,
    name             TEXT NOT NULL,
    lang             TEXT NOT NULL,
    mail             TEXT NOT NULL DEFAULT '',
    phone_country    TEXT NOT NULL DEFAULT '',
    phone_number     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (common_config_id, resource_name)
);
ALTER TABLE zones ADD COLUMN common_config_id INTEGER REFERENCES common_configs(id);
ALTER TABLE lb_domains ADD COLUMN common_config_id INTEGER REFERENCES common_configs(id);
-- Every existing contract gets its default, and its services point at it.
INSERT INTO common_configs (contract_id, name, is_default, created_at)
    SELECT id, 'default', 1, created_at FROM contracts;
UPDATE zones SET common_config_id =
    (SELECT c.id FROM common_configs c WHERE c.contract_id = zones.contract_id AND c.is_default = 1);
UPDATE lb_domains SET common_config_id =
    (SELECT c.id FROM common_configs c WHERE c.contract_id = lb_domains.contract_id AND c.is_default = 1);
-- Notifications waiting for delivery or delivered (the outbox): a state
-- change writes one row per channel and recipient; the deliverer retries
-- with backoff until `delivered_at` or `failed_at` is set.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id     INTEGER NOT NULL REFERENCES contracts(id),
    lb_domain_id    INTEGER,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    failed_at       TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX notifications_due ON notifications(delivered_at, failed_at, next_attempt_at);
