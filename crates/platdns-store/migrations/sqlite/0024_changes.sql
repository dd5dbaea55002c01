-- The change feed (issue 19): one entry per change of what a DNS node
-- serves, written by triggers inside the changing transaction, so that no
-- writer can forget it. A following node applies the entries after the last
-- one it applied instead of scanning every zone. `kind` is 'zone',
-- 'lb_domain' (its configuration, rule or endpoint states) or 'contract'
-- (its end day or state); `name` is the zone's or LB domain's name, so a
-- node can withdraw one that is gone.
CREATE TABLE changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    name       TEXT NOT NULL DEFAULT ''
);

-- A zone: every commit, DNSSEC step and pulled copy bumps its version.
CREATE TRIGGER zones_added AFTER INSERT ON zones BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('zone', NEW.id, NEW.name);
END;
CREATE TRIGGER zones_changed AFTER UPDATE ON zones
WHEN OLD.version IS NOT NEW.version OR OLD.eligibility IS NOT NEW.eligibility
  OR OLD.contract_id IS NOT NEW.contract_id OR OLD.zone_proxy_enabled IS NOT NEW.zone_proxy_enabled BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('zone', NEW.id, NEW.name);
END;
CREATE TRIGGER zones_removed AFTER DELETE ON zones BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('zone', OLD.id, OLD.name);
END;

CREATE TRIGGER lb_domains_added AFTER INSERT ON lb_domains BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('lb_domain', NEW.id, NEW.name);
END;
CREATE TRIGGER lb_domains_changed AFTER UPDATE ON lb_domains
WHEN OLD.version IS NOT NEW.version OR OLD.state IS NOT NEW.state OR OLD.config IS NOT NEW.config
  OR OLD.rule_resource_name IS NOT NEW.rule_resource_name OR OLD.contract_id IS NOT NEW.contract_id BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('lb_domain', NEW.id, NEW.name);
END;
CREATE TRIGGER lb_domains_removed AFTER DELETE ON lb_domains BEGIN
    INSERT INTO changes (kind, subject_id, name) VALUES ('lb_domain', OLD.id, OLD.name);
END;

CREATE TRIGGER lb_endpoint_states_added AFTER INSERT ON lb_endpoint_states BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('lb_domain', NEW.lb_domain_id);
END;
CREATE TRIGGER lb_endpoint_states_changed AFTER UPDATE ON lb_endpoint_states
WHEN OLD.live IS NOT NEW.live OR OLD.ready IS NOT NEW.ready OR OLD.flags IS NOT NEW.flags BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('lb_domain', NEW.lb_domain_id);
END;
CREATE TRIGGER lb_endpoint_states_removed AFTER DELETE ON lb_endpoint_states BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('lb_domain', OLD.lb_domain_id);
END;

CREATE TRIGGER contracts_changed AFTER UPDATE ON contracts
WHEN OLD.ends_on IS NOT NEW.ends_on OR OLD.state IS NOT NEW.state BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('contract', NEW.id);
END;
