-- "Changed?" in O(1) for polls (issue 12): counters the database bumps itself on every write that
-- changes what a jobs page shows, so no write site can forget and a poll reads one or two rows.
--   scope > 0: that user's jobs changed (their dashboard)
--   scope 0:   any job changed (an admin's all-users view)
--   scope -1:  the fair queue order changed (queue positions: a job queued, claimed, finished, ...)
CREATE TABLE change_counters (
    scope INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
INSERT INTO change_counters (scope, n) VALUES (0, 0), (-1, 0);

CREATE TRIGGER jobs_changed_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO change_counters (scope, n) VALUES (NEW.owner_id, 1) ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0 OR (scope = -1 AND NEW.state IN ('queued', 'running'));
END;

CREATE TRIGGER jobs_changed_delete AFTER DELETE ON jobs
BEGIN
    INSERT INTO change_counters (scope, n) VALUES (OLD.owner_id, 1) ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0 OR (scope = -1 AND OLD.state IN ('queued', 'running'));
END;

-- Only the columns a page shows: heartbeats (lease_expires), log cursors (log_seq, progress_state),
-- GPU use and process ids never bump. Progress counts in the whole percent the grid shows.
CREATE TRIGGER jobs_changed_update AFTER UPDATE OF owner_id, name, state, tokens, submitted_at, queued_at,
    started_at, finished_at, cancel_requested, host, error, stage, progress, progress_detail ON jobs
WHEN NEW.owner_id IS NOT OLD.owner_id OR NEW.name IS NOT OLD.name OR NEW.state IS NOT OLD.state
    OR NEW.tokens IS NOT OLD.tokens OR NEW.submitted_at IS NOT OLD.submitted_at
    OR NEW.queued_at IS NOT OLD.queued_at OR NEW.started_at IS NOT OLD.started_at
    OR NEW.finished_at IS NOT OLD.finished_at OR NEW.cancel_requested IS NOT OLD.cancel_requested
    OR NEW.host IS NOT OLD.host OR NEW.error IS NOT OLD.error OR NEW.stage IS NOT OLD.stage
    OR ROUND(NEW.progress * 100) IS NOT ROUND(OLD.progress * 100) OR NEW.progress_detail IS NOT OLD.progress_detail
BEGIN
    INSERT INTO change_counters (scope, n) VALUES (NEW.owner_id, 1) ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    INSERT INTO change_counters (scope, n) SELECT OLD.owner_id, 1 WHERE OLD.owner_id IS NOT NEW.owner_id
        ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0 OR (scope = -1 AND (
        (NEW.state IS NOT OLD.state AND (NEW.state IN ('queued', 'running') OR OLD.state IN ('queued', 'running')))
        OR (NEW.state IN ('queued', 'running') AND (NEW.queued_at IS NOT OLD.queued_at
                                                     OR NEW.owner_id IS NOT OLD.owner_id))));
END;

-- Pausing or resuming the queue changes how queued jobs are shown (their stage says so).
CREATE TRIGGER queue_control_changed AFTER UPDATE OF paused ON queue_control
WHEN NEW.paused IS NOT OLD.paused
BEGIN
    UPDATE change_counters SET n = n + 1 WHERE scope = -1;
END;

-- Queue positions of a page's jobs count, per owner, the queued jobs ahead in (queued_at, id):
-- this index answers both that range count and the per-owner queued / running counts.
CREATE INDEX jobs_state_owner_queued ON jobs (state, owner_id, queued_at);
