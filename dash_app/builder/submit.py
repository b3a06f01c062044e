"""Queue the builder form's job: the server validates the state again and submits it."""
from __future__ import annotations

from datetime import datetime

from dash_app.builder.problems import evaluate
from dash_app.context import conn, settings
from services import jobs
from services.platform.errors import InvalidInput


def parse_not_before(value: str | None) -> float | None:
    """Return the timestamp of a datetime-local value ("2026-11-28T14:00"), None when empty.

    Raises:
        InvalidInput: not a date and time.
    """
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise InvalidInput(f"'Not before' must be a date and time, not {value!r}.") from None


def submit_state(state: dict, user, key: str | None, accepted: bool, not_before: float | None = None, *,
                 reuse_msa: bool = True, engines: list[str] | None = None) -> jobs.Job:
    """Validate the form state on the server and queue it, one job per engine; return the first job.

    `reuse_msa=False`: search every chain again. Several engines give grouped jobs (issue 29).

    Raises:
        InvalidInput: the form has errors, or a ticked engine cannot run the job (named, with the reason).
        TermsNotAccepted, LimitExceeded: from jobs.submit_many; nothing was submitted.
    """
    ev = evaluate(state)
    if not ev.valid:
        raise InvalidInput("The job has problems; nothing was submitted.", [p for p in ev.problems if p.is_error])
    item = jobs.NewJob(ev.af3, idempotency_key=f"builder-{key}" if key else None)
    return jobs.submit_many(conn(), settings(), user, jobs.engine_items(settings(), [item], engines or ["af3"]),
                            accept_terms=accepted, via="builder", not_before=not_before, reuse_msa=reuse_msa)[0]
