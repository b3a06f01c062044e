"""The Slurm jobs of one attempt, as FoldDeck writes them: the plan (one job, or data pipeline then inference),
each job's batch script with the host's #SBATCH options, and a time limit sized from the job ("auto").

Plain functions of the host config and the job's input: no sbatch is run here (services.running.executors.slurm
submits and follows the jobs).
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from services.af3.names import sanitised_name
from services.hosts import Host, SlurmConfig
from services.people.cluster_identity import ClusterIdentity
from services.platform import defaults
from services.running.executors.base import ExecutorError

EXIT_MARKER = "exit_code"
DATA_MARKER = "data.exit_code"  # the data-pipeline job's own marker in a two-job attempt
DEPENDENT_ID = "inference.slurm_id"  # a two-job attempt's inference job id, for a worker that re-attaches
STAGE_LABELS = {"data": "data pipeline", "inference": "inference"}


def data_json_path(input_path: str, output_dir: str) -> str:
    """Return where AF3's data pipeline writes `<name>_data.json` for this input under `output_dir`.

    The data job's output folder is fresh, so AF3 adds no timestamp to the job folder's name.
    """
    try:
        name = json.loads(Path(input_path).read_text()).get("name")
    except (OSError, ValueError, AttributeError) as exc:
        raise ExecutorError(f"cannot read the job's name from {input_path}: {exc}") from None
    if not isinstance(name, str):
        raise ExecutorError(f"{input_path} has no \"name\": AF3 names its output folder after it")
    folder = sanitised_name(name)
    return str(Path(output_dir, folder, f"{folder}_data.json"))


def batch_script(host: Host, name: str, run_dir: str, command: str, *, stage: str = "", cpu: bool = False,
                 marker: str = EXIT_MARKER, after: int | None = None, af3: dict | None = None,
                 person: ClusterIdentity | None = None) -> str:
    """Return one Slurm job's batch script: #SBATCH lines from the host's config, then the command.

    `cpu`: the data-pipeline job, sized by the cpu_* keys in cpu_partition, without GRES; `after`:
    the data job an inference job waits for (Slurm cancels it if that one fails). `af3`: the job's
    input, for a time limit of "auto" (sized from the job, see `auto_time_limit`). `person`: who
    the job is for, named in Slurm's own records (`person_lines`).
    """
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --output={run_dir}/slurm.out",
             f"#SBATCH --chdir={run_dir}", "#SBATCH --open-mode=append", "#SBATCH --no-requeue",
             "#SBATCH --ntasks=1", *_options(host.slurm, cpu, stage, af3, person and person.account),
             *person_lines(host.slurm, person)]
    if after is not None:
        lines += [f"#SBATCH --dependency=afterok:{after}", "#SBATCH --kill-on-invalid-dep=yes"]
    path = shlex.quote(f"{run_dir}/{marker}")
    label = f": {STAGE_LABELS[stage]}" if stage else ""
    lines += ["", "# Written by FoldDeck: the AF3 or engine command, then its exit status for when accounting is off.",
              f"echo \"FoldDeck: Slurm job $SLURM_JOB_ID on $(hostname){label}\"", command, "code=$?",
              f"echo $code > {path}.tmp && mv {path}.tmp {path}", "exit $code", ""]
    return "\n".join(lines)


def person_lines(cfg: SlurmConfig | None, person: ClusterIdentity | None) -> list[str]:
    """Return the #SBATCH lines that name the job's person in sacct: --comment always, --wckey where the host says.

    Their account (when mapped) replaces the host's in `_options`, so fairshare and sreport count per account.
    """
    if person is None:
        return []
    lines = [f"#SBATCH --comment=folddeck:{person.username}"]
    if cfg is not None and cfg.wckey:
        lines.append(f"#SBATCH --wckey={person.username}")
    return lines


def _options(cfg: SlurmConfig | None, cpu: bool, stage: str = "", af3: dict | None = None,
             account: str = "") -> list[str]:
    """Return the #SBATCH lines of the host's config for the GPU job, or for the data-pipeline job (`cpu`).

    `account`: the person's own Slurm account, instead of the host's.
    """
    if cfg is None:
        return [f"#SBATCH --account={account}"] if account else []
    account = account or cfg.account
    limit = cfg.cpu_time_limit if cpu else cfg.time_limit
    if limit == AUTO:
        limit = auto_time_limit(af3 or {}, "data" if cpu else stage)
    if cpu:  # sbatch_lines stay with the GPU job: a GPU constraint would leave this one pending forever
        pairs, extra = (("partition", cfg.cpu_partition), ("account", account), ("qos", cfg.qos),
                        ("mem", cfg.cpu_mem), ("time", limit), ("cpus-per-task", cfg.cpu_cpus)), ()
    else:
        pairs, extra = (("partition", cfg.partition), ("account", account), ("qos", cfg.qos), ("gres", cfg.gres),
                        ("mem", cfg.mem), ("time", limit), ("cpus-per-task", cfg.cpus)), cfg.sbatch_lines
    return [f"#SBATCH --{flag}={value}" for flag, value in pairs if value] + list(extra)


AUTO = "auto"  # a time limit sized from the job itself (hosts.toml: time_limit / cpu_time_limit = "auto")


def auto_time_limit(af3: dict, stage: str) -> str:
    """Return a Slurm time limit (D-HH:MM:00) for one job's `stage` ("" both, "data", "inference"), from its input.

    Inference: AF3's published A100 seconds for the job's bucket and seeds (services.af3.size), times
    AUTO_INFERENCE_FACTOR for slower GPUs, plus model start-up and compilation. Data pipeline: a fixed
    allowance per chain to search (jackhmmer on the full databases takes minutes to an hour per chain).
    """
    from services.af3.size import estimate_size
    from services.msa import msa_cache

    seconds = 0.0
    if stage in ("", "inference"):
        try:
            seconds += estimate_size(af3).seconds_total * defaults.AUTO_INFERENCE_FACTOR
        except (KeyError, TypeError, ValueError):
            seconds += defaults.AUTO_INFERENCE_FALLBACK_S  # an input the estimate cannot read: a generous guess
        seconds += defaults.AUTO_MODEL_START_S
    if stage in ("", "data"):
        seconds += defaults.AUTO_SEARCH_BASE_S + defaults.AUTO_SEARCH_PER_CHAIN_S * len(msa_cache.search_keys(af3))
    minutes = max(defaults.AUTO_MIN_MINUTES, -(-int(seconds) // 60))
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


@dataclass
class Part:
    """One Slurm job of an attempt: the whole run, or the data pipeline or the inference of a two-job attempt."""
    stage: str  # the stage flags its command gets: "", "data" or "inference"
    cpu: bool  # in cpu_partition, without GRES
    output: str  # AF3's --output_dir
    marker: str  # its exit marker's file name in the run dir
    script: str  # its batch script's file name in the run dir
    name: str = ""
    slurm_id: int | None = None
    since: float = float("-inf")  # monotonic time of its sbatch (-inf: an earlier worker submitted it)


def plan(host: Host, stage: str, run_dir: str, two_jobs: bool) -> list[Part]:
    """Return an attempt's Slurm jobs: the data pipeline and the inference for `two_jobs`, else one job."""
    if two_jobs:
        return [Part("data", True, f"{run_dir}/data", DATA_MARKER, "data.sbatch"),
                Part("inference", False, f"{run_dir}/output", EXIT_MARKER, "job.sbatch")]
    cpu = bool(host.slurm and host.slurm.cpu_partition) and stage == "data"
    return [Part(stage, cpu, f"{run_dir}/output", EXIT_MARKER, "job.sbatch")]
