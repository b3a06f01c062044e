"""FoldDeck's AF3 job -> Chai-1's FASTA and restraints CSV (https://github.com/chaidiscovery/chai-lab).

Chai-1 names chains A, B, C... in FASTA order, one entry per copy, so the writer returns that renaming
and the reader maps the chains back. Modified residues are written inline, `(SEP)` for the residue;
ligands are SMILES only (ions get their charged SMILES); a covalent bond between two polymer residues
becomes a `covalent` row of the restraints CSV.
"""
from __future__ import annotations

import csv
import io
import string

from services.af3.model import Dna, FoldJob, Ligand, Protein, Rna
from services.engines.base import EngineInput, common_refusals, is_ion

LABEL = "Chai-1"
ION_SMILES = {"MG": "[Mg+2]", "ZN": "[Zn+2]", "CA": "[Ca+2]", "NA": "[Na+]", "K": "[K+]", "CL": "[Cl-]",
              "MN": "[Mn+2]", "FE": "[Fe+3]", "FE2": "[Fe+2]", "CU": "[Cu+2]", "CO": "[Co+2]", "NI": "[Ni+2]",
              "CD": "[Cd+2]", "IOD": "[I-]", "BR": "[Br-]", "LI": "[Li+]"}
RESTRAINTS = "restraints.csv"
_COLUMNS = ["restraint_id", "chainA", "res_idxA", "chainB", "res_idxB", "connection_type", "confidence",
            "min_distance_angstrom", "max_distance_angstrom", "comment"]


def refusals(job: FoldJob) -> list[str]:
    """Return what of `job` Chai-1 cannot run, one sentence each."""
    out = common_refusals(job, LABEL, bonds=True)
    ligand_chains = set()
    for e in job.entities:
        if isinstance(e, Ligand):
            ligand_chains.update(e.ids)
            if not e.smiles and len(e.ccd_codes) == 1 and not (is_ion(e) and e.ccd_codes[0].upper() in ION_SMILES):
                out.append(f"{LABEL} takes ligands as SMILES only: chain {', '.join(e.ids)} is CCD code "
                           f"{e.ccd_codes[0]}; give its SMILES to run it on {LABEL}.")
        elif getattr(e, "unpaired_msa", None):
            out.append(f"{LABEL} reads MSAs only as its own .aligned.pqt files: leave the MSA of chain "
                       f"{', '.join(e.ids)} out and let the command's MSA source search (--use-msa-server).")
    for bond in job.bonds:
        if bond.a[0] in ligand_chains or bond.b[0] in ligand_chains:
            out.append(f"{LABEL} names a ligand's atoms its own way, so FoldDeck cannot pass the bond "
                       f"{_atom(bond.a)}-{_atom(bond.b)}; only bonds between polymer residues are passed.")
    return out


def _atom(atom: tuple[str, int, str]) -> str:
    return f"{atom[0]}:{atom[1]}:{atom[2]}"


def chain_names(job: FoldJob) -> dict[str, str]:
    """Return Chai-1's chain id -> FoldDeck's, in FASTA order."""
    ids = job.chain_ids()
    letters = list(string.ascii_uppercase) + [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    return dict(zip(letters, ids, strict=False))


def _sequence(entity: Protein | Rna | Dna) -> str:
    residues = list(entity.sequence)
    for mod in entity.modifications:
        residues[mod.position - 1] = f"({mod.code})"
    return "".join(residues)


def write_input(job: FoldJob) -> EngineInput:
    """Return the FASTA (and restraints CSV, with bonds) Chai-1 reads for `job`; call `refusals` first."""
    kinds = {Protein: "protein", Rna: "rna", Dna: "dna", Ligand: "ligand"}
    lines = []
    for entity in job.entities:
        if isinstance(entity, Ligand):
            body = entity.smiles or ION_SMILES[entity.ccd_codes[0].upper()]
        else:
            body = _sequence(entity)
        for cid in entity.ids:
            lines += [f">{kinds[type(entity)]}|name={cid}", body]
    files = {"input.fasta": ("\n".join(lines) + "\n").encode()}
    names = chain_names(job)
    if job.bonds:
        files[RESTRAINTS] = _restraints(job, {v: k for k, v in names.items()}).encode()
    return EngineInput("input.fasta", files, names)


def _restraints(job: FoldJob, to_chai: dict[str, str]) -> str:
    sequences = {cid: e.sequence for e in job.entities if not isinstance(e, Ligand) for cid in e.ids}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for i, bond in enumerate(job.bonds, start=1):
        (ca, ra, aa), (cb, rb, ab) = bond.a, bond.b
        writer.writerow([f"bond{i}", to_chai[ca], f"{sequences[ca][ra - 1]}{ra}@{aa}", to_chai[cb],
                         f"{sequences[cb][rb - 1]}{rb}@{ab}", "covalent", 1.0, 0.0, 0.0, "from bondedAtomPairs"])
    return out.getvalue()
