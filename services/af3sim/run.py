"""The simulated `run_alphafold.py`: AF3's stages, messages, streams, pacing and outputs (reference §8).

Failures are real Python exceptions left to propagate, so a failed run ends exactly like AF3's
(absl `app.run`): a traceback on stderr and exit status 1.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import os
import pathlib
import random
import shutil
import textwrap
import time
from typing import Any

from services.af3.ccd import UNKNOWN_COMPONENT_ATOMS
from services.af3sim import timing
from services.af3sim.confidences import Sample, flat_coords, make_sample
from services.af3sim.console import Console, Pacer
from services.af3sim.flags import FlagsError, Stage, parse_flags
from services.af3sim.loader import (
    Input,
    ProteinChain,
    RnaChain,
    Template,
    load_fold_inputs_from_dir,
    load_fold_inputs_from_path,
)
from services.af3sim.structure import Layout, build_coordinates, tokenise
from services.af3sim.writer import (
    SIM_LABEL,
    TERMS_OF_USE,
    data_json,
    model_cif,
    plddt_texts,
    ranking_csv,
    summary_json,
    write_confidences,
    write_text,
)

_NOTICE = (
    "Running AlphaFold 3. Please note that standard AlphaFold 3 model parameters are released only under "
    "the weights terms of use published at "
    "https://github.com/google-deepmind/alphafold3/blob/main/WEIGHTS_TERMS_OF_USE.md (this is the "
    f"{SIM_LABEL}, which loads no parameters). If you do not accept those terms, stop with CTRL-C and "
    "do not use the model parameters."
)
_JACKHMMER_SEQ_LIMIT = {"uniref90_2022_05.fa": 10000, "mgy_clusters_2022_05.fa": 5000,
                        "uniprot_all_2021_04.fa": 50000}
_XLA_MODULE = "jaxlib.xla_extension"
NICE_INCREMENT = 10  # the simulator yields the CPU to the web app and workers (it stands in for a GPU job)


class XlaRuntimeError(RuntimeError):
    """Stands in for JAX's runtime error so the traceback's last line reads as JAX prints it."""


XlaRuntimeError.__module__ = _XLA_MODULE


@dataclasses.dataclass
class Run:
    """The flags of this run and its output helpers."""

    flags: dict[str, Any]
    console: Console
    pacer: Pacer

    def fail_at(self, stage: Stage) -> bool:
        """Tell whether --fail-at names `stage`."""
        return self.flags["fail_at"] == stage.value

    def took(self, start: float) -> float:
        """Return wall seconds since `start`."""
        return time.monotonic() - start


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


# -- data pipeline ------------------------------------------------------------------------------


def _db_path(run: Run, db: str) -> str:
    """Return where AF3 would look for database `db` (first --db_dir)."""
    return os.path.join(os.path.expanduser(run.flags["db_dir"][0]), db)


def _synthetic_msa(sequence: str, rows: int, rng: random.Random) -> str:
    """Return an A3M whose first row is the query, then `rows` synthetic homologs."""
    alphabet = "ACDEFGHIKLMNPQRSTVWY" if not set(sequence) <= set("ACGUN") else "ACGU"
    lines = [">query", sequence]
    for k in range(rows):
        hit = "".join(rng.choice(alphabet) if rng.random() < 0.3 else ch for ch in sequence)
        lines += [f">sim_hit_{k + 1} synthetic homolog ({SIM_LABEL})", hit]
    return "\n".join(lines) + "\n"


def _synthetic_template(sequence: str, k: int) -> Template:
    """Return a CA-only single-chain template mmCIF of an ideal helix, mapped 1:1 to the query."""
    rows = [f"data_SIM{k}", f"# {SIM_LABEL}: synthetic template", f"_entry.id SIM{k}", "loop_"]
    rows += [f"_atom_site.{col}" for col in ("group_PDB", "id", "type_symbol", "label_atom_id", "label_comp_id",
                                             "label_asym_id", "label_seq_id", "Cartn_x", "Cartn_y", "Cartn_z")]
    for i, _ in enumerate(sequence):
        a = math.radians(100.0 * i)
        rows.append(f"ATOM {i + 1} C CA UNK A {i + 1} {2.3 * math.cos(a):.3f} {2.3 * math.sin(a):.3f} {1.5 * i:.3f}")
    return Template("\n".join(rows) + "\n", {i: i for i in range(len(sequence))})


def _parallel_searches(run: Run, tool: str, seq: str, durations: dict[str, float]) -> None:
    """Log a pool of parallel HMMER runs: all launched, then each 'Finished' when its time is up."""
    c = run.console
    binary = shutil.which(tool.lower()) or f"/hmmer/bin/{tool.lower()}"
    for k, db in enumerate(durations, start=1):
        c.info(f"{tool.lower()}.py", 185, f"Query sequence (non-sharded db): {seq[:16]}... (len {len(seq)})", k)
        limit = f" --seq_limit {_JACKHMMER_SEQ_LIMIT[db]}" if db in _JACKHMMER_SEQ_LIMIT else ""
        args = ("-o /dev/null -A /tmp/tmpsim/output.sto --noali --F1 0.0005 --F2 5e-05 --F3 5e-07 --cpu 8 -N 1 "
                f"-E 0.0001 --incE 0.0001{limit}") if tool == "Jackhmmer" else \
            "-o /dev/null --noali --cpu 8 --F3 0.00005 -E 0.001 --incE 0.001 --rna --watson"
        c.info("subprocess_utils.py", 96,
               f'Launching subprocess "{binary} {args} /tmp/tmpsim/query.fasta {_db_path(run, db)}"', k)
    if run.fail_at(Stage.MSA):
        c.error("subprocess_utils.py", 118, f"{tool} failed: Memory allocation failed.", 1)
        raise RuntimeError(f"{tool} failed\nstdout:\n\n\nstderr:\nFatal exception (source file esl_alloc.c, "
                           "line 49):\nMemory allocation failed.\n")
    elapsed = 0.0
    thread_of = {db: k for k, db in enumerate(durations, start=1)}
    for db, seconds in sorted(durations.items(), key=lambda kv: kv[1]):
        k = thread_of[db]
        run.pacer.spend(seconds - elapsed)
        elapsed = seconds
        c.info("subprocess_utils.py", 125, f"Finished {tool} ({db}) in {run.pacer.scaled(seconds):.3f} seconds", k)


def _templates(run: Run, seq: str, rng: random.Random) -> list[Template]:
    """Simulate hmmbuild + hmmsearch against pdb_seqres; return up to 4 synthetic templates."""
    c = run.console
    c.info("pipeline.py", 50, f"Getting protein templates for sequence {seq}")
    start = time.monotonic()
    seqres = _db_path(run, "pdb_seqres_2022_09_28.fasta")
    c.info("subprocess_utils.py", 96, 'Launching subprocess "hmmbuild --informat stockholm --hand --amino '
           '/tmp/tmpsim/output.hmm /tmp/tmpsim/query.msa"')
    run.pacer.spend(0.1 * timing.TEMPLATE_SEARCH_S)
    c.info("subprocess_utils.py", 125, f"Finished Hmmbuild in {run.pacer.scaled(0.1 * timing.TEMPLATE_SEARCH_S):.3f}"
           " seconds")
    c.info("subprocess_utils.py", 96, f'Launching subprocess "hmmsearch --noali --cpu 8 --F1 0.1 --F2 0.1 --F3 0.1 '
           f'-E 100 --incE 100 --domE 100 --incdomE 100 -A /tmp/tmpsim/output.sto /tmp/tmpsim/output.hmm {seqres}"')
    if run.fail_at(Stage.TEMPLATES):
        raise RuntimeError("Hmmsearch failed\nstdout:\n\n\nstderr:\nError: Failed to open sequence file "
                           f"{seqres} for reading\n")
    run.pacer.spend(0.9 * timing.TEMPLATE_SEARCH_S)
    c.info("subprocess_utils.py", 125, f"Finished Hmmsearch (pdb_seqres_2022_09_28.fasta) in "
           f"{run.pacer.scaled(0.9 * timing.TEMPLATE_SEARCH_S):.3f} seconds")
    found = [_synthetic_template(seq, k) for k in range(rng.randint(0, 4))]
    c.info("pipeline.py", 62, f"Getting {len(found)} protein templates took {run.took(start):.2f} seconds for "
           f"sequence {seq}")
    return found


def _protein_pipeline(run: Run, chain: ProteinChain, rng: random.Random) -> ProteinChain:
    """Follow AF3's protein-chain rules: search all, templates only, nothing, or raise (reference §2.6)."""
    c, seq = run.console, chain.sequence
    has_u, has_p, has_t = chain.unpaired_msa is not None, chain.paired_msa is not None, chain.templates is not None
    if not has_u and not has_p and not chain.templates:
        c.info("pipeline.py", 92, f"Getting protein MSAs for sequence {seq}")
        start = time.monotonic()
        _parallel_searches(run, "Jackhmmer", seq, {db: timing.jackhmmer_seconds(db, len(seq))
                                                   for db in timing.JACKHMMER_S})
        c.info("pipeline.py", 125, f"Getting protein MSAs took {run.took(start):.2f} seconds for sequence {seq}")
        c.info("pipeline.py", 131, f"Deduplicating MSAs for sequence {seq}")
        start = time.monotonic()
        unpaired, paired = rng.randint(8, 48), rng.randint(2, 16)
        run.pacer.spend(timing.DEDUP_S)
        c.info("pipeline.py", 144, f"Deduplicating MSAs took {run.took(start):.2f} seconds for sequence {seq}, "
               f"found {unpaired + 1} unpaired sequences, {paired + 1} paired sequences")
        if chain.templates is not None:
            c.info("pipeline.py", 47, f"Skipping template search for sequence {seq}")
            templates = chain.templates
        else:
            templates = _templates(run, seq, rng)
        return dataclasses.replace(chain, unpaired_msa=_synthetic_msa(seq, unpaired, rng),
                                   paired_msa=_synthetic_msa(seq, paired, rng), templates=templates)
    if has_u and has_p and not has_t:
        return dataclasses.replace(chain, templates=_templates(run, seq, rng))
    if has_u and has_p and has_t:
        c.info("pipeline.py", 290, f"Skipping MSA and template search for protein chain {chain.id} because it "
               "already has MSAs and templates.")
        if not chain.unpaired_msa:
            c.info("pipeline.py", 296, f"Using empty unpaired MSA for protein chain {chain.id}")
        if not chain.paired_msa:
            c.info("pipeline.py", 300, f"Using empty paired MSA for protein chain {chain.id}")
        if not chain.templates:
            c.info("pipeline.py", 304, f"Using no templates for protein chain {chain.id}")
        return chain
    raise ValueError(f"Protein chain {chain.id} has unpaired MSA, paired MSA, or templates set only partially. If "
                     "you want to run the pipeline with custom MSA/templates, you need to set all of them. You can "
                     "set MSA to empty string and templates to empty list to signify that they should not be used "
                     "and searched for.")


def _rna_pipeline(run: Run, chain: RnaChain, rng: random.Random) -> RnaChain:
    """Search RNA MSAs with three Nhmmer runs unless the chain already has one."""
    c, seq = run.console, chain.sequence
    if chain.unpaired_msa is not None:
        c.info("pipeline.py", 340, f"Skipping MSA search for RNA chain {chain.id} because it already has MSA.")
        return chain
    c.info("pipeline.py", 160, f"Getting RNA MSAs for sequence {seq}")
    start = time.monotonic()
    _parallel_searches(run, "Nhmmer", seq, {db: timing.nhmmer_seconds(db, len(seq)) for db in timing.NHMMER_S})
    rows = rng.randint(4, 32)
    c.info("pipeline.py", 178, f"Getting RNA MSAs took {run.took(start):.2f} seconds for sequence {seq}, found "
           f"{rows + 1} unpaired sequences")
    return dataclasses.replace(chain, unpaired_msa=_synthetic_msa(seq, rows, rng))


def data_pipeline(run: Run, fold_input: Input) -> Input:
    """Run the per-chain data pipeline; homomer copies reuse the first copy's result (AF3 caches)."""
    c = run.console
    if run.fail_at(Stage.DATA_PIPELINE):
        db = "${DB_DIR}/uniref90_2022_05.fa"
        raise FileNotFoundError(f"{db} with ${{DB_DIR}} not found in any of {run.flags['db_dir']}.")
    cache: dict[str, Any] = {}
    chains = []
    for chain in fold_input.chains:
        c.print(f"Running data pipeline for chain {chain.id}...")
        start = time.monotonic()
        key = repr(dataclasses.replace(chain, id=""))
        if key in cache:
            chain = dataclasses.replace(cache[key], id=chain.id)
        elif isinstance(chain, ProteinChain | RnaChain):
            rng = random.Random(f"{run.flags['sim_seed']}-msa-{chain.sequence}")
            step = _protein_pipeline if isinstance(chain, ProteinChain) else _rna_pipeline
            chain = cache.setdefault(key, step(run, chain, rng))
        chains.append(chain)
        c.print(f"Running data pipeline for chain {chain.id} took {run.took(start):.2f} seconds")
    return dataclasses.replace(fold_input, chains=chains)


# -- featurisation and inference ---------------------------------------------------------------------


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
    for k, seed in enumerate(fold_input.rng_seeds):
        c.print(f"Running model inference with seed {seed}...")
        seed_start = time.monotonic()
        if run.fail_at(Stage.INFERENCE):
            c.warning("bfc_allocator.cc", 501, f"Allocator (GPU_{flags['gpu_device']}_bfc) ran out of memory trying "
                      f"to allocate {bucket * bucket * 128 * 4 * 48 / 2**30:.2f}GiB.")
            raise _oom(bucket, flags["gpu_device"])
        run.pacer.spend(timing.inference_seconds(bucket, flags["num_diffusion_samples"], flags["num_recycles"],
                                                 k == 0))
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


# -- outputs -------------------------------------------------------------------------------------------


def _write_sample(run: Run, fold_input: Input, layout: Layout, sample: Sample, folder: pathlib.Path,
                  prefix: str) -> None:
    """Write the model, full confidences and summary of one sample."""
    plddts = plddt_texts(sample.atom_plddts)  # the same text in the CIF's B-factors and the JSON
    write_text(folder / f"{prefix}_model.cif", model_cif(fold_input, layout, sample, run.flags["save_terms_of_use"],
                                                          plddts))
    write_confidences(folder / f"{prefix}_confidences.json", layout, sample, plddts)
    write_text(folder / f"{prefix}_summary_confidences.json", summary_json(sample))


def _write_arrays(run: Run, layout: Layout, seed: int, out: pathlib.Path, name: str) -> None:
    """Write small synthetic embeddings / distogram npz files when asked and numpy is present."""
    wanted = [w for w in ("embeddings", "distogram") if run.flags[f"save_{w}"]]
    if not wanted:
        return
    try:
        import numpy as np
    except ImportError:
        run.console.warning("run_alphafold.py", 700, f"numpy is not available: {SIM_LABEL} skips --save_"
                            f"{' and --save_'.join(wanted)}")
        return
    t = len(layout.tokens)
    for what in wanted:
        # Zeros compress to almost nothing: right shapes and dtype, tiny files.
        arrays = ({"single_embeddings": np.zeros((t, 384), np.float16),
                   "pair_embeddings": np.zeros((t, t, 128), np.float16)} if what == "embeddings"
                  else {"distogram": np.zeros((t, t, 64), np.float16)})
        path = out / f"seed-{seed}_{what}" / f"{name}_seed-{seed}_{what}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)


def _link_or_copy(src: pathlib.Path, dst: pathlib.Path) -> None:
    """Make `dst` hold `src`'s bytes: a hard link, or a copy across filesystems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_outputs(run: Run, fold_input: Input, layout: Layout, samples: dict[tuple[int, int], Sample],
                  out: pathlib.Path) -> None:
    """Write per-sample folders, the best sample at top level, the ranking CSV and terms (reference §5.1)."""
    name = fold_input.sanitised_name()
    if run.fail_at(Stage.WRITING):
        raise OSError(28, "No space left on device", str(out / f"{name}_model.cif"))
    if run.flags["compress_large_output_files"]:
        run.console.warning("run_alphafold.py", 701, f"{SIM_LABEL} writes uncompressed files")
    best_key = None
    for (seed, i), sample in samples.items():
        tag = f"seed-{seed}_sample-{i}"
        _write_sample(run, fold_input, layout, sample, out / tag, f"{name}_{tag}")
        if best_key is None or sample.ranking_score > samples[best_key].ranking_score:
            best_key = (seed, i)  # strictly greater: the earlier sample wins a tie, as in AF3
        run.pacer.spend(timing.WRITE_PER_SAMPLE_S)
    for seed in fold_input.rng_seeds:
        _write_arrays(run, layout, seed, out, name)
    tag = f"seed-{best_key[0]}_sample-{best_key[1]}"
    for suffix in ("model.cif", "confidences.json", "summary_confidences.json"):
        # AF3's top-level files are the best sample's files, byte for byte: a hard link where the
        # filesystem allows (a 5,000-token confidences file is ~200 MB), else a copy.
        _link_or_copy(out / tag / f"{name}_{tag}_{suffix}", out / f"{name}_{suffix}")
    scores = [(s, i, x.ranking_score) for (s, i), x in samples.items()]
    write_text(out / f"{name}_ranking_scores.csv", ranking_csv(scores))
    if run.flags["save_terms_of_use"]:
        write_text(out / "TERMS_OF_USE.md", TERMS_OF_USE)
