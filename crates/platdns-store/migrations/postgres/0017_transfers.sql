-- Zone transfers out (issue 8), in a zone's common configuration: who may
-- transfer (a network, optionally a TSIG key; DPF cc_sec_transfer_acls)
-- and whom to NOTIFY on every commit (DPF cc_sec_notified_servers).
CREATE TABLE cc_sec_transfer_acls (
    id               BIGSERIAL PRIMARY KEY,
    common_config_id BIGINT NOT NULL REFERENCES common_configs(id),
    network          TEXT NOT NULL,
    tsig_id          BIGINT REFERENCES tsig_keys(id),
    UNIQUE (common_config_id, network)
);
CREATE TABLE cc_sec_notified_servers (
    id               BIGSERIAL PRIMARY KEY,
    common_config_id BIGINT NOT NULL REFERENCES common_configs(id),
    address          TEXT NOT NULL,
    tsig_id          BIGINT REFERENCES tsig_keys(id),
    UNIQUE (common_config_id, address)
);
