-- Settings an admin changes from the web (issue 16: MSA cache scope), over their FOLDDECK_* default.
CREATE TABLE lab_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at REAL NOT NULL
);
