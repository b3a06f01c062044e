"""deploy/ (issue 18): the systemd units restart on failure, read the env file, run as a non-root user and
start modules that exist; nginx serves TLS and hands FoldDeck exactly one X-Forwarded-For hop."""
from __future__ import annotations

import configparser
import importlib.util
import re

import pytest

from services.platform.settings import PARSERS, PREFIX
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


@pytest.mark.parametrize("unit", ["folddeck-web", "folddeck-worker", "folddeck-sampler"])
def test_units(unit):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(DEPLOY / f"{unit}.service")
    service = cp["Service"]
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/folddeck/folddeck.env"
    assert service["User"] not in ("", "root")
    module = re.search(r"-m (\S+)", service["ExecStart"]).group(1)
    if module == "gunicorn":
        assert "dash_app.wsgi:server" in service["ExecStart"] and service["KillSignal"] == "SIGINT"
    else:
        assert importlib.util.find_spec(module) is not None, module
    assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_env_file_names_real_settings_and_one_proxy():
    names = {line.split("=", 1)[0].lstrip("#") for line in (DEPLOY / "folddeck.env").read_text().splitlines()
             if line.lstrip("#").startswith(PREFIX)}
    assert names and names <= {PREFIX + k.upper() for k in PARSERS}, names
    assert "FOLDDECK_TRUSTED_PROXIES=1" in (DEPLOY / "folddeck.env").read_text()


def test_nginx_tls_and_one_hop():
    text = (DEPLOY / "nginx-folddeck.conf").read_text()
    assert "listen 443 ssl" in text and "ssl_certificate " in text and "return 301 https://" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "$proxy_add_x_forwarded_for" not in text  # appending would pass a client's forged hops on
