-- Issue 22: the webhook allow-list names origins (scheme, host, port), not bare hosts. A host entry
-- let a webhook call any port on that host, and its delivery errors made the account page a port
-- scanner. Each old host row becomes https://HOST (port 443), plus the origin (scheme and port) of
-- every active webhook to that host, so what was delivered before is still delivered, and nothing more.
CREATE TABLE webhook_origins (
    scheme TEXT NOT NULL CHECK (scheme IN ('http', 'https')),
    host TEXT NOT NULL COLLATE NOCASE,  -- lower case; an IPv6 address without brackets (urlsplit's hostname)
    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (scheme, host, port)
);

INSERT INTO webhook_origins (scheme, host, port, added_by, added_at)
SELECT 'https', lower(host), 443, added_by, added_at FROM webhook_hosts;

-- The origins of the active webhooks: scheme before "://", then host[:port] up to the first / ? or #.
WITH urls AS (
    SELECT lower(substr(url, 1, instr(url, '://') - 1)) AS scheme, substr(url, instr(url, '://') + 3) AS rest
    FROM webhooks WHERE active = 1 AND instr(url, '://') > 0
), authorities AS (
    SELECT scheme, substr(rest, 1, min(CASE instr(rest, '/') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '/') END,
                                       CASE instr(rest, '?') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '?') END,
                                       CASE instr(rest, '#') WHEN 0 THEN length(rest) + 1 ELSE instr(rest, '#') END)
                           - 1) AS authority
    FROM urls WHERE scheme IN ('http', 'https')
), origins AS (
    SELECT scheme,
           CASE WHEN authority LIKE '[%' THEN substr(authority, 2, instr(authority, ']') - 2)
                WHEN instr(authority, ':') > 0 THEN substr(authority, 1, instr(authority, ':') - 1)
                ELSE authority END AS host,
           CASE WHEN authority LIKE '[%' THEN substr(authority, instr(authority, ']') + 2)
                WHEN instr(authority, ':') > 0 THEN substr(authority, instr(authority, ':') + 1)
                ELSE '' END AS port
    FROM authorities
)
INSERT OR IGNORE INTO webhook_origins (scheme, host, port, added_by, added_at)
SELECT o.scheme, lower(o.host),
       CASE o.port WHEN '' THEN CASE o.scheme WHEN 'https' THEN 443 ELSE 80 END ELSE CAST(o.port AS INTEGER) END,
       h.added_by, h.added_at
FROM origins o JOIN webhook_hosts h ON h.host = o.host
WHERE o.port = '' OR (o.port NOT GLOB '*[^0-9]*' AND CAST(o.port AS INTEGER) BETWEEN 1 AND 65535);

DROP TABLE webhook_hosts;

-- A random id per outbox message, set when a sender first claims it and kept on every retry: the
-- webhook's X-FoldDeck-Delivery header and the mail's Message-ID, so a receiver can drop a replay.
ALTER TABLE outbox ADD COLUMN delivery_id TEXT;
