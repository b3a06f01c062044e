-- Per-user storage quota (issue 22): NULL means FOLDDECK_USER_QUOTA_MB, 0 means no quota for this user.
ALTER TABLE user_limits ADD COLUMN quota_mb INTEGER CHECK (quota_mb IS NULL OR quota_mb >= 0);
