-- Sessions and tokens (issue 22): one row per logged-in browser, so logging out ends that
-- session on the server (a copied cookie stops working) without logging out the user's other
-- browsers; and API tokens that expire.

CREATE TABLE user_sessions (
    id TEXT PRIMARY KEY,                -- random; part of the signed login cookie's user id
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    address TEXT NOT NULL DEFAULT ''    -- where the login came from (for the record only)
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, created_at);

ALTER TABLE api_tokens ADD COLUMN expires_at REAL;  -- NULL: never expires (only if chosen)
