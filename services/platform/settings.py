"""Settings from the environment and an optional `.env`, every name prefixed `FOLDDECK_`.

`load_settings()` reads, checks and returns one frozen `Settings`. A bad value raises
`SettingsError` naming the variable and the values it accepts, so start-up stops with a
message a person can act on.
"""
from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from services.platform import defaults
from services.platform.errors import SettingsError

PREFIX = "FOLDDECK_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SHUTDOWN_MODES = ("wait", "requeue")
SMTP_SECURITY = ("starttls", "ssl", "plain")
MSA_CACHE_SCOPES = ("user", "lab")
OIDC_USERNAME_CLAIMS = ("preferred_username", "email", "sub")  # the claim a FoldDeck username is matched by
_SHELL_OPERATORS = re.compile(r"[;&|`$()<>\n]")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _default_af3_command() -> str:
    # The bundled simulator, run by the same interpreter as FoldDeck, so a fresh install runs jobs.
    return f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=50"


def _default_engine_command(engine: str) -> str:
    # The engines' stand-ins (services.engines.sims), in each engine's own command-line shape.
    verb = {"boltz": "predict {input} --out_dir {output}", "chai": "fold {input} {output}",
            "protenix": "predict --input {input} --out_dir {output}",
            "openfold3": "predict --query_json {input} --output_dir {output}"}[engine]
    return f"{sys.executable} -m services.engines.sims {engine} {verb} --seconds=2"


@dataclass(frozen=True)
class Settings:
    """Everything a FoldDeck process may be configured with. Field docs = README table."""

    data_dir: Path = Path("data")
    host: str = defaults.DEFAULT_HOST
    port: int = defaults.DEFAULT_PORT
    secret_key: str = ""  # filled by load_settings from the env or <data_dir>/secret_key
    cookie_secure: bool = False
    trusted_proxies: int = 0  # reverse proxies in front of the app whose X-Forwarded-For is believed
    log_level: str = "INFO"
    af3_command: str = field(default_factory=_default_af3_command)
    af3_model_dir: str = ""
    # other engines' command templates (services.engines); "" = not offered. Each defaults to its stand-in,
    # offered only beside the AF3 simulator (services.engines.registry.available).
    boltz_command: str = field(default_factory=lambda: _default_engine_command("boltz"))
    chai_command: str = field(default_factory=lambda: _default_engine_command("chai"))
    protenix_command: str = field(default_factory=lambda: _default_engine_command("protenix"))
    openfold3_command: str = field(default_factory=lambda: _default_engine_command("openfold3"))
    engines_default: tuple[str, ...] = ("af3",)  # ticked on the builder and upload pages (issue 29)
    af3_db_dir: str = ""
    af3_ccd_path: Path | None = None  # None -> the wwPDB CCD bundled with biotite
    local_slots: int = 1
    local_cpu_slots: int | None = None  # data pipelines at once here; None: 2 with the simulator, else 0 (one stage)
    local_batch_size: int = 1  # inference-ready jobs of one bucket folded by one AF3 process here (issue 26); 1: off
    batch_mixed_users: bool = False  # may jobs of different users share one AF3 process (a batch)?
    hosts_file: Path | None = None  # None -> <data_dir>/hosts.toml
    known_hosts: Path = Path("~/.ssh/known_hosts")
    max_attempts: int = defaults.MAX_ATTEMPTS
    lease_seconds: int = defaults.LEASE_SECONDS
    worker_shutdown: str = "requeue"
    sample_interval: float = defaults.SAMPLE_INTERVAL_S
    disk_mounts: tuple[str, ...] = ("/",)
    raw_retention_hours: int = defaults.RAW_RETENTION_HOURS
    minute_retention_days: int = defaults.MINUTE_RETENTION_DAYS
    hour_retention_days: int = defaults.HOUR_RETENTION_DAYS
    metrics_token: str = ""
    upload_max_bytes: int = defaults.UPLOAD_MAX_BYTES
    user_quota_mb: int = defaults.USER_QUOTA_MB  # disk per user for job folders; admins override per user; 0: none
    console_max_lines: int = defaults.CONSOLE_MAX_LINES
    app_log_retention_days: int = defaults.APP_LOG_RETENTION_DAYS
    base_url: str = ""  # empty -> http://<host>:<port>
    smtp_host: str = ""  # empty: no e-mail is sent (the outbox keeps the messages)
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""  # empty -> folddeck@<smtp host>
    api_rate_per_minute: int = defaults.API_RATE_PER_MINUTE
    submit_rate_per_minute: int = defaults.SUBMIT_RATE_PER_MINUTE
    retention_days: int = 0  # outputs of unpinned finished jobs are purged after this; 0 keeps them
    approval_tokens: int = 0  # (older rule, kept) jobs above this many tokens wait for an admin; 0: off
    approval_gpu_hours: float = 0.0  # jobs estimated above this many GPU hours wait for an admin; 0: off
    msa_cache_mb: int = defaults.MSA_CACHE_MB  # cached MSAs and templates, least recently used evicted; 0: off
    msa_cache_scope: str = "user"  # "user": reuse only your own chains; "lab": anyone's identical chain
    shared_input_dirs: tuple[Path, ...] = ()  # folders whose files any job's input may name (read-only); none
    input_files_max_bytes: int = defaults.INPUT_FILES_MAX_BYTES  # MSA/template/CCD files sent with one submission
    # Signing in with the institution's accounts (services/people/signin; README "Signing in"): all off by default.
    local_login: bool = True  # FoldDeck's own accounts on the login form; off: only the institution's
    sso_create_users: bool = True  # create the FoldDeck account at someone's first sign-in; off: it must exist
    sso_login_group: str = ""  # provider group whose members may sign in; empty: anyone the provider signs in
    sso_admin_group: str = ""  # provider group whose members are admins (checked at each login); empty: roles stay
    sso_approval_group: str = ""  # provider group whose members' jobs wait for an admin's approval; empty: off
    sso_quota_groups: tuple[tuple[str, int], ...] = ()  # (group, MB) pairs: the quota members get; 0: none
    oidc_discovery_url: str = ""  # https://idp/realms/lab/.well-known/openid-configuration; empty: no OIDC
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_label: str = "your institution"  # the button says "Sign in with <label>"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_ca_file: Path | None = None  # CA bundle for the provider's HTTPS; None: the system's
    oidc_leeway_s: int = defaults.OIDC_LEEWAY_S  # clock difference tolerated on ID token times
    ldap_url: str = ""  # ldaps://dc.lab.example or ldap://... with ldap_starttls; empty: no LDAP
    ldap_starttls: bool = False
    ldap_ca_file: Path | None = None  # CA bundle for the directory's certificate; None: the system's
    ldap_user_dn: str = ""  # bind as the user directly: uid={username},ou=people,dc=lab,dc=example
    ldap_bind_dn: str = ""  # or search first with this service account (then bind as the DN found)
    ldap_bind_password: str = ""
    ldap_user_base: str = ""  # where the search looks: ou=people,dc=lab,dc=example
    ldap_user_filter: str = "(uid={username})"  # Active Directory: (sAMAccountName={username})
    ldap_group_base: str = ""  # groups searched here by member; empty: the user's memberOf (Active Directory)
    ldap_group_filter: str = "(|(member={dn})(uniqueMember={dn}))"

    def __post_init__(self) -> None:
        # Every path absolute, fixed against the working directory once, here: the AF3 command runs
        # in its attempt folder, and `make run`'s default `./data` handed it `data/jobs/1/input.json`.
        for name in ("data_dir", "hosts_file", "known_hosts", "af3_ccd_path", "oidc_ca_file", "ldap_ca_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, absolute(value))
        for name in ("af3_model_dir", "af3_db_dir"):  # placeholders of the AF3 command: the same story
            if getattr(self, name):
                object.__setattr__(self, name, str(absolute(getattr(self, name))))

    @property
    def db_path(self) -> Path:
        """Return the SQLite database file."""
        return self.data_dir / defaults.DB_FILE

    @property
    def uses_simulator(self) -> bool:
        """True when jobs run the bundled AF3 simulator itself (the default command, or it with other flags).

        A shell line around it (`a && python -m services.af3sim ...`) is not: the stage flag is appended
        to the command, and only a plain command line takes it there.
        """
        return "-m services.af3sim" in self.af3_command and not _SHELL_OPERATORS.search(self.af3_command)

    @property
    def cpu_slots(self) -> int:
        """Return the data-pipeline slots of this machine (0: each job runs both stages in one GPU slot)."""
        if self.local_cpu_slots is not None:
            return self.local_cpu_slots
        return defaults.SIMULATOR_CPU_SLOTS if self.uses_simulator else 0

    @property
    def jobs_dir(self) -> Path:
        """Return the folder holding one sub-folder per job."""
        return self.data_dir / "jobs"

    @property
    def hosts_path(self) -> Path:
        """Return the hosts configuration file (it need not exist)."""
        return self.hosts_file or self.data_dir / "hosts.toml"

    @property
    def public_url(self) -> str:
        """Return the address people open FoldDeck at (links in mail), without a trailing slash."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (tests use this)."""
        return replace(self, **changes)


def absolute(path: Path | str) -> Path:
    """Return `path` with `~` expanded, made absolute against the working directory and normalised."""
    return Path(os.path.abspath(Path(path).expanduser()))


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean; use one of: true, false (or 1/0, yes/no, on/off).")


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number; use an integer from {lo} to {hi}.") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{name}={value} is out of range; use an integer from {lo} to {hi}.")
        return value

    return parse


def _float(lo: float, hi: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number; use a number from {lo} to {hi}.") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{name}={value} is out of range; use a number from {lo} to {hi}.")
        return value

    return parse


def _choice(options: tuple[str, ...], upper: bool = False) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise SettingsError(f"{name}={raw!r} is not accepted; use one of: {', '.join(options)}.")
        return value

    return parse


def _path(name: str, raw: str) -> Path:
    if not raw.strip():
        raise SettingsError(f"{name} is empty; give a folder or file path.")
    return Path(raw.strip()).expanduser()


def _folders(name: str, raw: str) -> tuple[Path, ...]:
    """Comma-separated absolute folders that exist (the shared input folders an admin lists)."""
    out = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        path = Path(part).expanduser()
        if not path.is_absolute() or not path.is_dir():
            raise SettingsError(f"{name}: {part!r} is not an absolute path of an existing folder; give "
                                "comma-separated folders such as /srv/msas,/srv/templates, or leave it empty.")
        out.append(path)
    return tuple(out)


def _ccd_file(name: str, raw: str) -> Path:
    path = _path(name, raw)
    if not path.is_file():
        raise SettingsError(f"{name}={raw!r} is not a file; give the path of AlphaFold 3's components.cif "
                            "(plain or .gz), or unset it to use the CCD bundled with FoldDeck.")
    return path


def _file(name: str, raw: str) -> Path:
    path = _path(name, raw)
    if not path.is_file():
        raise SettingsError(f"{name}={raw!r} is not a file; give the path of a PEM file, or unset it.")
    return path


def _ldap_url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value and not value.startswith(("ldap://", "ldaps://")):
        raise SettingsError(f"{name}={raw!r} must start with ldaps:// (or ldap:// with FOLDDECK_LDAP_STARTTLS=true), "
                            "e.g. ldaps://ldap.lab.example.")
    return value


def _group_quotas(name: str, raw: str) -> tuple[tuple[str, int], ...]:
    """Parse `group=MB, other=MB` (0: no quota) into (group, MB) pairs."""
    out = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        group, sep, mb = part.rpartition("=")
        if not sep or not group.strip() or not mb.strip().isdigit():
            raise SettingsError(f"{name}: {part!r} is not group=MB (e.g. {name}=lab-students=200000,lab-staff=0).")
        out.append((group.strip(), int(mb)))
    return tuple(out)


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _command(name: str, raw: str) -> str:
    value = raw.strip()
    missing = [p for p in ("{input}", "{output}") if p not in value]
    if missing:
        raise SettingsError(
            f"{name} must contain the placeholders {{input}} and {{output}} (missing: {', '.join(missing)}); "
            "optional ones are {model_dir}, {db_dir} and {stage_flags}."
        )
    return value


def _mounts(name: str, raw: str) -> tuple[str, ...]:
    mounts = tuple(m.strip() for m in raw.split(",") if m.strip())
    if not mounts or any(not m.startswith("/") for m in mounts):
        raise SettingsError(f"{name}={raw!r} must be a comma-separated list of absolute paths, e.g. /,/data.")
    return mounts


def _url(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={raw!r} must start with http:// or https://, e.g. https://folddeck.lab.example.")
    return value


def _port(name: str, raw: str) -> int:
    return _int(1, 65535)(name, raw)


# field name -> parser(name, raw) for the variable FOLDDECK_<FIELD NAME UPPER>
PARSERS: dict[str, Callable[[str, str], Any]] = {
    "data_dir": _path,
    "host": _str,
    "port": _port,
    "secret_key": _str,
    "cookie_secure": _bool,
    "trusted_proxies": _int(0, 10),
    "log_level": _choice(LOG_LEVELS, upper=True),
    "af3_command": _command,
    "af3_model_dir": _str,
    "boltz_command": lambda name, raw: _command(name, raw) if raw.strip() else "",
    "chai_command": lambda name, raw: _command(name, raw) if raw.strip() else "",
    "protenix_command": lambda name, raw: _command(name, raw) if raw.strip() else "",
    "openfold3_command": lambda name, raw: _command(name, raw) if raw.strip() else "",
    "engines_default": lambda _name, raw: tuple(e.strip().lower() for e in raw.split(",") if e.strip()) or ("af3",),
    "af3_db_dir": _str,
    "af3_ccd_path": _ccd_file,
    "local_slots": _int(0, 64),
    "local_cpu_slots": _int(0, 256),
    "local_batch_size": _int(1, 64),
    "batch_mixed_users": _bool,
    "hosts_file": _path,
    "known_hosts": _path,
    "max_attempts": _int(1, 100),
    "lease_seconds": _int(5, 86_400),
    "worker_shutdown": _choice(SHUTDOWN_MODES),
    "sample_interval": _float(1, 3600),  # history keeps one row per host per second
    "disk_mounts": _mounts,
    "raw_retention_hours": _int(1, 24 * 365),
    "minute_retention_days": _int(1, 3650),
    "hour_retention_days": _int(1, 36_500),
    "metrics_token": _str,
    "upload_max_bytes": _int(1024, 1024**3),
    "user_quota_mb": _int(0, 1_000_000_000),
    "console_max_lines": _int(100, 1_000_000),
    "app_log_retention_days": _int(1, 36_500),
    "base_url": _url,
    "smtp_host": _str,
    "smtp_port": _port,
    "smtp_security": _choice(SMTP_SECURITY),
    "smtp_user": _str,
    "smtp_password": _str,
    "mail_from": _str,
    "api_rate_per_minute": _int(0, 1_000_000),
    "submit_rate_per_minute": _int(0, 100_000),
    "retention_days": _int(0, 36_500),
    "approval_tokens": _int(0, 10_000_000),
    "approval_gpu_hours": _float(0, 1_000_000),
    "msa_cache_mb": _int(0, 10_000_000),
    "msa_cache_scope": _choice(MSA_CACHE_SCOPES),
    "shared_input_dirs": _folders,
    "input_files_max_bytes": _int(0, 16 * 1024**3),
    "local_login": _bool,
    "sso_create_users": _bool,
    "sso_login_group": _str,
    "sso_admin_group": _str,
    "sso_approval_group": _str,
    "sso_quota_groups": _group_quotas,
    "oidc_discovery_url": _url,
    "oidc_client_id": _str,
    "oidc_client_secret": _str,
    "oidc_label": _str,
    "oidc_username_claim": _choice(OIDC_USERNAME_CLAIMS),
    "oidc_groups_claim": _str,
    "oidc_ca_file": _file,
    "oidc_leeway_s": _int(0, 3600),
    "ldap_url": _ldap_url,
    "ldap_starttls": _bool,
    "ldap_ca_file": _file,
    "ldap_user_dn": _str,
    "ldap_bind_dn": _str,
    "ldap_bind_password": _str,
    "ldap_user_base": _str,
    "ldap_user_filter": _str,
    "ldap_group_base": _str,
    "ldap_group_filter": _str,
}
assert set(PARSERS) == {f.name for f in fields(Settings)}, "every setting needs a parser"


def env_name(field_name: str) -> str:
    """Return the environment variable for a settings field."""
    return PREFIX + field_name.upper()


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env"),
                  **overrides: Any) -> Settings:
    """Return settings from `.env`, then the environment, then `overrides` (strongest).

    Every FoldDeck process loads its settings first, so this is also where it stops creating
    files other users can read (`restrict_new_files`).

    Raises:
        SettingsError: a variable has a value FoldDeck cannot use.
    """
    restrict_new_files()
    env: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for name, parse in PARSERS.items():
        raw = env.get(env_name(name))
        if raw is not None:
            values[name] = parse(env_name(name), raw)
    values.update(overrides)
    settings = Settings(**values)
    _close_data_dir(settings.data_dir)
    if not settings.secret_key:
        settings = replace(settings, secret_key=ensure_secret_key(settings.data_dir))
    return settings


def restrict_new_files() -> None:
    """Create files owner-only for other users from now on (umask 027, or a stricter one already set).

    The data dir holds password and token hashes, inputs, outputs, the MSA cache and backups; a
    deployment that sets no UMask would otherwise create them world-readable (0644).
    """
    os.umask(os.umask(defaults.FILE_UMASK) | defaults.FILE_UMASK)


def _close_data_dir(data_dir: Path) -> None:
    """Take other users' access to an existing data dir away: files made before the umask was set stay 0644."""
    try:
        mode = data_dir.stat().st_mode
        if mode & 0o007:
            data_dir.chmod(mode & 0o7770)
    except OSError:
        pass  # not there yet (created with the umask), or not ours to change


def ensure_secret_key(data_dir: Path) -> str:
    """Return the secret key stored in the data dir, creating it (mode 0600) on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / defaults.SECRET_KEY_FILE
    if not path.exists():
        # Write a private temp file, then link it into place: the link is atomic and fails if a
        # concurrent worker won the race, so every process ends up reading the same key.
        tmp = data_dir / f".{defaults.SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(defaults.SECRET_KEY_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise SettingsError(f"{path} is empty; delete it and FoldDeck will create a new key.")
    return key
