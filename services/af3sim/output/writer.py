"""AF3's output files (reference §5), written from a synthetic sample and labelled as simulated."""
from __future__ import annotations

import datetime
import json
import pathlib
import re

import numpy as np

from services.af3sim.loader import Chain, DnaChain, Input, ProteinChain, RnaChain
from services.af3sim.output.confidences import Sample
from services.af3sim.output.structure import Layout

SIM_LABEL = "FoldDeck AF3 SIMULATOR"
SIM_VERSION = "3.0.4-folddeck-sim"  # the AF3 release whose behaviour is mimicked, plus a marker
_CIF_SAFE = re.compile(r"^[^\s'\"#$_;\[\]][^\s]*$")

TERMS_OF_USE = f"""# {SIM_LABEL}: terms of use of these files

These files were written by FoldDeck's AlphaFold 3 **simulator**. No AlphaFold 3 model, model
parameters or GPU were used: every structure and confidence value in this folder is synthetic,
generated only so that FoldDeck can be exercised without a GPU. They are not predictions and must
not be used for research, publication or any decision about a molecule.

The layout and formats imitate AlphaFold 3's outputs. Real AlphaFold 3 outputs come with their own
terms of use (the AlphaFold 3 output terms published by Google DeepMind), which a real run writes
here instead of this file.
"""


# -- helpers ------------------------------------------------------------------------------------


def _trim_zero(s: str) -> str:
    """Drop one trailing zero, as AF3's JSON writer does ('0.50' -> '0.5', '1.00' -> '1.0')."""
    return s[:-1] if s.endswith("0") else s


# Lookup tables: confidences.json holds ~2 x tokens^2 numbers (50 M at 5,000 tokens), so they are
# formatted by table lookup in numpy: each entry is the text plus its separator, NUL-padded to a
# fixed width; a block of rows becomes bytes with one lookup, one tobytes and one NUL strip.
_FRACTIONS = [_trim_zero(f"{i / 100:.2f}") for i in range(101)]
_PAES = [f"{i / 10:.1f}" for i in range(1000)]
_PLDDTS = [_trim_zero(f"{i / 100:.2f}") for i in range(10000)]


def _lut(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (each text plus "," as NUL-padded S5, its length)."""
    lut = np.array([(t + ",").encode() for t in texts], dtype="S5")
    return lut, np.array([len(t) + 1 for t in texts], np.int32)


_FRACTION_LUT, _PAE_LUT = _lut(_FRACTIONS), _lut(_PAES)
_ROW_BLOCK = 256  # rows formatted at once: 5,000-token rows make ~5 MB of text per block


def plddt_texts(atom_plddts: np.ndarray) -> list[str]:
    """Return each atom's pLDDT as written (2 decimals, clamped to 99.99, one trailing zero dropped)."""
    idx = np.rint(np.clip(atom_plddts, 0.0, 99.99) * 100.0).astype(np.int64)
    return [_PLDDTS[i] for i in idx.tolist()]


def _matrix_chunks(codes: np.ndarray, lut: tuple[np.ndarray, np.ndarray]):
    """Yield a code matrix as JSON text `[[a,b],[c,d]]` in blocks of rows (bytes)."""
    texts, lengths = lut
    n = len(codes)
    yield b"[["
    for lo in range(0, n, _ROW_BLOCK):
        block = codes[lo:lo + _ROW_BLOCK]
        text = texts[block].tobytes().replace(b"\0", b"")  # every value followed by ","
        ends = np.cumsum(lengths[block].sum(axis=1)).tolist()
        starts = [0] + ends[:-1]
        rows = b"],[".join(text[s:e - 1] for s, e in zip(starts, ends, strict=True))
        yield rows + (b"]]" if lo + _ROW_BLOCK >= n else b"],[")


def _cif(value: str) -> str:
    """Quote an mmCIF value when it needs it."""
    if _CIF_SAFE.match(value):
        return value
    return f'"{value}"' if '"' not in value else f"'{value}'"


# -- confidences, summary, ranking ---------------------------------------------------------------


def write_confidences(path: pathlib.Path, layout: Layout, sample: Sample, plddts: list[str] | None = None) -> None:
    """Write `*_confidences.json`: AF3's key order, one array per line, AF3's number formats, streamed by rows."""
    atom_chain = [r.chain_id for r in layout.residues for _ in r.atoms]
    token_chain = [layout.residues[t.residue].chain_id for t in layout.tokens]
    token_res = [layout.residues[t.residue].res_id for t in layout.tokens]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(("{\n" + '  "atom_chain_ids": [' + ",".join(f'"{c}"' for c in atom_chain) + "],\n"
                 + '  "atom_plddts": [' + ",".join(plddts or plddt_texts(sample.atom_plddts)) + "],\n"
                 + '  "contact_probs": ').encode())
        f.writelines(_matrix_chunks(np.minimum(sample.contact_pct, 100), _FRACTION_LUT))
        f.write(b',\n  "pae": ')
        f.writelines(_matrix_chunks(np.minimum(sample.pae_tenths, 999), _PAE_LUT))
        f.write((",\n" + '  "token_chain_ids": [' + ",".join(f'"{c}"' for c in token_chain) + "],\n"
                 + '  "token_res_ids": [' + ",".join(str(r) for r in token_res) + "]\n}").encode())


def summary_json(sample: Sample) -> str:
    """Return `*_summary_confidences.json` text (sort_keys, indent=1, NaN as null)."""
    return json.dumps(sample.summary, sort_keys=True, indent=1)


def ranking_csv(rows: list[tuple[int, int, float]]) -> str:
    """Return the ranking CSV: header then (seed, sample, full-precision score) per sample."""
    return "seed,sample,ranking_score\n" + "".join(f"{s},{i},{score!r}\n" for s, i, score in rows)


# -- mmCIF ---------------------------------------------------------------------------------------


def _entities(chains: list[Chain]) -> tuple[list[Chain], dict[str, int]]:
    """Return one representative chain per distinct entity and {chain id: entity id}."""
    reps: list[Chain] = []
    keys: list[str] = []
    of: dict[str, int] = {}
    for chain in chains:
        key = json.dumps(chain_to_dict(chain, ""), sort_keys=True)
        if key not in keys:
            keys.append(key)
            reps.append(chain)
        of[chain.id] = keys.index(key) + 1
    return reps, of


def _poly_type(chain: Chain) -> str:
    """Return the mmCIF polymer type of a chain ('' for ligands)."""
    return {ProteinChain: "polypeptide(L)", RnaChain: "polyribonucleotide",
            DnaChain: "polydeoxyribonucleotide"}.get(type(chain), "")


def model_cif(fold_input: Input, layout: Layout, sample: Sample, terms: bool, plddts: list[str] | None = None) -> str:
    """Return a ModelCIF-flavoured mmCIF of the sample: input chain ids, B-factor = pLDDT."""
    name = fold_input.sanitised_name()
    reps, entity_of = _entities(fold_input.chains)
    global_plddt = float(sample.atom_plddts.mean()) if len(sample.atom_plddts) else 0.0
    plddts = plddts or plddt_texts(sample.atom_plddts)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    out = [f"# {SIM_LABEL}: synthetic structure, NOT a prediction. No AlphaFold model or GPU was used.",
           f"data_{name}", "#", f"_entry.id {_cif(name)}", "#",
           "loop_", "_software.pdbx_ordinal", "_software.name", "_software.version", "_software.type",
           "_software.classification", "_software.description",
           f'1 "{SIM_LABEL}" {SIM_VERSION} program other "synthetic AlphaFold 3-shaped output (simulated)"', "#",
           f'_ma_model_list.model_group_name "{SIM_LABEL} ({SIM_VERSION} @ {stamp})"', "#",
           f"_ma_qa_metric_global.metric_value {global_plddt:.2f}", "#",
           "loop_", "_entity.id", "_entity.type", "_entity.pdbx_description"]
    out += [f"{i} {'polymer' if _poly_type(c) else 'non-polymer'} {_cif(c.description or '.')}"
            for i, c in enumerate(reps, start=1)]
    polymers = [(i, c) for i, c in enumerate(reps, start=1) if _poly_type(c)]
    if polymers:
        out += ["#", "loop_", "_entity_poly.entity_id", "_entity_poly.type", "_entity_poly.pdbx_strand_id",
                "_entity_poly.pdbx_seq_one_letter_code_can"]
        for i, c in polymers:
            strands = ",".join(ch.id for ch in fold_input.chains if entity_of[ch.id] == i)
            out.append(f"{i} {_poly_type(c)} {_cif(strands)} {_cif(c.sequence or '.')}")
    out += ["#", "loop_", "_struct_asym.id", "_struct_asym.entity_id"]
    out += [f"{c.id} {entity_of[c.id]}" for c in fold_input.chains]
    if terms:
        out += ["#", "_pdbx_data_usage.type license",
                f'_pdbx_data_usage.details "Synthetic output of the {SIM_LABEL}; see TERMS_OF_USE.md"']
    out += ["#", "loop_"] + [f"_atom_site.{k}" for k in (
        "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
        "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
        "B_iso_or_equiv", "auth_seq_id", "auth_asym_id", "pdbx_PDB_model_num")]
    serial = 0
    coords = sample.coords.tolist()
    for res in layout.residues:
        # AF3 writes modified residues (one token per atom, like ligands) as HETATM, in their polymer entity
        group = "HETATM" if res.kind == "ligand" or res.per_atom_tokens else "ATOM"
        seq_id = str(res.res_id) if res.kind != "ligand" else "."
        for atom, elem in res.atoms:
            x, y, z = coords[serial]
            b = plddts[serial]
            serial += 1
            out.append(f"{group} {serial} {elem} {_cif(atom)} . {_cif(res.name)} {res.chain_id} "
                       f"{entity_of[res.chain_id]} {seq_id} ? {x:.3f} {y:.3f} {z:.3f} 1.00 {b} {res.res_id} "
                       f"{res.chain_id} 1")
    return "\n".join(out + ["#", ""])


# -- *_data.json ------------------------------------------------------------------------------------


def _template_dict(t) -> dict:
    """Return a template as AF3 writes it (inline mmCIF and index lists)."""
    return {"mmcif": t.mmcif, "queryIndices": list(t.query_to_template), "templateIndices":
            list(t.query_to_template.values())}


def chain_to_dict(chain: Chain, chain_id) -> dict:
    """Return one entity as AF3's to_json writes it (modifications always present for polymers)."""
    if isinstance(chain, ProteinChain):
        body = {"id": chain_id, "sequence": chain.sequence,
                "modifications": [{"ptmType": c, "ptmPosition": p} for c, p in chain.ptms],
                "unpairedMsa": chain.unpaired_msa, "pairedMsa": chain.paired_msa,
                "templates": None if chain.templates is None else [_template_dict(t) for t in chain.templates]}
        kind = "protein"
    elif isinstance(chain, RnaChain | DnaChain):
        kind = "rna" if isinstance(chain, RnaChain) else "dna"
        body = {"id": chain_id, "sequence": chain.sequence,
                "modifications": [{"modificationType": c, "basePosition": p} for c, p in chain.modifications]}
        if kind == "rna":
            body["unpairedMsa"] = chain.unpaired_msa
    else:
        kind = "ligand"
        body = {"id": chain_id}
        body.update({"ccdCodes": chain.ccd_ids} if chain.ccd_ids is not None else {"smiles": chain.smiles})
    if chain.description is not None:
        body["description"] = chain.description
    return {kind: body}


def data_json(fold_input: Input) -> str:
    """Return `*_data.json`: version 4, AF3's key order, identical entities merged into id lists."""
    groups: dict[str, list[Chain]] = {}
    for chain in fold_input.chains:
        groups.setdefault(json.dumps(chain_to_dict(chain, ""), sort_keys=True), []).append(chain)
    sequences = []
    for members in groups.values():
        ids = [c.id for c in members]
        sequences.append(chain_to_dict(members[0], ids if len(ids) > 1 else ids[0]))
    bonds = None if not fold_input.bonded_atom_pairs else [[list(a), list(b)] for a, b in fold_input.bonded_atom_pairs]
    doc = {"dialect": "alphafold3", "version": 4, "name": fold_input.name, "sequences": sequences,
           "modelSeeds": fold_input.rng_seeds, "bondedAtomPairs": bonds, "userCCD": fold_input.user_ccd}
    return json.dumps(doc, indent=2)


def write_text(path: pathlib.Path, text: str) -> None:
    """Write one output file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
