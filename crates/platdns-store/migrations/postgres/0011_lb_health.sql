-- The last known result of each health check (target + check, by its
-- stable hash), so a restarted node answers as before instead of "all down".
CREATE TABLE lb_health (
    key_hash   TEXT PRIMARY KEY,
    target     TEXT NOT NULL,
    result     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
