-- Hosts going down and coming back are events (issue 27). The code that decides a host's state writes
-- a row here (a worker's failed connect: jobs.mark_host_down; the metrics sampler: services.sampler), and
-- the admins' toast comes from that row. 0011 matched the sampler's log line instead ("host % is down: %"),
-- so rewording that line silently stopped the toast; its trigger and the host_backoff one are replaced.

DROP TRIGGER IF EXISTS host_down_applog_notify;
DROP TRIGGER IF EXISTS host_down_notify;

CREATE TABLE host_events (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,                 -- name from the hosts file
    event TEXT NOT NULL CHECK (event IN ('down', 'up')),
    reason TEXT NOT NULL DEFAULT '',    -- why it is down, for people ("connection refused")
    source TEXT NOT NULL CHECK (source IN ('worker', 'metrics')),  -- who saw it: a claim's connect, the sampler
    at REAL NOT NULL
);
CREATE INDEX host_events_host ON host_events (host, id);

-- A host going down is a toast for every admin, once per event row (each writer writes one per outage).
CREATE TRIGGER host_events_notify AFTER INSERT ON host_events
WHEN NEW.event = 'down'
BEGIN
    INSERT INTO notifications (user_id, for_admins, level, text, job_id, at)
    VALUES (NULL, 1, 'danger', 'Host ' || NEW.host || ' is down: ' || NEW.reason, NULL, NEW.at);
END;
