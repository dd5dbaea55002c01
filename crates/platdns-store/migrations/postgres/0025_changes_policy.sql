-- The change feed (0024) also carries what a DNS node enforces besides its
-- zones (issue 19): 'restriction' when a contract's restriction starts or
-- ends (R4.2), 'transfer_policy' when a transfer ACL, a primary, a TSIG key
-- or a zone's common configuration changes. Nodes refresh those on the
-- entry instead of reading them every second or two.
-- TG_ARGV[0]: the kind; TG_ARGV[1]: the column naming the subject.
CREATE FUNCTION platdns_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    INSERT INTO changes (kind, subject_id) VALUES (TG_ARGV[0], (to_jsonb(r) ->> TG_ARGV[1])::BIGINT);
    PERFORM pg_notify('platdns_changes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER restrictions_changed AFTER INSERT OR UPDATE ON restrictions
    FOR EACH ROW EXECUTE FUNCTION platdns_policy_changed('restriction', 'contract_id');
CREATE TRIGGER cc_sec_transfer_acls_changed AFTER INSERT OR UPDATE OR DELETE ON cc_sec_transfer_acls
    FOR EACH ROW EXECUTE FUNCTION platdns_policy_changed('transfer_policy', 'common_config_id');
CREATE TRIGGER cc_primaries_changed AFTER INSERT OR UPDATE OR DELETE ON cc_primaries
    FOR EACH ROW EXECUTE FUNCTION platdns_policy_changed('transfer_policy', 'common_config_id');
CREATE TRIGGER tsig_keys_changed AFTER INSERT OR UPDATE OR DELETE ON tsig_keys
    FOR EACH ROW EXECUTE FUNCTION platdns_policy_changed('transfer_policy', 'id');
CREATE TRIGGER zones_transfer_changed AFTER UPDATE ON zones FOR EACH ROW
    WHEN (OLD.common_config_id IS DISTINCT FROM NEW.common_config_id
       OR OLD.zone_proxy_enabled IS DISTINCT FROM NEW.zone_proxy_enabled)
    EXECUTE FUNCTION platdns_policy_changed('transfer_policy', 'id');
