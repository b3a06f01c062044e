"""Simulated featurisation and inference: token layout, padding buckets, the modelled GPU time, samples and
JAX's out-of-memory error."""
from __future__ import annotations

import random
import time

from services.af3.chem.ccd import UNKNOWN_COMPONENT_ATOMS
from services.af3sim import timing
from services.af3sim.context import Run
from services.af3sim.flags import Stage
from services.af3sim.loader import Input, ProteinChain, RnaChain
from services.af3sim.output.confidences import Sample, flat_coords, make_sample
from services.af3sim.output.structure import Layout, build_coordinates, tokenise
from services.af3sim.output.writer import SIM_LABEL

_XLA_MODULE = "jaxlib.xla_extension"


class XlaRuntimeError(RuntimeError):
    """Stands in for JAX's runtime error so the traceback's last line reads as JAX prints it."""


XlaRuntimeError.__module__ = _XLA_MODULE


def _check_features(fold_input: Input) -> None:
    """Raise AF3's featurisation errors for chains the data pipeline did not fill (1-based per type)."""
    proteins = [ch for ch in fold_input.chains if isinstance(ch, ProteinChain)]
    for k, ch in enumerate(proteins, start=1):
        for value, what in ((ch.unpaired_msa, "unpaired MSA"), (ch.paired_msa, "paired MSA"),
                            (ch.templates, "Templates")):
            if value is None:
                raise ValueError(f"Protein chain {k} is missing {what}.")
    for k, ch in enumerate([ch for ch in fold_input.chains if isinstance(ch, RnaChain)], start=1):
        if ch.unpaired_msa is None:
            raise ValueError(f"RNA chain {k} is missing unpaired MSA.")


def _bucket(run: Run, tokens: int) -> int:
    """Return the padding bucket for `tokens`, logging AF3's lines."""
    c = run.console
    c.info("pipeline.py", 265, f"Calculating bucket size for input with {tokens} tokens.")
    buckets = sorted(int(b) for b in run.flags["buckets"])
    bucket = next((b for b in buckets if b >= tokens), None)
    if bucket is None:
        bucket = tokens
        c.warning("pipeline.py", 268, f"Creating a new bucket of size {tokens} since the input has more tokens "
                  f"than the largest bucket size {buckets[-1]}.")
    c.info("pipeline.py", 271, f"Got bucket size {bucket} for input with {tokens} tokens, resulting in "
           f"{bucket - tokens} padded tokens.")
    return bucket


def _warn_estimated(run: Run, layout: Layout) -> None:
    """Log a W line per CCD code the simulator sized by estimate: real AF3 reads it from the full CCD."""
    for code in layout.estimated_codes:
        run.console.warning("featurisation.py", 118, f"{SIM_LABEL}: no CCD index is reachable on this host for "
                            f"{code}; it is simulated with about {UNKNOWN_COMPONENT_ATOMS} heavy atoms, so its atom "
                            "and token counts are approximate.")


def featurise(run: Run, fold_input: Input) -> tuple[Layout, int]:
    """Featurise every seed (the token layout is seed-independent); return layout and bucket."""
    c, n = run.console, len(fold_input.rng_seeds)
    c.print(f"Featurising data with {n} seed(s)...")
    start = time.monotonic()
    layout, bucket = None, 0
    for seed in fold_input.rng_seeds:
        c.print(f"Featurising data with seed {seed}.")
        seed_start = time.monotonic()
        c.info("pipeline.py", 185, f"Processing {fold_input.sanitised_name()}, random_seed={seed}")
        _check_features(fold_input)
        layout = tokenise(fold_input)
        _warn_estimated(run, layout)
        if run.fail_at(Stage.FEATURISATION):
            c.error("featurisation.py", 91, "Host memory exhausted while building MSA features.")
            raise MemoryError()
        bucket = _bucket(run, len(layout.tokens))
        run.pacer.spend(timing.featurise_seconds(len(layout.tokens)))
        c.print(f"Featurising data with seed {seed} took {run.took(seed_start):.2f} seconds.")
    c.print(f"Featurising data with {n} seed(s) took {run.took(start):.2f} seconds.")
    return layout, bucket


def _oom(bucket: int, gpu: int) -> XlaRuntimeError:
    """Return the out-of-memory error JAX raises when the pair activations do not fit."""
    wanted = bucket * bucket * 128 * 4 * 48  # pair representation per Pairformer block, float32
    return XlaRuntimeError(f"RESOURCE_EXHAUSTED: Out of memory while trying to allocate {wanted} bytes. "
                           f"[tf-allocator-allocation-error='GPU_{gpu}_bfc']")


def predict_structure(run: Run, fold_input: Input) -> tuple[Layout, dict[tuple[int, int], Sample]]:
    """Featurise, then 'infer' each seed: sleep the modelled time and generate the samples."""
    c, flags, n = run.console, run.flags, len(fold_input.rng_seeds)
    layout, bucket = featurise(run, fold_input)
    c.print(f"Running model inference and extracting output structure samples with {n} seed(s)...")
    start = time.monotonic()
    samples: dict[tuple[int, int], Sample] = {}
    for seed in fold_input.rng_seeds:
        c.print(f"Running model inference with seed {seed}...")
        seed_start = time.monotonic()
        if run.fail_at(Stage.INFERENCE):
            c.warning("bfc_allocator.cc", 501, f"Allocator (GPU_{flags['gpu_device']}_bfc) ran out of memory trying "
                      f"to allocate {bucket * bucket * 128 * 4 * 48 / 2**30:.2f}GiB.")
            raise _oom(bucket, flags["gpu_device"])
        # Compilation once per bucket per process (unless the cache dir holds it), not once per job.
        run.pacer.spend(timing.inference_seconds(bucket, flags["num_diffusion_samples"], flags["num_recycles"],
                                                 False) + run.compile_seconds(bucket))
        c.print(f"Running model inference with seed {seed} took {run.took(seed_start):.2f} seconds.")
        c.print(f"Extracting inference results with seed {seed}...")
        seed_start = time.monotonic()
        base = flat_coords(build_coordinates(layout, random.Random(f"{flags['sim_seed']}-{seed}")))
        for i in range(flags["num_diffusion_samples"]):
            samples[(seed, i)] = make_sample(layout, base, random.Random(f"{flags['sim_seed']}-{seed}-{i}"))
        run.pacer.spend(timing.EXTRACT_PER_SAMPLE_S * flags["num_diffusion_samples"])
        c.print(f"Extracting {flags['num_diffusion_samples']} inference samples with seed {seed} took "
                f"{run.took(seed_start):.2f} seconds.")
    c.print(f"Running model inference and extracting output structures with {n} seed(s) took "
            f"{run.took(start):.2f} seconds.")
    return layout, samples
