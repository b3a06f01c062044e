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
                 reuse_msa: bool = True):
    """Validate the form state on the server and queue it (`reuse_msa=False`: search every chain again).

    Raises:
        InvalidInput: the form has errors.
        TermsNotAccepted, LimitExceeded: from jobs.submit; nothing was submitted.
    """
    ev = evaluate(state)
    if not ev.valid:
        raise InvalidInput("The job has problems; nothing was submitted.", [p for p in ev.problems if p.is_error])
    return jobs.submit(conn(), settings(), user, ev.af3, idempotency_key=f"builder-{key}" if key else None,
                       accept_terms=accepted, via="builder", not_before=not_before, reuse_msa=reuse_msa)
