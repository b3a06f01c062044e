-- Limits, approval and window placement by estimated GPU time (issue 22): what a job runs, and two default limits.
-- seeds/samples feed services.af3.size.gpu_seconds; rows from before this migration count as 1 seed, 5 samples.
ALTER TABLE jobs ADD COLUMN seeds INTEGER NOT NULL DEFAULT 1;    -- modelSeeds in the input
ALTER TABLE jobs ADD COLUMN samples INTEGER NOT NULL DEFAULT 5;  -- diffusion samples per seed (the AF3 command)
ALTER TABLE submit_limits ADD COLUMN seeds_per_job INTEGER;      -- NULL: services/defaults.py
ALTER TABLE submit_limits ADD COLUMN gpu_hours_per_job REAL;     -- NULL: services/defaults.py
-- A rejected job its owner retried sat queued for ever: no claim takes it, no admin list shows it. Ask again.
UPDATE jobs SET approval = 'pending', stage = 'awaiting approval' WHERE state = 'queued' AND approval = 'rejected';
