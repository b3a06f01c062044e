-- Per-user storage quota (issue 22): NULL means FOLDDECK_USER_QUOTA_MB, 0 means no quota for this user.
ALTER TABLE user_limits ADD COLUMN quota_mb INTEGER CHECK (quota_mb IS NULL OR quota_mb >= 0);

-- "Delete my data" rewrites the erased user's application-log messages (issue 22): keep the trigram index in step,
-- so a search for their name or a job name finds nothing either.
CREATE TRIGGER app_log_fts_update AFTER UPDATE OF message ON app_log BEGIN
    INSERT INTO app_log_fts (app_log_fts, rowid, message) VALUES ('delete', old.id, old.message);
    INSERT INTO app_log_fts (rowid, message) VALUES (new.id, new.message);
END;
