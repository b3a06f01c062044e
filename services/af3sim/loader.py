"""AlphaFold 3's own input loader, re-implemented for the simulator: same checks, order and texts.

This is deliberately AF3's behaviour, lenient where AF3 is lenient (mixed-case ids, `"5"` seeds,
unknown letters mapped to UNK), so a job that fails here fails the same way on a real GPU host.
FoldDeck's strict validator lives in `services/af3/`. Texts follow reference §2-§4 (af3_format.md).
"""
from __future__ import annotations

import gzip
import json
import lzma
import os
import pathlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.af3.names import int_id_to_str_id, sanitised_name

JSON_DIALECT = "alphafold3"
JSON_VERSIONS = (1, 2, 3, 4)
SERVER_DIALECT = "alphafoldserver"
# AF3 treats a short inline MSA/mmCIF string that names an existing file as a mistaken path.
_PATH_LIKE_MAX_CHARS = 1024
_TOP_KEYS = {"dialect", "version", "name", "modelSeeds", "sequences", "bondedAtomPairs", "userCCD", "userCCDPath"}
_USER_CCD_KEYS = (
    "_chem_comp.id", "_chem_comp.name", "_chem_comp.type", "_chem_comp.formula",
    "_chem_comp.mon_nstd_parent_comp_id", "_chem_comp.pdbx_synonyms", "_chem_comp.formula_weight",
    "_chem_comp_atom.comp_id", "_chem_comp_atom.atom_id", "_chem_comp_atom.type_symbol",
    "_chem_comp_atom.charge", "_chem_comp_atom.pdbx_model_Cartn_x_ideal",
    "_chem_comp_atom.pdbx_model_Cartn_y_ideal", "_chem_comp_atom.pdbx_model_Cartn_z_ideal",
    "_chem_comp_bond.atom_id_1", "_chem_comp_bond.atom_id_2", "_chem_comp_bond.value_order",
    "_chem_comp_bond.pdbx_aromatic_flag",
)

Ptm = tuple[str, int]
Atom = tuple[str, int, str]


@dataclass
class Template:
    """One structural template: mmCIF text and the query -> template residue map."""

    mmcif: str
    query_to_template: dict[int, int]


@dataclass
class ProteinChain:
    """A protein chain as AF3 holds it; None MSA/templates mean 'search for them'."""

    id: str
    sequence: str
    ptms: list[Ptm] = field(default_factory=list)
    description: str | None = None
    unpaired_msa: str | None = None
    paired_msa: str | None = None
    templates: list[Template] | None = None

    def __post_init__(self) -> None:
        """Run AF3's constructor checks (letters, PTM positions, no CCD_ prefix)."""
        _check_polymer("Protein", "Protein ptms", "protein modification", self.sequence, self.ptms)


@dataclass
class RnaChain:
    """An RNA chain; `unpaired_msa` None means 'search', '' means MSA-free."""

    id: str
    sequence: str
    modifications: list[Ptm] = field(default_factory=list)
    description: str | None = None
    unpaired_msa: str | None = None

    def __post_init__(self) -> None:
        """Run AF3's constructor checks."""
        _check_polymer("RNA", "RNA modifications", "RNA modification", self.sequence, self.modifications)


@dataclass
class DnaChain:
    """A single DNA strand."""

    id: str
    sequence: str
    modifications: list[Ptm] = field(default_factory=list)
    description: str | None = None

    def __post_init__(self) -> None:
        """Run AF3's constructor checks."""
        _check_polymer("DNA", "DNA modifications", "DNA modification", self.sequence, self.modifications)


@dataclass
class Ligand:
    """A ligand or ion: CCD codes (several = one multi-component ligand) or a SMILES string."""

    id: str
    ccd_ids: list[str] | None = None
    smiles: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        """Require exactly one of CCD codes / SMILES and a SMILES that a toolkit could parse."""
        if (self.ccd_ids is None) == (self.smiles is None):
            raise ValueError("Ligand must have one of CCD ID or SMILES set.")
        if self.smiles is not None and not smiles_parses(self.smiles):
            raise ValueError(f"Unable to make RDKit Mol from SMILES: {self.smiles}")


Chain = ProteinChain | RnaChain | DnaChain | Ligand


@dataclass
class Input:
    """One fold job after loading: AF3's `folding_input.Input`."""

    name: str
    chains: list[Chain]
    rng_seeds: list[int]
    bonded_atom_pairs: list[tuple[Atom, Atom]] | None = None
    user_ccd: str | None = None

    def __post_init__(self) -> None:
        """Run AF3's whole-input checks in AF3's order (reference §3.1 rows 23-27)."""
        if not all(0 <= s < 2**32 for s in self.rng_seeds):
            raise ValueError(f"RNG seeds must be 32-bit unsigned integers, got {self.rng_seeds}")
        if not self.sanitised_name():
            raise ValueError("Input name must be non-empty and contain at least one valid character "
                             "(letters, numbers, dots, dashes, underscores).")
        ids = [c.id for c in self.chains]
        if not all(i.isalpha() and not i.islower() for i in ids):
            raise ValueError(f"IDs must be upper case letters, got: {ids}")
        if len(set(ids)) != len(ids):
            raise ValueError("Input JSON contains sequences with duplicate IDs.")
        if self.user_ccd:
            validate_user_ccd(self.user_ccd)

    def sanitised_name(self) -> str:
        """Return the name AF3 uses for the job folder and every file prefix."""
        return sanitised_name(self.name)

    def with_multiple_seeds(self, num_seeds: int) -> Input:
        """Return a copy whose single seed S is expanded to S..S+n-1 (AF3 --num_seeds)."""
        if len(self.rng_seeds) != 1:
            raise ValueError("Input must have one rng seed to set multiple seeds.")
        if num_seeds <= 1:
            raise ValueError("Number of seeds must be greater than 1.")
        start = self.rng_seeds[0]
        return Input(self.name, self.chains, list(range(start, start + num_seeds)), self.bonded_atom_pairs,
                     self.user_ccd)


# -- checks shared by the polymer constructors -------------------------------------------------


def _check_polymer(kind: str, prefix_label: str, index_label: str, sequence: str, mods: list[Ptm]) -> None:
    """Raise AF3's letters / modification-index / CCD_-prefix errors, in that order."""
    if not all(res.isalpha() for res in sequence):
        raise ValueError(f'{kind} must contain only letters, got "{sequence}"')
    if any(not 0 < pos <= len(sequence) for _, pos in mods):
        raise ValueError(f"Invalid {index_label} index: {mods}")
    if any(code.startswith("CCD_") for code, _ in mods):
        raise ValueError(f'{prefix_label} must not contain the "CCD_" prefix, got {mods}')


def _validate_keys(keys, allowed: set[str]) -> None:
    """Raise AF3's error for keys outside `allowed`."""
    if unexpected := set(keys) - allowed:
        raise ValueError(f"Unexpected JSON keys in: {', '.join(sorted(unexpected))}")


def smiles_parses(smiles: str) -> bool:
    """Tell whether a SMILES string is well-formed enough for RDKit (brackets, branches, ring bonds)."""
    if not smiles or re.search(r"[^A-Za-z0-9@+\-\[\]()=#$/\\%.:*]", smiles):
        return False
    depth = 0
    for ch in re.sub(r"\[[^\]]*\]", "A", smiles):
        if ch in "[]":
            return False  # an unclosed or stray bracket atom
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    ring_bonds = re.findall(r"%\d\d|\d", re.sub(r"\[[^\]]*\]", "A", smiles))
    open_rings = {r for r in set(ring_bonds) if ring_bonds.count(r) % 2}
    return depth == 0 and not open_rings


def validate_user_ccd(text: str) -> None:
    """Raise AF3's error for a user CCD component that lacks one of the required mmCIF keys."""
    for block in re.split(r"(?m)^data_", text)[1:]:
        comp_id = block.split(None, 1)[0] if block.strip() else ""
        present = set(re.findall(r"(?m)^\s*(_[A-Za-z0-9_]+\.[A-Za-z0-9_\[\]]+)", block))
        if missing := set(_USER_CCD_KEYS) - present:
            raise ValueError(f"Component {comp_id} in the user-defined CCD is missing these keys: {missing}")


def _read_file(path: pathlib.Path, json_path: pathlib.Path | None) -> str:
    """Read a maybe-compressed file (gzip, xz, zstd by magic bytes), relative to the JSON's folder."""
    if not path.is_absolute() and json_path is not None:
        path = json_path.parent / path
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:6] == b"\xfd7zXZ\x00":
        data = lzma.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        raise ValueError(f"zstd-compressed input {path} is not supported by the AF3 simulator")
    return data.decode("utf-8")


def _inline_or_path(d: dict, key: str, label: str, path_hint: str, json_path) -> str | None:
    """Return the inline value of `key` or the text of `key`+'Path', with AF3's two checks."""
    inline, path = d.get(key), d.get(key + "Path")
    if inline and path:
        raise ValueError(f"Only one of {key}/{key}Path can be set.")
    if inline and len(inline) < _PATH_LIKE_MAX_CHARS and os.path.exists(inline):
        raise ValueError(f'Set the {label} path using the "{path_hint}" field.')
    if path:
        return _read_file(pathlib.Path(path), json_path)
    return inline


# -- entity parsers (AF3 dialect) --------------------------------------------------------------


def _protein(d: dict, seq_id: str, json_path) -> ProteinChain:
    """Parse a `protein` entity the way AF3's ProteinChain.from_dict does."""
    d = d["protein"]
    _validate_keys(d.keys(), {"id", "sequence", "modifications", "unpairedMsa", "unpairedMsaPath", "pairedMsa",
                              "pairedMsaPath", "templates", "description"})
    sequence = d["sequence"]
    ptms = [(m["ptmType"], m["ptmPosition"]) for m in d.get("modifications", [])]
    unpaired = _inline_or_path(d, "unpairedMsa", "unpaired MSA", "unpairedMsaPath", json_path)
    paired = _inline_or_path(d, "pairedMsa", "paired MSA", "pairedMsaPath", json_path)
    raw_templates = d.get("templates")
    templates = None
    if raw_templates is not None:
        if not isinstance(raw_templates, list):
            raise ValueError(f"Templates must be a list, got {type(raw_templates)}")
        templates = [_template(t, json_path) for t in raw_templates]
    return ProteinChain(seq_id, sequence, ptms, d.get("description"), unpaired, paired, templates)


def _template(t: dict, json_path) -> Template:
    """Parse one template object (mmcif XOR mmcifPath, equal-length index lists)."""
    _validate_keys(t.keys(), {"mmcif", "mmcifPath", "queryIndices", "templateIndices"})
    mmcif = _inline_or_path(t, "mmcif", "template", "mmcifPath", json_path)
    mapping = dict(zip(t["queryIndices"], t["templateIndices"] or [], strict=True))
    if not mmcif:
        raise ValueError("The template mmCIF must be a non-empty string.")
    return Template(mmcif, mapping)


def _rna(d: dict, seq_id: str, json_path) -> RnaChain:
    """Parse an `rna` entity (no paired MSA, no templates)."""
    d = d["rna"]
    _validate_keys(d.keys(), {"id", "sequence", "unpairedMsa", "unpairedMsaPath", "modifications", "description"})
    mods = [(m["modificationType"], m["basePosition"]) for m in d.get("modifications", [])]
    unpaired = _inline_or_path(d, "unpairedMsa", "unpaired MSA", "unpairedMsaPath", json_path)
    return RnaChain(seq_id, d["sequence"], mods, d.get("description"), unpaired)


def _dna(d: dict, seq_id: str, json_path) -> DnaChain:
    """Parse a `dna` entity (single strand, no MSA)."""
    d = d["dna"]
    _validate_keys(d.keys(), {"id", "sequence", "modifications", "description"})
    mods = [(m["modificationType"], m["basePosition"]) for m in d.get("modifications", [])]
    return DnaChain(seq_id, d["sequence"], mods, d.get("description"))


def _ligand(d: dict, seq_id: str, json_path) -> Ligand:
    """Parse a `ligand` entity with AF3's rule order (both set, not a list, neither)."""
    d = d["ligand"]
    _validate_keys(d.keys(), {"id", "ccdCodes", "smiles", "description"})
    if d.get("ccdCodes") and d.get("smiles"):
        raise ValueError("Ligand cannot have both CCD code and SMILES set at the same time, "
                         f"got CCD: {d['ccdCodes']} and SMILES: {d['smiles']}")
    if "ccdCodes" in d:
        codes = d["ccdCodes"]
        if not isinstance(codes, list | tuple):
            raise ValueError(f"CCD codes must be a list of strings, got {type(codes).__name__} instead: {codes}")
        return Ligand(seq_id, ccd_ids=list(codes), description=d.get("description"))
    if "smiles" in d:
        return Ligand(seq_id, smiles=d["smiles"], description=d.get("description"))
    raise ValueError(f"Unknown ligand type: {d}")


_PARSERS = {"protein": _protein, "rna": _rna, "dna": _dna, "ligand": _ligand}


def _chain_length(chain: Chain) -> int:
    """Return the residue count a bond's residue index is checked against."""
    if isinstance(chain, Ligand):
        return len(chain.ccd_ids) if chain.ccd_ids is not None else 1
    return len(chain.sequence)


def _bonds(raw: list, chains: list[Chain]) -> list[tuple[Atom, Atom]]:
    """Parse bondedAtomPairs with AF3's six checks in order (reference §2.7)."""
    by_id = {c.id: c for c in chains}
    bonds: list[tuple[Atom, Atom]] = []
    for bond in raw:
        if len(bond) != 2:
            raise ValueError(f"Bond {bond} must have 2 atoms, got {len(bond)}.")
        for atom in bond:
            if not (len(atom) == 3 and isinstance(atom[0], str) and isinstance(atom[1], int)
                    and isinstance(atom[2], str)):
                raise ValueError(f"Atom {atom} in bond {bond} must have 3 components: "
                                 "(chain_id: str, res_id: int, atom_name: str).")
        if any(atom[0] not in by_id for atom in bond):
            raise ValueError(f"Invalid chain ID(s) in bond {bond}")
        if any(not 0 < atom[1] <= _chain_length(by_id[atom[0]]) for atom in bond):
            raise ValueError(f"Invalid residue ID(s) in bond {bond}")
        for atom in bond:
            chain = by_id[atom[0]]
            if isinstance(chain, Ligand) and chain.smiles is not None:
                raise ValueError(f"Bond {bond} involves an unsupported SMILES ligand {chain.id}")
        bonds.append((tuple(bond[0]), tuple(bond[1])))
    if len(bonds) != len(set(bonds)):
        raise ValueError(f"Bonds are not unique: {bonds}")
    return bonds


def input_from_json(json_str: str, json_path: pathlib.Path | None = None) -> Input:
    """Parse one AF3-dialect job with AF3's checks in AF3's order (reference §3.1)."""
    raw = json.loads(json_str)
    _validate_keys(raw.keys(), _TOP_KEYS)
    if "dialect" not in raw or "version" not in raw:
        raise ValueError("AlphaFold 3 input JSON must contain `dialect` and `version` fields.")
    if raw["dialect"] != JSON_DIALECT:
        raise ValueError(f"AlphaFold 3 input JSON has unsupported dialect: {raw['dialect']}, expected {JSON_DIALECT}.")
    if raw["version"] not in JSON_VERSIONS:
        raise ValueError(f"AlphaFold 3 input JSON has unsupported version: {raw['version']}, "
                         f"expected one of {JSON_VERSIONS}.")
    if "sequences" not in raw:
        raise ValueError("AlphaFold 3 input JSON does not contain any sequences.")
    if not raw.get("modelSeeds"):
        raise ValueError("AlphaFold 3 input JSON must specify at least one rng seed in `modelSeeds`.")
    sequences = raw["sequences"]
    raw_ids = [next(iter(s.values())).get("id") if s else None for s in sequences]
    if not all(raw_ids):
        raise ValueError("AlphaFold 3 input JSON contains sequences with unset IDs.")
    chains: list[Chain] = []
    for ids, entity in zip(raw_ids, sequences, strict=True):
        ids = ids if isinstance(ids, list) else [ids]
        if len(entity) != 1:
            raise ValueError(f"Chain {ids} has more than 1 sequence.")
        kind = next(iter(entity))
        if kind not in _PARSERS:
            raise ValueError(f"Unknown sequence type: {entity}")
        chains.extend(_PARSERS[kind](entity, seq_id, json_path) for seq_id in ids)
    bonds = _bonds(raw["bondedAtomPairs"], chains) if raw.get("bondedAtomPairs") else None
    if raw.get("userCCD") and raw.get("userCCDPath"):
        raise ValueError("Only one of userCCD/userCCDPath can be set.")
    user_ccd = raw.get("userCCD")
    if raw.get("userCCDPath"):
        user_ccd = _read_file(pathlib.Path(raw["userCCDPath"]), json_path)
    return Input(raw["name"], chains, [int(s) for s in raw["modelSeeds"]], bonds, user_ccd)


# -- AlphaFold Server dialect (reference §4.2) --------------------------------------------------


def _server_mods(entity: dict, type_key: str, pos_key: str) -> list[Ptm]:
    """Return server-style modifications with the CCD_ prefix stripped."""
    return [(m[type_key].removeprefix("CCD_"), m[pos_key]) for m in entity.get("modifications", [])]


def _server_chain(kind: str, entity: dict, chain_id: str) -> Chain:
    """Convert one copy of a server entity into an AF3 chain."""
    if kind == "proteinChain":
        templates = [] if entity.get("useStructureTemplate") is False else None
        return ProteinChain(chain_id, entity["sequence"], _server_mods(entity, "ptmType", "ptmPosition"),
                            templates=templates)
    if kind == "rnaSequence":
        return RnaChain(chain_id, entity["sequence"], _server_mods(entity, "modificationType", "basePosition"))
    if kind == "dnaSequence":
        return DnaChain(chain_id, entity["sequence"], _server_mods(entity, "modificationType", "basePosition"))
    if kind == "ligand":
        return Ligand(chain_id, ccd_ids=[entity["ligand"].removeprefix("CCD_")])
    return Ligand(chain_id, ccd_ids=[entity["ion"]])  # AF3 leaves a CCD_ prefix on ions in place


_SERVER_KEYS = {
    "proteinChain": {"sequence", "glycans", "modifications", "count", "maxTemplateDate", "useStructureTemplate"},
    "rnaSequence": {"sequence", "modifications", "count"},
    "dnaSequence": {"sequence", "modifications", "count"},
    "ligand": {"ligand", "count"},
    "ion": {"ion", "count"},
}


def input_from_server_job(job: dict) -> Input:
    """Convert one AlphaFold Server job the way run_alphafold.py does (reference §4.2)."""
    _validate_keys(job.keys(), {"name", "modelSeeds", "sequences", "dialect", "version"})
    if ("dialect" in job) != ("version" in job):
        raise ValueError("AlphaFold Server input JSON must either contain both `dialect` and `version` fields, or "
                         "neither. If neither is specified, it is assumed that `dialect=\"alphafoldserver\"` and "
                         "`version=\"1\"`.")
    dialect, version = job.get("dialect", SERVER_DIALECT), job.get("version", 1)
    if dialect != SERVER_DIALECT:
        raise ValueError(f"AlphaFold Server input JSON has unsupported dialect: {dialect}, expected {SERVER_DIALECT}.")
    if version != 1:
        raise ValueError(f"AlphaFold Server input JSON has unsupported version: {version}, expected 1.")
    chains: list[Chain] = []
    for entity in job["sequences"]:
        kind = next((k for k in _SERVER_KEYS if k in entity), None)
        if kind is None:
            raise ValueError(f"Unknown sequence type: {entity}")
        body = entity[kind]
        _validate_keys(body.keys(), _SERVER_KEYS[kind])
        if body.get("glycans"):
            raise ValueError("Specifying glycans in the `alphafoldserver` format is not supported.")
        if body.get("maxTemplateDate"):
            raise ValueError("Specifying maxTemplateDate in the `alphafoldserver` format is not supported, use "
                             "the --max_template_date flag instead.")
        for _ in range(body.get("count", 1)):
            chains.append(_server_chain(kind, body, int_id_to_str_id(len(chains) + 1)))
    seeds = [int(s) for s in job["modelSeeds"]] if job.get("modelSeeds") else [random.randint(0, 2**32 - 1)]
    return Input(job["name"], chains, seeds)


def load_fold_inputs_from_path(json_path: pathlib.Path, log=None) -> Iterator[Input]:
    """Yield the jobs of one file lazily, wrapping ValueErrors exactly as AF3 does (reference §3)."""
    text = pathlib.Path(json_path).read_text()
    raw = json.loads(text)  # outside the try: AF3 lets a JSONDecodeError through unwrapped
    if isinstance(raw, list):
        if log is not None:
            log.info("folding_input.py", 1459, f"Loading {len(raw)} fold jobs from {json_path}")
        for i, job in enumerate(raw):
            try:
                yield input_from_server_job(job)
            except ValueError as e:
                raise ValueError(f"Failed to load fold job {i} from {json_path} (AlphaFold Server dialect): {e}") from e
    else:
        try:
            yield input_from_json(text, pathlib.Path(json_path))
        except ValueError as e:
            raise ValueError(f"Failed to load input from {json_path} (AlphaFold 3 dialect): {e}") from e


def load_fold_inputs_from_dir(input_dir: pathlib.Path, log=None) -> Iterator[Input]:
    """Yield the jobs of every *.json directly in `input_dir`, sorted by file name."""
    for path in sorted(pathlib.Path(input_dir).glob("*.json")):
        if path.is_file():
            yield from load_fold_inputs_from_path(path, log)
