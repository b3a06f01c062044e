"""Entity rules: the sequences list, chain ids, polymers (alphabet, MSAs, templates) and ligands."""
from __future__ import annotations

import re
from typing import Any

from services.af3 import rules as R
from services.af3.checks.mods_bonds import _check_modifications
from services.af3.checks.report import _Report, _unknown_keys, unknown_code_message
from services.af3.problems import is_int, join, kind_of, show


def _check_sequences(rep: _Report, doc: dict, base: str, has_user_ccd: bool) -> None:
    """Check the `sequences` list and every entity in it."""
    path = join(base, "sequences")
    seqs = doc.get("sequences")
    if "sequences" not in doc:
        rep.error(path, 'The job has no "sequences" list; add at least one protein, RNA, DNA or ligand.')
        return
    if not isinstance(seqs, list):
        rep.error(path, f'"sequences" must be a list of entities, found {kind_of(seqs)}.')
        return
    if not seqs:
        rep.error(path, "The job has no chains; add at least one protein, RNA, DNA or ligand.")
    for i, entity in enumerate(seqs):
        _check_entity(rep, entity, join(path, i), has_user_ccd)


def _check_entity(rep: _Report, entity: Any, path: str, has_user_ccd: bool) -> None:
    """Check one `sequences[]` item: exactly one known type key, then that type's fields."""
    if not isinstance(entity, dict):
        rep.error(path, f"Each entity must be an object such as {{\"protein\": {{...}}}}, found {kind_of(entity)}.")
        return
    kinds = list(entity)
    if len(kinds) != 1:
        found = ", ".join(map(str, kinds)) or "nothing"
        rep.error(path, f"Each entity must have exactly one type (protein, rna, dna or ligand); found {found}.")
    for kind in kinds:
        _check_typed_entity(rep, kind, entity[kind], join(path, str(kind)), has_user_ccd)


def _check_typed_entity(rep: _Report, kind: Any, body: Any, path: str, has_user_ccd: bool) -> None:
    """Dispatch on the entity type and check its body."""
    if kind not in R.ENTITY_KEYS:
        server = R.SERVER_TO_AF3_TYPE.get(kind) or ("ligand" if kind == "ion" else None)
        hint = (f" {show(kind)} is AlphaFold Server wording; in the alphafold3 format write {show(server)}."
                if server else "")
        rep.error(path, f"Unknown entity type {show(kind)}; use protein, rna, dna or ligand.{hint}")
        return
    if not isinstance(body, dict):
        rep.error(path, f"The {kind} entry must be an object with an id and its fields, found {kind_of(body)}.")
        return
    _unknown_keys(rep, body, R.ENTITY_KEYS[kind], path, f"in a {kind} entry")
    ids = body.get("id")
    for chain_id in [ids] if isinstance(ids, str) else ids if isinstance(ids, list) else []:
        if isinstance(chain_id, str):
            rep.bodies.setdefault(chain_id, (kind, body))
    _check_description(rep, body, path)
    length = _check_ligand(rep, body, path, has_user_ccd) if kind == "ligand" else _check_polymer(
        rep, kind, body, path, has_user_ccd)
    _check_ids(rep, body, path, kind, length)


def _check_description(rep: _Report, body: dict, path: str) -> None:
    """Check the optional free-text description (version 4)."""
    if "description" not in body:
        return
    rep.need(R.FIELD_VERSION["description"], "description")
    if body["description"] is not None and not isinstance(body["description"], str):
        rep.error(join(path, "description"), f"The description must be text, found {kind_of(body['description'])}.")


def _check_ids(rep: _Report, body: dict, path: str, kind: str, length: int) -> None:
    """Check the chain id(s) of an entity and register them for uniqueness and bond checks."""
    ids = body.get("id")
    id_path = join(path, "id")
    if ids is None or ids == "" or ids == []:
        rep.error(id_path, 'Every entity needs a chain id, e.g. "id": "A" (or ["A", "B"] for two copies).')
        return
    items = [(id_path, ids)] if isinstance(ids, str) else None
    if isinstance(ids, list):
        items = [(join(id_path, j), x) for j, x in enumerate(ids)]
    if items is None:
        rep.error(id_path, f"The chain id must be text like \"A\" or a list like [\"A\", \"B\"], found {kind_of(ids)}.")
        return
    for p, chain_id in items:
        _register_chain(rep, p, chain_id, kind, length)


def _register_chain(rep: _Report, path: str, chain_id: Any, kind: str, length: int) -> None:
    """Check one chain id's form and uniqueness, then remember it."""
    if not isinstance(chain_id, str) or not R.CHAIN_ID.fullmatch(chain_id):
        rep.error(path, f"Chain id {show(chain_id)} is not allowed; use upper-case letters only (A, B, …, Z, AA, …).")
        return
    if chain_id in rep.chains:
        rep.error(path, f"Chain id {show(chain_id)} is already used by {rep.chains[chain_id][2]}; every chain "
                        "(each copy too) needs its own id.")
        return
    rep.chains[chain_id] = (kind, length, path)


def _check_polymer(rep: _Report, kind: str, body: dict, path: str, has_user_ccd: bool) -> int:
    """Check a protein/RNA/DNA entry; return its length (0 when the sequence is unusable)."""
    seq = body.get("sequence")
    seq_path = join(path, "sequence")
    length = 0
    if "sequence" not in body:
        rep.error(seq_path, f"The {R.POLYMER_NOUN[kind]} has no sequence.")
    elif not isinstance(seq, str):
        rep.error(seq_path, f"The sequence must be text, found {kind_of(seq)}.")
    elif not seq:
        rep.error(seq_path, f"The {R.POLYMER_NOUN[kind]} sequence is empty.")
    else:
        length = len(seq)
        _check_alphabet(rep, kind, seq, seq_path)
    _check_modifications(rep, kind, body, path, length if isinstance(seq, str) else None, has_user_ccd)
    if kind in ("protein", "rna"):
        _check_msa_fields(rep, kind, body, path)
    if kind == "protein":
        _check_templates(rep, body, path, length)
        _check_pipeline_combination(rep, body, path)
    return length


def _check_alphabet(rep: _Report, kind: str, seq: str, path: str) -> None:
    """Report letters outside the polymer's alphabet (errors) and unknown-residue letters (warnings)."""
    alphabet = R.ALPHABETS[kind]
    if not seq.strip(alphabet):
        return  # fast path: only standard letters (str.strip with a charset is C-speed)
    unknown = R.UNKNOWN_LETTER[kind]
    bad = [(i, c) for i, c in enumerate(seq, 1) if c not in alphabet and c != unknown]
    noun = R.POLYMER_NOUN[kind]
    if bad:
        pos, ch = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        rep.error(path, f"{noun} sequence has {show(ch)} at position {pos}{more}; {R.ALPHABET_TEXT[kind]}."
                        f"{_alphabet_hint(kind, seq, bad)}")
    n_unknown = seq.count(unknown)
    if n_unknown:
        rep.warn(path, f"{noun} sequence has {n_unknown} {show(unknown)} (unknown residue), first at position "
                       f"{seq.index(unknown) + 1}; AlphaFold 3 models it as an unknown residue.")


def _alphabet_hint(kind: str, seq: str, bad: list[tuple[int, str]]) -> str:
    """Add a likely explanation for common alphabet mistakes."""
    letters = {c for _, c in bad}
    if letters <= set(R.ALPHABETS[kind].lower() + R.UNKNOWN_LETTER[kind].lower()):
        return " Write the sequence in upper case."
    if kind == "rna" and letters == {"T"}:
        return " 'T' belongs to DNA; use U for RNA, or make this entity DNA."
    if kind == "dna" and letters == {"U"}:
        return " 'U' belongs to RNA; use T for DNA, or make this entity RNA."
    if letters & set(" \t\r\n-*.0123456789"):
        return " Remove spaces, line breaks, gaps, digits and stop symbols."
    return ""


def _check_msa_fields(rep: _Report, kind: str, body: dict, path: str) -> None:
    """Check the MSA fields' types, inline-vs-path exclusivity and the versions they need."""
    pairs = [("unpairedMsa", "unpairedMsaPath")] + ([("pairedMsa", "pairedMsaPath")] if kind == "protein" else [])
    for inline_key, path_key in pairs:
        inline, file_path = body.get(inline_key), body.get(path_key)
        if inline is not None and not isinstance(inline, str):
            rep.error(join(path, inline_key), f"{inline_key} must be A3M text (or \"\" for none), found "
                                              f"{kind_of(inline)}.")
        if path_key in body and file_path is not None and not isinstance(file_path, str):
            rep.error(join(path, path_key), f"{path_key} must be a file path, found {kind_of(file_path)}.")
        if inline and file_path:
            rep.error(join(path, path_key), f"Give the MSA either inline ({inline_key}) or as a file ({path_key}), "
                                            "not both.")
        if isinstance(file_path, str) and file_path:
            rep.need(R.FIELD_VERSION[path_key], path_key)


def _check_templates(rep: _Report, body: dict, path: str, length: int) -> None:
    """Check the protein's template list and each template."""
    templates = body.get("templates")
    tpath = join(path, "templates")
    if templates is None:
        return
    if not isinstance(templates, list):
        rep.error(tpath, f"Templates must be a list ([] for none), found {kind_of(templates)}.")
        return
    if len(templates) > R.MAX_TEMPLATES:
        rep.warn(tpath, f"{len(templates)} templates given; AlphaFold 3 uses at most {R.MAX_TEMPLATES}.")
    for k, tpl in enumerate(templates):
        _check_template(rep, tpl, join(tpath, k), length)


def _check_template(rep: _Report, tpl: Any, path: str, length: int) -> None:
    """Check one template: exactly one mmCIF source and matching, in-range index lists."""
    if not isinstance(tpl, dict):
        rep.error(path, f"Each template must be an object with mmcif/mmcifPath and index lists, found {kind_of(tpl)}.")
        return
    _unknown_keys(rep, tpl, R.TEMPLATE_KEYS, path, "in a template")
    mmcif, mmcif_path = tpl.get("mmcif"), tpl.get("mmcifPath")
    if not (isinstance(mmcif, str) and mmcif) and not (isinstance(mmcif_path, str) and mmcif_path):
        rep.error(path, "The template has no structure; give its mmCIF text (mmcif) or a file path (mmcifPath).")
    elif mmcif and mmcif_path:
        rep.error(join(path, "mmcifPath"),
                  "Give the template either inline (mmcif) or as a file (mmcifPath), not both.")
    elif isinstance(mmcif, str) and mmcif and not mmcif.lstrip().startswith("data_"):
        rep.error(join(path, "mmcif"), "The template mmCIF text must start with 'data_'; if this is a file path, "
                                       "put it in mmcifPath instead.")
    if isinstance(mmcif_path, str) and mmcif_path:
        rep.need(R.FIELD_VERSION["mmcifPath"], "mmcifPath")
    query = _index_list(rep, tpl, "queryIndices", path, length)
    target = _index_list(rep, tpl, "templateIndices", path, None)
    if query is not None and target is not None and len(query) != len(target):
        rep.error(join(path, "templateIndices"), f"queryIndices has {len(query)} entries but templateIndices has "
                                                 f"{len(target)}; they pair up one to one.")


def _index_list(rep: _Report, tpl: dict, key: str, path: str, length: int | None) -> list[int] | None:
    """Check a template index list (0-based, whole numbers, no repeats); return it or None."""
    ipath = join(path, key)
    value = tpl.get(key)
    if key == "templateIndices" and value is None and key in tpl:
        return []  # legacy writers (< 3.0.4) wrote null for "no indices"
    if key not in tpl:
        rep.error(ipath, f"The template needs {key} (0-based residue indices).")
        return None
    if not isinstance(value, list) or not all(is_int(x) for x in value):
        rep.error(ipath, f"{key} must be a list of whole numbers (0-based), found {show(value)}.")
        return None
    bad = [x for x in value if x < 0 or (length and x >= length)]
    if bad:
        upper = f" to {length - 1}" if length else " or more"
        rep.error(ipath, f"{key} has {bad[0]} out of range; indices are 0-based and run from 0{upper}.")
    elif len(set(value)) != len(value):
        rep.error(ipath, f"{key} lists the same residue more than once; each residue may appear only once.")
    return value


def _check_pipeline_combination(rep: _Report, body: dict, path: str) -> None:
    """Apply the data pipeline's rule: both MSAs set or both unset; custom templates need both MSAs."""
    unpaired = body.get("unpairedMsa") is not None or bool(body.get("unpairedMsaPath"))
    paired = body.get("pairedMsa") is not None or bool(body.get("pairedMsaPath"))
    templates = body.get("templates")
    if unpaired != paired:
        have, lack = ("unpaired", "paired") if unpaired else ("paired", "unpaired")
        hint = (' Note: "pairedMsaPath": "" does not count; write "pairedMsa": "".'
                if body.get("pairedMsaPath") == "" else "")
        rep.error(path, f"The {have} MSA is set but the {lack} MSA is not; AlphaFold 3's data pipeline stops on "
                        f"this. Set both (use \"\" for an empty MSA) or neither.{hint}")
    elif not unpaired and isinstance(templates, list) and templates:
        rep.error(join(path, "templates"), "Custom templates need both MSAs set as well (use \"unpairedMsa\": \"\" "
                                           "and \"pairedMsa\": \"\" for none); otherwise AlphaFold 3's data pipeline "
                                           "stops.")


def _check_ligand(rep: _Report, body: dict, path: str, has_user_ccd: bool) -> int:
    """Check a ligand: exactly one of ccdCodes / smiles; return its residue count for bonds (0 = SMILES)."""
    codes, smiles = body.get("ccdCodes"), body.get("smiles")
    has_codes, has_smiles = "ccdCodes" in body, "smiles" in body
    if has_codes and has_smiles:
        rep.error(path, "A ligand takes either CCD codes (ccdCodes) or a SMILES string (smiles), not both.")
    elif not has_codes and not has_smiles:
        rep.error(path, 'The ligand has neither CCD codes nor SMILES; add e.g. "ccdCodes": ["ATP"] or a "smiles".')
    if has_codes:
        _check_ccd_codes(rep, codes, join(path, "ccdCodes"), has_user_ccd)
    if has_smiles:
        _check_smiles(rep, smiles, join(path, "smiles"))
    if has_codes and not has_smiles and isinstance(codes, list):
        return len(codes)
    return 0


def _check_ccd_codes(rep: _Report, codes: Any, path: str, has_user_ccd: bool) -> None:
    """Check a ligand's list of CCD codes."""
    if not isinstance(codes, list):
        hint = f' Write ["{codes}"].' if isinstance(codes, str) else ""
        rep.error(path, f"ccdCodes must be a list of CCD codes, found {kind_of(codes)}.{hint}")
        return
    if not codes:
        rep.error(path, "ccdCodes is empty; give at least one CCD code, e.g. [\"ATP\"].")
    for j, code in enumerate(codes):
        _check_ligand_code(rep, code, join(path, j), has_user_ccd)


def _check_ligand_code(rep: _Report, code: Any, path: str, has_user_ccd: bool) -> None:
    """Check one ligand CCD code."""
    if not isinstance(code, str) or not code:
        rep.error(path, f"A CCD code must be text such as \"ATP\", found {show(code)}.")
    elif code.startswith("CCD_"):
        rep.error(path, f"Write the bare CCD code {show(code[4:])}, not {show(code)}; the CCD_ prefix is only for "
                        "the AlphaFold Server format.")
    elif not (R.CCD_CODE.fullmatch(code) or (has_user_ccd and R.USER_CCD_CODE.fullmatch(code))):
        extra = "" if has_user_ccd else " (or define your own component in userCCD)"
        rep.error(path, f"{show(code)} is not a CCD code; CCD codes are 1 to 5 upper-case letters or digits{extra}.")
    elif rep.unknown_code(code):
        rep.error(path, unknown_code_message(rep, code, "ligand"))
    elif (comp := rep.component(code)) is not None and not comp.atoms:
        rep.error(path, f"{show(code)} ({comp.name or 'no name'}) has no atoms in the CCD, so AlphaFold 3 has nothing "
                        "to model; give the ligand as SMILES or define it in userCCD.")


def _check_smiles(rep: _Report, smiles: Any, path: str) -> None:
    """Check a SMILES string's basic syntax (full chemistry is RDKit's job inside AF3)."""
    if not isinstance(smiles, str) or not smiles:
        rep.error(path, f"The SMILES must be non-empty text, found {show(smiles)}.")
        return
    message = _smiles_syntax_problem(smiles)
    if message:
        rep.error(path, message)


def _smiles_syntax_problem(smiles: str) -> str:
    """Return what is wrong with a SMILES string's syntax, or ''."""
    from services.af3.chem.ccd import heavy_atoms_in_smiles

    if re.search(r"\s", smiles):
        return "The SMILES contains spaces or line breaks; a SMILES string is one word."
    bad = sorted(set(re.sub(r"\[[^\]]*\]", "", smiles)) - set(
        "BCNOPSFIbcnopsrlH0123456789()=#$:/\\.%+-@*[]~"))
    if bad:
        return f"The SMILES contains {show(bad[0])}, which is not SMILES syntax."
    if smiles.count("[") != smiles.count("]") or re.search(r"\[[^\]]*\[", smiles):
        return "The SMILES has unbalanced square brackets [ ]."
    depth = 0
    for ch in smiles:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            break
    if depth != 0:
        return "The SMILES has unbalanced parentheses ( )."
    if heavy_atoms_in_smiles(smiles) == 0:
        return "The SMILES has no heavy atom."
    return ""
