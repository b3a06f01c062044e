-- Jobs, their attempts and logs, per-user limits, queue control and workers (issue 4).
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    idempotency_key TEXT,
    input_path TEXT NOT NULL,           -- <data dir>/jobs/<id>/input.json
    tokens INTEGER NOT NULL DEFAULT 0,
    cloned_from INTEGER,
    submitted_at REAL NOT NULL,
    queued_at REAL NOT NULL,            -- fairness order; a retry queues again at the back
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,           -- any change a page shows; lets a poll answer "nothing new"
    attempts INTEGER NOT NULL DEFAULT 0,
    attempts_base INTEGER NOT NULL DEFAULT 0, -- attempts not counted against max_attempts (retried, handed back)
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT,
    lease_expires REAL,
    executor TEXT,
    host TEXT,
    pid INTEGER,                        -- local process group id while running
    remote_pid INTEGER,                 -- remote process group id while running (ssh)
    exit_code INTEGER,
    error TEXT,                         -- one-line summary of why it failed
    output_path TEXT,                   -- local folder with the results (fetched for ssh jobs)
    remote_output TEXT,                 -- host:path of the remote output folder
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    progress_detail TEXT NOT NULL DEFAULT '',
    progress_state TEXT NOT NULL DEFAULT '{}', -- the parser's counters, so ingestion never re-reads the log
    log_seq INTEGER NOT NULL DEFAULT 0, -- last log sequence number written
    log_in_traceback INTEGER NOT NULL DEFAULT 0,
    peak_mem_mib REAL,
    mean_util REAL
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_owner_submitted ON jobs (owner_id, submitted_at);
CREATE INDEX jobs_owner_state ON jobs (owner_id, state, submitted_at);
CREATE INDEX jobs_owner_updated ON jobs (owner_id, updated_at);
CREATE INDEX jobs_state_queued ON jobs (state, queued_at);
CREATE INDEX jobs_submitted ON jobs (submitted_at);
CREATE INDEX jobs_updated ON jobs (updated_at);

CREATE TABLE job_attempts (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    host TEXT,
    executor TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT,                       -- final state of this attempt, or 'requeued' / 'worker lost'
    exit_code INTEGER,
    error TEXT,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE job_log (
    job_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    stream TEXT NOT NULL,
    level TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
-- error_tail walks only error lines, and the partial index costs nothing for the other levels.
CREATE INDEX job_log_errors ON job_log (job_id, seq) WHERE level = 'error';

-- Kept by the ingester so a console never counts a million rows.
CREATE TABLE job_log_levels (
    job_id INTEGER NOT NULL,
    level TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (job_id, level)
) WITHOUT ROWID;

CREATE TABLE user_limits (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    max_running INTEGER,                -- NULL = unlimited
    max_queued INTEGER,
    max_tokens INTEGER
);

CREATE TABLE queue_control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL DEFAULT 0,
    changed_by TEXT,
    changed_at REAL
);
INSERT INTO queue_control (id, paused) VALUES (1, 0);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host_name TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    current_job INTEGER,
    stopped_at REAL
);
