-- Running FoldDeck for a lab (issue 18): pin, retention purge, approval of large jobs, erased accounts.
ALTER TABLE jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;      -- kept past FOLDDECK_RETENTION_DAYS
ALTER TABLE jobs ADD COLUMN purged_at REAL;                         -- outputs removed by retention
ALTER TABLE jobs ADD COLUMN retention_warned_at REAL;               -- the owner was told (notification hook)
ALTER TABLE jobs ADD COLUMN approval TEXT CHECK (approval IN ('pending', 'approved', 'rejected'));
ALTER TABLE jobs ADD COLUMN approval_note TEXT;                     -- the admin's note, shown to the owner
ALTER TABLE jobs ADD COLUMN not_before REAL;                        -- the owner asked: do not start before this
ALTER TABLE users ADD COLUMN needs_approval INTEGER NOT NULL DEFAULT 0; -- every job of this user waits for an admin

-- "Delete my data": no name, no row of theirs, only how many jobs went (admins keep the count).
CREATE TABLE erased_accounts (
    id INTEGER PRIMARY KEY,
    erased_at REAL NOT NULL,
    jobs INTEGER NOT NULL
);

-- Bytes under each user's job folders, measured by the sampler (a page never walks folders).
CREATE TABLE user_disk_use (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    bytes INTEGER NOT NULL,
    measured_at REAL NOT NULL
);

-- The new columns a page shows move the change counters like the others (0010).
CREATE TRIGGER jobs_changed_lab AFTER UPDATE OF pinned, purged_at, approval, approval_note ON jobs
WHEN NEW.pinned IS NOT OLD.pinned OR NEW.purged_at IS NOT OLD.purged_at OR NEW.approval IS NOT OLD.approval
    OR NEW.approval_note IS NOT OLD.approval_note
BEGIN
    INSERT INTO change_counters (scope, n) VALUES (NEW.owner_id, 1) ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0
        OR (scope = -1 AND NEW.state = 'queued' AND NEW.approval IS NOT OLD.approval);
END;

-- Maintenance windows per host (admin calendar): a host takes no job that would not finish first.
CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL CHECK (ends_at > starts_at),
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX maintenance_windows_host ON maintenance_windows (host, ends_at);

-- Preflight per host, written by the sampler: may a real AlphaFold 3 job be sent there?
CREATE TABLE host_preflight (
    host TEXT PRIMARY KEY,
    ready INTEGER NOT NULL,
    missing TEXT NOT NULL DEFAULT '',   -- what is missing, for the status page ('' when ready)
    checked_at REAL NOT NULL
);
