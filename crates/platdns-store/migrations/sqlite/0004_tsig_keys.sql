-- TSIG keys of a contract (DPF tsigs; RFC 8945). The secret is kept: the
-- platform signs and verifies transfers with it.
CREATE TABLE tsig_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    name        TEXT NOT NULL UNIQUE,
    algorithm   INTEGER NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
