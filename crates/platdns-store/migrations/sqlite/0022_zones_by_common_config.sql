-- The DNS node's transfer policy reads the zones of the common
-- configurations that have an ACL or a primary, not every zone (issue 16).
CREATE INDEX zones_common_config ON zones(common_config_id);
