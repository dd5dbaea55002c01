-- Secondary zones (issue 8; DPF zone_proxy, cc_primaries): a zone whose
-- content is pulled from the customer's primaries by SOA timers and NOTIFY.
CREATE TABLE cc_primaries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    common_config_id INTEGER NOT NULL REFERENCES common_configs(id),
    address          TEXT NOT NULL,
    tsig_id          INTEGER REFERENCES tsig_keys(id),
    enabled          INTEGER NOT NULL DEFAULT 1,
    UNIQUE (common_config_id, address)
);
ALTER TABLE zones ADD COLUMN zone_proxy_enabled INTEGER NOT NULL DEFAULT 0;
-- What was last pulled (the zone's text as transferred), and how each
-- primary answered (JSON), so a restarted node serves the last copy.
CREATE TABLE secondary_zones (
    zone_id      INTEGER PRIMARY KEY REFERENCES zones(id),
    serial       INTEGER NOT NULL,
    text         TEXT NOT NULL,
    pulled_at    TEXT NOT NULL,
    primaries    TEXT NOT NULL DEFAULT '[]'
);
