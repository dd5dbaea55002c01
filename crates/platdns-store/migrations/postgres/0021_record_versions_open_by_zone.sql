-- A whole-set commit closes every open version of its zone
-- (`UPDATE record_versions SET to_version = ... WHERE zone_id = ... AND
-- to_version IS NULL`). Through (zone_id, from_version) that walked every
-- version the zone ever had, so each commit of a large zone was slower than
-- the one before (issue 16: 8-28 s for 100,000 records on PostgreSQL after
-- a few rounds). Open versions by zone are their own index.
CREATE INDEX record_versions_open_by_zone ON record_versions(zone_id) WHERE to_version IS NULL;
