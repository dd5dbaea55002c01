-- Each endpoint's Live and Ready status as the state machine left it (DPF
-- manual failover / failback hold Ready where an operator decides), with
-- the settings it was computed under.
CREATE TABLE lb_endpoint_states (
    lb_domain_id    BIGINT NOT NULL REFERENCES lb_domains(id),
    endpoint        TEXT NOT NULL,
    live            BIGINT NOT NULL,
    ready           BIGINT NOT NULL,
    flags           BIGINT NOT NULL,
    PRIMARY KEY (lb_domain_id, endpoint)
);
