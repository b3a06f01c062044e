"""deploy/ (issues 18, 23): one systemd unit per process of services/platform/processes.py, running exactly
its command, verified by `systemd-analyze verify`; an nginx site that passes `nginx -t` on Debian 12's
nginx 1.22 with FoldDeck's own body limits; an env file that every command can read as systemd does."""
from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys

import pytest

from services.platform import boot, defaults
from services.platform.errors import SettingsError
from services.platform.processes import PROCESSES, WEB, Process
from services.platform.settings import PARSERS, PREFIX, Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/opt/folddeck"


def _unit(process: Process) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    assert cp.read(DEPLOY / process.unit), f"{process.name} has no unit: deploy/{process.unit} is missing"
    return cp


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_each_process_has_a_unit_running_its_command(process):
    cp = _unit(process)
    service = cp["Service"]
    bind = " --bind ${FOLDDECK_HOST}:${FOLDDECK_PORT}" if process is WEB else ""
    assert service["ExecStart"] == f"{INSTALL_DIR}/.venv/bin/python {' '.join(process.args)}{bind}"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/folddeck/folddeck.env"
    assert service["User"] not in ("", "root")
    assert service["KillSignal"] == ("SIGINT" if process is WEB else "SIGTERM")  # gunicorn's quick stop
    assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_no_unit_without_a_process():
    assert {p.name for p in DEPLOY.glob("folddeck-*.service")} == {p.unit for p in PROCESSES}


@pytest.mark.service
@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_units_verify(process, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    # The unit as installed would run /opt/folddeck's interpreter; here, this checkout's.
    text = (DEPLOY / process.unit).read_text().replace(f"{INSTALL_DIR}/.venv/bin/python", sys.executable)
    unit = tmp_path / process.unit
    unit.write_text(text.replace(INSTALL_DIR, str(ROOT)))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_env_file_names_real_settings_and_one_proxy():
    text = (DEPLOY / "folddeck.env").read_text()
    names = {line.split("=", 1)[0].lstrip("#") for line in text.splitlines() if line.lstrip("#").startswith(PREFIX)}
    assert names and names <= {PREFIX + k.upper() for k in PARSERS}, names
    assert "FOLDDECK_TRUSTED_PROXIES=1" in text
    # Links in mail point where people open FoldDeck, and the mail settings are there to fill in.
    assert re.search(r"^FOLDDECK_BASE_URL=https://", text, re.M)
    assert {"FOLDDECK_SMTP_HOST", "FOLDDECK_SMTP_PORT", "FOLDDECK_SMTP_USER", "FOLDDECK_SMTP_PASSWORD"} <= names


def test_commands_read_the_env_file_as_systemd_does(tmp_path, monkeypatch):
    """The README's old `env $(grep ... | xargs)` split FOLDDECK_AF3_COMMAND at its spaces; FOLDDECK_ENV_FILE
    reads the value whole."""
    text = (DEPLOY / "folddeck.env").read_text()
    command_line = next(line for line in text.splitlines() if line.startswith("#FOLDDECK_AF3_COMMAND="))
    env_file = tmp_path / "folddeck.env"
    env_file.write_text(text.replace(command_line, command_line[1:])
                        .replace("FOLDDECK_DATA_DIR=/var/lib/folddeck", f"FOLDDECK_DATA_DIR={tmp_path / 'data'}"))
    for name in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(boot.ENV_FILE_VARIABLE, str(env_file))
    settings = boot.load()
    assert settings.af3_command == command_line.split("=", 1)[1]
    assert settings.base_url == "https://folddeck.lab.example" and settings.trusted_proxies == 1
    monkeypatch.setenv(boot.ENV_FILE_VARIABLE, str(tmp_path / "missing.env"))
    with pytest.raises(SettingsError, match="FOLDDECK_ENV_FILE=.*missing.env: no such file"):
        boot.load()


# -- nginx ------------------------------------------------------------------------------------------


def _locations(text: str) -> dict[str, str]:
    """Return {location: its block} of the HTTPS server (the blocks hold no nested braces)."""
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", text)}


def _megabytes(block: str) -> int:
    return int(re.search(r"client_max_body_size\s+(\d+)m;", block).group(1))


def test_nginx_tls_and_one_hop():
    text = (DEPLOY / "nginx-folddeck.conf").read_text()
    assert "listen 443 ssl http2;" in text and "ssl_certificate " in text and "return 301 https://" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "$proxy_add_x_forwarded_for" not in text  # appending would pass a client's forged hops on


def test_nginx_body_limits_are_folddecks():
    """nginx lets through what FoldDeck accepts on each route, so the refusal is FoldDeck's sentence."""
    s = Settings()
    mb = 1024 * 1024
    blocks = _locations((DEPLOY / "nginx-folddeck.conf").read_text())
    # Pages and callbacks: Flask's MAX_CONTENT_LENGTH (create_app).
    assert _megabytes(blocks["/"]) * mb == s.upload_max_bytes * 2 + mb
    # API submissions with their files (dash_app/routes/api_v1.py).
    assert _megabytes(blocks["/api/v1/"]) * mb == s.upload_max_bytes + s.input_files_max_bytes + mb
    # Result imports (dash_app/routes/job_routes.py), streamed.
    assert _megabytes(blocks["= /api/jobs/import"]) * mb == defaults.RESULTS_IMPORT_MAX_UPLOAD_BYTES
    assert "proxy_request_buffering off;" in blocks["= /api/jobs/import"]


@pytest.mark.service
def test_nginx_accepts_the_site(tmp_path):
    """`nginx -t` with Debian 12's nginx (1.22): `http2 on;` was an unknown directive there."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: nginx)")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=folddeck.lab.example"], check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx-folddeck.conf").read_text().replace(
        "/etc/letsencrypt/live/folddeck.lab.example/", f"{tmp_path}/")
    assert str(cert) in site and str(key) in site
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                                         f"http {{\n    include {tmp_path}/site.conf;\n}}\n")
    out = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                          "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr and "[warn]" not in out.stderr and "[emerg]" not in out.stderr


# -- monitoring ---------------------------------------------------------------------------------------


def test_scrape_example_and_dashboard_name_real_families():
    import json

    import yaml

    from services.metrics import openmetrics, queue

    families = {**openmetrics.FAMILIES, **queue.FAMILIES}
    job = yaml.safe_load((DEPLOY / "prometheus-scrape.yml").read_text())["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    alerts = re.findall(r"expr: .*?\b(folddeck_\w+)", (DEPLOY / "prometheus-scrape.yml").read_text())
    board = json.loads((DEPLOY / "grafana-folddeck.json").read_text())
    used = {name for p in board["panels"] for t in p["targets"] for name in re.findall(r"\bfolddeck_\w+", t["expr"])}
    assert alerts and used and set(alerts) | used <= set(families), (set(alerts) | used) - set(families)
    assert {"folddeck_process_up", "folddeck_oldest_queued_job_age_seconds", "folddeck_outbox_pending"} <= used
