-- Notifications and the REST API (issue 17): API tokens, notification choices, webhooks, the
-- outbox the sender delivers from, toasts, and rate-limit buckets shared by every web worker.

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,               -- the first characters, so a person can tell tokens apart
    token_hash TEXT NOT NULL UNIQUE,    -- sha256 of the secret; the secret itself is shown once, never stored
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

CREATE TABLE notify_prefs (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL DEFAULT '',
    on_succeeded INTEGER NOT NULL DEFAULT 1,
    on_failed INTEGER NOT NULL DEFAULT 1,
    on_cancelled INTEGER NOT NULL DEFAULT 1   -- only when someone else (an admin) cancelled the job
);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,  -- NULL: lab-wide, every user's jobs (admins)
    url TEXT NOT NULL,
    secret TEXT NOT NULL,               -- HMAC-SHA256 key shared with the receiver
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE webhook_hosts (            -- the admins' allow-list: a webhook may only point at these hosts
    host TEXT PRIMARY KEY COLLATE NOCASE,
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL
);

-- Who asked for a cancel: a job cancelled by someone other than its owner mails the owner.
ALTER TABLE jobs ADD COLUMN cancelled_by INTEGER;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    user_id INTEGER,                    -- the job's owner
    job_id INTEGER,
    event TEXT NOT NULL,                -- succeeded, failed, cancelled
    target TEXT NOT NULL,               -- e-mail address, or the webhook id
    payload TEXT NOT NULL,              -- the job as it finished (JSON), written with the state change
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,              -- not tried before this (backoff)
    claimed_by TEXT,                    -- a sender holds the row until claim_until: no two send it
    claim_until REAL,
    sent_at REAL,
    gave_up_at REAL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE notifications (            -- toasts: read by a slow poll with a cursor (id > ?)
    id INTEGER PRIMARY KEY,
    user_id INTEGER,                    -- the one user it is for; NULL with for_admins = 1
    for_admins INTEGER NOT NULL DEFAULT 0,
    level TEXT NOT NULL,                -- success, danger, warning, info (Bootstrap colours)
    text TEXT NOT NULL,
    job_id INTEGER,
    at REAL NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_admins ON notifications (for_admins, id);

CREATE TABLE rate_buckets (             -- token buckets; one UPSERT per request, shared by every worker
    key TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at REAL NOT NULL,
    granted INTEGER NOT NULL
) WITHOUT ROWID;

-- A retried job starts with no canceller.
CREATE TRIGGER jobs_cancelled_by_reset AFTER UPDATE OF state ON jobs
WHEN NEW.state = 'queued' AND NEW.cancelled_by IS NOT NULL
BEGIN
    UPDATE jobs SET cancelled_by = NULL WHERE id = NEW.id;
END;

-- The one place a finished job becomes mail, webhooks and a toast: in the transaction that
-- changes its state, whichever write site does it (worker, reaper, cancel).
CREATE TRIGGER jobs_finished_notify AFTER UPDATE OF state ON jobs
WHEN NEW.state IN ('succeeded', 'failed', 'cancelled') AND OLD.state IS NOT NEW.state
BEGIN
    INSERT INTO outbox (kind, user_id, job_id, event, target, payload, created_at, next_at)
    SELECT 'email', NEW.owner_id, NEW.id, NEW.state, p.email,
           json_object('job_id', NEW.id, 'name', NEW.name, 'state', NEW.state, 'error', NEW.error,
                       'owner', (SELECT username FROM users WHERE id = NEW.owner_id), 'host', NEW.host,
                       'submitted_at', NEW.submitted_at, 'started_at', NEW.started_at,
                       'finished_at', NEW.finished_at, 'output_path', NEW.output_path,
                       'cancelled_by', (SELECT username FROM users WHERE id = NEW.cancelled_by)),
           COALESCE(NEW.finished_at, NEW.updated_at), COALESCE(NEW.finished_at, NEW.updated_at)
    FROM notify_prefs p
    WHERE p.user_id = NEW.owner_id AND p.email != ''
      AND CASE NEW.state WHEN 'succeeded' THEN p.on_succeeded WHEN 'failed' THEN p.on_failed
          ELSE p.on_cancelled AND NEW.cancelled_by IS NOT NULL AND NEW.cancelled_by != NEW.owner_id END;

    INSERT INTO outbox (kind, user_id, job_id, event, target, payload, created_at, next_at)
    SELECT 'webhook', NEW.owner_id, NEW.id, NEW.state, CAST(w.id AS TEXT),
           json_object('job_id', NEW.id, 'name', NEW.name, 'state', NEW.state, 'error', NEW.error,
                       'owner', (SELECT username FROM users WHERE id = NEW.owner_id), 'host', NEW.host,
                       'submitted_at', NEW.submitted_at, 'started_at', NEW.started_at,
                       'finished_at', NEW.finished_at, 'output_path', NEW.output_path,
                       'cancelled_by', (SELECT username FROM users WHERE id = NEW.cancelled_by)),
           COALESCE(NEW.finished_at, NEW.updated_at), COALESCE(NEW.finished_at, NEW.updated_at)
    FROM webhooks w
    WHERE w.active = 1 AND (w.user_id = NEW.owner_id OR w.user_id IS NULL);

    INSERT INTO notifications (user_id, for_admins, level, text, job_id, at)
    SELECT NEW.owner_id, 0,
           CASE NEW.state WHEN 'succeeded' THEN 'success' WHEN 'failed' THEN 'danger' ELSE 'warning' END,
           'Job ' || NEW.id || ' (' || NEW.name || ') ' || NEW.state || '.', NEW.id,
           COALESCE(NEW.finished_at, NEW.updated_at)
    WHERE NEW.state != 'cancelled' OR (NEW.cancelled_by IS NOT NULL AND NEW.cancelled_by != NEW.owner_id);
END;

-- A host going down (its first failed connect of an outage) is a toast for every admin.
CREATE TRIGGER host_down_notify AFTER INSERT ON host_backoff
WHEN NEW.failures = 1
BEGIN
    INSERT INTO notifications (user_id, for_admins, level, text, job_id, at)
    VALUES (NULL, 1, 'danger', 'Host ' || NEW.host || ' is down: ' || NEW.reason, NULL, NEW.updated_at);
END;

-- The metrics sampler sees SSH hosts go down even when no job tries them; it says so once per
-- outage in the application log ("host NAME is down: REASON", services/sampler.py), so that row
-- is the admins' toast too.
CREATE TRIGGER host_down_applog_notify AFTER INSERT ON app_log
WHEN NEW.source = 'metrics' AND NEW.level = 'WARNING' AND NEW.message LIKE 'host % is down: %'
BEGIN
    INSERT INTO notifications (user_id, for_admins, level, text, job_id, at)
    VALUES (NULL, 1, 'danger', 'Host ' || substr(NEW.message, 6), NULL, NEW.ts);
END;
