"""Jobs through a REAL single-node Slurm (tests/support/slurm_ci.sh: munged, slurmctld, slurmd,
slurmdbd + MariaDB, fake GPU GRES), driven by real workers.

The node has 2 CPUs. A job killed by its time limit takes Slurm 60-90 s (the limit is at least a
minute and slurmctld checks limits every 30 s), so it is submitted when the module starts and its
end is checked last, while the other tests use the second CPU.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from services import jobs
from services.af3.runlog.progress import DATA_DONE
from services.hosts import Host, SlurmConfig
from services.jobs import JobState, joblog
from services.people import users
from services.platform import db
from services.platform.settings import load_settings
from services.running.executors import slurm as slurm_exec
from services.running.executors import slurm_cluster
from services.running.worker import Worker
from tests.conftest import wait_for

# One cluster per run on fixed ports (slurmctld, slurmd, slurmdbd): every test here runs in one xdist worker.
pytestmark = [pytest.mark.service, pytest.mark.xdist_group("slurm")]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "slurm_ci.sh"
SIM = (f"cd {ROOT} && {sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} "
       "--speed=0 --num_diffusion_samples=1")
SLOW = "sleep 300 # {input} {output}"
INPUT = {"name": "Slurm test", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


def _env(**extra) -> dict:
    return dict(os.environ, SLURM_GPUS="1", **extra)


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30).stdout


@pytest.fixture(scope="module")
def slurm():
    """Start the cluster (installing Slurm if needed); stop it when the module ends."""
    if os.geteuid() != 0 and not Path("/usr/sbin/slurmctld").exists():
        pytest.skip("Slurm is not installed and cannot be installed without root")
    if os.geteuid() != 0:
        pytest.skip("the test cluster runs its daemons as root")
    state = {"env": _env()}
    ours = "already running" not in control("start", state["env"])
    cancel_test_jobs()
    yield state
    cancel_test_jobs()
    if ours or state["env"].get("SLURM_ACCOUNTING"):
        control("stop", state["env"])


def cancel_test_jobs() -> None:
    """scancel every job on the throw-away test cluster (jobs survive a daemon restart), then wait for them."""
    sh("scancel", "--me", check=False)
    wait_for(lambda: not sh("squeue", "--me", "-h", "-o", "%i", check=False).strip(), 30, "the cluster to be empty")


def control(verb: str, env: dict) -> str:
    """Run slurm_ci.sh start|stop; fail with its log lines (a start is tried twice: a node can lag a stop)."""
    for _ in range(2 if verb == "start" else 1):
        res = subprocess.run(["bash", str(SCRIPT), verb], env=env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=300)
        if res.returncode == 0:
            return res.stdout + res.stderr
    raise AssertionError(f"slurm_ci.sh {verb} failed:\n{res.stdout}{res.stderr}")


def make_settings(root: Path, **env):
    s = load_settings(environ={k: str(v) for k, v in env.items()}, dotenv=None, data_dir=root / "data")
    db.migrate(s.db_path)
    conn = db.connect(s.db_path)
    users.accept_terms(conn, users.create_user(conn, "alice", "user-password-1", users.Role.USER).id)
    return s


def cluster_host(root: Path, command: str = SIM, **cfg) -> Host:
    return Host(name="cluster", work_dir=str(root / "shared"), slots=4, af3_command=command, kind="slurm",
                slurm=SlurmConfig(partition="debug", **cfg))


def submit(settings) -> jobs.Job:
    conn = db.connect(settings.db_path)
    return jobs.submit(conn, settings, users.get_by_name(conn, "alice"), INPUT)


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


def facts(settings, job_id: int, attempt: int = 1):
    return jobs.slurm_attempt(db.connect(settings.db_path), job_id, attempt)


def state_of(settings, job_id: int) -> JobState:
    conn = db.connect(settings.db_path)
    return jobs.get_job(conn, users.get_by_name(conn, "alice"), job_id).state


def log_text(settings, job_id: int) -> str:
    return "\n".join(line.text for line in joblog.read_log(db.connect(settings.db_path), job_id))


@pytest.fixture(scope="module")
def timeout_job(slurm, tmp_path_factory):
    """A job with a 1-minute limit that runs forever, followed by its own worker for the whole module."""
    root = tmp_path_factory.mktemp("timeout")
    settings = make_settings(root)
    host = cluster_host(root, SLOW, time_limit="1")
    job = submit(settings)
    started: list = []
    start_worker(settings, host, started)
    wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING", 30, "the time-limited job to run")
    yield settings, job
    for w, t in started:
        w.stop()
        t.join(30)


def test_submit_pending_running_succeeded_with_outputs_and_one_squeue_per_tick(slurm, timeout_job, tmp_path,
                                                                                workers, caplog):
    settings = make_settings(tmp_path)
    host = cluster_host(tmp_path, f"sleep 2; {SIM}")  # long enough for a tick to see it running
    # The time-limited job holds one CPU; a blocker takes the other, so ours waits for Resources.
    blocker = sh("sbatch", "--parsable", "-o", "/dev/null", "-p", "debug", "-c", "1", "--wrap", "sleep 60").strip()
    wait_for(lambda: sh("squeue", "-h", "-j", blocker, "-o", "%T").strip() == "RUNNING", 20, "the blocker")
    # A job named like ours that FoldDeck never submitted (held: it takes no CPU).
    tag = slurm_cluster.install_tag(settings)
    stray = sh("sbatch", "--parsable", "-o", "/dev/null", "--hold", "-J", f"folddeck.{tag}.999.1", "--wrap",
               "true").strip()
    job = submit(settings)
    start_worker(settings, host, workers)
    try:
        pending = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "PENDING" and f.reason and f,
                           20, "pending in Slurm")
        assert pending.reason == "Resources" and pending.slurm_id
        assert pending.describe().startswith("pending in Slurm (Resources) · Slurm job ")
        assert "#SBATCH --partition=debug" in pending.script and "#SBATCH --no-requeue" in pending.script
        assert state_of(settings, job.id) is JobState.RUNNING  # FoldDeck's claim: the page says why it waits
        with caplog.at_level(logging.WARNING, logger="folddeck.slurm"):
            wait_for(lambda: any(f"Slurm job {stray} " in r.getMessage() for r in caplog.records), 10,
                     "the stray job reported")
        sh("scancel", blocker)
        t0 = time.monotonic()
        running = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 20, "running")
        print(f"blocker gone -> RUNNING seen by FoldDeck {time.monotonic() - t0:.2f} s")
        assert running.node == "localhost"
        wait_for(lambda: state_of(settings, job.id) is JobState.SUCCEEDED, 60, "succeeded")
    finally:
        sh("scancel", stray, blocker, check=False)
    out = settings.jobs_dir / str(job.id) / "attempt-1"
    assert list(out.glob("*/seed-1_sample-0/*summary_confidences.json"))
    text = log_text(settings, job.id)
    assert f"FoldDeck: Slurm job {pending.slurm_id} on " in text and "Job succeeded." in text
    assert facts(settings, job.id).state == "COMPLETED"
    c = slurm_cluster.cluster(host, settings)
    assert c.calls["sbatch"] == 1
    # Tracking is per cluster: never more than one squeue per tick, whatever the slots did.
    assert c.calls["squeue"] <= (time.monotonic() - t0 + 60) / c.tick + 5


def test_sampler_publishes_the_cluster_for_the_status_and_queue_pages(slurm, timeout_job, tmp_path):
    from dash_app.components.hosts.slurm_cluster import cluster_card, summary
    from services.hosts import local_host
    from services.operations.sampler import Sampler

    settings = make_settings(tmp_path)
    sampler = Sampler(settings, hosts=[local_host(settings), cluster_host(tmp_path)])
    try:
        sampler.tick()
        info = sampler.store.latest().jobs["clusters"]["cluster"]
    finally:
        sampler.close()
    # the time-limited job holds one of the node's two CPUs: the node is mixed, its fake GPU free
    assert info["partitions"] == {"debug": {"idle": 0, "mixed": 1, "allocated": 0, "down": 0, "gpus": 1,
                                            "gpus_free": 1}}
    assert summary(info) == "1 GPUs free · FoldDeck: 0 running, 0 pending in Slurm"
    card = str(cluster_card("cluster", info).to_plotly_json())
    assert "1 mixed" in card and "1 of 1" in card


def test_cancel_in_folddeck_is_scancel(slurm, timeout_job, tmp_path, workers):
    settings = make_settings(tmp_path)
    job = submit(settings)
    start_worker(settings, cluster_host(tmp_path, SLOW), workers)
    f = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 30, "running")
    conn = db.connect(settings.db_path)
    jobs.cancel_job(conn, users.get_by_name(conn, "alice"), job.id)
    wait_for(lambda: state_of(settings, job.id) is JobState.CANCELLED, 20, "cancelled")
    assert sh("sacct", "-X", "-n", "-P", "-j", str(f.slurm_id), "-o", "State").startswith("CANCELLED") or \
        not sh("squeue", "-h", "-j", str(f.slurm_id), "-o", "%T", check=False).strip()


def test_cancelled_outside_folddeck_says_so(slurm, timeout_job, tmp_path, workers):
    settings = make_settings(tmp_path)
    job = submit(settings)
    start_worker(settings, cluster_host(tmp_path, SLOW), workers)
    f = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 30, "running")
    sh("scancel", str(f.slurm_id))
    wait_for(lambda: state_of(settings, job.id) is JobState.CANCELLED, 20, "cancelled")
    conn = db.connect(settings.db_path)
    assert jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id).error == \
        f"Slurm job {f.slurm_id} was cancelled outside FoldDeck (user id 0)"


@pytest.fixture
def cpu_partition(slurm):
    """A second partition, "cpu", on the same node: made at run time (slurm.conf has "debug" only)."""
    sh("scontrol", "create", "PartitionName=cpu", "Nodes=ALL", "MaxTime=INFINITE", "State=UP", check=False)
    yield "cpu"
    sh("scontrol", "delete", "PartitionName=cpu", check=False)


def test_a_run_is_a_data_job_then_an_inference_job_linked_by_afterok(slurm, cpu_partition, tmp_path, workers,
                                                                      monkeypatch, caplog):
    import services.running.attempt

    made: list = []
    monkeypatch.setattr(services.running.attempt, "make_executor",
                        lambda host, settings: made.append(slurm_exec.SlurmExecutor(host, settings)) or made[-1])
    settings = make_settings(tmp_path)
    job = submit(settings)
    gate = tmp_path / "inference-may-start"  # the inference job waits for it: the test looks between the jobs
    gated = (f"case '{{stage_flags}}' in *norun_data*) until [ -e {gate} ]; do sleep 0.1; done;; esac; "
             f"{SIM} {{stage_flags}}")
    start_worker(settings, cluster_host(tmp_path, gated, cpu_partition=cpu_partition, gres="gpu:1"), workers)
    with caplog.at_level(logging.WARNING, logger="folddeck.slurm"):
        wait_for(lambda: "Done running" in log_text(settings, job.id), 120, "the data job's end in the log")
        between = jobs.get_job(db.connect(settings.db_path), users.get_by_name(db.connect(settings.db_path),
                                                                                 "alice"), job.id)
        # the data job's own "Done running" is the data stage's end, not the job's (it showed 100 %)
        assert (between.state, between.stage, between.progress) == (JobState.RUNNING, "data pipeline", DATA_DONE)
        gate.touch()
        wait_for(lambda: state_of(settings, job.id) is JobState.SUCCEEDED, 120, "succeeded as two Slurm jobs")
    assert not [r for r in caplog.records if "belongs to no running FoldDeck job" in r.getMessage()]
    ex = made[0]
    data_id, gpu_id = ex.slurm_id, ex.parts[1].slurm_id
    assert facts(settings, job.id).slurm_id == data_id and gpu_id > data_id
    assert "#SBATCH --dependency=afterok:" in facts(settings, job.id).script
    # squeue -t all lists finished jobs too: one per partition, both completed, the second named after the first
    seen = sh("squeue", "-h", "-t", "all", "-j", f"{data_id},{gpu_id}", "-o", "%i|%P|%T|%j").split()
    name = slurm_exec.job_name(slurm_cluster.install_tag(settings), job.id, 1)
    assert sorted(seen) == [f"{data_id}|cpu|COMPLETED|{name}", f"{gpu_id}|debug|COMPLETED|{name}.after{data_id}"]
    lines = log_text(settings, job.id).splitlines()
    order = [next(i for i, line in enumerate(lines) if want(line)) for want in (
        lambda line: line.startswith(f"FoldDeck: Slurm job {data_id} on ") and line.endswith(": data pipeline"),
        lambda line: "Skipping model inference..." in line,
        lambda line: line.startswith(f"FoldDeck: Slurm job {gpu_id} on ") and line.endswith(": inference"),
        lambda line: "Skipping data pipeline..." in line,
        lambda line: line == "Job succeeded.")]
    assert order == sorted(order), lines
    assert ex.data_json.endswith("/data/Slurm_test/Slurm_test_data.json") and Path(ex.data_json).is_file()
    assert list((settings.jobs_dir / str(job.id) / "attempt-1").glob("Slurm_test/seed-1_sample-0/*summary_conf*"))


def _worker_proc(settings, hosts_file: Path) -> subprocess.Popen:
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(settings.data_dir), FOLDDECK_HOSTS_FILE=str(hosts_file),
               FOLDDECK_LOCAL_SLOTS="0", FOLDDECK_LEASE_SECONDS="5", FOLDDECK_AF3_COMMAND=SIM)
    return subprocess.Popen([sys.executable, "-m", "services.running.worker", "--hosts", "cluster"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def slow_cluster_hosts(tmp_path: Path) -> Path:
    """Write a hosts file whose cluster job takes 4 s before the simulator: time to kill its worker."""
    hosts_file = tmp_path / "hosts.toml"
    hosts_file.write_text(f'[[host]]\nname = "cluster"\nkind = "slurm"\nwork_dir = "{tmp_path / "shared"}"\n'
                          f'partition = "debug"\nmax_jobs = 2\n'
                          f'af3_command = "sleep 4; {SIM.replace(chr(34), "")}"\n')
    return hosts_file


def test_worker_killed_and_restarted_reattaches_with_one_sbatch(slurm, timeout_job, tmp_path):
    settings = make_settings(tmp_path, FOLDDECK_LEASE_SECONDS=5)
    hosts_file = slow_cluster_hosts(tmp_path)
    job = submit(settings)
    first = _worker_proc(settings, hosts_file)
    try:
        f = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 30, "running")
        first.kill()  # SIGKILL: no shutdown, the lease just stops being renewed
        first.wait(10)
        second = _worker_proc(settings, hosts_file)
        try:
            wait_for(lambda: state_of(settings, job.id) is JobState.SUCCEEDED, 60, "succeeded after re-attach")
        finally:
            second.terminate()
            second.wait(20)
    finally:
        first.kill()
        first.wait(10)
    name = slurm_exec.job_name(slurm_cluster.install_tag(settings), job.id, 1)
    # Exactly one Slurm job was ever submitted for the attempt (squeue -t all lists finished ones too).
    assert sh("squeue", "-h", "-t", "all", "-n", name, "-o", "%i").split() == [str(f.slurm_id)]
    conn = db.connect(settings.db_path)
    assert [a.attempt for a in jobs.attempts(conn, users.get_by_name(conn, "alice"), job.id)] == [1]
    assert "re-attached to the attempt in Slurm" in log_text(settings, job.id)


def test_accounting_off_reaches_the_end_state(slurm, timeout_job, tmp_path, workers):
    """Restarts the cluster without slurmdbd; `sacct` fails, `sacct -c` and the exit marker remain.

    The time-limited job runs on through the restart (its worker sees squeue fail meanwhile) and
    its TIMEOUT then comes from the job completion log (the next test).
    """
    control("stop", slurm["env"])
    slurm["env"] = _env(SLURM_ACCOUNTING="none")
    control("start", slurm["env"])
    settings = make_settings(tmp_path)
    host = cluster_host(tmp_path, f"{SIM}; exit 3")
    job = submit(settings)
    start_worker(settings, host, workers)
    wait_for(lambda: state_of(settings, job.id) is JobState.FAILED, 40, "failed")
    conn = db.connect(settings.db_path)
    got = jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id)
    assert got.exit_code == 3 and facts(settings, job.id).state == "FAILED"
    assert slurm_exec.cluster(host, settings).accounting is False


def test_time_limit_ends_with_timeouts_message(timeout_job):
    settings, job = timeout_job
    wait_for(lambda: state_of(settings, job.id) is JobState.FAILED, 150, "the time limit")
    conn = db.connect(settings.db_path)
    error = jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id).error
    assert error.endswith("hit the time limit of 1:00 — ask for more (time_limit of host cluster)"), error
    assert facts(settings, job.id).state == "TIMEOUT"
    assert slurm_exec.cluster(cluster_host(settings.data_dir.parent, SLOW, time_limit="1"), settings).accounting \
        is False  # it ended after the restart without accounting: `sacct -c` said TIMEOUT


def test_node_failure_requeues_the_job_as_a_new_attempt(slurm, tmp_path, workers):
    """Last: taking the node down kills the running job with NODE_FAIL (the node is resumed after)."""
    settings = make_settings(tmp_path)
    job = submit(settings)
    start_worker(settings, cluster_host(tmp_path, f"sleep 2; {SIM}"), workers)
    first = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 30, "running")
    try:
        sh("scontrol", "update", "nodename=localhost", "state=down", "reason=folddeck-test")
        wait_for(lambda: facts(settings, job.id, 2) is not None, 30, "a second attempt in Slurm")
    finally:
        sh("scontrol", "update", "nodename=localhost", "state=resume", check=False)
    wait_for(lambda: state_of(settings, job.id) is JobState.SUCCEEDED, 60, "succeeded on the second attempt")
    conn = db.connect(settings.db_path)
    assert [(a.attempt, a.outcome) for a in jobs.attempts(conn, users.get_by_name(conn, "alice"), job.id)] == \
        [(1, "requeued"), (2, "succeeded")]
    assert facts(settings, job.id, 1).state == "NODE_FAIL" and facts(settings, job.id, 2).slurm_id != first.slurm_id
    assert (f"Slurm job {first.slurm_id} ended NODE_FAIL: its node failed. The job goes back to the queue as a new "
            "attempt.") in log_text(settings, job.id)


def test_restored_into_another_data_dir_the_worker_keeps_its_slurm_jobs(slurm, timeout_job, tmp_path):
    """Issue 22: back up while a job runs in Slurm, restore into a new folder, delete the old one: the
    restored worker re-attaches by the same job name (the tag is kept in the database, not derived
    from the data dir) and the job succeeds with one sbatch."""
    import shutil

    from services.operations import backup

    settings = make_settings(tmp_path / "old", FOLDDECK_LEASE_SECONDS=5)
    hosts_file = slow_cluster_hosts(tmp_path)
    job = submit(settings)
    tag = slurm_cluster.install_tag(settings)
    first = _worker_proc(settings, hosts_file)
    try:
        f = wait_for(lambda: (f := facts(settings, job.id)) and f.state == "RUNNING" and f, 30, "running")
        first.kill()
        first.wait(10)
    finally:
        first.kill()
        first.wait(10)
    backup.backup(settings, tmp_path / "bk")
    moved = load_settings(environ={}, dotenv=None, data_dir=tmp_path / "moved" / "data")
    backup.restore(tmp_path / "bk", moved.data_dir)
    db.close_all()
    shutil.rmtree(tmp_path / "old")
    db.migrate(moved.db_path)
    assert slurm_cluster.install_tag(moved) == tag
    second = _worker_proc(moved, hosts_file)
    try:
        wait_for(lambda: state_of(moved, job.id) is JobState.SUCCEEDED, 60, "succeeded after the move")
    finally:
        second.terminate()
        second.wait(20)
    name = slurm_exec.job_name(tag, job.id, 1)
    assert sh("squeue", "-h", "-t", "all", "-n", name, "-o", "%i").split() == [str(f.slurm_id)]
    assert "re-attached to the attempt in Slurm" in log_text(moved, job.id)
    conn = db.connect(moved.db_path)
    done = jobs.get_job(conn, users.get_by_name(conn, "alice"), job.id)
    assert done.output_path.startswith(str(moved.data_dir)) and Path(done.output_path).is_dir()
