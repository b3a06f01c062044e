"""Executor / monitored hosts, configured in one place: `<data dir>/hosts.toml` (or FOLDDECK_HOSTS_FILE).

    [[host]]
    name = "gpu1"                 # shown in the UI; letters, digits, . _ -
    address = "gpu1.lab.example"
    port = 22
    user = "alphafold"
    key_file = "~/.ssh/id_ed25519"
    work_dir = "/scratch/folddeck"  # jobs' inputs and outputs live under here on the host
    slots = 2                     # jobs run at once (usually the GPU count)
    af3_command = "..."           # optional; defaults to FOLDDECK_AF3_COMMAND
    run_jobs = true               # false: monitor only

The local machine is always host `local` with FOLDDECK_LOCAL_SLOTS slots. The job executors and
the metrics sampler both read this list.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from services.errors import SettingsError
from services.settings import Settings

LOCAL = "local"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEYS = {"name", "address", "port", "user", "key_file", "work_dir", "slots", "af3_command", "run_jobs"}


@dataclass(frozen=True)
class Host:
    name: str
    address: str = ""  # empty for the local host
    port: int = 22
    user: str = ""
    key_file: str = ""
    work_dir: str = ""
    slots: int = 1
    af3_command: str = ""  # empty -> settings.af3_command
    run_jobs: bool = True

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL


def local_host(settings: Settings) -> Host:
    """Return the local machine as a host."""
    return Host(name=LOCAL, slots=settings.local_slots, work_dir=str(settings.jobs_dir),
                run_jobs=settings.local_slots > 0)


def load_hosts(settings: Settings) -> list[Host]:
    """Return the local host followed by the configured SSH hosts.

    Raises:
        SettingsError: the hosts file cannot be read or has a bad entry (the message says which).
    """
    hosts = [local_host(settings)]
    path = settings.hosts_path
    if not path.exists():
        return hosts
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the hosts file: {exc}") from None
    entries = doc.get("host", [])
    if not isinstance(entries, list):
        raise SettingsError(f"{path}: write each host as a [[host]] table.")
    for i, entry in enumerate(entries):
        hosts.append(_parse_host(path, i, entry))
    names = [h.name for h in hosts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SettingsError(f"{path}: host names must be unique ('local' is reserved); repeated: {', '.join(dupes)}.")
    return hosts


def _parse_host(path: Path, i: int, entry: dict) -> Host:
    where = f"{path}: host #{i + 1}"
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}.")
    for key in ("name", "address", "user"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise SettingsError(f"{where}: '{key}' is required (a non-empty string).")
    if not _NAME.match(entry["name"]):
        raise SettingsError(f"{where}: name {entry['name']!r} may use letters, digits, '.', '_' and '-' only.")
    port, slots = entry.get("port", 22), entry.get("slots", 1)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise SettingsError(f"{where}: 'port' must be an integer from 1 to 65535.")
    if not isinstance(slots, int) or not 0 <= slots <= 64:
        raise SettingsError(f"{where}: 'slots' must be an integer from 0 to 64.")
    work_dir = entry.get("work_dir") or f"/tmp/folddeck-{entry['user']}"
    return Host(name=entry["name"], address=entry["address"].strip(), port=port, user=entry["user"].strip(),
                key_file=str(Path(entry.get("key_file", "")).expanduser()) if entry.get("key_file") else "",
                work_dir=work_dir, slots=slots, af3_command=entry.get("af3_command", ""),
                run_jobs=bool(entry.get("run_jobs", True)))


def get_host(settings: Settings, name: str) -> Host:
    """Return the configured host called `name`, or raise SettingsError."""
    for host in load_hosts(settings):
        if host.name == name:
            return host
    raise SettingsError(f"No host named {name!r} is configured.")
