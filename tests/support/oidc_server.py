"""A real OpenID Provider on loopback for the sign-in tests: panva's certified `oidc-provider` for Node.js
(installed from the npm registry into tests/support/oidc_provider on first use), configured by server.mjs.

Also `follow_provider()`: what a person's browser does at the provider's (development) login and consent
pages, over real HTTP, until the provider sends the browser back to FoldDeck's callback."""
from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "folddeck"
CLIENT_SECRET = "folddeck-client-secret-1"
MIN_NODE = 20


def available() -> str | None:
    """Return why the provider cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed (Debian package nodejs)"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < MIN_NODE:  # its jose needs the global Web Crypto of Node 20
        return f"node {version} is older than {MIN_NODE}, the oldest oidc-provider 9 runs on"
    if not (HERE / "node_modules" / "oidc-provider").is_dir() and not shutil.which("npm"):
        return "npm is not installed and oidc-provider is not in tests/support/oidc_provider/node_modules"
    return None


def install() -> None:
    """Install the pinned oidc-provider (package-lock.json) once, even with several test workers at once."""
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True,
                           timeout=300)


@dataclass
class Provider:
    issuer: str
    accounts_file: Path
    process: subprocess.Popen

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def set_accounts(self, accounts: dict) -> None:
        """Replace who the provider knows (claims per account id); read at every sign-in."""
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(accounts))
        os.replace(tmp, self.accounts_file)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start(folder: Path, redirect_uris: list[str], accounts: dict, logout_uris: list[str] = (),
          tls: tuple[Path, Path] | None = None, timeout: float = 30) -> Provider:
    """Start the provider on a free loopback port with FoldDeck as its one client; return once it listens.

    `tls` = (certificate, key) PEM files serves HTTPS with them."""
    install()
    folder.mkdir(parents=True, exist_ok=True)
    accounts_file = folder / "accounts.json"
    accounts_file.write_text(json.dumps(accounts))
    client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": list(redirect_uris),
              "post_logout_redirect_uris": list(logout_uris)}
    env = {**os.environ, "PORT": "0", "ACCOUNTS": str(accounts_file), "CLIENTS": json.dumps([client])}
    if tls:
        env.update(TLS_CERT=str(tls[0]), TLS_KEY=str(tls[1]))
    process = subprocess.Popen(["node", "server.mjs"], cwd=HERE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else ""
        if match := re.match(r"listening (\S+)", line):
            return Provider(match.group(1), accounts_file, process)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("oidc-provider did not start")


def _form(html: str, base: str) -> tuple[str, dict]:
    """Return the (action URL, hidden fields) of the page's first form."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, f"no form on the provider's page: {html[:500]}"
    fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    return urljoin(base, unescape(action.group(1))), fields


def follow_provider(browser: requests.Session, url: str, login: str, stop_at: str) -> str:
    """Follow redirects from `url` through the provider's login and consent pages as `login`; return the
    first URL that starts with `stop_at` (FoldDeck's callback), without requesting it."""
    for _ in range(20):
        if url.startswith(stop_at):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        assert response.status_code == 200, f"{url}: HTTP {response.status_code} {response.text[:300]}"
        action, fields = _form(response.text, url)
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any")  # the provider's development login takes any password
        response = browser.post(action, data=fields, allow_redirects=False, timeout=10)
        assert response.is_redirect, f"{action}: HTTP {response.status_code} {response.text[:300]}"
        url = urljoin(action, response.headers["Location"])
    raise AssertionError("the provider never sent the browser back")
