-- A month's QPS per contract (service_kind '' and service_id 0) and per
-- service, fixed when the month ends (R4.4): qps/histories shows twelve
-- months while minutes are kept ninety days.
CREATE TABLE usage_months (
    month        TEXT NOT NULL,
    contract_id  BIGINT NOT NULL,
    service_kind TEXT NOT NULL,
    service_id   BIGINT NOT NULL,
    qps          BIGINT NOT NULL,
    PRIMARY KEY (month, contract_id, service_kind, service_id)
);
CREATE INDEX usage_months_contract ON usage_months(contract_id, month);
