"""An SSH host that cannot be reached hands its job back to the queue and rests for a while.

Against the real loopback sshd (`sshd` fixture): a closed port is a rebooting server; a small TCP
forwarder started on that port later is the server coming back.
"""
from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from services import jobs
from services.hosts import Host
from services.jobs import JobState, joblog
from services.platform import defaults
from services.running.worker import Worker
from tests.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"
REMOTE_SIM = (f"cd {ROOT} && {ROOT}/.venv/bin/python -m services.af3sim --json_path={{input}} "
              "--output_dir={output} --speed=0 --num_diffusion_samples=1")
INPUT = {"name": "Worker test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}
REFUSED = ("Could not reach gpu1 (connection refused); the job goes back to the queue and will start when a slot "
           "is free.")


def gpu1(sshd, tmp_path: Path, port: int, **changes) -> Host:
    fields = dict(name="gpu1", address=sshd["host"], port=port, user=sshd["user"], key_file=sshd["key"],
                  work_dir=str(tmp_path / "remote"), slots=1, af3_command=REMOTE_SIM)
    return Host(**{**fields, **changes})


def log_texts(conn, job_id: int) -> list[str]:
    return [line.text for line in joblog.read_log(conn, job_id)]


def history(conn, alice, job_id: int) -> list[tuple[str | None, str | None]]:
    return [(a.host, a.outcome) for a in jobs.attempts(conn, alice, job_id)]


# -- backoff bookkeeping ----------------------------------------------------------------------


def test_backoff_doubles_to_the_cap_and_one_outage_counts_once(conn):
    t = 1000.0
    lengths = []
    for _ in range(6):
        state = jobs.mark_host_down(conn, "gpu1", "connection refused", now=t)
        lengths.append(state.until - t)
        # A second slot failing on the same outage must not double the backoff again.
        again = jobs.mark_host_down(conn, "gpu1", "timed out", now=t + 1)
        assert (again.failures, again.until, again.reason) == (state.failures, state.until, "timed out")
        t = state.until + 0.1
    assert lengths == [30, 60, 120, 240, 300, 300]
    assert defaults.HOST_BACKOFF_MIN_S == 30 and defaults.HOST_BACKOFF_MAX_S == 300
    assert set(jobs.host_backoffs(conn, now=t - 1)) == {"gpu1"} and jobs.host_backoffs(conn, now=t) == {}
    jobs.mark_host_up(conn, "gpu1")
    assert jobs.mark_host_down(conn, "gpu1", "connection refused", now=t).failures == 1  # a fresh outage


def test_claim_skips_a_resting_host_until_its_backoff_ends(settings, conn, alice):
    ssh = Host(name="gpu1", address="127.0.0.1", user="x", slots=4)  # most free slots: preferred
    local = Host(name="local", slots=1)
    first = jobs.submit(conn, settings, alice, INPUT)
    jobs.mark_host_down(conn, "gpu1", "connection refused")
    assert jobs.claim_job(conn, settings, "w1", [ssh]) is None
    claimed = jobs.claim_job(conn, settings, "w1", [ssh, local])
    assert (claimed.id, claimed.host) == (first.id, "local")
    jobs.submit(conn, settings, alice, INPUT)
    jobs.mark_host_up(conn, "gpu1")
    jobs.mark_host_down(conn, "gpu1", "connection refused", now=time.time() - 3600)  # a backoff that is over
    assert jobs.host_backoffs(conn) == {}
    assert jobs.claim_job(conn, settings, "w1", [ssh, local]).host == "gpu1"


# -- against the real sshd -------------------------------------------------------------------


@pytest.mark.service
def test_closed_port_hands_the_job_back_and_the_local_host_runs_it(settings, conn, alice, sshd, tmp_path, caplog):
    s = settings.with_overrides(af3_command=SIM + " --num_diffusion_samples=1", known_hosts=Path(sshd["known_hosts"]))
    down = gpu1(sshd, tmp_path, free_port())  # nothing listens there: a server that is rebooting
    first, second = (jobs.submit(conn, s, alice, INPUT) for _ in range(2))
    caplog.set_level(logging.INFO, logger="folddeck")
    # gpu1 is listed first, so the first claim goes there; the same slot then runs the job locally.
    assert Worker(s, hosts=[down, Host(name="local", slots=1)], concurrency=1).run(once=True) == 1
    done = jobs.get_job(conn, alice, first.id)
    assert done.state is JobState.SUCCEEDED and done.host == "local"
    assert history(conn, alice, first.id) == [("gpu1", "host unreachable: connection refused"),
                                              ("local", "succeeded")]
    assert done.attempts - done.attempts_base == 1  # the unreachable host did not count against max_attempts
    texts = log_texts(conn, first.id)
    second_start = next(i for i, t in enumerate(texts) if t.startswith("Attempt 2 started on local"))
    assert texts[1] == REFUSED and second_start > 1 and texts[-1] == "Job succeeded."
    waiting = jobs.get_job(conn, alice, second.id)
    assert waiting.state is JobState.QUEUED and waiting.attempts == 0
    rest = jobs.host_backoffs(conn)["gpu1"]
    assert rest.failures == 1 and 25 < rest.until - time.time() <= 30
    worker_logs = [r for r in caplog.records if r.name == "folddeck.worker" and getattr(r, "source", "") == "worker"]
    assert [r.levelname for r in worker_logs] == ["WARNING"] and "gpu1" in worker_logs[0].getMessage()


@pytest.mark.service
@pytest.mark.parametrize("problem", ["unknown host key", "auth refused", "missing key file"])
def test_configuration_errors_hand_back_and_tell_the_admin_the_fix(settings, conn, alice, sshd, tmp_path, caplog,
                                                                  problem):
    known = Path(sshd["known_hosts"])
    host = gpu1(sshd, tmp_path, sshd["port"])
    if problem == "unknown host key":
        known = tmp_path / "empty_known_hosts"
        known.write_text("")
        reason, fix = f"host key not in {known}", f"ssh-keyscan -p {sshd['port']} {sshd['host']} >> {known}"
    elif problem == "auth refused":
        host = gpu1(sshd, tmp_path, sshd["port"], user="folddeck-nobody")
        reason, fix = "authentication refused for user folddeck-nobody", "authorized_keys"
    else:
        host = gpu1(sshd, tmp_path, sshd["port"], key_file=str(tmp_path / "no-such-key"))
        reason, fix = f"key file {tmp_path / 'no-such-key'} not found", "fix 'key_file' of gpu1 in the hosts file"
    s = settings.with_overrides(known_hosts=known)
    job = jobs.submit(conn, s, alice, INPUT)
    caplog.set_level(logging.INFO, logger="folddeck")
    assert Worker(s, hosts=[host], concurrency=1).run(once=True) == 0
    after = jobs.get_job(conn, alice, job.id)
    assert after.state is JobState.QUEUED and after.error is None and after.attempts - after.attempts_base == 0
    assert history(conn, alice, job.id) == [("gpu1", f"host unreachable: {reason}")]
    line = (f"Could not reach gpu1 ({reason}); the job goes back to the queue and will start when a slot is free.")
    assert log_texts(conn, job.id)[-1] == line
    errors = [r for r in caplog.records if r.name == "folddeck.worker" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].source == "worker"
    assert "host gpu1" in errors[0].getMessage() and fix in errors[0].getMessage()
    assert "gpu1" in jobs.host_backoffs(conn)


class Forwarder:
    """A loopback TCP forwarder: the 'rebooted server' answering on its old port again."""

    def __init__(self, port: int, target: int):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.mark.service
@pytest.mark.slow
def test_job_starts_on_the_host_once_it_is_back(settings, conn, alice, sshd, tmp_path, monkeypatch, running_worker):
    monkeypatch.setattr(defaults, "HOST_BACKOFF_MIN_S", 0.5)  # the real 30 s would make a slow test
    port = free_port()
    known = tmp_path / "known_hosts"  # the admin added gpu1's key for its own port, as ssh-keyscan would
    key_line = Path(sshd["known_hosts"]).read_text().split(" ", 1)[1]
    known.write_text(f"[127.0.0.1]:{port} {key_line}")
    release = tmp_path / "release-local"  # the local job holds its slot until gpu1 has run the other one
    local_cmd = f"while [ ! -e {release} ]; do sleep 0.05; done; {SIM} --num_diffusion_samples=1"
    s = settings.with_overrides(af3_command=local_cmd, known_hosts=known)
    ids = [jobs.submit(conn, s, alice, INPUT).id for _ in range(2)]
    running_worker(s, hosts=[gpu1(sshd, tmp_path, port), Host(name="local", slots=1)], concurrency=2)
    handed_back = wait_for(lambda: next((i for i in ids if REFUSED in log_texts(conn, i)), None), what="hand back")
    assert jobs.get_job(conn, alice, handed_back).state in (JobState.QUEUED, JobState.RUNNING)
    server = Forwarder(port, sshd["port"])  # the server is back
    try:
        on_gpu1 = wait_for(lambda: next((j for i in ids if (j := jobs.get_job(conn, alice, i)).host == "gpu1"
                                         and j.state is JobState.SUCCEEDED), None), timeout=30, what="gpu1 run")
        release.touch()
        done = [wait_for(lambda i=i: (j := jobs.get_job(conn, alice, i)).is_finished and j, what="local run")
                for i in ids]
    finally:
        server.close()
    assert all(j.state is JobState.SUCCEEDED for j in done), [j.error for j in done]
    assert sorted(j.host for j in done) == ["gpu1", "local"]
    assert history(conn, alice, on_gpu1.id)[-1] == ("gpu1", "succeeded")
    # Whichever job met the closed port went back to the queue, then ran (on gpu1 or on local) once.
    assert ("gpu1", "host unreachable: connection refused") in history(conn, alice, handed_back)
    for job in done:
        *before, last = history(conn, alice, job.id)
        assert last == (job.host, "succeeded")
        assert all(o == ("gpu1", "host unreachable: connection refused") for o in before)
        assert job.attempts - job.attempts_base == 1  # the refusals did not count against max_attempts
    assert jobs.host_backoffs(conn) == {}  # a good connect forgets the failures
