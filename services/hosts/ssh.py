"""Open paramiko connections to configured hosts, checking host keys strictly.

Host keys are checked against the known_hosts file from settings; an unknown host is refused
(no auto-accept). Failures become `HostUnreachable` with a reason a person can act on.
"""
from __future__ import annotations

import socket
from pathlib import Path

import paramiko

from services.hosts import Host
from services.platform.errors import HostUnreachable

CONNECT_TIMEOUT_S = 5.0  # a down host must not stall a sampler tick or a worker for long


def open_client(host: Host, known_hosts: Path, timeout: float = CONNECT_TIMEOUT_S) -> paramiko.SSHClient:
    """Return a connected, authenticated client for `host`.

    Raises:
        HostUnreachable: cannot connect, unknown or changed host key, or authentication refused.
    """
    client = paramiko.SSHClient()
    known = Path(known_hosts).expanduser()
    if known.is_file():
        client.load_host_keys(str(known))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host.address, port=host.port, username=host.user, key_filename=host.key_file or None,
                       look_for_keys=not host.key_file, allow_agent=False, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout)
    except paramiko.BadHostKeyException:
        client.close()
        raise HostUnreachable(f"{host.name}: the host key changed; check it and update {known}.") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise HostUnreachable(f"{host.name}: host key not in {known}; add it with ssh-keyscan.") from None
        if isinstance(exc, paramiko.AuthenticationException):
            raise HostUnreachable(f"{host.name}: authentication refused for user {host.user}.") from None
        raise HostUnreachable(f"{host.name}: SSH error: {exc}") from None
    except (TimeoutError, OSError) as exc:
        client.close()
        reason = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else (exc.strerror or str(exc))
        if isinstance(exc, FileNotFoundError) or "No such file" in str(exc):
            reason = f"key file {host.key_file} not found"
        raise HostUnreachable(f"{host.name}: cannot connect to {host.address}:{host.port}: {reason}.") from None
    return client
