-- Screens (issue 26): one shared part (protein chains, cofactors) x a list of variable parts (ligands,
-- point mutations). Each member is an ordinary job; a screen groups them so they are watched, cancelled,
-- retried and downloaded together. Deleting a member's job removes its member row, never the screen.
CREATE TABLE screens (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('ligands', 'mutations')),
    shared_json TEXT NOT NULL,          -- the shared part as submitted (AF3 dialect), for the page and a re-run
    idempotency_key TEXT,
    created_at REAL NOT NULL,
    UNIQUE (owner_id, idempotency_key)
);
CREATE INDEX screens_owner ON screens (owner_id, id);

CREATE TABLE screen_members (
    screen_id INTEGER NOT NULL REFERENCES screens(id) ON DELETE CASCADE,
    job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,          -- order in the submitted list
    label TEXT NOT NULL,                -- the ligand's or mutation's name as the user gave it
    chain_id TEXT NOT NULL DEFAULT '',  -- the varied chain (the ligand's chain id, or the mutated chain)
    value TEXT NOT NULL DEFAULT '',     -- SMILES, CCD codes or the mutation list, as submitted
    PRIMARY KEY (screen_id, position)
);
