-- A commit's job survives a crash between the commit and the job's end
-- (issue 16): the commit's history entry names its job, and a job keeps the
-- URL of what it makes from its start, so a restart finds the jobs whose
-- commit landed and ends them SUCCESSFUL instead of FAILED.
ALTER TABLE zone_histories ADD COLUMN request_id TEXT;
ALTER TABLE jobs ADD COLUMN resources TEXT;
