-- Signing in with the institution's accounts (issue 28): which provider identity is which FoldDeck user.
-- A person is matched by (provider, subject) once linked, so renaming them at the provider keeps their jobs.

CREATE TABLE user_identities (
    provider TEXT NOT NULL,             -- 'oidc' or 'ldap'
    subject TEXT NOT NULL,              -- the OIDC `sub`, or the LDAP entry's DN
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    groups TEXT NOT NULL DEFAULT '[]',  -- the provider's groups at the last sign-in (JSON), for the admin
    disabled_by_provider INTEGER NOT NULL DEFAULT 0,  -- 1: left the sign-in group; a sign-in back in the group enables
    linked_at REAL NOT NULL,
    checked_at REAL NOT NULL,           -- the last sign-in that read the groups
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
