-- TSIG keys of a contract (DPF tsigs; RFC 8945). The secret is kept: the
-- platform signs and verifies transfers with it.
CREATE TABLE tsig_keys (
    id          BIGSERIAL PRIMARY KEY,
    contract_id BIGINT NOT NULL REFERENCES contracts(id),
    name        TEXT NOT NULL UNIQUE,
    algorithm   BIGINT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
