# ruff: noqa: F811 - the `slurm` fixture is imported from test_executor_slurm (one cluster per run)
"""A Slurm cluster reached only through its login node (issue 25): the REAL single-node Slurm of
tests/support/slurm_ci.sh behind the REAL loopback sshd of the `sshd` fixture.

FoldDeck's side has no Slurm command on its PATH in these tests: sbatch, squeue, sacct and scancel
run over the SSH session, and the cluster's work dir is not FoldDeck's (inputs go up, the log and
results come back over SFTP). Each job names its person in Slurm's records (account, comment,
wckey); with `submit_as = "sudo"` (through sudo) or `"own_key"` (over the person's own login to a second
loopback sshd) it runs as the person's own cluster user.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from services import jobs
from services.hosts import Host, SlurmConfig
from services.jobs import JobState
from services.jobs.model import load_job
from services.people import cluster_identity, users
from services.platform import db
from services.running.executors import slurm_cluster
from services.running.executors.cleanup import remove_elsewhere
from services.running.worker import Worker
from tests.conftest import free_port, wait_for
from tests.services.test_executor_slurm import INPUT, facts, log_text, make_settings, slurm  # noqa: F401

pytestmark = [pytest.mark.service, pytest.mark.xdist_group("slurm")]

ROOT = Path(__file__).resolve().parents[2]
SIM = (f"echo started on the cluster; sleep 2; cd {ROOT} && {sys.executable} -m services.af3sim "
       "--json_path={input} --output_dir={output} --speed=0 --num_diffusion_samples=1")
SLOW = "echo started on the cluster; sleep 300 # {input} {output}"
# Runs until the test creates `release` in its run dir, then says so: a log line written after a given moment.
GATED = ("echo started on the cluster; d=$(dirname {input}); while [ ! -e $d/release ]; do sleep 0.2; done; "
         "echo released after the drop; sleep 300 # {output}")
SLURM_BIN = "/usr/bin"  # the test's own look at the cluster, by absolute path (FoldDeck's PATH has none)


def slurm_cmd(*args: str, check: bool = True) -> str:
    return subprocess.run([f"{SLURM_BIN}/{args[0]}", *args[1:]], check=check, capture_output=True, text=True,
                          timeout=30).stdout


def sacct_of(row, fields: str = "User,Account,WCKey,Comment,State") -> list[str]:
    """Return sacct's record of an attempt's Slurm job (waits for slurmdbd to have it).

    Matched by job name too: a test cluster restarted on fresh state hands out the same ids again.
    """
    def got():
        out = slurm_cmd("sacct", "-X", "-n", "-P", "-j", str(row.slurm_id), "-o", f"JobName,{fields}")
        return next((line.split("|")[1:] for line in out.splitlines() if line.split("|")[0] == row.name), None)
    return wait_for(got, 30, f"sacct to know job {row.slurm_id}")


@pytest.fixture(scope="module")
def accounts(slurm):
    """Two Slurm accounts, one per lab group, that root (the login node's service user) may use."""
    for account in ("fd_lab_a", "fd_lab_b"):
        subprocess.run([f"{SLURM_BIN}/sacctmgr", "-i", "add", "account", account, "Description=folddeck-test",
                        "Organization=folddeck"], capture_output=True, timeout=30)
    subprocess.run([f"{SLURM_BIN}/sacctmgr", "-i", "add", "user", "root", "account=fd_lab_a,fd_lab_b"],
                   capture_output=True, timeout=30)
    return ("fd_lab_a", "fd_lab_b")


@pytest.fixture
def no_slurm_here(monkeypatch, tmp_path):
    """FoldDeck's PATH without the Slurm clients (nor anything else): only the login node has them."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("sbatch") is None and shutil.which("squeue") is None


def login_host(sshd, work_dir: Path | str, command: str, **cfg) -> Host:
    return Host(name="login", address=sshd["host"], port=sshd["port"], user=sshd["user"], key_file=sshd["key"],
                work_dir=str(work_dir), slots=4, af3_command=command, kind="slurm",
                slurm=SlurmConfig(partition="debug", shared_storage=False, wckey=True, **cfg))


def settings_for(tmp_path: Path, sshd, **env):
    s = make_settings(tmp_path, FOLDDECK_KNOWN_HOSTS=sshd["known_hosts"], **env)
    conn = db.connect(s.db_path)
    users.accept_terms(conn, users.create_user(conn, "bob", "user-password-2", users.Role.USER).id)
    return s


def submit_as(settings, name: str) -> jobs.Job:
    conn = db.connect(settings.db_path)
    return jobs.submit(conn, settings, users.get_by_name(conn, name), INPUT)


def start_worker(settings, host: Host, started: list) -> Worker:
    w = Worker(settings, hosts=[host], poll=0.05)
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    started.append((w, t))
    return w


@pytest.fixture
def workers():
    started: list = []
    yield started
    for w, t in started:
        w.stop()
        t.join(30)
    for w, _t in started:  # their SSH sessions' threads end here, before a browser test's server stops
        slurm_cluster.close_clusters(w.settings)


def state_of(settings, job_id: int) -> JobState:
    return load_job(db.connect(settings.db_path), job_id).state


def map_person(settings, name: str, **identity) -> None:
    conn = db.connect(settings.db_path)
    cluster_identity.set_identity(conn, users.get_by_name(conn, name).id, by="test", **identity)


def test_two_people_run_through_the_login_node_each_under_their_own_account(slurm, accounts, sshd, tmp_path,
                                                                         no_slurm_here, workers):
    settings = settings_for(tmp_path, sshd)
    map_person(settings, "alice", account="fd_lab_a")
    map_person(settings, "bob", account="fd_lab_b")
    cluster_side = tmp_path / "cluster-work"  # only the login node writes here; FoldDeck reads it over SFTP
    host = login_host(sshd, cluster_side, SIM)
    a, b = submit_as(settings, "alice"), submit_as(settings, "bob")
    t0 = time.monotonic()
    start_worker(settings, host, workers)
    # The live log: the command's first line arrives while Slurm still runs it.
    wait_for(lambda: "started on the cluster" in log_text(settings, a.id) and facts(settings, a.id).state == "RUNNING",
             60, "alice's first log line while her job runs")
    for job in (a, b):
        wait_for(lambda job=job: state_of(settings, job.id) is JobState.SUCCEEDED, 90, f"job {job.id} succeeded")
    c = slurm_cluster.cluster(host, settings)
    for job, person, account in ((a, "alice", "fd_lab_a"), (b, "bob", "fd_lab_b")):
        row = facts(settings, job.id)
        assert row.run_dir.startswith(str(cluster_side)) and row.state == "COMPLETED"
        assert f"#SBATCH --account={account}" in row.script and f"#SBATCH --comment=folddeck:{person}" in row.script
        assert sacct_of(row) == ["root", account, person, f"folddeck:{person}", "COMPLETED"]
        # the results came back over SFTP into FoldDeck's own job folder
        out = settings.jobs_dir / str(job.id) / "attempt-1"
        assert list(out.glob("*/seed-1_sample-0/*summary_confidences.json"))
        assert "Job succeeded." in log_text(settings, job.id)
    assert c.calls["sbatch"] == 2 and c.conn.opened == 1  # one SSH session carried every command and file
    assert c.calls["squeue"] <= (time.monotonic() - t0) / c.tick + 3  # one per tick for both jobs
    assert c.info()["partitions"]["debug"]["gpus"] == 1  # the status page's sinfo, over the same session
    # Deleting a job removes its folder on the cluster's storage, through the login node.
    settings.hosts_path.write_text(f"""[[host]]\nname = "login"\nkind = "slurm"\naddress = "{sshd['host']}"
port = {sshd['port']}\nuser = "{sshd['user']}"\nkey_file = "{sshd['key']}"\nwork_dir = "{cluster_side}"\n""")
    folder = Path(facts(settings, a.id).run_dir).parent
    assert folder.is_dir()
    remove_elsewhere(settings, a.id, ["login"], wait=True)
    assert not folder.exists() and Path(facts(settings, b.id).run_dir).is_dir()


def sshd_sessions(sshd) -> list[psutil.Process]:
    """Return the per-connection sshd processes of the test's sshd (its listener's children)."""
    listener = int(Path(sshd["root"], "sshd.pid").read_text())
    return psutil.Process(listener).children()


def test_a_dropped_connection_and_a_worker_restart_fail_no_job_and_cancel_reaches_slurm(
        slurm, accounts, sshd, tmp_path, no_slurm_here, workers):
    settings = settings_for(tmp_path, sshd)
    host = login_host(sshd, tmp_path / "cluster-work", GATED, cpus=2)  # the node's 2 CPUs: one job at a time
    both = submit_as(settings, "alice"), submit_as(settings, "bob")
    first = start_worker(settings, host, workers)

    def one_running():  # two slot threads submit at once: either job may get the node
        states = [(f := facts(settings, j.id)) and f.state for j in both]
        return "RUNNING" in states and both[states.index("RUNNING")]
    running = wait_for(one_running, 60, "one job running")
    pending = both[1 - both.index(running)]
    wait_for(lambda: "started on the cluster" in log_text(settings, running.id), 30, "its first log line")
    wait_for(lambda: (f := facts(settings, pending.id)) and f.state == "PENDING" and f.reason == "Resources", 30,
             "the second job pending for Resources")
    c = slurm_cluster.cluster(host, settings)
    sessions = c.conn.opened
    # Drop every SSH connection from the server's side (the login node rebooting its sshd sessions).
    for proc in sshd_sessions(sshd):
        proc.kill()
    wait_for(lambda: c.conn.opened > sessions, 30, "FoldDeck to open a new SSH session")
    t_calls = c.calls["squeue"]
    wait_for(lambda: c.calls["squeue"] >= t_calls + 2, 30, "squeue over the new session")
    assert state_of(settings, running.id) is JobState.RUNNING and state_of(settings, pending.id) is JobState.RUNNING
    assert facts(settings, running.id).state == "RUNNING" and facts(settings, pending.id).state == "PENDING"
    # The log goes on over the new session: a line the job writes only now reaches FoldDeck's log.
    Path(facts(settings, running.id).run_dir, "release").touch()
    wait_for(lambda: "released after the drop" in log_text(settings, running.id), 30, "the log after the drop")
    # The worker stops (a deploy): both jobs stay in Slurm; a new worker re-attaches to them.
    first.stop()
    workers[0][1].join(30)
    ids = {facts(settings, j.id).slurm_id for j in (running, pending)}
    assert {int(i) for i in slurm_cmd("squeue", "-h", "-o", "%i").split()} >= ids
    start_worker(settings, host, workers)
    conn = db.connect(settings.db_path)
    jobs.cancel_job(conn, users.get_by_name(conn, running.owner), running.id)
    wait_for(lambda: state_of(settings, running.id) is JobState.CANCELLED, 60, "the cancel to reach Slurm")
    assert sacct_of(facts(settings, running.id), "State")[0].startswith("CANCELLED")
    assert facts(settings, running.id).describe().startswith("cancelled in Slurm")  # the page's Slurm line
    # The pending job, followed by the new worker, runs once the first one left the node.
    wait_for(lambda: facts(settings, pending.id).state == "RUNNING", 60, "the re-attached pending job to run")
    assert facts(settings, pending.id).node == "localhost"
    jobs.cancel_job(conn, users.get_by_name(conn, pending.owner), pending.id)
    wait_for(lambda: state_of(settings, pending.id) is JobState.CANCELLED, 60, "the second cancel")
    assert not slurm_cmd("squeue", "-h", "-o", "%i").split()


@pytest.fixture
def cluster_user(accounts):
    """A second Unix user on the login node, with an association to the second lab's account."""
    name = "fdbob"
    created = subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], capture_output=True).returncode == 0
    subprocess.run([f"{SLURM_BIN}/sacctmgr", "-i", "add", "user", name, "account=fd_lab_b"], capture_output=True,
                   timeout=30)
    yield name
    if created:
        subprocess.run(["userdel", name], capture_output=True)


def test_with_sudo_the_job_runs_as_the_persons_own_cluster_user(slurm, sshd, cluster_user, tmp_path,
                                                               no_slurm_here, workers):
    if shutil.which("sudo", path="/usr/bin:/bin") is None:
        pytest.skip("sudo is not installed (make system-deps installs it)")
    # The job copies a real AF3 output of 1 seed x 3 samples as its own (python is root's alone here).
    settings = settings_for(tmp_path, sshd, FOLDDECK_AF3_COMMAND="run_alphafold --json_path={input} "
                            "--output_dir={output} --num_diffusion_samples=3")
    map_person(settings, "bob", cluster_user=cluster_user, account="fd_lab_b")
    # A work dir every cluster user can make their folder in (pytest's own tmp is root's alone).
    work = Path(tempfile.mkdtemp(prefix="folddeck-sudo-"))
    work.chmod(0o1777)
    results = work / "af3-output"
    shutil.copytree(ROOT / "tests/fixtures/af3_outputs/local_v301_pdl1_binder", results)
    for folder, dirs, files in os.walk(results):
        for name in dirs + files:
            Path(folder, name).chmod(0o755 if name in dirs else 0o644)
    command = f"echo running as $(id -un); cp -r {results}/. {{output}}/ # {{input}} --num_diffusion_samples=3"
    try:
        host = login_host(sshd, work, command, submit_as="sudo")
        job = submit_as(settings, "bob")
        start_worker(settings, host, workers)
        wait_for(lambda: state_of(settings, job.id) in (JobState.SUCCEEDED, JobState.FAILED), 90, "the job to end")
        text = log_text(settings, job.id)
        assert state_of(settings, job.id) is JobState.SUCCEEDED, text
        assert f"running as {cluster_user}" in text
        row = facts(settings, job.id)
        assert row.run_dir.startswith(f"{work}/{cluster_user}/")
        assert pwd.getpwuid(os.stat(f"{row.run_dir}/slurm.out").st_uid).pw_name == cluster_user
        assert sacct_of(row, "User,Account,Comment") == [cluster_user, "fd_lab_b", "folddeck:bob"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def own_login(accounts):
    """A login node where the service account (root) and a person (`fdcarol`, their own key) both log in."""
    name = "fdcarol"
    created = subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], capture_output=True).returncode == 0
    subprocess.run(["usermod", "-p", "*", name], capture_output=True)  # not locked: sshd refuses locked accounts
    subprocess.run([f"{SLURM_BIN}/sacctmgr", "-i", "add", "user", name, "account=fd_lab_b"], capture_output=True,
                   timeout=30)
    root = Path(tempfile.mkdtemp(prefix="folddeck-own-key-"))  # the person's sshd reads authorized_keys as them
    root.chmod(0o755)
    env = dict(os.environ, SSHD_ROOT=str(root / "sshd"), SSHD_PORT=str(free_port()), SSHD_EXTRA_USERS=name,
               PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    script = ROOT / "tests" / "support" / "sshd_ci.sh"
    try:
        out = subprocess.run(["bash", str(script), "start"], env=env, check=True, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL).stdout
        facts_ = dict(line.split("=", 1) for line in out.split())
        key = root / "carol_ed25519"  # the person's own key, not the service account's
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, env=env)
        with open(root / "sshd" / "authorized_keys", "a") as f:
            f.write(key.with_suffix(".pub").read_text())
        work = root / "work"
        work.mkdir()
        work.chmod(0o1777)
        yield {"host": facts_["SSH_TEST_HOST"], "port": int(facts_["SSH_TEST_PORT"]), "user": "root",
               "key": facts_["SSH_TEST_KEY"], "known_hosts": facts_["SSH_TEST_KNOWN_HOSTS"], "person": name,
               "person_key": str(key), "work": work}
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, stdin=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)
        if created:
            subprocess.run(["userdel", name], capture_output=True)


def test_with_own_key_the_job_is_submitted_over_the_persons_own_login(slurm, own_login, tmp_path, no_slurm_here,
                                                                      workers):
    settings = settings_for(tmp_path, own_login)
    map_person(settings, "bob", cluster_user=own_login["person"], account="fd_lab_b", key_file=own_login["person_key"])
    results = own_login["work"] / "af3-output"
    shutil.copytree(ROOT / "tests/fixtures/af3_outputs/local_v301_pdl1_binder", results)
    for folder, dirs, files in os.walk(results):
        for name in dirs + files:
            Path(folder, name).chmod(0o755 if name in dirs else 0o644)
    command = f"echo running as $(id -un); cp -r {results}/. {{output}}/ # {{input}} --num_diffusion_samples=3"
    host = login_host(own_login, own_login["work"], command, submit_as="own_key")
    job = submit_as(settings, "bob")
    start_worker(settings, host, workers)
    wait_for(lambda: state_of(settings, job.id) in (JobState.SUCCEEDED, JobState.FAILED), 90, "the job to end")
    text = log_text(settings, job.id)
    assert state_of(settings, job.id) is JobState.SUCCEEDED, text
    assert f"running as {own_login['person']}" in text
    row = facts(settings, job.id)
    assert pwd.getpwuid(os.stat(f"{row.run_dir}/input.json").st_uid).pw_name == own_login["person"]  # their SFTP
    assert sacct_of(row, "User,Account,Comment") == [own_login["person"], "fd_lab_b", "folddeck:bob"]
    c = slurm_cluster.cluster(host, settings)
    assert [k[0] for k in c._own] == [own_login["person"]] and c.conn.opened == 1  # squeue: the service session


def test_a_job_stopped_at_its_time_limit_says_so_over_ssh(slurm, accounts, sshd, tmp_path, no_slurm_here, workers):
    """Slurm kills it after its 1-minute limit (60-90 s: slurmctld checks limits every 30 s); sacct, asked over
    SSH, says TIMEOUT and the job's error names the limit and the key to raise."""
    settings = settings_for(tmp_path, sshd)
    host = login_host(sshd, tmp_path / "cluster-work", SLOW, time_limit="1")
    job = submit_as(settings, "alice")
    start_worker(settings, host, workers)
    wait_for(lambda: state_of(settings, job.id) is JobState.FAILED, 150, "Slurm to stop the job at its limit")
    failed = load_job(db.connect(settings.db_path), job.id)
    assert "Slurm stopped job" in failed.error and "hit the time limit of 1" in failed.error, failed.error
    assert "time_limit of host login" in failed.error and facts(settings, job.id).state == "TIMEOUT"
