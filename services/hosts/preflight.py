"""Preflight per host (issue 18): can this host run real AlphaFold 3? Checked by the sampler.

One shell script runs locally or over SSH and prints one `MISSING ...` line per problem: the AF3
command is not there or does not start (`--help`), the model dir holds no weights, the database
dir lacks a file `fetch_databases.sh` creates, no GPU is visible. The result is stored per host
(`host_preflight`); the claim sends no real-AF3 job to a host whose last check failed (the
simulator needs none).
"""
from __future__ import annotations

import logging
import shlex
import sqlite3
import subprocess
import time
from dataclasses import dataclass

from services.hosts import Host
from services.platform import defaults
from services.platform.errors import HostUnreachable
from services.platform.settings import Settings

log = logging.getLogger("folddeck.metrics")
SIMULATOR = "services.af3sim"

# What google-deepmind/alphafold3's fetch_databases.sh leaves in the database dir.
DB_FILES = ("mmcif_files", "mgy_clusters_2022_05.fa", "bfd-first_non_consensus_sequences.fasta",
            "uniref90_2022_05.fa", "uniprot_all_2021_04.fa", "pdb_seqres_2022_09_28.fasta",
            "rnacentral_active_seq_id_90_cov_80_linclust.fasta",
            "nt_rna_2023_02_23_clust_seq_id_90_cov_80_rep_seq.fasta",
            "rfam_14_9_clust_seq_id_90_cov_80_rep_seq.fasta")


@dataclass(frozen=True)
class Readiness:
    host: str
    ready: bool
    missing: list[str]
    checked_at: float


def command_of(settings: Settings, host: Host) -> str:
    return host.af3_command or settings.af3_command


def runs_real_af3(settings: Settings, host: Host) -> bool:
    """Return True unless the host's AF3 command is the bundled simulator (which needs no preflight)."""
    return SIMULATOR not in command_of(settings, host)


def help_command(template: str) -> str:
    """Return the AF3 command without its placeholder arguments, plus `--help`."""
    words = [w for w in shlex.split(template) if "{" not in w]
    return shlex.join(words + ["--help"])


def script(settings: Settings, host: Host) -> str:
    """Return the shell script that prints one MISSING line per problem on the host."""
    template = command_of(settings, host)
    exe = shlex.split(template)[0] if template.strip() else ""
    q = shlex.quote
    lines = ["m=0",
             f"if ! command -v {q(exe)} >/dev/null 2>&1; then echo {q('MISSING AF3 command not found: ' + exe)};",
             f"elif ! timeout {defaults.PREFLIGHT_HELP_TIMEOUT_S} {help_command(template)} >/dev/null 2>&1; then "
             f"echo {q('MISSING AF3 command does not start: ' + help_command(template) + ' failed')}; fi"]
    searches_only = host.slots == 0 and host.cpu_slots > 0  # a CPU node (issue 16): databases, no weights, no GPU
    model = settings.af3_model_dir
    if searches_only:
        pass
    elif not model:
        lines.append("echo 'MISSING FOLDDECK_AF3_MODEL_DIR is not set'")
    else:
        lines.append(f"w=0; for f in {q(model)}/*.bin {q(model)}/*.bin.zst; do [ -s \"$f\" ] && w=1; done; "
                     f"[ $w = 1 ] || echo {q('MISSING model weights (af3.bin or af3.bin.zst) in ' + model)}")
    db = settings.af3_db_dir
    if not db:
        lines.append("echo 'MISSING FOLDDECK_AF3_DB_DIR is not set'")
    else:
        for name in DB_FILES:
            lines.append(f"[ -e {q(db + '/' + name)} ] || echo {q('MISSING database ' + name + ' in ' + db)}")
    if not host.is_slurm and not searches_only:  # a Slurm host's GPUs sit on its compute nodes (sinfo's GRES)
        lines.append("nvidia-smi -L 2>/dev/null | grep -q GPU || echo 'MISSING no GPU visible (nvidia-smi -L)'")
    return "\n".join(lines) + "\n"


def _missing(output: str) -> list[str]:
    return [line[len("MISSING "):].strip() for line in output.splitlines() if line.startswith("MISSING ")]


def check_host(settings: Settings, host: Host) -> list[str]:
    """Run the checks on the host; return what is missing ([] = ready)."""
    text = script(settings, host)
    timeout = defaults.PREFLIGHT_HELP_TIMEOUT_S + 30
    if host.is_local or host.is_slurm:  # Slurm commands (and the shared work dir) are reached from here
        out = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=timeout)
        return _missing(out.stdout)
    from services.hosts import ssh

    try:
        client = ssh.open_client(host, settings.known_hosts)
    except HostUnreachable as exc:
        return [str(exc)]
    try:
        _in, stdout, _err = client.exec_command(f"bash -c {shlex.quote(text)}", timeout=timeout)
        return _missing(stdout.read().decode(errors="replace"))
    finally:
        client.close()


def record(conn: sqlite3.Connection, host: str, missing: list[str], now: float | None = None) -> None:
    """Store a host's preflight result."""
    conn.execute("INSERT INTO host_preflight (host, ready, missing, checked_at) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (host) DO UPDATE SET ready = excluded.ready, missing = excluded.missing, "
                 "checked_at = excluded.checked_at", (host, int(not missing), "\n".join(missing),
                                                      time.time() if now is None else now))


def run_all(conn: sqlite3.Connection, settings: Settings, hosts: list[Host]) -> list[Readiness]:
    """Check every job-running host that runs real AF3; store and return the results."""
    out = []
    for host in hosts:
        if not host.run_jobs or not runs_real_af3(settings, host):
            continue
        try:
            missing = check_host(settings, host)
        except (OSError, subprocess.SubprocessError) as exc:
            missing = [f"preflight could not run: {exc}"]
        was = readiness(conn).get(host.name)
        record(conn, host.name, missing)
        if missing and (was is None or was.ready):
            log.warning("host %s is not ready for AlphaFold 3: %s", host.name, "; ".join(missing),
                        extra={"source": "metrics"})
        out.append(Readiness(host.name, not missing, missing, time.time()))
    return out


def readiness(conn: sqlite3.Connection) -> dict[str, Readiness]:
    """Return the last preflight result per host."""
    return {r[0]: Readiness(r[0], bool(r[1]), [x for x in r[2].split("\n") if x], r[3])
            for r in conn.execute("SELECT host, ready, missing, checked_at FROM host_preflight")}


def is_ready(conn: sqlite3.Connection, host: str) -> bool:
    """Return True unless the host's last preflight failed (a host not checked yet is given the benefit:
    the sampler checks every host at its start, and a worker must not stall until then)."""
    row = conn.execute("SELECT ready FROM host_preflight WHERE host = ?", (host,)).fetchone()
    return row is None or bool(row[0])
