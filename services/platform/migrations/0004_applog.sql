-- Application log (issue 8): every event that matters, written in batches by services/applog.py.
-- Pages list newest first by ts; each equality filter has an index ending in ts, so a filter plus a
-- time range plus "newest first" is one index range scan that stops after one page.
CREATE TABLE app_log (
    id INTEGER PRIMARY KEY,             -- live tail reads id > cursor: a rowid range, always cheap
    ts REAL NOT NULL,
    level TEXT NOT NULL,                -- DEBUG, INFO, WARNING, ERROR, CRITICAL
    source TEXT NOT NULL,               -- auth, jobs, worker, admin, metrics, web...
    username TEXT COLLATE NOCASE,       -- the user the event is about (the acting admin for admin actions)
    job_id INTEGER,
    address TEXT,                       -- client address (logins)
    message TEXT NOT NULL
);
CREATE INDEX app_log_ts ON app_log (ts);
CREATE INDEX app_log_level_ts ON app_log (level, ts);
CREATE INDEX app_log_source_ts ON app_log (source, ts);
CREATE INDEX app_log_user_ts ON app_log (username, ts) WHERE username IS NOT NULL;
CREATE INDEX app_log_job_ts ON app_log (job_id, ts) WHERE job_id IS NOT NULL;

-- Substring search over a million messages: a trigram index answers rare terms in milliseconds
-- (a LIKE scan of every row takes ~70 ms); applog.py falls back to LIKE for common terms.
CREATE VIRTUAL TABLE app_log_fts USING fts5(message, content='app_log', content_rowid='id', tokenize='trigram');
CREATE TRIGGER app_log_fts_insert AFTER INSERT ON app_log BEGIN
    INSERT INTO app_log_fts (rowid, message) VALUES (new.id, new.message);
END;
CREATE TRIGGER app_log_fts_delete AFTER DELETE ON app_log BEGIN
    INSERT INTO app_log_fts (app_log_fts, rowid, message) VALUES ('delete', old.id, old.message);
END;

-- The sources seen so far, for the page's filter menu (DISTINCT over a million rows is not free).
CREATE TABLE app_log_sources (
    source TEXT PRIMARY KEY
) WITHOUT ROWID;
