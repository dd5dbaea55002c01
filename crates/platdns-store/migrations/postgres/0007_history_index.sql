-- A zone's histories are listed by zone; without this every list scans all
-- zones' histories, one row per commit ever made.
CREATE INDEX zone_histories_zone ON zone_histories(zone_id, id);
