-- DNS traffic management services (DPF lb_domains): one LB name under a
-- contract, its whole configuration (DPF PutConfig JSON, checked by
-- platdns-steering before it is written) and the applied rule.
CREATE TABLE lb_domains (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id          TEXT NOT NULL UNIQUE,
    service_code       TEXT NOT NULL UNIQUE,
    contract_id        INTEGER NOT NULL REFERENCES contracts(id),
    name               TEXT NOT NULL UNIQUE,
    description        TEXT NOT NULL DEFAULT '',
    favorite           INTEGER NOT NULL DEFAULT 2,
    state              INTEGER NOT NULL DEFAULT 1,
    rule_resource_name TEXT NOT NULL DEFAULT '',
    config             TEXT NOT NULL,
    labels             TEXT NOT NULL DEFAULT '{}',
    version            INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL
);
CREATE INDEX lb_domains_contract ON lb_domains(contract_id);
