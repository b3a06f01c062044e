"""A typed model of one fold job that the builder form fills and that serialises to canonical AF3 JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.af3 import rules as R

Atom = tuple[str, int, str]


@dataclass
class Modification:
    """A modified residue: CCD `code` replacing the residue at 1-based `position`."""

    code: str
    position: int


@dataclass
class Template:
    """A structural template: mmCIF text or path plus 0-based query/template index pairs."""

    query_indices: list[int]
    template_indices: list[int]
    mmcif: str | None = None
    mmcif_path: str | None = None


@dataclass
class Protein:
    """A protein entity; several ids mean identical copies. None MSA/templates = let AF3 search."""

    ids: list[str]
    sequence: str
    modifications: list[Modification] = field(default_factory=list)
    description: str | None = None
    unpaired_msa: str | None = None
    unpaired_msa_path: str | None = None
    paired_msa: str | None = None
    paired_msa_path: str | None = None
    templates: list[Template] | None = None


@dataclass
class Rna:
    """An RNA entity (single strand)."""

    ids: list[str]
    sequence: str
    modifications: list[Modification] = field(default_factory=list)
    description: str | None = None
    unpaired_msa: str | None = None
    unpaired_msa_path: str | None = None


@dataclass
class Dna:
    """A DNA entity (single strand; a duplex is two entities)."""

    ids: list[str]
    sequence: str
    modifications: list[Modification] = field(default_factory=list)
    description: str | None = None


@dataclass
class Ligand:
    """A ligand or ion: CCD codes (several = one multi-component ligand) or a SMILES string."""

    ids: list[str]
    ccd_codes: list[str] = field(default_factory=list)
    smiles: str | None = None
    description: str | None = None


@dataclass
class Bond:
    """A covalent bond between two atoms given as (chain id, 1-based residue, atom name)."""

    a: Atom
    b: Atom


Entity = Protein | Rna | Dna | Ligand
_KIND = {Protein: "protein", Rna: "rna", Dna: "dna", Ligand: "ligand"}
_MOD_KEYS = R.MOD_KEYS


@dataclass
class FoldJob:
    """One AlphaFold 3 fold job."""

    name: str
    seeds: list[int]
    entities: list[Entity] = field(default_factory=list)
    bonds: list[Bond] = field(default_factory=list)
    user_ccd: str | None = None
    user_ccd_path: str | None = None

    @classmethod
    def from_af3(cls, doc: dict[str, Any]) -> FoldJob:
        """Build the model from a valid AF3-dialect job (validate first; invalid input may raise)."""
        bonds = [Bond(_atom(a), _atom(b)) for a, b in (doc.get("bondedAtomPairs") or [])]
        return cls(name=doc["name"], seeds=[int(s) for s in doc["modelSeeds"]],
                   entities=[_entity_from_af3(e) for e in doc["sequences"]], bonds=bonds,
                   user_ccd=doc.get("userCCD"), user_ccd_path=doc.get("userCCDPath"))

    def to_af3(self) -> dict[str, Any]:
        """Serialise to canonical AF3 JSON with the lowest `version` that covers the features used."""
        out: dict[str, Any] = {"dialect": R.AF3_DIALECT, "version": self.required_version(), "name": self.name,
                               "sequences": [_entity_to_af3(e) for e in self.entities],
                               "modelSeeds": list(self.seeds)}
        if self.bonds:
            out["bondedAtomPairs"] = [[list(b.a), list(b.b)] for b in self.bonds]
        if self.user_ccd is not None:
            out["userCCD"] = self.user_ccd
        if self.user_ccd_path is not None:
            out["userCCDPath"] = self.user_ccd_path
        return out

    def required_version(self) -> int:
        """Return the lowest AF3 input version that has every field this job uses."""
        version = 3 if self.user_ccd_path else 1
        for e in self.entities:
            if e.description is not None:
                return 4
            if isinstance(e, (Protein, Rna)) and (e.unpaired_msa_path or getattr(e, "paired_msa_path", None)):
                version = max(version, 2)
            if isinstance(e, Protein) and any(t.mmcif_path for t in e.templates or []):
                version = max(version, 2)
        return version

    def chain_ids(self) -> list[str]:
        """Return every chain id in input order (copies expanded)."""
        return [cid for e in self.entities for cid in e.ids]


def _atom(raw: list) -> Atom:
    """Return a bond atom as a tuple."""
    return (raw[0], int(raw[1]), raw[2])


def _ids(raw: str | list[str]) -> list[str]:
    """Return the id field as a list."""
    return [raw] if isinstance(raw, str) else list(raw)


def _mods(kind: str, raw: list[dict] | None) -> list[Modification]:
    """Read a modification list."""
    code_key, pos_key = _MOD_KEYS[kind]
    return [Modification(m[code_key], int(m[pos_key])) for m in raw or []]


def _entity_from_af3(item: dict[str, Any]) -> Entity:
    """Build one entity from a `sequences[]` item."""
    (kind, b), = item.items()
    ids = _ids(b["id"])
    if kind == "ligand":
        return Ligand(ids, list(b.get("ccdCodes") or []), b.get("smiles"), b.get("description"))
    common = dict(ids=ids, sequence=b["sequence"], modifications=_mods(kind, b.get("modifications")),
                  description=b.get("description"))
    if kind == "dna":
        return Dna(**common)
    msa = dict(unpaired_msa=b.get("unpairedMsa"), unpaired_msa_path=b.get("unpairedMsaPath"))
    if kind == "rna":
        return Rna(**common, **msa)
    templates = None if b.get("templates") is None else [_template_from_af3(t) for t in b["templates"]]
    return Protein(**common, **msa, paired_msa=b.get("pairedMsa"), paired_msa_path=b.get("pairedMsaPath"),
                   templates=templates)


def _template_from_af3(t: dict[str, Any]) -> Template:
    """Build a template from its JSON object."""
    return Template(list(t["queryIndices"]), list(t.get("templateIndices") or []), t.get("mmcif"),
                    t.get("mmcifPath"))


def _entity_to_af3(e: Entity) -> dict[str, Any]:
    """Serialise one entity, omitting unset optional fields."""
    kind = _KIND[type(e)]
    body: dict[str, Any] = {"id": e.ids[0] if len(e.ids) == 1 else list(e.ids)}
    if isinstance(e, Ligand):
        if e.smiles is not None:
            body["smiles"] = e.smiles
        else:
            body["ccdCodes"] = list(e.ccd_codes)
    else:
        body["sequence"] = e.sequence
        if e.modifications:
            code_key, pos_key = _MOD_KEYS[kind]
            body["modifications"] = [{code_key: m.code, pos_key: m.position} for m in e.modifications]
    if e.description is not None:
        body["description"] = e.description
    _put_msa_fields(e, body)
    return {kind: body}


def _put_msa_fields(e: Entity, body: dict[str, Any]) -> None:
    """Add the MSA/template fields that are set."""
    names = {"unpaired_msa": "unpairedMsa", "unpaired_msa_path": "unpairedMsaPath", "paired_msa": "pairedMsa",
             "paired_msa_path": "pairedMsaPath"}
    for attr, key in names.items():
        value = getattr(e, attr, None)
        if value is not None:
            body[key] = value
    if isinstance(e, Protein) and e.templates is not None:
        body["templates"] = [_template_to_af3(t) for t in e.templates]


def _template_to_af3(t: Template) -> dict[str, Any]:
    """Serialise a template."""
    out: dict[str, Any] = {}
    if t.mmcif is not None:
        out["mmcif"] = t.mmcif
    if t.mmcif_path is not None:
        out["mmcifPath"] = t.mmcif_path
    out["queryIndices"] = list(t.query_indices)
    out["templateIndices"] = list(t.template_indices)
    return out
