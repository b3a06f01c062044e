-- Several engines for one input (issue 29): each job runs on one engine; one submission's jobs share a group.
ALTER TABLE jobs ADD COLUMN engine TEXT NOT NULL DEFAULT 'af3';  -- services.engines.registry: af3, boltz, chai...
ALTER TABLE jobs ADD COLUMN engine_group INTEGER;  -- the first job id of the submission it came with; NULL: alone
CREATE INDEX IF NOT EXISTS jobs_engine_group ON jobs (engine_group) WHERE engine_group IS NOT NULL;
