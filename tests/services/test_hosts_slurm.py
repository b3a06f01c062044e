"""The `kind = "slurm"` host: its config is checked at start-up (naming the bad key), its batch
script carries the config, and Slurm's answers are parsed into clear end states."""
from __future__ import annotations

import pytest

from services.errors import SettingsError
from services.executors import make_executor
from services.executors.slurm import Final, SlurmExecutor, _gpus, batch_script, parse_job_name, parse_sacct
from services.hosts import load_hosts

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
    ('address = "login1"', "unknown keys address for a slurm host"),
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
    assert [_gpus(g) for g in ("gpu:2", "gpu:a100:4(S:0-1)", "gpu:0(IDX:N/A)", "(null)", "gpu:1,gpu:a100:2")] == \
        [2, 4, 0, 0, 3]


def test_the_worker_refuses_to_start_naming_the_bad_key(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    (tmp_path / "hosts.toml").write_text(GOOD.replace('mem = "64G"', 'mem = 64'))
    env = dict(os.environ, FOLDDECK_DATA_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "services.worker", "--once"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "host #1 (cluster): 'mem' must be a string without spaces or quotes (got 64)." in res.stderr


def test_slurm_end_states_become_clear_messages(settings):
    from pathlib import Path

    from services.executors.base import RunSpec

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
