"""Write a run's output folder as AF3 does: per-sample folders, the best sample at top level, the ranking CSV,
optional embeddings/distograms and the terms of use (reference §5.1)."""
from __future__ import annotations

import os
import pathlib
import shutil

from services.af3sim import timing
from services.af3sim.context import Run
from services.af3sim.flags import Stage
from services.af3sim.loader import Input
from services.af3sim.output.confidences import Sample
from services.af3sim.output.structure import Layout
from services.af3sim.output.writer import (
    SIM_LABEL,
    TERMS_OF_USE,
    model_cif,
    plddt_texts,
    ranking_csv,
    summary_json,
    write_confidences,
    write_text,
)


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
