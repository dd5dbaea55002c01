-- DPF operation logs carry a log type (service, record, dnssec).
ALTER TABLE operation_logs ADD COLUMN log_type TEXT NOT NULL DEFAULT 'service';
CREATE INDEX operation_logs_zone ON operation_logs(zone_id, at);
CREATE INDEX operation_logs_contract ON operation_logs(contract_id, at);
