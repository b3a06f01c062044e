-- Hosts a worker could not reach: no worker claims a job onto one until `until` (shared by all workers).
CREATE TABLE host_backoff (
    host TEXT PRIMARY KEY,              -- name from the hosts file
    failures INTEGER NOT NULL,          -- consecutive failed connects; sets the next backoff's length
    until REAL NOT NULL,                -- epoch seconds; claims skip the host before this
    reason TEXT NOT NULL,               -- the last failure, for people ("connection refused")
    updated_at REAL NOT NULL
);
