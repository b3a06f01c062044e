"""A wall-clock deadline for one network exchange (a mail or a webhook POST).

A socket timeout bounds each read, not the exchange: a receiver that sends one byte every few
seconds never trips it. `Deadline` watches the exchange's sockets and shuts them down when the
time is up, so whatever read is blocked returns at once and the exchange fails with
`TimeoutError`. Each watched socket is kept as a duplicate descriptor: shutting that down reaches
the connection even after TLS wrapped (and detached) the original socket object.
"""
from __future__ import annotations

import socket
import threading
import time


class Deadline:
    """`with Deadline(30) as d:` … an exchange that `d.watch()`es its sockets ends by then."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._expire, name="notify-deadline", daemon=True)

    def timeout(self, per_read: float) -> float:
        """Return the socket timeout to use now: the per-read one, or less when the deadline is nearer.

        Raises:
            TimeoutError: the deadline has passed.
        """
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"not done within {self.seconds:g} s")
        return min(per_read, left)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock`'s connection down at the deadline (at once if it has passed)."""
        with self._lock:
            dup = sock.dup()
            self._watched.append(dup)
            if self.expired:
                _shutdown(dup)

    def _expire(self) -> None:
        if self._done.wait(max(0.0, self.at - time.monotonic())):
            return
        with self._lock:
            self.expired = True
            for sock in self._watched:
                _shutdown(sock)

    def __enter__(self) -> Deadline:
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._done.set()
        self._thread.join()
        with self._lock:
            for sock in self._watched:
                sock.close()
            self._watched.clear()
        if exc_type is not None and self.expired and issubclass(exc_type, Exception):
            # Whatever the aborted read raised (EOF, reset, bad status line), the cause is the deadline.
            raise TimeoutError(f"not done within {self.seconds:g} s") from exc
        return False


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the other side
        pass
