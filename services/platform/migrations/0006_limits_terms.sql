-- Default submission limits that admins change at runtime, and the AlphaFold 3 terms per job (issue 11).
-- A NULL limit means the value in services/defaults.py.
CREATE TABLE submit_limits (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    jobs_per_submit INTEGER,
    tokens_per_job INTEGER,
    queued_per_user INTEGER,
    changed_by TEXT,
    changed_at REAL
);
INSERT INTO submit_limits (id) VALUES (1);

ALTER TABLE jobs ADD COLUMN terms_accepted_at REAL;  -- when the owner accepted the AF3 terms for this job
ALTER TABLE jobs ADD COLUMN terms_via TEXT;          -- builder, upload, cli, clone...
