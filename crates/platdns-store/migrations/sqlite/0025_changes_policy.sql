-- The change feed (0024) also carries what a DNS node enforces besides its
-- zones (issue 19): 'restriction' when a contract's restriction starts or
-- ends (R4.2), 'transfer_policy' when a transfer ACL, a primary, a TSIG key
-- or a zone's common configuration changes. Nodes refresh those on the
-- entry instead of reading them every second or two.
CREATE TRIGGER restrictions_added AFTER INSERT ON restrictions BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('restriction', NEW.contract_id);
END;
CREATE TRIGGER restrictions_changed AFTER UPDATE ON restrictions BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('restriction', NEW.contract_id);
END;
CREATE TRIGGER cc_sec_transfer_acls_added AFTER INSERT ON cc_sec_transfer_acls BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.common_config_id);
END;
CREATE TRIGGER cc_sec_transfer_acls_changed AFTER UPDATE ON cc_sec_transfer_acls BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.common_config_id);
END;
CREATE TRIGGER cc_sec_transfer_acls_removed AFTER DELETE ON cc_sec_transfer_acls BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', OLD.common_config_id);
END;
CREATE TRIGGER cc_primaries_added AFTER INSERT ON cc_primaries BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.common_config_id);
END;
CREATE TRIGGER cc_primaries_changed AFTER UPDATE ON cc_primaries BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.common_config_id);
END;
CREATE TRIGGER cc_primaries_removed AFTER DELETE ON cc_primaries BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', OLD.common_config_id);
END;
CREATE TRIGGER tsig_keys_added AFTER INSERT ON tsig_keys BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.id);
END;
CREATE TRIGGER tsig_keys_changed AFTER UPDATE ON tsig_keys BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.id);
END;
CREATE TRIGGER tsig_keys_removed AFTER DELETE ON tsig_keys BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', OLD.id);
END;
CREATE TRIGGER zones_transfer_changed AFTER UPDATE ON zones
WHEN OLD.common_config_id IS NOT NEW.common_config_id OR OLD.zone_proxy_enabled IS NOT NEW.zone_proxy_enabled BEGIN
    INSERT INTO changes (kind, subject_id) VALUES ('transfer_policy', NEW.id);
END;
