-- Each applied version of a record, from the commit that applied it to the
-- commit that replaced or deleted it. A commit writes only what it changes;
-- the zone as of any commit is the rows open at that commit's version.
CREATE TABLE record_versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    zone_id      INTEGER NOT NULL REFERENCES zones(id),
    record_id    INTEGER NOT NULL,
    name         TEXT NOT NULL,
    rrtype       TEXT NOT NULL,
    ttl          INTEGER,
    rdata        TEXT NOT NULL,
    from_version INTEGER NOT NULL,
    to_version   INTEGER
);
CREATE INDEX record_versions_open ON record_versions(record_id) WHERE to_version IS NULL;
CREATE INDEX record_versions_zone ON record_versions(zone_id, from_version);
-- A commit finds its staged rows without reading the zone.
CREATE INDEX records_pending ON records(zone_id, pending);
-- Histories written from now on keep no text: version and default TTL say
-- which record versions and which $TTL make it.
ALTER TABLE zone_histories ADD COLUMN version INTEGER;
ALTER TABLE zone_histories ADD COLUMN default_ttl INTEGER;
INSERT INTO record_versions (zone_id, record_id, name, rrtype, ttl, rdata, from_version)
    SELECT r.zone_id, r.id, r.name, r.rrtype, r.applied_ttl, r.applied_rdata, z.version
    FROM records r JOIN zones z ON z.id = r.zone_id
    WHERE r.applied_rdata IS NOT NULL;
