-- DPF default_ttl is staged like records and applied by the next commit.
ALTER TABLE zones ADD COLUMN staged_default_ttl INTEGER;
