-- Health monitors at several locations (issue 5): each monitor process
-- writes its own debounced result of each check it runs, and a heartbeat;
-- the API combines the results of the monitors that are alive (lb_health
-- keeps the combined, last known result).
CREATE TABLE lb_probe_results (
    key_hash   TEXT NOT NULL,
    location   TEXT NOT NULL,
    target     TEXT NOT NULL,
    result     TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (key_hash, location)
);
CREATE INDEX lb_probe_results_updated ON lb_probe_results(updated_at);
CREATE TABLE lb_monitors (
    instance   TEXT PRIMARY KEY,
    location   TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL,
    checks     INTEGER NOT NULL DEFAULT 0,
    stalled    INTEGER NOT NULL DEFAULT 0
);
