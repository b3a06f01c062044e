"""A screen's variable parts: ligands (CCD codes, SMILES, SDF records) and point mutations of a chain.

Each parser returns the members it could read and a problem per line or record it could not, naming
where: a screen is submitted whole or not at all, so every problem is reported at once. SMILES are
read with RDKit as AlphaFold 3 reads them (`Chem.MolFromSmiles`, sanitised; AF3 refuses what RDKit
cannot make a molecule of: "Unable to make RDKit Mol from SMILES"). CCD codes are checked against the
CCD by the same validation as every job input (services.af3), once they are part of a member's input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from services.af3.chem import ccd

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
# "A123G" or "K45R": wild-type residue, 1-based position, new residue; several joined with "," or "+".
_MUTATION = re.compile(r"([A-Z])(\d+)([A-Z])")
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class Member:
    """One variable part: a ligand (`smiles` or `ccd_codes`) or a set of point mutations."""

    label: str  # the name the user gave (SDF record name, the word after a SMILES) or one made from the value
    smiles: str = ""
    ccd_codes: tuple[str, ...] = ()
    mutations: tuple[tuple[str, int, str], ...] = ()  # (wild type, 1-based position, new residue)

    @property
    def value(self) -> str:
        """Return the member's variable part as text (SMILES, CCD codes joined by '+', 'A12G,K45R')."""
        if self.smiles:
            return self.smiles
        if self.ccd_codes:
            return "+".join(self.ccd_codes)
        return ",".join(f"{w}{p}{m}" for w, p, m in self.mutations)


def name_part(label: str) -> str:
    """Return `label` as it may stand in a job name (AF3 sanitises names into folder names)."""
    return _NAME_SAFE.sub("_", label).strip("_")[:40] or "member"


def rdkit_problem(smiles: str) -> str:
    """Return why AF3's RDKit would refuse `smiles`, or '' when it makes a molecule of it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # RDKit's own stderr lines would repeat the message we return
    try:
        mol = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
    return "" if mol is not None else f"Unable to make RDKit Mol from SMILES: {smiles}"


def smiles_members(text: str) -> tuple[list[Member], list[str]]:
    """Read one ligand per line: `SMILES [name]` (blank lines and lines starting with # are skipped)."""
    members, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        words = line.split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        smiles, label = words[0], (words[1].strip() if len(words) > 1 else "") or f"ligand {len(members) + 1}"
        why = rdkit_problem(smiles)
        if why:
            problems.append(f"SMILES line {n}: {why}")
        else:
            members.append(Member(label, smiles=smiles))
    return members, problems


def ccd_members(text: str) -> tuple[list[Member], list[str]]:
    """Read one ligand per line or comma: a CCD code, or several joined by '+' for one multi-residue ligand."""
    members, problems = [], []
    for n, item in enumerate((w.strip() for w in re.split(r"[\n,]", text)), start=1):
        if not item or item.startswith("#"):
            continue
        codes = tuple(c.strip().upper() for c in item.split("+"))
        bad = [c for c in codes if not ccd.looks_like_ccd_code(c)]
        if bad:
            problems.append(f"CCD item {n}: {bad[0]!r} is not a CCD code (1 to 5 letters or digits, e.g. ATP).")
        else:
            members.append(Member(item.upper(), ccd_codes=codes))
    return members, problems


def sdf_members(data: bytes | str) -> tuple[list[Member], list[str]]:
    """Read one ligand per SDF record, keeping each record's name (its first line); RDKit reads the records."""
    from rdkit import Chem, RDLogger

    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    members, problems = [], []
    RDLogger.DisableLog("rdApp.*")
    try:
        supplier = Chem.SDMolSupplier()
        supplier.SetData(text, sanitize=True, removeHs=True)
        for i in range(len(supplier)):
            mol = supplier[i]
            if mol is None:
                problems.append(f"SDF record {i + 1}: RDKit cannot read this record (check its atom and bond blocks).")
                continue
            name = (mol.GetProp("_Name") if mol.HasProp("_Name") else "").strip() or f"record {i + 1}"
            smiles = Chem.MolToSmiles(mol)  # isomeric by default: stereo from the record is kept
            members.append(Member(name, smiles=smiles))
    finally:
        RDLogger.EnableLog("rdApp.*")
    if not members and not problems:
        problems.append("The SDF file holds no records (each ends with a line '$$$$').")
    return members, problems


def mutation_members(text: str, sequence: str) -> tuple[list[Member], list[str]]:
    """Read one variant per line: point mutations like `A123G`, several in one variant joined by ',' or '+'.

    Each wild-type letter is checked against `sequence` (the varied chain), so a shifted numbering is caught.
    """
    members, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip().upper() for p in re.split(r"[,+\s]+", line) if p.strip()]
        found, bad = [], ""
        for part in parts:
            m = _MUTATION.fullmatch(part)
            if m is None:
                bad = f"{part!r} is not a point mutation such as A123G"
                break
            wild, pos, new = m[1], int(m[2]), m[3]
            if new not in AMINO_ACIDS:
                bad = f"{part}: {new} is not one of the 20 standard amino acids"
            elif not 1 <= pos <= len(sequence):
                bad = f"{part}: position {pos} is outside the chain (1 to {len(sequence)})"
            elif sequence[pos - 1] != wild:
                bad = f"{part}: residue {pos} of the chain is {sequence[pos - 1]}, not {wild}"
            if bad:
                break
            found.append((wild, pos, new))
        if bad:
            problems.append(f"Mutation line {n}: {bad}.")
        else:
            members.append(Member(",".join(parts), mutations=tuple(found)))
    return members, problems


def mutate(sequence: str, mutations: tuple[tuple[str, int, str], ...]) -> str:
    """Return `sequence` with the point mutations applied (already checked against it)."""
    residues = list(sequence)
    for _, pos, new in mutations:
        residues[pos - 1] = new
    return "".join(residues)
