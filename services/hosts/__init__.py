"""Executor / monitored hosts, configured in one place: `<data dir>/hosts.toml` (or FOLDDECK_HOSTS_FILE).

    [[host]]
    name = "gpu1"                 # shown in the UI; letters, digits, . _ -
    address = "gpu1.lab.example"
    port = 22
    user = "alphafold"
    key_file = "~/.ssh/id_ed25519"
    work_dir = "/scratch/folddeck"  # jobs' inputs and outputs live under here on the host
    slots = 2                     # jobs run at once (usually the GPU count)
    cpu_slots = 4                 # optional: data pipelines (MSA search) at once, beside the GPU jobs;
                                  #   0 (default) runs both stages of a job in one GPU slot; with
                                  #   slots = 0 the host is a CPU node that only searches
    af3_command = "..."           # optional; defaults to FOLDDECK_AF3_COMMAND
    run_jobs = true               # false: monitor only
    engines = { af3 = "", boltz = "boltz predict {input} --out_dir {output} --use_msa_server" }
                                  # optional (issue 29): the engines this host runs, each with its command
                                  #   ("" = FOLDDECK_<ENGINE>_COMMAND); unset: AlphaFold 3 only

    [[host]]                      # a Slurm cluster: jobs go through sbatch (issue 15)
    name = "cluster"
    kind = "slurm"
    work_dir = "/shared/folddeck" # on storage the compute nodes share with this machine
    partition = "gpu"             # optional: account, qos, gres ("gpu:1"), cpus, mem ("64G"),
    gres = "gpu:1"                #   time_limit ("4:00:00", or "auto": sized from each job's input),
                                  #   sbatch_lines (extra "#SBATCH ..." lines)
    max_jobs = 20                 # FoldDeck jobs in Slurm at once (pending or running)
    cpu_partition = "cpu"         # optional: each run becomes two Slurm jobs, the data pipeline here (no
                                  #   gres), then inference in `partition` once it succeeded (afterok);
                                  #   cpu_cpus, cpu_mem, cpu_time_limit size the first (unset: the partition's
                                  #   defaults); account and qos apply to both, sbatch_lines to inference only
    address = "login1.hpc.example" # optional (issue 25): Slurm commands run on this login node over SSH
    user = "folddeck"             #   (port, key_file as for an SSH host; host keys checked the same way)
    shared_storage = false        # false (the default with an address): inputs go up, logs and results come
                                  #   back over SFTP; true: work_dir is the same path on both machines
    submit_as = "service"         # "service": every job under `user`, the person in --account/--comment/--wckey;
                                  #   "sudo": `sudo -n -u <person's cluster user>` on the login node;
                                  #   "own_key": each person's own SSH key (their cluster identity)
    wckey = true                  # also send --wckey=<FoldDeck user> (the cluster needs TrackWCKey=yes)

The local machine is always host `local` with FOLDDECK_LOCAL_SLOTS slots. The job executors and
the metrics sampler both read this list. A Slurm host without an address runs its commands on this
machine (FoldDeck on a login node, or any machine with the Slurm clients and the cluster's slurm.conf).
"""
from __future__ import annotations

import hashlib
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from services.platform.errors import SettingsError
from services.platform.settings import Settings

LOCAL = "local"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEYS = {"name", "kind", "address", "port", "user", "key_file", "work_dir", "slots", "cpu_slots", "batch_size",
         "af3_command", "run_jobs", "engines"}
KINDS = ("ssh", "slurm")
_SLURM_KEYS = {"name", "kind", "work_dir", "af3_command", "run_jobs", "partition", "account", "qos", "gres", "cpus",
               "mem", "time_limit", "sbatch_lines", "max_jobs", "cpu_partition", "cpu_cpus", "cpu_mem",
               "cpu_time_limit", "address", "port", "user", "key_file", "shared_storage", "submit_as", "wckey",
               "engines"}
SUBMIT_AS = ("service", "sudo", "own_key")
_SLURM_TEXT = ("partition", "account", "qos", "gres", "mem", "time_limit", "cpu_partition", "cpu_mem", "cpu_time_limit")
_SLURM_VALUE = re.compile(r"^[A-Za-z0-9._:,=+/-]{1,128}$")  # no spaces or quotes: each lands on an #SBATCH line
_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")  # Slurm's forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S


@dataclass(frozen=True)
class SlurmConfig:
    """How a `kind = "slurm"` host submits: every field lands on an #SBATCH line when set."""

    partition: str = ""
    account: str = ""
    qos: str = ""
    gres: str = ""  # e.g. "gpu:1"
    cpus: int = 0  # --cpus-per-task; 0 = the partition's default
    mem: str = ""  # e.g. "64G"
    time_limit: str = ""  # e.g. "4:00:00"; empty = the partition's default
    sbatch_lines: tuple[str, ...] = ()  # extra lines, each starting with "#SBATCH" (the GPU job only)
    cpu_partition: str = ""  # set: the data pipeline is a job of its own here, inference follows (afterok)
    cpu_cpus: int = 0  # the data-pipeline job's --cpus-per-task; 0 = cpu_partition's default
    cpu_mem: str = ""
    cpu_time_limit: str = ""
    shared_storage: bool = True  # False: work_dir exists only on the cluster; files travel over SFTP
    submit_as: str = "service"  # "service", "sudo" or "own_key" (see the module docstring)
    wckey: bool = False  # send --wckey=<FoldDeck user> (needs TrackWCKey=yes in slurm.conf)

    @property
    def two_jobs(self) -> bool:
        """True when a whole run is submitted as a data-pipeline job and a dependent inference job."""
        return bool(self.cpu_partition)


@dataclass(frozen=True)
class Host:
    name: str
    address: str = ""  # empty for the local host
    port: int = 22
    user: str = ""
    key_file: str = ""
    work_dir: str = ""
    slots: int = 1  # GPU slots: inference (or whole one-stage runs) at once
    cpu_slots: int = 0  # data-pipeline slots; 0: every job runs both stages in one GPU slot
    batch_size: int = 1  # inference-ready jobs of one bucket that one AF3 process folds together (issue 26)
    af3_command: str = ""  # empty -> settings.af3_command
    run_jobs: bool = True
    kind: str = "ssh"  # "local" for this machine, "ssh", or "slurm"
    slurm: SlurmConfig | None = None  # set for kind "slurm"
    engines: tuple[tuple[str, str], ...] | None = None  # (engine, command or "") it runs; None: AF3 (here: all)

    def offers(self, engine: str) -> bool:
        """True when jobs of `engine` may run here: the local machine runs every engine that has a command."""
        if self.engines is None:
            return self.is_local or engine == "af3"
        return any(name == engine for name, _command in self.engines)

    def engine_command(self, engine: str) -> str:
        """Return this host's own command template for `engine` ("" = the setting's)."""
        return next((command for name, command in self.engines or () if name == engine), "")

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    @property
    def is_slurm(self) -> bool:
        return self.kind == "slurm"

    @property
    def remote_slurm(self) -> bool:
        """True for a Slurm host reached over SSH (a login node), False where the commands run here."""
        return self.is_slurm and bool(self.address)

    @property
    def two_stage(self) -> bool:
        """True when this host runs data pipelines in CPU slots and inference in GPU slots."""
        return self.cpu_slots > 0


def local_host(settings: Settings) -> Host:
    """Return the local machine as a host."""
    return Host(name=LOCAL, slots=settings.local_slots, cpu_slots=settings.cpu_slots if settings.local_slots else 0,
                work_dir=str(settings.jobs_dir), run_jobs=settings.local_slots > 0, kind="local",
                batch_size=settings.local_batch_size)


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
    kind = entry.get("kind", "ssh")
    if kind not in KINDS:
        raise SettingsError(f"{where}: 'kind' must be one of {', '.join(KINDS)} (got {kind!r}).")
    if kind == "slurm":
        return _parse_slurm(where, entry)
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
    cpu_slots = entry.get("cpu_slots", 0)
    if not isinstance(cpu_slots, int) or isinstance(cpu_slots, bool) or not 0 <= cpu_slots <= 256:
        raise SettingsError(f"{where}: 'cpu_slots' must be an integer from 0 to 256.")
    batch_size = entry.get("batch_size", 1)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 64:
        raise SettingsError(f"{where}: 'batch_size' must be an integer from 1 to 64.")
    work_dir = entry.get("work_dir") or f"/tmp/folddeck-{entry['user']}"
    return Host(name=entry["name"], address=entry["address"].strip(), port=port, user=entry["user"].strip(),
                key_file=str(Path(entry.get("key_file", "")).expanduser()) if entry.get("key_file") else "",
                work_dir=work_dir, slots=slots, cpu_slots=cpu_slots, af3_command=entry.get("af3_command", ""),
                run_jobs=bool(entry.get("run_jobs", True)), batch_size=batch_size,
                engines=_engines(where, entry))


def _engines(where: str, entry: dict) -> tuple[tuple[str, str], ...] | None:
    """Return a host's `engines` table as (engine, command) pairs (None when unset), or raise SettingsError."""
    table = entry.get("engines")
    if table is None:
        return None
    if not isinstance(table, dict) or not all(isinstance(k, str) and _NAME.match(k) and isinstance(v, str)
                                              for k, v in table.items()):
        raise SettingsError(f"{where}: 'engines' must be a table of engine = \"command\" (\"\" for the default), "
                            "e.g. engines = { af3 = \"\", boltz = \"\" }.")
    for name, command in table.items():
        if command and not ("{input}" in command and "{output}" in command):
            raise SettingsError(f"{where}: the {name} command must contain {{input}} and {{output}}.")
    return tuple((k.lower(), v) for k, v in table.items())


def _parse_slurm(where: str, entry: dict) -> Host:
    """Return a Slurm host, or raise SettingsError naming the first bad key."""
    unknown = sorted(set(entry) - _SLURM_KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown keys {', '.join(unknown)} for a slurm host; "
                            f"allowed: {', '.join(sorted(_SLURM_KEYS))}.")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SettingsError(f"{where}: 'name' is required and may use letters, digits, '.', '_' and '-' only.")
    where = f"{where} ({name})"
    work_dir = entry.get("work_dir")
    if not isinstance(work_dir, str) or not work_dir.startswith("/"):
        raise SettingsError(f"{where}: 'work_dir' is required: an absolute path on storage the compute nodes share.")
    _check_slurm_job_options(where, entry)
    max_jobs = entry.get("max_jobs", 10)
    if not isinstance(max_jobs, int) or isinstance(max_jobs, bool) or not 0 <= max_jobs <= 10_000:
        raise SettingsError(f"{where}: 'max_jobs' must be an integer from 0 to 10000.")
    lines = entry.get("sbatch_lines", [])
    if not isinstance(lines, list) or not all(isinstance(s, str) and s.startswith("#SBATCH ") and "\n" not in s
                                                for s in lines):
        raise SettingsError(f"{where}: 'sbatch_lines' must be a list of lines, each starting with '#SBATCH '.")
    command = entry.get("af3_command", "")
    if not isinstance(command, str):
        raise SettingsError(f"{where}: 'af3_command' must be a string.")
    login = _slurm_login(where, entry)
    config = SlurmConfig(**{k: entry.get(k, "") for k in _SLURM_TEXT}, cpus=entry.get("cpus", 0),
                         cpu_cpus=entry.get("cpu_cpus", 0), sbatch_lines=tuple(lines),
                         **_slurm_modes(where, entry, bool(login)))
    return Host(name=name, work_dir=work_dir.rstrip("/") or "/", slots=max_jobs, af3_command=command,
                run_jobs=bool(entry.get("run_jobs", True)), kind="slurm", slurm=config, engines=_engines(where, entry),
                **login)


def _slurm_login(where: str, entry: dict) -> dict:
    """Return the login node's address, port, user and key_file ({} without an address)."""
    if "address" not in entry:
        stray = [k for k in ("port", "user", "key_file") if k in entry]
        if stray:
            raise SettingsError(f"{where}: '{stray[0]}' is for a login node reached over SSH: set 'address' too.")
        return {}
    for key in ("address", "user"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise SettingsError(f"{where}: '{key}' is required with an address (a non-empty string).")
    port, key_file = entry.get("port", 22), entry.get("key_file", "")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SettingsError(f"{where}: 'port' must be an integer from 1 to 65535.")
    if not isinstance(key_file, str):
        raise SettingsError(f"{where}: 'key_file' must be a path (a string).")
    return {"address": entry["address"].strip(), "port": port, "user": entry["user"].strip(),
            "key_file": str(Path(key_file).expanduser()) if key_file else ""}


def _slurm_modes(where: str, entry: dict, remote: bool) -> dict:
    """Return shared_storage, submit_as and wckey, checked (shared storage is the default only without SSH)."""
    shared, submit_as, wckey = entry.get("shared_storage", not remote), entry.get("submit_as", "service"), \
        entry.get("wckey", False)
    if not isinstance(shared, bool) or not isinstance(wckey, bool):
        raise SettingsError(f"{where}: 'shared_storage' and 'wckey' must be true or false.")
    if submit_as not in SUBMIT_AS:
        raise SettingsError(f"{where}: 'submit_as' must be one of {', '.join(SUBMIT_AS)} (got {submit_as!r}).")
    if not remote and not shared:
        raise SettingsError(f"{where}: 'shared_storage = false' needs an 'address' (files travel over SFTP).")
    if submit_as == "own_key" and not remote:
        raise SettingsError(f"{where}: 'submit_as = \"own_key\"' needs an 'address' (each person's SSH login).")
    return {"shared_storage": shared, "submit_as": submit_as, "wckey": wckey}


def _check_slurm_job_options(where: str, entry: dict) -> None:
    """Raise SettingsError naming the first bad option of the Slurm jobs (partition, sizes, limits)."""
    for key in _SLURM_TEXT:
        value = entry.get(key, "")
        if not isinstance(value, str) or (value and not _SLURM_VALUE.match(value)):
            raise SettingsError(f"{where}: '{key}' must be a string without spaces or quotes (got {value!r}).")
    for key in ("time_limit", "cpu_time_limit"):
        if entry.get(key) and entry[key] != "auto" and not _TIME.match(entry[key]):
            raise SettingsError(f"{where}: '{key}' must be in a Slurm form such as 4:00:00 or 1-00:00:00, or "
                                f"\"auto\" (sized from each job's input) (got {entry[key]!r}).")
    for key in ("cpus", "cpu_cpus"):
        cpus = entry.get(key, 0)
        if not isinstance(cpus, int) or isinstance(cpus, bool) or not 0 <= cpus <= 1024:
            raise SettingsError(f"{where}: '{key}' must be an integer from 0 to 1024.")
    orphans = [k for k in ("cpu_cpus", "cpu_mem", "cpu_time_limit") if k in entry and not entry.get("cpu_partition")]
    if orphans:  # they size the data-pipeline job, which only exists with a cpu_partition
        raise SettingsError(f"{where}: '{orphans[0]}' applies to the data-pipeline job: set 'cpu_partition' too.")


def get_host(settings: Settings, name: str) -> Host:
    """Return the configured host called `name`, or raise SettingsError."""
    for host in load_hosts(settings):
        if host.name == name:
            return host
    raise SettingsError(f"No host named {name!r} is configured.")


INSTALL_TAG_KEY = "install_tag"


def install_tag(settings: Settings) -> str:
    """Return 8 hex digits naming this FoldDeck installation in Slurm job names and remote folders.

    Kept in the database (lab_settings), so a backup restored into another data dir still finds its
    jobs in Slurm. An installation from before that stores the tag it always had (a hash of its data
    dir) on first use, so its jobs already in Slurm keep their names.
    """
    from services.platform import db  # only when a tag is asked for (a worker start, a job's remote clean-up)

    conn = db.connect(settings.db_path)
    legacy = hashlib.sha1(str(Path(settings.data_dir).resolve()).encode()).hexdigest()[:8]
    conn.execute("INSERT OR IGNORE INTO lab_settings (key, value, changed_by, changed_at) "
                 "VALUES (?, ?, 'folddeck', ?)", (INSTALL_TAG_KEY, legacy, time.time()))
    return conn.execute("SELECT value FROM lab_settings WHERE key = ?", (INSTALL_TAG_KEY,)).fetchone()[0]
