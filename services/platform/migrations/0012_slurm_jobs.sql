-- Slurm attempts (issue 15): one row per FoldDeck attempt handed to a Slurm cluster. The row is
-- written before sbatch runs and gets Slurm's job id right after, so a restarted worker re-attaches
-- by id (or, if it died between the two, by the job name) and never submits an attempt twice.
CREATE TABLE slurm_jobs (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    host TEXT NOT NULL,                 -- the slurm host's name in the hosts file
    name TEXT NOT NULL,                 -- Slurm job name: folddeck.<install tag>.<job id>.<attempt>
    slurm_id INTEGER,                   -- NULL until sbatch answered
    script TEXT NOT NULL,               -- the batch script as submitted (shown on the job page)
    run_dir TEXT NOT NULL,              -- the attempt's folder on storage the nodes share
    state TEXT NOT NULL DEFAULT 'SUBMITTING',  -- Slurm's state (PENDING, RUNNING, COMPLETED, TIMEOUT...)
    reason TEXT NOT NULL DEFAULT '',    -- Slurm's reason while pending (Priority, Resources...)
    node TEXT NOT NULL DEFAULT '',      -- the node it runs on, once known
    time_limit TEXT NOT NULL DEFAULT '',
    log_offset INTEGER NOT NULL DEFAULT 0,  -- bytes of the output file already in the log store
    submitted_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX slurm_jobs_by_id ON slurm_jobs (host, slurm_id);

-- A new Slurm state, reason or node changes what the job page shows: bump the owner's counters.
CREATE TRIGGER slurm_jobs_changed AFTER UPDATE OF slurm_id, state, reason, node ON slurm_jobs
WHEN NEW.slurm_id IS NOT OLD.slurm_id OR NEW.state IS NOT OLD.state OR NEW.reason IS NOT OLD.reason
    OR NEW.node IS NOT OLD.node
BEGIN
    INSERT INTO change_counters (scope, n) SELECT owner_id, 1 FROM jobs WHERE id = NEW.job_id
        ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0;
END;
