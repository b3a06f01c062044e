"""Job e-mails: what finished, its scores or its error, a link; sent with smtplib."""
from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from services import results
from services.notify.deadline import Deadline
from services.platform import defaults, stored_paths
from services.platform.settings import Settings

SUBJECTS = {"succeeded": "succeeded", "failed": "failed", "cancelled": "was cancelled",
            "expiring": "will lose its outputs soon"}  # expiring: the retention warning, a week ahead


def job_link(settings: Settings, job_id: int) -> str:
    """Return the job page's address for mail and webhooks."""
    return f"{settings.public_url}/jobs/{job_id}"


def output_folder(settings: Settings, payload: dict) -> str | None:
    """Return the absolute output folder of a finished job's message (rows keep it relative to the data dir)."""
    return stored_paths.to_absolute(settings.data_dir, payload.get("output_path"))


def score_lines(output_path: str | None, limit: int = 5) -> list[str]:
    """Return one line per best sample: ranking score, ipTM, pTM (empty when there are no results)."""
    try:
        samples = results.read_results(output_path).samples
    except (OSError, ValueError):
        return []
    lines = []
    for s in samples[:limit]:
        where = f"seed {s.seed}, sample {s.sample}" if s.seed is not None else getattr(s, "label", "model")
        lines.append(f"  {where}: ranking score {_fmt(s.ranking_score)}, ipTM {_fmt(s.iptm)}, pTM {_fmt(s.ptm)}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def compose(settings: Settings, payload: dict, to: str, delivery_id: str | int) -> EmailMessage:
    """Return the mail for one finished job (`payload`: the job as the trigger recorded it; `delivery_id`: the
    outbox message's, the same on every try)."""
    job_id, name, state = payload["job_id"], payload.get("name") or "job", payload["state"]
    link = job_link(settings, job_id)
    msg = EmailMessage()
    msg["Subject"] = f"[FoldDeck] Job {job_id} ({name}) {SUBJECTS.get(state, state)}"
    msg["From"] = settings.mail_from or f"folddeck@{settings.smtp_host or 'localhost'}"
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    # One Message-ID per outbox message: a receiving server can drop a copy if a crash made us send twice.
    msg["Message-ID"] = make_msgid(idstring=f"folddeck-{delivery_id}", domain="folddeck.local")
    body = [f"Your AlphaFold 3 job {job_id} ({name}) {SUBJECTS.get(state, state)}."]
    if payload.get("finished_at"):
        body.append(f"Finished: {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(payload['finished_at']))}"
                    + (f" on {payload['host']}" if payload.get("host") else ""))
    if state == "succeeded":
        scores = score_lines(output_folder(settings, payload))
        body += ["", "Best samples:", *scores] if scores else ["", "No scores were found in its output."]
    elif state == "failed":
        body += ["", f"Error: {payload.get('error') or 'no error message was recorded'}"]
    elif state == "expiring":
        day = time.strftime("%Y-%m-%d", time.localtime(payload["purge_at"]))
        body += ["", f"Its output files will be deleted on {day} under this lab's retention rule. Pin the job on "
                     "its page to keep them, or download what you need before then."]
    elif payload.get("cancelled_by"):
        reason = f" {payload['error']}" if payload.get("error") else ""  # a rejected job carries the admin's note
        body += ["", f"Cancelled by {payload['cancelled_by']}.{reason}"]
    body += ["", f"Open the job: {link}", "", "You get this mail because of your FoldDeck notification settings "
             f"({settings.public_url}/account)."]
    msg.set_content("\n".join(body) + "\n")
    return msg


def send(settings: Settings, msg: EmailMessage, deadline_s: float = defaults.NOTIFY_DEADLINE_S) -> None:
    """Deliver one message to the configured SMTP server (STARTTLS, SSL or plain) within `deadline_s`.

    Raises:
        TimeoutError: the exchange took longer than `deadline_s` (a server dripping its answers).
        OSError / smtplib.SMTPException: the server is down or refused the message.
    """
    with Deadline(deadline_s) as deadline:
        timeout = deadline.timeout(defaults.SMTP_TIMEOUT_S)
        if settings.smtp_security == "ssl":
            server: smtplib.SMTP = _SMTPSSL(deadline, settings.smtp_host, settings.smtp_port, timeout=timeout,
                                            context=ssl.create_default_context())
        else:
            server = _SMTP(deadline, settings.smtp_host, settings.smtp_port, timeout=timeout)
        with server:
            if settings.smtp_security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password)
            server.send_message(msg)


class _SMTP(smtplib.SMTP):
    """SMTP whose socket the deadline watches from the moment it connects (greeting and TLS included)."""

    def __init__(self, deadline: Deadline, *args, **kwargs):
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):  # noqa: ANN001, ANN202  (smtplib's hook)
        sock = super()._get_socket(host, port, timeout)
        self.deadline.watch(sock)
        return sock


class _SMTPSSL(smtplib.SMTP_SSL, _SMTP):
    """Implicit TLS: `SMTP_SSL._get_socket` wraps the socket `_SMTP._get_socket` already watches."""

    def __init__(self, deadline: Deadline, *args, **kwargs):
        self.deadline = deadline
        smtplib.SMTP_SSL.__init__(self, *args, **kwargs)


def is_permanent(exc: BaseException) -> bool:
    """True if retrying cannot help (the server refused the address or the login for good)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600 and \
        not isinstance(exc, smtplib.SMTPAuthenticationError)
