"""What an engine is: an input writer, a command per host, an output reader, and its log's words.

FoldDeck keeps one input (an AlphaFold 3 job) and hands each engine its own translation of it.
An engine that cannot express a part of the job says so (`refusals`), in a sentence a person can
act on, before anything is queued: a feature is never dropped on the way.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.af3.model import FoldJob, Ligand
from services.results import Confidences, SampleScore


@dataclass(frozen=True)
class EngineInput:
    """The files one engine reads for one job: `main` is what its command's {input} names."""

    main: str  # file name inside the input folder
    files: dict[str, bytes]  # name -> content, `main` included; side files (MSAs, restraints) beside it
    chains: dict[str, str] = field(default_factory=dict)  # the engine's chain id -> FoldDeck's (when it renames)


@dataclass(frozen=True)
class EngineSample:
    """One predicted sample as every engine reports it, plus what only some engines have."""

    score: SampleScore  # ranking, pTM, ipTM, chain-pair ipTM (in `chains` order), clash: FoldDeck's results model
    model: Path | None  # mmCIF with per-atom pLDDT in B-factors (0-100)
    chains: list[str] = field(default_factory=list)  # FoldDeck chain ids, the order of the chain matrices
    chain_ptm: dict[str, float] = field(default_factory=dict)
    plddt: float | None = None  # mean over the complex, 0-100
    pae: Path | None = None  # the engine's PAE file, read on demand (`EngineOutputs.confidences`)


@dataclass(frozen=True)
class EngineOutputs:
    """What one engine run left: its samples best first, and extras some engines write."""

    engine: str
    folder: Path
    samples: list[EngineSample]
    affinity: dict[str, float] = field(default_factory=dict)  # Boltz-2: affinity_pred_value, probability...
    notes: list[str] = field(default_factory=list)  # what was missing or could not be read, in words
    confidences: Callable[[EngineSample], Confidences | None] | None = None  # PAE and pLDDT for plotting


@dataclass(frozen=True)
class LogWords:
    """An engine's log: the lines that mark its stages and the lines that explain a failure."""

    stages: tuple[tuple[re.Pattern, str], ...]  # (pattern, stage name), in run order
    failures: tuple[tuple[re.Pattern, str], ...]  # (pattern, what it means for the user)

    def stage_of(self, line: str) -> str | None:
        """Return the stage a log line starts, or None."""
        return next((name for pattern, name in self.stages if pattern.search(line)), None)

    def failure_of(self, line: str) -> str | None:
        """Return the plain-words meaning of a log line that explains a failure, or None."""
        return next((words for pattern, words in self.failures if pattern.search(line)), None)


@dataclass(frozen=True)
class Engine:
    """One structure predictor FoldDeck can run: the four parts (README, "Engines")."""

    name: str  # "af3", "boltz", ...: stored on the job row, named in the API
    label: str  # "AlphaFold 3", "Boltz-2"
    licence: str  # of the weights, shown where engines are picked
    setting: str  # the Settings field holding its command template
    refusals: Callable[[FoldJob], list[str]]  # what of this job it cannot run, one sentence each
    write_input: Callable[[FoldJob], EngineInput] | None  # None: the job's own AF3 JSON is the input
    read_outputs: Callable[[Path, dict[str, str]], EngineOutputs]  # (output folder, engine chain -> FoldDeck chain)
    log: LogWords
    takes_msas: bool = True  # reads precomputed MSAs (so a searched MSA can be handed to it)


# Ions are ligands of one atom; Boltz-2 predicts affinity for a small molecule, never for an ion.
IONS = frozenset({"MG", "ZN", "NA", "CL", "CA", "K", "MN", "FE", "FE2", "CU", "CU1", "CO", "NI", "CD", "IOD", "BR",
                  "LI", "SR", "BA", "CS", "RB", "HG", "PB", "AU", "AG", "PT", "F"})


def is_ion(ligand: Ligand) -> bool:
    """True for a ligand that is one ion CCD code."""
    return not ligand.smiles and len(ligand.ccd_codes) == 1 and ligand.ccd_codes[0].upper() in IONS


def common_refusals(job: FoldJob, label: str, *, user_ccd: bool = False, templates: bool = False,
                    multi_ccd: bool = False, bonds: bool = False, paired_msa: bool = False) -> list[str]:
    """Return the refusals every non-AF3 engine shares, by what `label` cannot take (True: it can)."""
    out = []
    if (job.user_ccd or job.user_ccd_path) and not user_ccd:
        out.append(f"{label} cannot read a user CCD (userCCD): its ligands come from its own CCD library or SMILES. "
                   "Give the ligand as SMILES to run it there.")
    if job.bonds and not bonds:
        out.append(f"{label} cannot take covalent bonds (bondedAtomPairs).")
    for entity in job.entities:
        ids = ", ".join(entity.ids)
        if isinstance(entity, Ligand) and len(entity.ccd_codes) > 1 and not multi_ccd:
            out.append(f"{label} cannot take a ligand of several CCD components (chain {ids}: "
                       f"{'-'.join(entity.ccd_codes)}).")
        if getattr(entity, "templates", None) and not templates:
            out.append(f"{label} cannot take AlphaFold 3's structural templates (chain {ids}).")
        if getattr(entity, "paired_msa", None) and not paired_msa:
            out.append(f"{label} cannot take a paired MSA (chain {ids}); give it unpaired only, or leave it out.")
    return out
