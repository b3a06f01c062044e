"""Jobs: a durable queue in SQLite with fair claiming, leases, limits and queue control.

A job's input is kept as `<data dir>/jobs/<id>/input.json`; each attempt writes its results to
`<data dir>/jobs/<id>/attempt-<n>/`. Every read takes the caller: a user sees only their own
jobs, an admin sees all; a job the caller may not see is reported exactly like a missing one.

The package keeps one noun per module: `model` (the job and its states), `submission`, `queries`
(reads, queue positions, change marks), `actions` (cancel, retry, clone), `manage` (rename, pin,
hold back, a deleted job's rows), `workers` (registry, queue control, heartbeats), `leases`
(attempts: claims, leases, reaping), `backoff` (unreachable hosts), `joblog` (the job's log),
`stages` (which slot a job's next stage needs), `slurm` (attempts handed to Slurm) and `cli`
(`python -m services.jobs ...`). Everything public is re-exported here: callers write
`from services import jobs; jobs.submit(...)`. The queue's rules live in `rules/` and are used by
module name: `approval` (which jobs wait for an admin), `placement` (maintenance windows,
preflight), `limits`, `quota`, `waiting` (why a job waits) and `wording` (what FoldDeck says).

The queue knows nothing above it: who runs its jobs (services.running) and what admins do with them
(services.operations: approvals, maintenance, job removal) import the queue, never the other way
(tests/test_layers.py).
"""
from __future__ import annotations

from services.af3.runlog.progress import Progress, progress  # noqa: F401  (re-exported for pages)
from services.jobs.actions import cancel_job, clone_job, retry_job  # noqa: F401
from services.jobs.claim.backoff import (  # noqa: F401
    HOST_UNREACHABLE,
    HostBackoff,
    backoff_seconds,
    host_backoffs,
    mark_host_down,
    mark_host_up,
)
from services.jobs.claim.leases import (  # noqa: F401
    adopt_slurm_job,
    check_running,
    claim_job,
    finish_attempt,
    hand_back,
    reap_expired,
    record_process,
    start_attempt,
)
from services.jobs.cli import EXIT_REFUSED, EXIT_UNREADABLE, main, problem_lines  # noqa: F401
from services.jobs.manage import pin_job, rename_job, set_not_before  # noqa: F401
from services.jobs.model import FINISHED, SELECT_JOB, SORTS, WORKER_LOST, Job, JobState, log  # noqa: F401
from services.jobs.queries import (  # noqa: F401
    Attempt,
    attempts,
    change_marks,
    get_job,
    job_board,
    jobs_by_id,
    last_change,
    list_job_columns,
    list_jobs,
    queue_positions,
    record_gpu_usage,
    running_jobs,
    state_counts,
)
from services.jobs.rules.limits import (  # noqa: F401
    GPU_HOURS_RANGE,
    LIMIT_RANGE,
    SubmitLimits,
    UserLimits,
    check_job_count,
    default_limits,
    effective_limits,
    get_limits,
    set_default_limits,
    set_limits,
    too_many_jobs,
    too_many_tokens,
)
from services.jobs.slurm import (  # noqa: F401
    SlurmAttempt,
    active_slurm_ids,
    current_attempts,
    record_offset,
    record_slurm_id,
    record_state,
    record_submission,
    slurm_attempt,
    slurm_attempts,
    slurm_counts,
)
from services.jobs.submission import (  # noqa: F401
    TERMS_REFUSAL,
    TERMS_TEXT,
    TERMS_URL,
    NewJob,
    count_tokens,
    engine_items,
    input_file,
    job_files,
    submit,
    submit_document,
    submit_many,
    submit_with_engines,
)
from services.jobs.workers import (  # noqa: F401
    HostSlots,
    WorkerInfo,
    heartbeat,
    list_workers,
    pause_queue,
    queue_paused,
    register_worker,
    resume_queue,
    slots_per_host,
    stop_worker,
)
