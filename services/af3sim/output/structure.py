"""AF3 tokenisation of a loaded input and a synthetic (helix/coil) structure with matching atoms.

One token per standard residue; one token per heavy atom for ligands, ions and modified residues
(reference §5.4). Ligand atoms (names, elements, counts) come from the same CCD index FoldDeck validates
with (`services.af3.chem.ccd`; in-chain residues lose OXT / OP3 as AF3 drops them), so the mmCIF names ligand
atoms as the CCD does and the sizes agree with FoldDeck's size estimate; a code the CCD and userCCD lack
fails as in AF3. Pure stdlib on purpose: the simulator may run under a bare Python on a GPU host, where
no CCD index may be reachable; only then a code of CCD form is simulated with an estimated size and
reported in `Layout.estimated_codes`.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from services.af3.chem.ccd import (
    PROTEIN_ONE_TO_THREE,
    UNKNOWN_COMPONENT_ATOMS,
    Component,
    looks_like_ccd_code,
    placed_atoms,
    try_ccd,
    user_components,
)
from services.af3sim.loader import Chain, DnaChain, Input, Ligand, ProteinChain, RnaChain

_BACKBONE = ("N", "CA", "C", "O")
_SIDE_CHAINS = {
    "ALA": "CB", "ARG": "CB CG CD NE CZ NH1 NH2", "ASN": "CB CG OD1 ND2", "ASP": "CB CG OD1 OD2",
    "CYS": "CB SG", "GLN": "CB CG CD OE1 NE2", "GLU": "CB CG CD OE1 OE2", "GLY": "",
    "HIS": "CB CG ND1 CD2 CE1 NE2", "ILE": "CB CG1 CG2 CD1", "LEU": "CB CG CD1 CD2", "LYS": "CB CG CD CE NZ",
    "MET": "CB CG SD CE", "PHE": "CB CG CD1 CD2 CE1 CE2 CZ", "PRO": "CB CG CD", "SER": "CB OG",
    "THR": "CB OG1 CG2", "TRP": "CB CG CD1 CD2 NE1 CE2 CE3 CZ2 CZ3 CH2", "TYR": "CB CG CD1 CD2 CE1 CE2 CZ OH",
    "VAL": "CB CG1 CG2", "UNK": "CB",
}
_SUGAR_PHOSPHATE = ("P", "OP1", "OP2", "O5'", "C5'", "C4'", "O4'", "C3'", "O3'", "C2'", "C1'")
_BASES = {
    "A": "N9 C8 N7 C5 C6 N6 N1 C2 N3 C4", "G": "N9 C8 N7 C5 C6 O6 N1 C2 N2 N3 C4",
    "C": "N1 C2 O2 N3 C4 N4 C5 C6", "U": "N1 C2 O2 N3 C4 O4 C5 C6", "T": "N1 C2 O2 N3 C4 O4 C5 C7 C6",
}
# Element pattern for generated ligand atom names: mostly carbon, as in typical small molecules.
_LIGAND_ELEMENTS = "CCCNCOCCCOCNCCP"
_SMILES_ATOM = re.compile(r"\[([^\]]*)\]|(Cl|Br)|([BCNOPSFIbcnops])")


@dataclass
class Residue:
    """One residue (or ligand component) with its heavy atoms as (name, element)."""

    chain_id: str
    res_id: int
    name: str
    atoms: list[tuple[str, str]]
    kind: str  # protein / rna / dna / ligand
    per_atom_tokens: bool


@dataclass
class Token:
    """One AF3 token: its residue, and the atom index inside it for per-atom tokens."""

    residue: int
    atom: int | None


@dataclass
class Layout:
    """Residues and tokens of a whole input, in input chain order."""

    residues: list[Residue]
    tokens: list[Token]
    chain_ids: list[str]
    estimated_codes: list[str] = field(default_factory=list)  # CCD codes sized by estimate, in input order

    @property
    def num_atoms(self) -> int:
        """Return the heavy-atom count (rows of _atom_site, length of atom_plddts)."""
        return sum(len(r.atoms) for r in self.residues)


def _generated_atoms(n: int, start: int = 0) -> list[tuple[str, str]]:
    """Return `n` generated heavy atoms named element+index (C1, C2, N3, ...)."""
    out = []
    for i in range(start, start + n):
        elem = _LIGAND_ELEMENTS[i % len(_LIGAND_ELEMENTS)]
        out.append((f"{elem}{i + 1}", elem))
    return out


def smiles_atoms(smiles: str) -> list[tuple[str, str]]:
    """Return generated (name, element) pairs for the heavy atoms written in a SMILES string."""
    elems = []
    for bracket, two, one in _SMILES_ATOM.findall(smiles):
        if bracket:
            sym = re.match(r"\d*([A-Za-z][a-z]?)", bracket)
            elem = sym.group(1).upper() if sym else "C"
            if elem != "H":
                elems.append(elem)
        else:
            elems.append((two or one).upper())
    return [(f"{e}{i + 1}", e) for i, e in enumerate(elems)]


def user_ccd_ids(user_ccd: str | None) -> set[str]:
    """Return the component ids (`data_<ID>` blocks) a user CCD defines, parsed or not."""
    return set(re.findall(r"(?m)^data_(\S+)", user_ccd or ""))


@dataclass
class _Components:
    """What tokenisation knows about components: user CCD atoms and ids, and the codes it had to estimate."""

    user: dict[str, Component]
    user_ids: set[str]
    bonded: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)  # (chain, residue) -> bond atoms
    estimated: list[str] = field(default_factory=list)


def _component_atoms(code: str, kind: str, position: int, length: int, comps: _Components,
                     chain_id: str = "") -> list[tuple[str, str]]:
    """Return the heavy atoms of a CCD/userCCD component as AF3 places it; raise AF3's error for unknown codes."""
    atoms = placed_atoms(code, kind, position, length, comps.user, comps.bonded.get((chain_id, position), frozenset()))
    if atoms is not None:
        return atoms
    if code not in comps.user_ids and (try_ccd() is not None or not looks_like_ccd_code(code)):
        raise ValueError(f"{code} not found in CCD and no SMILES string")
    if code not in comps.estimated:
        comps.estimated.append(code)  # no CCD reachable on this host: simulate an estimated size
    return _generated_atoms(UNKNOWN_COMPONENT_ATOMS)


def _polymer_residues(chain: Chain, comps: _Components) -> list[Residue]:
    """Return the residues of a protein/RNA/DNA chain with PTMs substituted (last one wins)."""
    mods = dict((pos, code) for code, pos in getattr(chain, "ptms", None) or getattr(chain, "modifications", []))
    kind = {ProteinChain: "protein", RnaChain: "rna", DnaChain: "dna"}[type(chain)]
    out = []
    for i, letter in enumerate(chain.sequence, start=1):
        if i in mods:
            atoms = _component_atoms(mods[i], kind, i, len(chain.sequence), comps)
            out.append(Residue(chain.id, i, mods[i], atoms, kind, True))
            continue
        if kind == "protein":
            name = PROTEIN_ONE_TO_THREE.get(letter, "UNK")
            atoms = [(a, a[0]) for a in _BACKBONE + tuple(_SIDE_CHAINS[name].split())]
        else:
            base = letter if letter in ("ACGU" if kind == "rna" else "ACGT") else ""
            name = (base or "N") if kind == "rna" else "D" + (base or "N")
            sugar = _SUGAR_PHOSPHATE + (("O2'",) if kind == "rna" else ())
            atoms = [(a, a[0]) for a in sugar + tuple(_BASES.get(base, "").split())]
        out.append(Residue(chain.id, i, name, atoms, kind, False))
    return out


def _ligand_residues(chain: Ligand, comps: _Components) -> list[Residue]:
    """Return one residue per CCD code (or one LIG_<id> residue for a SMILES ligand)."""
    if chain.smiles is not None:
        return [Residue(chain.id, 1, f"LIG_{chain.id}", smiles_atoms(chain.smiles), "ligand", True)]
    return [Residue(chain.id, i, code, _component_atoms(code, "ligand", i, len(chain.ccd_ids), comps, chain.id),
                    "ligand", True) for i, code in enumerate(chain.ccd_ids, start=1)]


def tokenise(fold_input: Input) -> Layout:
    """Return residues and tokens for `fold_input`; raise ValueError for codes that cannot be CCD ids."""
    bonded: dict[tuple[str, int], set[str]] = {}
    for pair in fold_input.bonded_atom_pairs or []:
        for chain_id, residue, atom in pair:
            bonded.setdefault((chain_id, residue), set()).add(atom)
    comps = _Components(user_components(fold_input.user_ccd), user_ccd_ids(fold_input.user_ccd),
                        {key: frozenset(names) for key, names in bonded.items()})
    residues: list[Residue] = []
    for chain in fold_input.chains:
        residues += _ligand_residues(chain, comps) if isinstance(chain, Ligand) else _polymer_residues(chain, comps)
    tokens = []
    for ri, res in enumerate(residues):
        tokens += [Token(ri, ai) for ai in range(len(res.atoms))] if res.per_atom_tokens else [Token(ri, None)]
    return Layout(residues, tokens, [c.id for c in fold_input.chains], comps.estimated)


# -- synthetic coordinates ----------------------------------------------------------------------

Vec = tuple[float, float, float]
_HELIX_SEGMENT = 16  # residues per helix before the trace turns back: a compact bundle, not a rod
# residues of each loop joining one helix's end to the next one's start: enough steps to span the gap
_LOOPS = {"protein": 3, "rna": 6, "dna": 6}
_HELIX = {"protein": (2.3, 1.5, 100.0), "rna": (8.7, 2.8, 32.7), "dna": (8.9, 3.4, 36.0)}  # radius, rise, turn


def _sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _along(a: Vec, b: Vec, f: float) -> Vec:
    """Return the point a fraction f of the way from a to b."""
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f)


def _step(kind: str) -> float:
    """Return the distance between consecutive helix points (Cα–Cα 3.8 Å for a protein's α-helix)."""
    radius, rise, turn = _HELIX[kind]
    return math.hypot(2 * radius * math.sin(math.radians(turn) / 2), rise)


def _helix_point(kind: str, seg: int, pos: int, i: int, origin: Vec) -> tuple[Vec, Vec]:
    """Return (point, outward unit vector) of helix `seg`'s residue `pos`: helices up and down, snaking sideways."""
    radius, rise, turn = _HELIX[kind]
    z = (pos if seg % 2 == 0 else _HELIX_SEGMENT - 1 - pos) * rise
    spacing = 10.0 if kind == "protein" else 24.0
    row, col = divmod(seg, 4)
    col = col if row % 2 == 0 else 3 - col  # snake: the next helix always stands beside the last one
    ang = math.radians(turn * i)
    out = (math.cos(ang), math.sin(ang), 0.0)
    return (origin[0] + spacing * col + radius * out[0], origin[1] + spacing * row + radius * out[1],
            origin[2] + z), out


def _loop(a: Vec, b: Vec | None, count: int, step: float, up: float) -> list[Vec]:
    """Return `count` points from helix end `a` to helix start `b`, `step` apart over an arch (on, if no b)."""
    if b is None:
        return [(a[0], a[1], a[2] + up * step * (j + 1)) for j in range(count)]
    mid, half = _along(a, b, 0.5), step * (count + 1) / 2
    gap = math.dist(a, b)
    apex = (mid[0], mid[1], mid[2] + up * math.sqrt(max(0.0, half * half - gap * gap / 4)))
    first = math.dist(a, apex)
    total = first + math.dist(apex, b)
    points = []
    for j in range(1, count + 1):
        d = total * j / (count + 1)
        points.append(_along(a, apex, d / first) if d <= first else _along(apex, b, (d - first) / (total - first)))
    return points


def chain_trace(kind: str, n: int, origin: Vec) -> list[tuple[Vec, Vec]]:
    """Return one (backbone point, outward vector) per residue: α-helices (or nucleic helices) joined by loops.

    Consecutive points are `_step(kind)` apart everywhere (3.8 Å for proteins), so viewers draw one chain.
    """
    period = _HELIX_SEGMENT + _LOOPS[kind]
    trace: list[tuple[Vec, Vec] | None] = []
    for i in range(n):
        seg, pos = divmod(i, period)
        trace.append(_helix_point(kind, seg, pos, i, origin) if pos < _HELIX_SEGMENT else None)
    i = 0
    while i < n:
        if trace[i] is not None:
            i += 1
            continue
        j = i
        while j < n and trace[j] is None:
            j += 1
        a = trace[i - 1][0]
        up = 1.0 if (i // period) % 2 == 0 else -1.0  # even helices end at the top, odd ones at the bottom
        out = trace[i - 1][1]
        for k, p in enumerate(_loop(a, trace[j][0] if j < n else None, j - i, _step(kind), up)):
            trace[i + k] = (p, out)
        i = j
    return trace  # type: ignore[return-value]


def _residue_atoms(prev: Vec, here: Vec, after: Vec, out: Vec, names: list[str], rng: random.Random) -> list[Vec]:
    """Place a residue's atoms: a protein backbone along the trace (N, CA, C, O), everything else outward.

    CA (or a nucleotide's first atom) sits on the trace; N and C a third of the way to the neighbours,
    so C(i)–N(i+1) is a peptide-bond length and the chain reads as one in any viewer.
    """
    fixed: dict[str, Vec] = {}
    if "CA" in names:
        fixed = {"CA": here, "N": _along(here, prev, 0.33), "C": _along(here, after, 0.33)}
        fixed["O"] = (fixed["C"][0] + 1.23 * out[0], fixed["C"][1] + 1.23 * out[1], fixed["C"][2])
    pts = []
    for j, name in enumerate(names):
        if name in fixed:
            pts.append(fixed[name])
        elif j == 0 and not fixed:
            pts.append(here)
        else:
            step = 1.5 + 0.7 * (j // 2)
            pts.append((here[0] + out[0] * step + rng.uniform(-0.5, 0.5),
                        here[1] + out[1] * step + rng.uniform(-0.5, 0.5),
                        here[2] + (0.9 if j % 2 else -0.9) + rng.uniform(-0.3, 0.3)))
    return pts


def _centroid(points: list[Vec]) -> Vec:
    """Return the mean point (origin when empty)."""
    if not points:
        return (0.0, 0.0, 0.0)
    return tuple(sum(p[k] for p in points) / len(points) for k in range(3))


def build_coordinates(layout: Layout, rng: random.Random) -> list[list[Vec]]:
    """Return per-residue atom coordinates: polymer chains as helices joined by loops, ligands beside them."""
    coords: list[list[Vec]] = []
    polymer_points: list[Vec] = []
    chain_index = {cid: k for k, cid in enumerate(layout.chain_ids)}
    lengths: dict[str, int] = {}
    for res in layout.residues:
        if res.kind != "ligand":
            lengths[res.chain_id] = max(lengths.get(res.chain_id, 0), res.res_id)
    traces: dict[str, list[tuple[Vec, Vec]]] = {}
    ligand_count = 0
    for res in layout.residues:
        if res.kind == "ligand":
            continue
        if res.chain_id not in traces:
            origin = (48.0 * chain_index[res.chain_id], 0.0, 0.0)
            traces[res.chain_id] = chain_trace(res.kind, lengths[res.chain_id], origin)
        trace = traces[res.chain_id]
        i = res.res_id - 1
        here, out = trace[i]
        prev = trace[i - 1][0] if i > 0 else _sub(here, _sub(trace[min(i + 1, len(trace) - 1)][0], here))
        after = trace[i + 1][0] if i + 1 < len(trace) else _sub(here, _sub(prev, here))
        coords.append(_residue_atoms(prev, here, after, out, [a for a, _ in res.atoms], rng))
        polymer_points.append(here)
    centre = _centroid(polymer_points)
    placed: list[list[Vec]] = []
    it = iter(coords)
    for res in layout.residues:
        if res.kind != "ligand":
            placed.append(next(it))
            continue
        if res.res_id == 1:
            ligand_count += 1
            ang = 2.4 * ligand_count
            start = (centre[0] + 9.0 * math.cos(ang), centre[1] + 9.0 * math.sin(ang), centre[2] + 3.0 * ligand_count)
        walk = [start]
        for _ in range(len(res.atoms) - 1):
            p = walk[-1]
            walk.append((p[0] + rng.uniform(-1.4, 1.4), p[1] + rng.uniform(-1.4, 1.4), p[2] + rng.uniform(-1.4, 1.4)))
        start = walk[-1]
        placed.append(walk)
    return placed


def representative_points(layout: Layout, coords: list[list[Vec]]) -> list[Vec]:
    """Return one point per token: CA/C1'-like first atom of a residue, or the token's own atom."""
    return [coords[t.residue][t.atom if t.atom is not None else min(1, len(coords[t.residue]) - 1)]
            for t in layout.tokens]
