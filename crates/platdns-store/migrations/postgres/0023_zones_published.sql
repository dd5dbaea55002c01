-- DPF zone state 2 (published) from a zone's first commit on; zones
-- committed before this migration were left at 1.
UPDATE zones SET state = 2 WHERE id IN (SELECT zone_id FROM zone_histories);
