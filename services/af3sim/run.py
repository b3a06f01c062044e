"""The simulated `run_alphafold.py`: AF3's stages, messages, streams, pacing and outputs (reference §8).

Failures are real Python exceptions left to propagate, so a failed run ends exactly like AF3's
(absl `app.run`): a traceback on stderr and exit status 1.
"""
from __future__ import annotations

import datetime
import os
import pathlib
import textwrap
from typing import Any

from services.af3sim import timing
from services.af3sim.console import Console, Pacer
from services.af3sim.context import Run
from services.af3sim.flags import FlagsError, Stage, parse_flags
from services.af3sim.inference import predict_structure
from services.af3sim.loader import Input, load_fold_inputs_from_dir, load_fold_inputs_from_path
from services.af3sim.output.outputs import write_outputs
from services.af3sim.output.writer import SIM_LABEL, data_json, write_text
from services.af3sim.pipeline import data_pipeline

_NOTICE = (
    "Running AlphaFold 3. Please note that standard AlphaFold 3 model parameters are released only under "
    "the weights terms of use published at "
    "https://github.com/google-deepmind/alphafold3/blob/main/WEIGHTS_TERMS_OF_USE.md (this is the "
    f"{SIM_LABEL}, which loads no parameters). If you do not accept those terms, stop with CTRL-C and "
    "do not use the model parameters."
)
NICE_INCREMENT = 10  # the simulator yields the CPU to the web app and workers (it stands in for a GPU job)


def main(argv: list[str]) -> int:
    """Run the simulator on `argv` (no program name); return the exit status."""
    _yield_cpu()
    console = Console()
    try:
        flags = parse_flags(argv)
    except FlagsError as e:
        console.err.write(f"FATAL Flags parsing error: {e}\nPass --helpshort or --helpfull to see help on flags.\n")
        console.err.flush()
        return 1
    run_all(Run(flags, console, Pacer(flags["speed"])))
    return 0


def _yield_cpu() -> None:
    """Lower this process's CPU priority (best effort: some sandboxes refuse)."""
    try:
        if os.nice(0) < NICE_INCREMENT:
            os.nice(NICE_INCREMENT - os.nice(0))
    except OSError:
        pass


def _check_flags(flags: dict[str, Any]) -> None:
    """Raise run_alphafold.py's flag errors (reference §3.2, stage M)."""
    if flags["json_path"] is None and flags["input_dir"] is None:
        raise ValueError("Exactly one of --json_path or --input_dir must be specified.")
    if not flags["run_inference"] and not flags["run_data_pipeline"]:
        raise ValueError("At least one of --run_inference or --run_data_pipeline must be set to true.")
    if flags["run_inference"] and flags["jax_backend"] in ("cpu", "mps") and \
            flags["flash_attention_implementation"] != "xla":
        raise ValueError('For CPU-only or MPS inference, --flash_attention_implementation must be set to "xla".')


def run_all(run: Run) -> None:
    """Do what run_alphafold.py's main() does, in its order."""
    c, flags = run.console, run.flags
    c.warning("run_alphafold.py", 1, f"{SIM_LABEL}: no GPU is used and the structures are synthetic")
    _check_flags(flags)
    if flags["input_dir"] is not None:  # AF3 lets --input_dir win when both are given
        inputs = load_fold_inputs_from_dir(pathlib.Path(flags["input_dir"]), c)
    else:
        inputs = load_fold_inputs_from_path(pathlib.Path(flags["json_path"]), c)
    os.makedirs(flags["output_dir"], exist_ok=True)
    c.print("\n" + "\n".join(textwrap.wrap(_NOTICE, width=80, break_long_words=False, break_on_hyphens=False)) + "\n")
    datetime.date.fromisoformat(flags["max_template_date"])
    if flags["run_inference"]:
        _start_model(run)
    elif run.fail_at(Stage.STARTUP):
        raise FileNotFoundError(f"No models matched in {flags['model_dir']}")
    done = 0
    for fold_input in inputs:
        if flags["num_seeds"] is not None:
            c.print(f"Expanding fold job {fold_input.name} to {flags['num_seeds']} seeds")
            fold_input = fold_input.with_multiple_seeds(flags["num_seeds"])
        process_fold_input(run, fold_input)
        done += 1
    c.print(f"Done running {done} fold jobs.")


def _start_model(run: Run) -> None:
    """Print the device and model lines; fail like a missing weights file for --fail-at=startup."""
    c, gpu = run.console, run.flags["gpu_device"]
    run.pacer.spend(timing.STARTUP_S)
    c.print(f"Found local GPU devices: [SimulatedDevice(id={gpu})], using device {gpu}: sim:{gpu} "
            f"({SIM_LABEL}, no GPU used)")
    c.print("Building model from scratch...")
    c.print("Checking that model parameters can be loaded...")
    if run.fail_at(Stage.STARTUP):
        raise FileNotFoundError(f"No models matched in {run.flags['model_dir']}")
    run.pacer.spend(timing.PARAMS_CHECK_S)


def _job_dir(run: Run, fold_input: Input) -> pathlib.Path:
    """Return the job folder, timestamp-suffixed when it exists non-empty (reference §5.1)."""
    out = pathlib.Path(run.flags["output_dir"]) / fold_input.sanitised_name()
    if not run.flags["force_output_dir"] and out.exists() and any(out.iterdir()):
        new = pathlib.Path(f"{out}_{datetime.datetime.now():%Y%m%d_%H%M%S}")
        run.console.print(f"Output will be written in {new} since {out} is non-empty.")
        return new
    run.console.print(f"Output will be written in {out}")
    return out


def process_fold_input(run: Run, fold_input: Input) -> None:
    """Run one fold job: data pipeline, input JSON, inference, outputs."""
    c = run.console
    c.print(f"\nRunning fold job {fold_input.name}...")
    if not fold_input.chains:
        raise ValueError("Fold input has no chains.")
    out = _job_dir(run, fold_input)
    if run.flags["run_data_pipeline"]:
        c.print("Running data pipeline...")
        fold_input = data_pipeline(run, fold_input)
    else:
        c.print("Skipping data pipeline...")
    data_path = out / f"{fold_input.sanitised_name()}_data.json"
    c.print(f"Writing model input JSON to {data_path}")
    write_text(data_path, data_json(fold_input))
    if not run.flags["run_inference"]:
        c.print("Skipping model inference...")
    else:
        n = len(fold_input.rng_seeds)
        c.print(f"Predicting 3D structure for {fold_input.name} with {n} seed(s)...")
        layout, samples = predict_structure(run, fold_input)
        c.print(f"Writing outputs with {n} seed(s)...")
        write_outputs(run, fold_input, layout, samples, out)
    c.print(f"Fold job {fold_input.name} done, output written to {os.path.abspath(out)}\n")
