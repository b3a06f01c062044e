-- Every background process (worker, sampler, sender: services/platform/processes.py) beats here while it
-- runs (issue 23). /healthz fails and the admin's queue page shows the process in red when the newest beat
-- of a role is stale, so a process that died is seen within a minute instead of never.
CREATE TABLE process_heartbeats (
    id TEXT PRIMARY KEY,                -- role@hostname:pid:start, one row per process started
    role TEXT NOT NULL,                 -- worker, sampler or sender
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    beat_at REAL NOT NULL,
    stopped_at REAL                     -- set on a clean stop: a stopped process is not a dead one
);
CREATE INDEX process_heartbeats_role ON process_heartbeats (role, beat_at);
