-- DPF record labels: a JSON object of at most 10 string pairs. They never
-- reach DNS, so they are kept on the row as given, not staged.
ALTER TABLE records ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
