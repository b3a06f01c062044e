"""Tunables with the reason for each value. User-facing settings live in `settings.py`."""
from __future__ import annotations

# -- web ------------------------------------------------------------------------------------
DEFAULT_HOST = "127.0.0.1"  # loopback unless the admin opts in to exposure
DEFAULT_PORT = 8050  # Dash's customary port, what users expect from `make run`
SECRET_KEY_FILE = "secret_key"  # in the data dir; shared by every worker and restart
SECRET_KEY_BYTES = 32  # 256 bits, plenty for signing cookies

# -- login --------------------------------------------------------------------------------------
LOGIN_MAX_FAILURES = 5  # failures allowed inside the window before the door closes
LOGIN_FAILURE_WINDOW_S = 300  # five minutes: long enough to stop guessing, short for a typo-prone human
# The limits above count per (account, address): one person's typos close only their own door.
LOGIN_ADDRESS_MAX_FAILURES = 30  # per address, all accounts: a lab behind one proxy mistypes far less than a sprayer
LOGIN_ADDRESS_WINDOW_S = 900  # fifteen minutes: the slower ceiling; a correct first try still gets through
ADMIN_PASSWORD_BYTES = 12  # token_urlsafe(12) -> 16 chars printed once on first start

# -- database -----------------------------------------------------------------------------------
DB_FILE = "folddeck.db"
DB_BUSY_TIMEOUT_MS = 10_000  # writers wait this long for the WAL lock instead of failing at once
FILE_UMASK = 0o027  # files FoldDeck creates: never readable by other users (hashes, private sequences)
DB_FILE_MODE = 0o600  # the database and its -wal/-shm hold password and token hashes: owner only

# -- jobs ---------------------------------------------------------------------------------------
LEASE_SECONDS = 30  # a claimed job is re-queued this long after its worker's last heartbeat
HEARTBEAT_SECONDS = 5  # renew well inside the lease so one slow tick never loses a job
MAX_ATTEMPTS = 3  # then the job fails with "worker lost" instead of looping forever
CANCEL_GRACE_SECONDS = 10  # SIGTERM -> SIGKILL after this; AF3 writes nothing worth waiting longer for
MAX_LOG_LINE_CHARS = 8192  # longer lines are truncated with a marker; a runaway line must not fill the DB
WORKER_POLL_SECONDS = 0.5  # idle worker looks for a job this often: the < 1 s submit-to-running target
DISK_RESERVE_BYTES = 8 * 1024**2  # the worker frees it when the disk fills: room to fail jobs with the reason

# -- pages --------------------------------------------------------------------------------------
CONSOLE_MAX_LINES = 5000  # lines kept in the browser; more makes scrolling janky on laptops
CONSOLE_POLL_MS = 1500  # 1-2 s feels live without hammering the server
DASHBOARD_POLL_MS = 3000  # job states change on the scale of seconds
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # AF3 inputs with inline MSAs reach a few MB; 10 MB is generous
INPUT_FILES_MAX_BYTES = 256 * 1024**2  # MSA/template/user-CCD files of one submission: a deep MSA is tens of MB
INPUT_FILE_TEXT_MAX_BYTES = 1024**3  # one such file decompressed, as the worker inlines it (a gzip bomb stops here)

# Ligand picker: hits shown per keystroke; enough to scroll past near-namesakes, small enough to send at once.
CCD_SEARCH_LIMIT = 30

# -- metrics ------------------------------------------------------------------------------------
SAMPLE_INTERVAL_S = 5.0  # one tick every 5 s: live enough, cheap enough for SSH hosts
RAW_RETENTION_HOURS = 24  # raw ticks for a day
MINUTE_RETENTION_DAYS = 30  # 1-minute averages for a month
HOUR_RETENTION_DAYS = 365  # 1-hour averages for a year
CHART_MAX_POINTS = 1000  # per series; more points than pixels wastes bandwidth

# -- application log ------------------------------------------------------------------------
APP_LOG_RETENTION_DAYS = 90  # a quarter is enough to answer "what happened?"
CLAIM_CANDIDATES = 50  # queued jobs a claim tries in fair order when the first fits no host (maintenance)
PREFLIGHT_EVERY_S = 600  # weights and databases rarely move; ten minutes notices a broken mount soon enough
PREFLIGHT_HELP_TIMEOUT_S = 120  # AF3's --help imports JAX: tens of seconds on a cold host
RETENTION_WARN_DAYS = 7  # a week's notice before outputs are purged: time to pin or download them
DISK_MEASURE_EVERY_S = 3600  # walking every job folder is not free; disk use per user changes slowly

# -- detached runs on SSH hosts (issue 23) ----------------------------------------------------------
SSH_LOG_POLL_S = 0.25  # one SFTP read of a run's log per quarter second: live output, one small request
SSH_LOG_CHUNK_BYTES = 1 << 20  # one read's most: a burst of output reaches the log in pieces, never all in memory
SSH_ALIVE_CHECK_S = 2.0  # how soon a run killed without writing its exit file is noticed (one `kill -0`)
SSH_RECONNECT_MIN_S = 0.5  # first pause after a dropped connection: a restarted sshd is back at once
SSH_RECONNECT_MAX_S = 30.0  # cap of the doubling pauses: a host back from a reboot is found within half a minute
SSH_CANCEL_TRY_S = 60.0  # a cancel reconnects this long to kill the run; the reaper sweeps a host still away
SSH_RECONNECT_GIVE_UP_S = 6 * 3600.0  # an AF3 run lasts hours: keep trying that long; a cancel stops it sooner

# -- metrics collection (services/metrics) ----------------------------------------------------
SSH_CONNECT_TIMEOUT_S = 5.0  # a healthy LAN host answers in well under a second; longer means down
SSH_COMMAND_TIMEOUT_S = 4.0  # inside one 5 s tick, so a hung host is down before the next one
SSH_KEEPALIVE_S = 15  # a dead peer surfaces as an error within a few ticks instead of a hang
SSH_RETRY_MIN_S = 5.0  # first retry after one tick: a restarted sshd is back quickly
SSH_RETRY_MAX_S = 60.0  # cap: a host that comes back shows up within a minute, yet a dead one costs little
SAMPLER_HOST_WAIT_S = 1.5  # a tick waits this long for SSH hosts, then shows the laggards' last state
METRICS_CACHE_DIR = "cache"  # diskcache folder in the data dir: latest snapshots for every web worker
HISTORY_MAX_ROWS = 5000  # a chart reads the finest tier with at most this many rows in range (fast JSON decode)
HISTORY_GAP_STEPS = 3  # a hole longer than this many steps is drawn as a gap, not a straight line

# -- application log writer and pages (services/platform/applog/, admin pages) ----------------------
APP_LOG_QUEUE_MAX = 50_000  # records waiting for the writer; beyond this they are dropped, never block a request
APP_LOG_BATCH_MAX = 1000  # rows per write transaction: one fsync covers a burst
APP_LOG_PRUNE_EVERY_S = 3600  # retention is in days; hourly pruning keeps each delete small
APP_LOG_MAX_MESSAGE_CHARS = 16_000  # a traceback fits; a runaway message must not fill the DB
APP_LOG_COUNT_CAP = 10_000  # totals stop counting here ("10,000+"): an exact count of 1M rows costs ~100 ms
APP_LOG_PAGE_SIZE = 100  # rows per page on /admin/logs: a screenful or two
APP_LOG_TAIL_POLL_MS = 2000  # live tail: fresh enough to watch a login, cheap for the server
APP_LOG_EXPORT_MAX_ROWS = 100_000  # CSV export cap: ~15 MB, what a browser download handles comfortably
ADMIN_QUEUE_POLL_MS = 3000  # the queue page follows job states, which change on the scale of seconds
ADMIN_QUEUE_PAGE_SIZE = 200  # jobs listed on /admin/queue; filter by state to see others

# -- dashboard and job page (issue 6) ----------------------------------------------------------
DASHBOARD_PAGE_SIZE = 50  # rows per grid page: one screen at 1920 px; the server never sends more
CONSOLE_CHUNK_LINES = 500  # console lines per DOM block: trimming the head drops whole blocks, not lines
CONSOLE_EARLIER_LINES = 1000  # "load earlier" fetches this many: a few screens, still one quick response
CONSOLE_POLL_MAX_LINES = 2000  # one poll sends at most this many lines; a burst catches up over a few ticks
CONSOLE_FIRST_LINES = 1000  # a page's first poll loads this tail: a few screens in ~250 KB; "load earlier" has more
MAX_REQUEST_JSON_DEPTH = 64  # callback bodies nest ~10 deep; deeper is an attack on the parser (RecursionError)
RESULTS_MAX_FILES = 200  # a job writes ~30 files per seed; more is an odd folder, not worth listing

# -- worker loop (jobs) -------------------------------------------------------------------------
CANCEL_CHECK_SECONDS = 0.3  # a running job looks for a cancel request this often: a click feels immediate
OUTPUT_WAIT_SECONDS = 0.1  # longest wait for job output before the loop checks anything else

# -- lost attempts (jobs.reap_expired) ----------------------------------------------------------
REAP_SSH_TIMEOUT_S = 3.0  # the reaper runs in a worker's claim loop: a down host may delay new claims only briefly

# -- upload page ---------------------------------------------------------------------------------
UPLOAD_REQUEST_HEADROOM_BYTES = 256 * 1024  # room in one upload request for Dash's envelope beside the files
RESULTS_CONFIDENCES_MAX_BYTES = 512 * 1024 * 1024  # ~7,000 tokens; parsed once by numpy, then cached reduced
RESULTS_PAE_MAX_CELLS = 5000  # PAE image side: every cell up to AF3's 5,000-token limit; above, block minima
RESULTS_IPTM_TROUBLE = 0.6  # AF3's docs: ipTM below 0.6 is likely a failed prediction of the interface
RESULTS_CONTACT_PROB = 0.5  # AF3's contact_probs (P(distance < 8 Å)): at least even odds counts as a contact
RESULTS_SMALL_CHAIN_TOKENS = 20  # AF3's docs: pTM/ipTM are very strict below 20 tokens (peptides, ions, ligands)
RESULTS_DISORDER_TROUBLE = 0.5  # over half the model disordered: mostly not a reliable structure
RESULTS_CACHE_DIR = "cache/results"  # reduced PAE/pLDDT per sample, in the data dir: shared by web workers
RESULTS_CACHE_SECONDS = 30 * 24 * 3600  # a month: results are looked at around when they finish
RESULTS_PARSE_LOCK_SECONDS = 120  # longest a large PAE parse holds its lock: a crashed worker frees it by then
RESULTS_IMPORT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3  # an imported results zip: a server download is MBs, a local run GBs
RESULTS_IMPORT_MAX_BYTES = 4 * 1024 ** 3  # unpacked size of an imported zip: 5 seeds x 5 samples of a large job
RESULTS_IMPORT_MAX_FILES = 5000  # AF3 writes ~4 files per sample; thousands means it is not an AF3 folder
RESULTS_IMPORT_MAX_RATIO = 100  # AF3's JSON deflates ~5-10x; zip bombs expand ~1000x (every member is checked)
RESULTS_IMPORT_MODEL_BYTES_PER_TOKEN = 4096  # AF3 writes ~0.7 KB of mmCIF per protein token, ~2 KB per nucleotide
USER_QUOTA_MB = 100 * 1024  # 100 GB per user: ~250 large jobs' outputs; a disk shared by a lab fills slowly
RESULTS_ZIP_CHUNK_BYTES = 1024 * 1024  # "download all" reads and sends this much at a time: memory stays flat
RESULTS_ZIP_LEVEL = 1  # fastest deflate: AF3's JSON still shrinks ~4x, and a 1 GB folder streams at disk speed

# -- unreachable SSH hosts (jobs.mark_host_down) ---------------------------------------------------
HOST_BACKOFF_MIN_S = 30.0  # a rebooting GPU server is back within a minute or two; retry soon after
HOST_BACKOFF_MAX_S = 300.0  # doubling stops here: a host that returns starts jobs within 5 minutes

# -- submission limits (jobs.SubmitLimits; admins change them on /admin/queue) ---------------------
MAX_JOBS_PER_SUBMIT = 100  # a screen's worth to review; one 9.9 MB file once queued 94,000 jobs in 241 s
MAX_TOKENS_PER_JOB = 5000  # AlphaFold 3's practical ceiling on one 80 GB GPU; beyond it a job only fails late
MAX_QUEUED_PER_USER = 500  # five full submissions: enough for a screen, not enough to block the lab for weeks
MAX_SEEDS_PER_JOB = 100  # 20x AF3's usual 5; one 4,000-seed job of 100 tokens once asked 8.7 GPU-hours unnoticed
MAX_GPU_HOURS_PER_JOB = 24.0  # a day of one GPU (services.af3.size.gpu_seconds); a 5,000-token, 5-seed job is ~3.5 h
CLI_SUBMIT_MAX_BYTES = UPLOAD_MAX_BYTES  # the command line reads a file like the upload page does
CLI_MAX_PROBLEMS_SHOWN = 50  # one broken file once printed 260,000 lines; the first fifty say what is wrong

# -- compression and caching (issue 12) ---------------------------------------------------------
COMPRESS_MIN_BYTES = 500  # below this gzip/brotli framing eats the gain; polls that send nothing stay plain
COMPRESS_BR_LEVEL = 4  # brotli's fast levels: ~gzip -6 speed, smaller output; callbacks compress on every poll
COMPRESS_CACHE_MAX_BYTES = 32 * 1024 * 1024  # compressed JS/CSS per web worker: all of Dash's bundles fit
STATIC_MAX_AGE_S = 365 * 86400  # fingerprinted assets (?m=mtime, versioned bundles) never change under a URL
SESSION_CACHE_SIZE = 4096  # verified session cookies remembered per web worker: every active browser, ~1 MB

# -- notifications and the REST API (issue 17) ----------------------------------------------------
API_RATE_PER_MINUTE = 600  # 10 a second per token/user: a script polling several jobs, not a flood
API_RATE_BURST = 60  # a script starting up lists and fetches a few dozen things at once
SUBMIT_RATE_PER_MINUTE = 30  # per user and per token: batch scripts submit a file of jobs at once, not thousands
SUBMIT_RATE_BURST = 30
API_LOG_MAX_LINES = 5000  # one log response; a script follows with since=N for the rest
OUTBOX_POLL_S = 1.0  # the sender looks for due messages this often: mail leaves within ~1 s of the state change
OUTBOX_CLAIM_S = 120  # a claimed message is another sender's after this (the first one died mid-send)
OUTBOX_BACKOFF_MIN_S = 5  # first retry soon: a restarted SMTP server is back quickly
OUTBOX_BACKOFF_MAX_S = 1800  # then every half hour at most, until the day is over
OUTBOX_GIVE_UP_S = 86_400  # a day: a message older than that is news no more; log an error instead
OUTBOX_BATCH = 20  # messages claimed per round; each is one SMTP/HTTP exchange
SMTP_TIMEOUT_S = 20  # a stuck server must not hold the sender for long
WEBHOOK_TIMEOUT_S = 10  # a receiver that does not answer in 10 s is retried later
NOTIFY_DEADLINE_S = 30  # one mail or webhook try ends by then, however slowly bytes trickle in (timeouts are per read)
NOTIFY_WORKERS = 4  # deliveries in flight at once, one per receiver: a slow receiver holds one, the rest go on
NOTIFY_RETENTION_DAYS = 30  # toasts and sent outbox rows kept this long (the account page lists recent ones)
TOAST_POLL_MS = 10_000  # finished jobs are news on the scale of tens of seconds; one indexed read per tick
TOAST_MAX = 5  # toasts shown from one tick; more become one "and N more" line

# -- Slurm hosts (issue 15: services/running/executors/slurm.py) ---------------------------------------------
SLURM_TICK_S = 1.0  # one squeue per cluster this often for all FoldDeck jobs: Slurm's own scheduler ticks ~1 s
SLURM_COMMAND_TIMEOUT_S = 30.0  # a slurmctld that does not answer retries for ~10 s per call; more is an outage
SLURM_FINAL_WAIT_S = 120.0  # a job that left the queue: sacct records arrive asynchronously; after this, "unknown"
SLURM_OUTPUT_POLL_S = 0.25  # the output file on shared storage is read this often while nothing new arrived
SLURM_REMOTE_OUTPUT_POLL_S = 1.0  # over SFTP (a login node): one stat per job per second keeps 200 jobs light
SLURM_SSH_KEEPALIVE_S = 15  # a login node's firewall drops idle sessions; keepalives also reveal a dead one

# -- two stages and the MSA cache (issue 16) ----------------------------------------------------------
SIMULATOR_CPU_SLOTS = 2  # the simulator's data pipelines at once: searches overlap another job's inference
MSA_CACHE_MB = 2048  # a protein's MSAs + templates are 0.1-20 MB; 2 GB holds hundreds of chains
MSA_CACHE_DIR = "cache/msa"  # under the data dir, one JSON file per cached chain

# -- Slurm time_limit = "auto" (issue 15): a limit sized from the job, not one for the largest job -----------------
AUTO_INFERENCE_FACTOR = 3.0  # AF3's published figures are A100 80 GB; older or smaller GPUs take up to ~3x
AUTO_INFERENCE_FALLBACK_S = 4 * 3600.0  # an input the size estimate cannot read
AUTO_MODEL_START_S = 30 * 60.0  # weights loading, JAX compilation per bucket, featurisation, writing
AUTO_SEARCH_BASE_S = 30 * 60.0  # template search, deduplication, queueing for the databases' page cache
AUTO_SEARCH_PER_CHAIN_S = 60 * 60.0  # jackhmmer over 4 databases (or nhmmer over 3) for one chain, slow disks
AUTO_MIN_MINUTES = 30  # never ask Slurm for less

# Signing in with the institution's accounts (services/people/signin)
OIDC_LEEWAY_S = 60  # clocks of FoldDeck and the provider may differ this much (NTP keeps real ones within a second)
SIGNIN_TIMEOUT_S = 10  # a provider or directory slower than this is down as far as a person at the login page knows
OIDC_PENDING_MAX_AGE_S = 600  # an authorization started more than ten minutes ago is not finished any more

# -- process health -----------------------------------------------------------------------------
PROCESS_BEAT_S = 10.0  # each background process writes its heartbeat this often: one small UPDATE
PROCESS_STALE_S = 45.0  # no beat for this long: dead. 4 missed beats, so /healthz fails within a minute
PROCESS_ROWS_KEEP_S = 7 * 86400  # a week of restarts stays visible; older heartbeat rows are deleted at a start
