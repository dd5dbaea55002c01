-- Operations on an LB domain go to its own log (DPF /lb_domains/{id}/logs),
-- not to its contract's.
ALTER TABLE operation_logs ADD COLUMN lb_domain_id BIGINT;
CREATE INDEX operation_logs_lb_domain ON operation_logs(lb_domain_id, at);
