-- Host metrics history in three tiers (services/metrics/history.py).
-- One row per host per tick (tier 0, raw) or per bucket (tier 1 = 1-minute, tier 2 = 1-hour
-- averages); `data` is a JSON object of short series keys (c, m, g0u...), so a host with 8 GPUs
-- costs one row per tick instead of ~40 narrow ones. WITHOUT ROWID: the primary key is the
-- table, and a (tier, host, time range) read is one index range scan.
CREATE TABLE metric_samples (
    tier INTEGER NOT NULL CHECK (tier IN (0, 1, 2)),
    host TEXT NOT NULL,
    ts INTEGER NOT NULL,            -- unix seconds; bucket start for tiers 1 and 2
    data TEXT NOT NULL,
    PRIMARY KEY (tier, host, ts)
) WITHOUT ROWID;
