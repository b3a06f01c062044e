"""The `kind = "slurm"` host: its config is checked at start-up (naming the bad key), its batch
script carries the config, and Slurm's answers are parsed into clear end states."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services import jobs
from services.hosts import load_hosts
from services.people import users
from services.platform import db
from services.platform.errors import SettingsError
from services.running.executors import make_executor
from services.running.executors.base import RunSpec
from services.running.executors.slurm import SlurmExecutor
from services.running.executors.slurm_cluster import Cluster, Final, _gpus, depends_on, parse_job_name, parse_sacct
from services.running.executors.slurm_script import batch_script

GOOD = """
[[host]]
name = "cluster"
kind = "slurm"
work_dir = "/shared/folddeck"
partition = "gpu"
account = "lab42"
qos = "normal"
gres = "gpu:1"
cpus = 8
mem = "64G"
time_limit = "4:00:00"
sbatch_lines = ["#SBATCH --constraint=a100"]
max_jobs = 20
"""


def hosts_from(settings, text: str):
    settings.hosts_path.parent.mkdir(parents=True, exist_ok=True)
    settings.hosts_path.write_text(text)
    return load_hosts(settings)


def test_a_slurm_host_is_read_with_its_config_and_gets_the_slurm_executor(settings):
    local, cluster = hosts_from(settings, GOOD)
    assert (local.kind, cluster.kind, cluster.is_slurm, cluster.is_local) == ("local", "slurm", True, False)
    assert cluster.slots == 20 and cluster.work_dir == "/shared/folddeck"
    assert cluster.slurm.gres == "gpu:1" and cluster.slurm.cpus == 8 and cluster.slurm.time_limit == "4:00:00"
    assert isinstance(make_executor(cluster, settings), SlurmExecutor)


@pytest.mark.parametrize(("change", "message"), [
    ('colour = "blue"', "unknown keys colour for a slurm host"),
    ('address = "login1"', "'user' is required with an address"),
    ('user = "folddeck"', "'user' is for a login node reached over SSH: set 'address' too"),
    ('submit_as = "root"', "'submit_as' must be one of service, sudo, own_key"),
    ("shared_storage = false", "'shared_storage = false' needs an 'address'"),
    ('time_limit = "four hours"', "'time_limit' must be a string without spaces"),
    ('time_limit = "4h"', "'time_limit' must be in a Slurm form such as 4:00:00"),
    ("cpus = -1", "'cpus' must be an integer from 0 to 1024"),
    ('max_jobs = "many"', "'max_jobs' must be an integer from 0 to 10000"),
    ('gres = "gpu:1 --wrap=rm"', "'gres' must be a string without spaces or quotes"),
    ('sbatch_lines = ["--exclusive"]', "'sbatch_lines' must be a list of lines, each starting with '#SBATCH '"),
])
def test_bad_config_is_refused_at_start_up_naming_the_key(settings, change, message):
    key = change.split(" =")[0]
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{key} =")) + "\n" + change + "\n"
    with pytest.raises(SettingsError) as err:
        hosts_from(settings, text)
    assert message in str(err.value) and "host #1" in str(err.value)


def test_work_dir_and_kind_are_checked(settings):
    with pytest.raises(SettingsError, match="'work_dir' is required: an absolute path on storage the compute"):
        hosts_from(settings, '[[host]]\nname = "c"\nkind = "slurm"\n')
    with pytest.raises(SettingsError, match="'kind' must be one of ssh, slurm"):
        hosts_from(settings, '[[host]]\nname = "c"\nkind = "pbs"\n')


def test_the_batch_script_carries_the_hosts_config(settings):
    cluster = hosts_from(settings, GOOD)[1]
    script = batch_script(cluster, "folddeck.abcd1234.7.1", "/shared/folddeck/abcd1234/7/attempt-1", "run_af3 x")
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    for want in ("#SBATCH --job-name=folddeck.abcd1234.7.1", "#SBATCH --partition=gpu", "#SBATCH --account=lab42",
                 "#SBATCH --qos=normal", "#SBATCH --gres=gpu:1", "#SBATCH --mem=64G", "#SBATCH --time=4:00:00",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --constraint=a100", "#SBATCH --no-requeue",
                 "#SBATCH --output=/shared/folddeck/abcd1234/7/attempt-1/slurm.out"):
        assert want in lines, want
    # every #SBATCH line comes before the first command (sbatch stops reading them there)
    first_cmd = next(i for i, s in enumerate(lines) if s and not s.startswith("#"))
    assert all(i < first_cmd for i, s in enumerate(lines) if s.startswith("#SBATCH"))
    assert "run_af3 x" in lines and lines[-1] == "exit $code"


def test_slurm_answers_are_parsed():
    got = parse_sacct("12|COMPLETED|0:0\n13|CANCELLED by 0|0:15\n14|TIMEOUT|0:0\n15|FAILED|3:0\nbad\n")
    assert got == {12: Final("COMPLETED", 0), 13: Final("CANCELLED", 143, "0"), 14: Final("TIMEOUT", 0),
                   15: Final("FAILED", 3)}
    assert parse_job_name("folddeck.abcd1234.7.2", "abcd1234") == (7, 2)
    assert parse_job_name("folddeck.other000.7.2", "abcd1234") is None
    assert depends_on("folddeck.abcd1234.7.2.after512") == 512 and depends_on("folddeck.abcd1234.7.2") is None
    assert [_gpus(g) for g in ("gpu:2", "gpu:a100:4(S:0-1)", "gpu:0(IDX:N/A)", "(null)", "gpu:1,gpu:a100:2")] == \
        [2, 4, 0, 0, 3]


def test_the_worker_refuses_to_start_naming_the_bad_key(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    (tmp_path / "hosts.toml").write_text(GOOD.replace('mem = "64G"', 'mem = 64'))
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "services.running.worker", "--once"], cwd=ROOT, env=env,
                         capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "host #1 (cluster): 'mem' must be a string without spaces or quotes (got 64)." in res.stderr


def test_slurm_end_states_become_clear_messages(settings):
    def outcome(final: Final, cancelled: bool = False):
        ex = SlurmExecutor(hosts_from(settings, GOOD)[1], settings)
        ex.slurm_id, ex.cancelled = 77, cancelled
        ex.spec = RunSpec(1, 1, Path("in.json"), Path("out"), "run")
        return ex._conclude(final), ex.outcome

    assert outcome(Final("COMPLETED", 0)) == (0, None)
    assert outcome(Final("FAILED", 3)) == (3, None)  # the worker's usual failure path (the log says why)
    assert outcome(Final("TIMEOUT", 0)) == (1, ("failed", "Slurm stopped job 77: it hit the time limit of 4:00:00 "
                                                          "— ask for more (time_limit of host cluster)"))
    assert outcome(Final("OUT_OF_MEMORY", 0)) == (1, ("failed", "Slurm stopped job 77: it ran out of memory (64G "
                                                                "asked for) — ask for more (mem of host cluster)"))
    assert outcome(Final("PREEMPTED", 0))[1] == ("requeue", "Slurm job 77 ended PREEMPTED: it was preempted by a "
                                                            "higher-priority job. The job goes back to the queue as "
                                                            "a new attempt.")
    assert outcome(Final("CANCELLED", 143, "1000"))[1] == ("cancelled", "Slurm job 77 was cancelled outside "
                                                                        "FoldDeck (user id 1000)")
    assert outcome(Final("CANCELLED", 143), cancelled=True) == (143, None)  # FoldDeck's own scancel


# -- two Slurm jobs per attempt (issue 16): the data pipeline in cpu_partition, then inference --------

TWO_JOBS = GOOD + 'cpu_partition = "cpu"\ncpu_cpus = 16\ncpu_mem = "32G"\ncpu_time_limit = "2:00:00"\n'
TEMPLATE = "run_af3 --json_path={input} --output_dir={output}"
NAMED = {"name": "Two stage test!", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
         "sequences": [{"protein": {"id": "A", "sequence": "MKVLAAGIVALLLA"}}]}


class FakeCluster(Cluster):
    """Runs no Slurm command: sbatch answers 101, 102, ...; sacct says what `ended` holds; all are recorded."""

    def __init__(self, host, settings):
        super().__init__(host, settings, tick=0)
        self.commands: list[tuple] = []
        self.ended: dict[int, str] = {}  # slurm id -> "STATE|code:signal"
        self.next_id = 100

    def run(self, *args, check=True, access=None):
        self.commands.append(args)
        out = ""
        if args[0] == "sbatch":
            self.next_id += 1
            out = f"{self.next_id}\n"
        elif args[0] == "sacct":
            out = "".join(f"{sid}|{how}\n" for sid, how in self.ended.items())
        return subprocess.CompletedProcess(args, 0, out, "")


def started(settings, text: str, stage: str = "", attempt: int = 1):
    """Return (executor, fake cluster, run dir) for an attempt of a fresh job submitted on a host from `text`."""
    host = hosts_from(settings, text)[1]
    conn = db.connect(settings.db_path)
    job = jobs.submit(conn, settings, users.get_by_name(conn, "alice"), NAMED)
    fake = FakeCluster(host, settings)
    ex = SlurmExecutor(host, settings, shared=fake)
    ex.start(RunSpec(job.id, attempt, jobs.input_file(settings, job), settings.jobs_dir / "out", TEMPLATE, stage=stage))
    return ex, fake, Path(ex.run_dir)


def test_a_whole_run_on_a_cpu_partition_host_is_two_linked_slurm_jobs(settings):
    ex, fake, run = started(settings, TWO_JOBS)
    data, gpu = (run / "data.sbatch").read_text().splitlines(), (run / "job.sbatch").read_text().splitlines()
    for want in ("#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=16", "#SBATCH --mem=32G", "#SBATCH --time=2:00:00",
                 "#SBATCH --account=lab42", f"#SBATCH --job-name={ex.parts[0].name}",
                 f"run_af3 --json_path={run}/input.json --output_dir={run}/data --norun_inference"):
        assert want in data, want
    assert not any(s.startswith(("#SBATCH --gres", "#SBATCH --dependency", "#SBATCH --constraint")) for s in data)
    assert f"echo $code > {run}/data.exit_code.tmp && mv {run}/data.exit_code.tmp {run}/data.exit_code" in data
    # The inference job: GPU partition and GRES, after the data job, reading the _data.json it writes.
    data_json = f"{run}/data/Two_stage_test/Two_stage_test_data.json"
    for want in ("#SBATCH --partition=gpu", "#SBATCH --gres=gpu:1", "#SBATCH --mem=64G", "#SBATCH --time=4:00:00",
                 "#SBATCH --constraint=a100", "#SBATCH --dependency=afterok:101", "#SBATCH --kill-on-invalid-dep=yes",
                 f"#SBATCH --job-name={ex.parts[0].name}.after101", f"#SBATCH --output={run}/slurm.out",
                 f"run_af3 --json_path={data_json} --output_dir={run}/output --norun_data_pipeline"):
        assert want in gpu, want
    first_cmd = next(i for i, s in enumerate(gpu) if s and not s.startswith("#"))
    assert all(i < first_cmd for i, s in enumerate(gpu) if s.startswith("#SBATCH"))
    assert [c[0] for c in fake.commands] == ["sbatch", "sbatch"] and ex.slurm_id == 101
    row = jobs.slurm_attempt(db.connect(settings.db_path), ex.spec.job_id, 1)
    assert row.slurm_id == 101 and "--partition=cpu" in row.script and "--dependency=afterok:101" in row.script
    assert (run / "inference.slurm_id").read_text() == "102\n" and ex.phase == "data" and ex.data_json is None


def test_one_stage_attempts_are_one_job_with_their_stage_flags(settings):
    ex, fake, run = started(settings, GOOD)  # no cpu_partition: exactly as before
    assert len(ex.parts) == 1 and not (run / "data.sbatch").exists()
    script = (run / "job.sbatch").read_text()
    assert f"run_af3 --json_path={run}/input.json --output_dir={run}/output\n" in script and "norun" not in script
    ex, fake, run = started(settings, TWO_JOBS, stage="inference")  # a retry from the saved _data.json
    script = (run / "job.sbatch").read_text()
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --gres=gpu:1" in script and "--dependency" not in script
    assert f"--json_path={run}/input.json --output_dir={run}/output --norun_data_pipeline" in script
    ex, fake, run = started(settings, TWO_JOBS, stage="data")
    script = (run / "job.sbatch").read_text()
    assert "#SBATCH --partition=cpu" in script and "--gres" not in script and "--dependency" not in script
    assert f"--output_dir={run}/output --norun_inference" in script and len(fake.commands) == 1


def test_two_jobs_are_followed_in_turn_cancelled_together_and_found_again(settings):
    ex, fake, run = started(settings, TWO_JOBS)
    fake.ended[101] = "COMPLETED|0:0"
    data_json = run / "data" / "Two_stage_test" / "Two_stage_test_data.json"
    data_json.parent.mkdir(parents=True)
    data_json.write_text("{}")
    assert ex.poll() is None and ex.phase == "inference" and ex.data_json == str(data_json)
    # A worker that dies now: the next one follows the inference job straight away.
    again = SlurmExecutor(ex.host, settings, shared=fake)
    (run / "data.exit_code").write_text("0\n")
    assert again.attach(ex.spec) and again.phase == "inference" and again.data_json == str(data_json)
    assert [p.slurm_id for p in again.parts] == [101, 102]
    again.cancel()
    assert fake.commands[-1] == ("scancel", "101", "102")
    fake.ended[102] = "COMPLETED|0:0"
    assert ex.poll() == 0 and ex.outcome is None


def test_a_failed_data_pipeline_is_the_attempts_failure_and_drops_the_inference_job(settings):
    ex, fake, run = started(settings, TWO_JOBS)
    fake.ended[101] = "TIMEOUT|0:0"
    assert ex.poll() == 1 and ex.data_json is None and ex.phase == "data"
    assert ("scancel", "102") in fake.commands
    assert ex.outcome == ("failed", "Slurm stopped data-pipeline job 101: it hit the time limit of 2:00:00 — ask for "
                                    "more (cpu_time_limit of host cluster)")
    ex, fake, run = started(settings, TWO_JOBS, attempt=2)  # it ended well but wrote no _data.json
    fake.ended[fake.next_id - 1] = "COMPLETED|0:0"
    assert ex.poll() == 1 and ex.outcome[1].startswith(f"the data pipeline (Slurm job {fake.next_id - 1}) finished "
                                                       f"without writing {run}/data/Two_stage_test/")


@pytest.mark.parametrize(("change", "message"), [
    ('cpu_partition = "cpu nodes"', "'cpu_partition' must be a string without spaces or quotes"),
    ('cpu_time_limit = "2h"', "'cpu_time_limit' must be in a Slurm form"),
    ("cpu_cpus = true", "'cpu_cpus' must be an integer from 0 to 1024"),
    ('cpu_mem = "8G"', "'cpu_mem' applies to the data-pipeline job: set 'cpu_partition' too"),
])
def test_bad_cpu_partition_config_is_refused_naming_the_key(settings, change, message):
    extra = 'cpu_partition = "cpu"\n' if change.startswith(("cpu_time", "cpu_cpus")) else ""
    with pytest.raises(SettingsError) as err:
        hosts_from(settings, GOOD + extra + change + "\n")
    assert message in str(err.value)


def test_an_auto_time_limit_is_sized_from_each_job(settings):
    """time_limit = "auto": each job asks Slurm for what its input needs (issue 15), not one limit for the largest."""
    from services.af3.size import estimate_size
    from services.platform import defaults
    from services.running.executors.slurm_script import auto_time_limit

    auto = TWO_JOBS.replace('time_limit = "4:00:00"', 'time_limit = "auto"').replace(
        'cpu_time_limit = "2:00:00"', 'cpu_time_limit = "auto"')
    ex, _fake, run = started(settings, auto)
    data, gpu = (run / "data.sbatch").read_text(), (run / "job.sbatch").read_text()
    # the search: a base plus one chain's allowance; inference: 3x AF3's A100 time plus model start-up
    assert "#SBATCH --time=0-01:30:00" in data
    inference_s = estimate_size(NAMED).seconds_total * defaults.AUTO_INFERENCE_FACTOR + defaults.AUTO_MODEL_START_S
    assert f"#SBATCH --time={auto_time_limit(NAMED, 'inference')}" in gpu
    assert auto_time_limit(NAMED, "inference") == f"0-00:{-(-int(inference_s) // 60):02d}:00"
    # a bigger job asks for more: 4 seeds of a 2,000-residue protein and two more chains to search
    big = {**NAMED, "modelSeeds": [1, 2, 3, 4], "sequences": [
        {"protein": {"id": "A", "sequence": "M" * 2000}}, {"protein": {"id": "B", "sequence": "G" * 300}},
        {"rna": {"id": "C", "sequence": "ACGU" * 20}}]}
    assert auto_time_limit(big, "inference") > auto_time_limit(NAMED, "inference")
    assert auto_time_limit(big, "data") == "0-03:30:00"
    assert auto_time_limit(big, "") > auto_time_limit(big, "data")
    # one job for both stages (no cpu_partition) gets both allowances
    ex, _fake, run = started(settings, GOOD.replace('time_limit = "4:00:00"', 'time_limit = "auto"'))
    assert f"#SBATCH --time={auto_time_limit(NAMED, '')}" in (run / "job.sbatch").read_text()
    with pytest.raises(SettingsError, match="or \"auto\""):
        hosts_from(settings, GOOD.replace('time_limit = "4:00:00"', 'time_limit = "soon"'))
