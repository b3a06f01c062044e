-- Two stages and MSA reuse (issue 16): the data pipeline runs in a CPU slot, inference in a GPU slot,
-- and each chain's MSAs and templates are searched once and reused.
ALTER TABLE jobs ADD COLUMN phase TEXT NOT NULL DEFAULT '';  -- what the running attempt does: '' both stages
                                                              -- in one run, 'data' (CPU slot), 'inference' (GPU slot)
ALTER TABLE jobs ADD COLUMN data_json TEXT;           -- the finished data pipeline's <name>_data.json on this machine
ALTER TABLE jobs ADD COLUMN msa_keys TEXT;            -- JSON list of the chains a data pipeline would search (msa_cache)
ALTER TABLE jobs ADD COLUMN msa_reuse INTEGER NOT NULL DEFAULT 1;  -- 0: the owner asked to search again
ALTER TABLE jobs ADD COLUMN msa_reused TEXT;          -- JSON [{"chains": ["A"], "job_id": 12}]: chains taken from the cache
ALTER TABLE job_attempts ADD COLUMN phase TEXT NOT NULL DEFAULT '';

-- One row per (owner, chain, search context); the MSAs and templates themselves are a JSON file each.
CREATE TABLE msa_cache (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key TEXT NOT NULL,             -- sha256 of chain type and sequence
    context TEXT NOT NULL,         -- hash of the database set and the options that change search results
    chain_type TEXT NOT NULL,      -- protein or rna
    length INTEGER NOT NULL,
    has_templates INTEGER NOT NULL, -- 0: only the MSAs were searched (the job gave its own templates)
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    source_job_id INTEGER,         -- not a foreign key: the entry outlives a deleted job
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    UNIQUE (owner_id, key, context)
);
CREATE INDEX msa_cache_key ON msa_cache (key, context);
CREATE INDEX msa_cache_lru ON msa_cache (last_used_at);

-- A job between its stages, or entering one, moves the change counters like a state change (0010).
CREATE TRIGGER jobs_changed_phase AFTER UPDATE OF phase, data_json, msa_reused ON jobs
WHEN NEW.phase IS NOT OLD.phase OR NEW.data_json IS NOT OLD.data_json OR NEW.msa_reused IS NOT OLD.msa_reused
BEGIN
    INSERT INTO change_counters (scope, n) VALUES (NEW.owner_id, 1) ON CONFLICT (scope) DO UPDATE SET n = n + 1;
    UPDATE change_counters SET n = n + 1 WHERE scope = 0 OR (scope = -1 AND NEW.state IN ('queued', 'running'));
END;
