-- DPF labels of zones and contracts (`PUT /zones/{id}/labels`): a JSON
-- object of at most 10 string pairs, replaced whole.
ALTER TABLE zones ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contracts ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
