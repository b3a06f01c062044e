"""The Chemical Component Dictionary FoldDeck judges with: lookup by code, search by text, AF3's atom rules.

One CCD per process: the lab's own AF3 `components.cif` when `FOLDDECK_AF3_CCD_PATH` is set (real AF3
judges with that file), else the wwPDB CCD bundled with biotite. Either is turned once into a compact
index (`services.af3.chem.ccd_index`) cached under `<data dir>/cache/ccd/`, keyed by the CCD file's identity,
and built under a file lock so concurrent workers do not race. AF3 gives a ligand, an ion or a modified
residue one token per heavy atom; `component_atoms` applies AF3's rule for what a residue loses inside
a chain (OXT / OP3, `atom_layout.get_link_drop_atoms`).
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from pathlib import Path

from services.af3.chem.ccd_index import CcdIndex, Component, Hit, index_file_key, write_atomic
from services.platform import boot

__all__ = ["CcdIndex", "CcdUnavailable", "Component", "Hit", "ccd_info", "component_atoms", "configure", "get_ccd",
           "heavy_atoms_in_smiles", "leaving_atom", "looks_like_ccd_code", "try_ccd"]

# Heavy atoms assumed for a component only a `userCCDPath` file defines when that file cannot be read
# here (e.g. it lives on the GPU host): about the median size of CCD ligands. Sizes using it say "approximate".
UNKNOWN_COMPONENT_ATOMS = 20

_SACCHARIDE = re.compile(r"\bsaccharide\b")

# What a CCD code can look like: 1-5 upper-case letters or digits (3 before 2023, 5 for new ids).
CCD_CODE_FORM = re.compile(r"[A-Z0-9]{1,5}")

# The leaving atom AF3 drops from a linked residue (atom_layout.get_link_drop_atoms): a peptide residue
# loses OXT unless it is the chain's last residue, a nucleotide loses OP3 unless it is the first.
LEAVING_ATOM: dict[str, str] = {"protein": "OXT", "rna": "OP3", "dna": "OP3"}

PROTEIN_ONE_TO_THREE: dict[str, str] = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU", "G": "GLY",
    "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE", "P": "PRO", "S": "SER",
    "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
}

# (code, label, kind): the AlphaFold Server's 19 ligands and 10 ions, the builder's one-click shortcuts, with the
# names people know them by. Everything else (names, formulas, atom counts) comes from the CCD index.
COMMON_LIGANDS: list[tuple[str, str, str]] = [
    ("ATP", "ATP (adenosine triphosphate)", "ligand"),
    ("ADP", "ADP (adenosine diphosphate)", "ligand"),
    ("AMP", "AMP (adenosine monophosphate)", "ligand"),
    ("GTP", "GTP (guanosine triphosphate)", "ligand"),
    ("GDP", "GDP (guanosine diphosphate)", "ligand"),
    ("FAD", "FAD (flavin adenine dinucleotide)", "ligand"),
    ("NAD", "NAD+ (nicotinamide adenine dinucleotide)", "ligand"),
    ("NAP", "NADP+ (nicotinamide adenine dinucleotide phosphate)", "ligand"),
    ("NDP", "NADPH (reduced NADP)", "ligand"),
    ("HEM", "Heme b", "ligand"),
    ("HEC", "Heme c", "ligand"),
    ("PLM", "Palmitic acid", "ligand"),
    ("OLA", "Oleic acid", "ligand"),
    ("MYR", "Myristic acid", "ligand"),
    ("CIT", "Citrate", "ligand"),
    ("CLA", "Chlorophyll a", "ligand"),
    ("CHL", "Chlorophyll b", "ligand"),
    ("BCL", "Bacteriochlorophyll a", "ligand"),
    ("BCB", "Bacteriochlorophyll b", "ligand"),
    ("MG", "Magnesium (Mg2+)", "ion"),
    ("ZN", "Zinc (Zn2+)", "ion"),
    ("CL", "Chloride (Cl-)", "ion"),
    ("CA", "Calcium (Ca2+)", "ion"),
    ("NA", "Sodium (Na+)", "ion"),
    ("MN", "Manganese (Mn2+)", "ion"),
    ("K", "Potassium (K+)", "ion"),
    ("FE", "Iron (Fe3+)", "ion"),
    ("CU", "Copper (Cu2+)", "ion"),
    ("CO", "Cobalt (Co2+)", "ion"),
]

ION_CODES: frozenset[str] = frozenset(code for code, _, kind in COMMON_LIGANDS if kind == "ion")  # without a CCD

# SMILES organic subset outside brackets; two-letter symbols must be tried before one-letter ones.
_TWO_LETTER = ("Cl", "Br")
_ONE_LETTER = frozenset("BCNOPSFIbcnops")


def leaving_atom(kind: str, position: int, length: int) -> str | None:
    """Return the leaving atom AF3 drops from a residue at 1-based `position` of a `length`-long chain."""
    if kind == "protein":
        return LEAVING_ATOM[kind] if position < length else None
    if kind in ("rna", "dna"):
        return LEAVING_ATOM[kind] if position > 1 else None
    return None  # ligands keep every atom


def looks_like_ccd_code(code: str) -> bool:
    """Tell whether `code` has the form of a CCD id (so real AF3 could know it)."""
    return bool(CCD_CODE_FORM.fullmatch(code))


def component_atoms(code: str, kind: str = "ligand", position: int = 1, length: int = 1,
                    user: dict[str, Component] | None = None, bonded: frozenset[str] = frozenset()) -> int | None:
    """Return the heavy atoms of component `code` as AF3 places it, i.e. its token count; None if unknown.

    Args:
        code: CCD code, or a component of the job's `userCCD` (`user`, which wins over the CCD as in AF3).
        kind: "ligand", or the polymer ("protein" / "rna" / "dna") the residue sits in.
        position: 1-based residue position in that polymer.
        length: the polymer's length; with `position` it decides whether OXT / OP3 stays.
        bonded: the component's atoms named in bondedAtomPairs (a glycan keeps O1 only when bonded there).
    """
    comp = placed_atoms(code, kind, position, length, user, bonded)
    return None if comp is None else len(comp)


def placed_atoms(code: str, kind: str = "ligand", position: int = 1, length: int = 1,
                 user: dict[str, Component] | None = None,
                 bonded: frozenset[str] = frozenset()) -> list[tuple[str, str]] | None:
    """Return [(atom name, element)] of the heavy atoms AF3 keeps for `code` at that place; None if unknown.

    `bonded` names the component's atoms that bondedAtomPairs use: a glycan ligand keeps O1 only then.
    """
    comp = (user or {}).get(code) or _lookup(code)
    if comp is None:
        return None
    drop = {leaving_atom(kind, position, length)}
    if kind == "ligand" and "O1" not in bonded and is_glycan(code):
        drop.add("O1")
    return [(n, e) for n, e in zip(comp.atoms, comp.elements, strict=False) if n not in drop]


def is_glycan(code: str) -> bool:
    """Tell whether AF3 treats `code` as a glycan ligand, whose O1 leaving atom it drops unless O1 is bonded.

    AF3 (`chemical_component_sets_gen.py`): `_chem_comp.type` holds the word "saccharide" (UNX excepted);
    its pipeline runs with drop_ligand_leaving_atoms=True, fix_standalone_glycans=False
    (`atom_layout.get_link_drop_atoms`), so even a glycan bonded to nothing loses O1.
    """
    comp = _lookup(code)
    return comp is not None and code != "UNX" and bool(_SACCHARIDE.search(comp.type.lower()))


def is_ion(code: str) -> bool:
    """Tell whether `code` is a single-atom CCD component (an ion card in the builder)."""
    comp = _lookup(code)
    return comp.single_atom if comp is not None else code in ION_CODES


def _lookup(code: str) -> Component | None:
    """Return `code` from the process's CCD (None when unknown or no CCD can be loaded)."""
    ccd = try_ccd()
    return None if ccd is None else ccd.get(code)


# -- the process's CCD ---------------------------------------------------------------------------


class CcdUnavailable(RuntimeError):
    """No CCD can be loaded (biotite missing and no FOLDDECK_AF3_CCD_PATH, or that file unreadable)."""


_ROOT = Path(__file__).resolve().parents[3]
_config: dict[str, Path | None] = {"data_dir": None, "ccd_path": None}
_loaded: dict[str, CcdIndex] = {}  # by CCD file identity: an immutable cache of a file, shared by threads
_lock = threading.Lock()
# Validation asks for the CCD per component; the file's identity (a stat) is re-checked this often, so a
# replaced FOLDDECK_AF3_CCD_PATH file is picked up without a restart at no per-request cost.
_RECHECK_S = 5.0
_recent: dict[Path | None, tuple[float, CcdIndex]] = {}


def configure(data_dir: Path | None = None, ccd_path: Path | None = None) -> None:
    """Set where the index cache lives and which CCD file to use (None: FOLDDECK_AF3_CCD_PATH / biotite)."""
    _config["data_dir"], _config["ccd_path"] = data_dir, ccd_path
    _recent.clear()


def _source() -> Path | None:
    """Return the CCD file (configured, else the booted settings', else FOLDDECK_AF3_CCD_PATH), None for biotite's."""
    booted = boot.current()
    path = (_config["ccd_path"] or (booted.af3_ccd_path if booted else None)
            or os.environ.get("FOLDDECK_AF3_CCD_PATH", "").strip() or None)
    return Path(path).expanduser() if path else None


def data_dir() -> Path:
    """Return the data dir whose `cache/ccd/` holds the index (configured, booted, FOLDDECK_DATA_DIR, or FoldDeck's)."""
    # Processes that did not boot (the simulator runs inside a job's folder) use FoldDeck's own data dir.
    booted = boot.current()
    configured = (_config["data_dir"] or (booted.data_dir if booted else None)
                  or Path(os.environ.get("FOLDDECK_DATA_DIR", "").strip() or _ROOT / "data"))
    return Path(configured).expanduser()


def _cache_dir() -> Path:
    """Return `<data dir>/cache/ccd`."""
    return data_dir() / "cache" / "ccd"


def get_ccd() -> CcdIndex:
    """Return the process's CCD index, loading (or, once per data dir and CCD version, building) it.

    Raises:
        CcdUnavailable: no CCD file can be found or read.
    """
    source = _source()
    recent = _recent.get(source)
    if recent is not None and time.monotonic() - recent[0] < _RECHECK_S:
        return recent[1]
    try:
        ccd_file = source if source is not None else _biotite_file()
        key = index_file_key(ccd_file)
    except OSError as exc:
        raise CcdUnavailable(f"no CCD to check ligands with: {exc}") from None
    index = _loaded.get(key)
    if index is None:
        with _lock:
            index = _loaded.get(key) or _load_or_build(key, source)
            _loaded[key] = index
    _recent[source] = (time.monotonic(), index)
    return index


def try_ccd() -> CcdIndex | None:
    """Return the process's CCD index, or None when none can be loaded."""
    try:
        return get_ccd()
    except CcdUnavailable:
        return None


def _biotite_file() -> Path:
    from services.af3.chem.ccd_index import biotite_ccd_file

    path = biotite_ccd_file()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


def _load_or_build(key: str, source: Path | None) -> CcdIndex:
    """Read the cached index for `key`, building it under a file lock when it is missing."""
    import fcntl

    folder = _cache_dir()
    # Named by source, then version: a new version of the same CCD file replaces its old index.
    prefix = f"ccd-{hashlib.sha1(str(source).encode()).hexdigest()[:8]}-"
    path = folder / f"{prefix}{hashlib.sha1(key.encode()).hexdigest()[:16]}.idx"
    if path.is_file():
        return CcdIndex.from_bytes(path.read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait, then read its result
        if not path.is_file():
            write_atomic(path, build_index(source))
            for old in folder.glob(f"{prefix}*.idx"):
                if old != path:
                    old.unlink(missing_ok=True)
    return CcdIndex.from_bytes(path.read_bytes())


def build_index(source: Path | None) -> bytes:
    """Return the packed index of a `components.cif` (plain or gzip), or of biotite's CCD when None."""
    from services.af3.chem import ccd_index as I

    if source is not None:
        dates: list[str] = []
        comps = list(I.components_from_cif_file(source, dates))
        return I.pack(comps, f"{source.name} (FOLDDECK_AF3_CCD_PATH)", max(dates, default=""))
    comps, date = I.biotite_components()
    return I.pack(comps, f"wwPDB CCD bundled with biotite {I.biotite_version()}", date)


def ccd_info() -> str:
    """Say which CCD is in use, its date and size, e.g. for the builder page and `validate --verbose`."""
    try:
        ccd = get_ccd()
    except CcdUnavailable as exc:
        return f"No CCD available ({exc}): ligand codes are checked for their form only."
    return f"CCD: {ccd.source}, dated {ccd.date or 'unknown'}, {len(ccd):,} components."


def _bracket_is_heavy(inner: str) -> bool:
    """Tell whether a bracket atom such as `[2H]`, `[NH4+]`, `[Fe+2]` is a non-hydrogen atom."""
    body = inner.lstrip("0123456789")  # isotope
    if body[:2] in ("He", "Hf", "Hg", "Ho", "Hs"):
        return True
    return not body.startswith("H")


def heavy_atoms_in_smiles(smiles: str) -> int:
    """Return the number of heavy (non-hydrogen) atoms written in a SMILES string.

    Counts bracket atoms except hydrogens, the organic subset (B C N O P S F Cl Br I) and aromatic
    lowercase atoms; implicit hydrogens are never atoms. Unknown characters are ignored.
    """
    count, i, n = 0, 0, len(smiles)
    while i < n:
        ch = smiles[i]
        if ch == "[":
            end = smiles.find("]", i + 1)
            end = n if end < 0 else end
            count += _bracket_is_heavy(smiles[i + 1:end])
            i = end + 1
        elif smiles[i:i + 2] in _TWO_LETTER:
            count += 1
            i += 2
        else:
            count += ch in _ONE_LETTER
            i += 1
    return count


def user_components(text: str | None) -> dict[str, Component]:
    """Return the components a job's `userCCD` text defines, by block name (AF3 keys them so); {} if unparsable."""
    from services.af3.chem.ccd_index import component_from_cif
    from services.af3.chem.cif import CifError, parse_text

    if not text:
        return {}
    try:
        return {name: component_from_cif(name, data) for name, data in parse_text(text).items()}
    except CifError:
        return {}
