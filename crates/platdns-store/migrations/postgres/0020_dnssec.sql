-- DNSSEC of a hosted zone (issue 8; DPF dnssec, ds_records). `keys` is the
-- signer's key state (platdns_dnssec::KeyState::seal): private keys sealed
-- under the operator key, never stored in the clear.
CREATE TABLE zone_dnssec (
    zone_id         BIGINT PRIMARY KEY REFERENCES zones(id),
    enabled         BIGINT NOT NULL DEFAULT 0,
    state           BIGINT NOT NULL DEFAULT 0,
    ds_state        BIGINT NOT NULL DEFAULT 0,
    keys            TEXT NOT NULL DEFAULT '',
    ds_transited_at TEXT,
    updated_at      TEXT NOT NULL
);
