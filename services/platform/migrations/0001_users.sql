-- Users and login throttling (foundation).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    active INTEGER NOT NULL DEFAULT 1,
    session_token TEXT NOT NULL,        -- part of the login cookie id; rotated to end sessions
    created_at REAL NOT NULL,
    last_login_at REAL,
    accepted_terms_at REAL              -- AlphaFold 3 model-parameter terms accepted (builder)
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE,
    address TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_address ON login_failures (address, at);
