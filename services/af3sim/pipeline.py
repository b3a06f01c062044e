"""The simulated data pipeline: Jackhmmer/Nhmmer MSA searches and template search, with AF3's messages and
rules for chains that bring their own MSAs or templates (reference §2.6)."""
from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
import time
from typing import Any

from services.af3sim import timing
from services.af3sim.context import Run
from services.af3sim.flags import Stage
from services.af3sim.loader import Input, ProteinChain, RnaChain, Template
from services.af3sim.output.writer import SIM_LABEL

_JACKHMMER_SEQ_LIMIT = {"uniref90_2022_05.fa": 10000, "mgy_clusters_2022_05.fa": 5000,
                        "uniprot_all_2021_04.fa": 50000}


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
