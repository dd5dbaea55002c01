-- The change feed (issue 19): one entry per change of what a DNS node
-- serves, written by triggers inside the changing transaction, so that no
-- writer can forget it. A following node applies the entries after the last
-- one it applied instead of scanning every zone, and wakes on NOTIFY
-- platdns_changes. `kind` is 'zone', 'lb_domain' (its configuration, rule or
-- endpoint states) or 'contract' (its end day or state); `name` is the zone's
-- or LB domain's name, so a node can withdraw one that is gone.
CREATE TABLE changes (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    name       TEXT NOT NULL DEFAULT ''
);

-- TG_ARGV[0]: the kind; the subject is the row's id, or its lb_domain_id
-- for an endpoint state. NOTIFY is sent at commit, once per transaction.
CREATE FUNCTION platdns_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF TG_TABLE_NAME = 'lb_endpoint_states' THEN
        INSERT INTO changes (kind, subject_id) VALUES (TG_ARGV[0], r.lb_domain_id);
    ELSIF TG_TABLE_NAME = 'contracts' THEN
        INSERT INTO changes (kind, subject_id) VALUES (TG_ARGV[0], r.id);
    ELSE
        INSERT INTO changes (kind, subject_id, name) VALUES (TG_ARGV[0], r.id, r.name);
    END IF;
    PERFORM pg_notify('platdns_changes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER zones_added_or_removed AFTER INSERT OR DELETE ON zones
    FOR EACH ROW EXECUTE FUNCTION platdns_changed('zone');
CREATE TRIGGER zones_changed AFTER UPDATE ON zones FOR EACH ROW
    WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.eligibility IS DISTINCT FROM NEW.eligibility
       OR OLD.contract_id IS DISTINCT FROM NEW.contract_id
       OR OLD.zone_proxy_enabled IS DISTINCT FROM NEW.zone_proxy_enabled)
    EXECUTE FUNCTION platdns_changed('zone');

CREATE TRIGGER lb_domains_added_or_removed AFTER INSERT OR DELETE ON lb_domains
    FOR EACH ROW EXECUTE FUNCTION platdns_changed('lb_domain');
CREATE TRIGGER lb_domains_changed AFTER UPDATE ON lb_domains FOR EACH ROW
    WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.state IS DISTINCT FROM NEW.state
       OR OLD.config IS DISTINCT FROM NEW.config OR OLD.rule_resource_name IS DISTINCT FROM NEW.rule_resource_name
       OR OLD.contract_id IS DISTINCT FROM NEW.contract_id)
    EXECUTE FUNCTION platdns_changed('lb_domain');

CREATE TRIGGER lb_endpoint_states_added_or_removed AFTER INSERT OR DELETE ON lb_endpoint_states
    FOR EACH ROW EXECUTE FUNCTION platdns_changed('lb_domain');
CREATE TRIGGER lb_endpoint_states_changed AFTER UPDATE ON lb_endpoint_states FOR EACH ROW
    WHEN (OLD.live IS DISTINCT FROM NEW.live OR OLD.ready IS DISTINCT FROM NEW.ready
       OR OLD.flags IS DISTINCT FROM NEW.flags)
    EXECUTE FUNCTION platdns_changed('lb_domain');

CREATE TRIGGER contracts_changed AFTER UPDATE ON contracts FOR EACH ROW
    WHEN (OLD.ends_on IS DISTINCT FROM NEW.ends_on OR OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION platdns_changed('contract');
