-- Each endpoint's Live and Ready status as the state machine left it (DPF
-- manual failover / failback hold Ready where an operator decides), with
-- the settings it was computed under.
CREATE TABLE lb_endpoint_states (
    lb_domain_id    INTEGER NOT NULL REFERENCES lb_domains(id),
    endpoint        TEXT NOT NULL,
    live            INTEGER NOT NULL,
    ready           INTEGER NOT NULL,
    flags           INTEGER NOT NULL,
    PRIMARY KEY (lb_domain_id, endpoint)
);
