"""`python -m services.preflight`: is this installation ready? The checks an operator needs, in one report.

Each line is `ok`, `note` or `FAIL` with a sentence: the settings and env file load; the worker, sampler
and sender beat (the words of /healthz); mail is configured and its links point somewhere people can
open; the hosts file reads; every host that runs real AlphaFold 3 passes its preflight now (the same
script the sampler runs for the status page, and the result is stored for the claim). Exit status 0
when nothing fails, 1 otherwise, 2 when the settings cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from services.hosts import load_hosts, preflight
from services.platform import boot, db, heartbeat
from services.platform.errors import SettingsError
from services.platform.settings import Settings


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    level: str  # "ok", "note" or "FAIL"
    text: str


def mail_checks(settings: Settings) -> list[Check]:
    """Say whether job e-mails can leave, and where their links point."""
    out = [Check("ok", f"mail: sent through {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})")
           if settings.smtp_host else
           Check("FAIL", "mail: not configured (FOLDDECK_SMTP_HOST is empty): job e-mails wait in the outbox and "
                         "are never sent")]
    if settings.base_url:
        out.append(Check("ok", f"links in e-mails and webhooks point to {settings.base_url}"))
    else:
        out.append(Check("note", f"links in e-mails and webhooks point to http://{settings.host}:{settings.port} "
                                 "(FOLDDECK_BASE_URL is not set)"))
    return out


def host_checks(settings: Settings) -> list[Check]:
    """Check the hosts file and each job-running host's AlphaFold 3 (storing the results, as the sampler does)."""
    try:
        hosts = [h for h in load_hosts(settings) if h.run_jobs]
    except SettingsError as exc:
        return [Check("FAIL", f"hosts: {exc}")]
    if not hosts:
        return [Check("FAIL", "hosts: no host runs jobs (FOLDDECK_LOCAL_SLOTS is 0 and no host has slots)")]
    conn = db.connect(settings.db_path)
    out = []
    for host in hosts:
        if not preflight.runs_real_af3(settings, host):
            out.append(Check("note", f"{host.name}: runs the bundled AlphaFold 3 simulator (synthetic results)"))
            continue
        missing = preflight.check_host(settings, host)
        preflight.record(conn, host.name, missing)
        out.append(Check("FAIL", f"{host.name}: not ready for AlphaFold 3: {'; '.join(missing)}") if missing else
                   Check("ok", f"{host.name}: AlphaFold 3 preflight passed"))
    return out


def report(settings: Settings) -> list[Check]:
    """Return every check, processes first."""
    found = heartbeat.health(db.connect(settings.db_path))
    return ([Check("ok" if p.ok else "FAIL", p.words) for p in found]
            + mail_checks(settings) + host_checks(settings))


def main(argv: list[str] | None = None) -> int:
    """Print the report; return 0 when nothing fails."""
    argparse.ArgumentParser(prog="python -m services.preflight", description=__doc__.splitlines()[0]).parse_args(argv)
    try:
        settings = boot.boot("preflight")
    except SettingsError as exc:
        print(f"FAIL  settings: {exc}", file=sys.stderr)
        return 2
    print(f"ok    settings: data dir {settings.data_dir}, env file {boot.env_file()}")
    checks = report(settings)
    for check in checks:
        print(f"{check.level:<5} {check.text}")
    return 1 if any(c.level == "FAIL" for c in checks) else 0
