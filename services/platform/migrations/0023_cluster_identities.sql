-- Each person's own cluster identity (issue 25): the cluster username their Slurm jobs run as (hosts with
-- submit_as = "sudo" or "own_key"), the Slurm account their GPU-hours are charged to (every Slurm host), and,
-- for "own_key", the private key FoldDeck logs in to the login node with as them. One row per person; none:
-- the host's own user and account.
CREATE TABLE cluster_identities (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    cluster_user TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    key_file TEXT NOT NULL DEFAULT '',
    changed_by TEXT NOT NULL DEFAULT '',
    changed_at REAL NOT NULL
);
