"""Check an AlphaFold 3 input (either dialect) and report every problem with its JSON path.

Covers AF3's own parse-time checks, the checks its data pipeline only makes later (MSA/template
combinations), and the stricter rules of the reference's recommended validator. Never raises for
any JSON value.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from services.af3 import rules as R
from services.af3.names import sanitised_name
from services.af3.problems import Problem, Severity, is_int, join, kind_of, show


@dataclass
class _Report:
    """Problems found so far, plus facts later checks need (chains, features used)."""

    problems: list[Problem] = field(default_factory=list)
    chains: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id -> (type, length, first path)
    needed_version: int = 1
    needed_by: str = ""

    def error(self, path: str, message: str) -> None:
        """Record an error."""
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a warning."""
        self.problems.append(Problem(path, message, Severity.WARNING.value))

    def need(self, version: int, what: str) -> None:
        """Note that a feature needs at least `version`."""
        if version > self.needed_version:
            self.needed_version, self.needed_by = version, what


def validate(doc: Any) -> list[Problem]:
    """Return every problem of an input document: an object is AF3 dialect, a list is server dialect."""
    if isinstance(doc, dict):
        return validate_af3(doc)
    if isinstance(doc, list):
        return validate_server(doc)
    return [Problem("", f"The file holds {kind_of(doc)}; expected a JSON object (one AlphaFold 3 job) "
                        "or a list of AlphaFold Server jobs.")]


# -- AlphaFold 3 dialect ---------------------------------------------------------------------


def validate_af3(doc: Any, base: str = "") -> list[Problem]:
    """Return every problem of one AF3-dialect job; paths start with `base`."""
    rep = _Report()
    if not isinstance(doc, dict):
        rep.error(base, f"A job must be a JSON object, found {kind_of(doc)}.")
        return rep.problems
    _unknown_keys(rep, doc, R.TOP_KEYS, base, "at the top level")
    _check_dialect_version(rep, doc, base)
    _check_name(rep, doc, base)
    _check_seeds(rep, doc.get("modelSeeds"), "modelSeeds" in doc, join(base, "modelSeeds"), server=False)
    has_user_ccd = _check_user_ccd(rep, doc, base)
    _check_sequences(rep, doc, base, has_user_ccd)
    _check_bonds(rep, doc.get("bondedAtomPairs"), join(base, "bondedAtomPairs"))
    _check_version_covers(rep, doc, base)
    return rep.problems


def _unknown_keys(rep: _Report, obj: dict, allowed: tuple[str, ...], base: str, where: str) -> None:
    """Report keys that the format does not know, with a did-you-mean hint."""
    for key in obj:
        if key in allowed:
            continue
        hint = _did_you_mean(str(key), allowed)
        rep.error(join(base, str(key)), f"Unknown field {show(key)} {where}.{hint} "
                                        f"Allowed here: {', '.join(allowed)}.")


def _did_you_mean(key: str, allowed: tuple[str, ...]) -> str:
    """Suggest the allowed key closest to a misspelt one."""
    by_case = [a for a in allowed if a.lower() == key.lower()]
    close = by_case or difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    return f" Did you mean {show(close[0])}?" if close else ""


def _check_dialect_version(rep: _Report, doc: dict, base: str) -> None:
    """Check `dialect` and `version`."""
    dialect, version = doc.get("dialect"), doc.get("version")
    if "dialect" not in doc:
        rep.error(join(base, "dialect"), 'The "dialect" field is missing; write "dialect": "alphafold3".')
    elif dialect == R.SERVER_DIALECT:
        rep.error(join(base, "dialect"), 'This is an AlphaFold Server job ("alphafoldserver"); such jobs must be '
                                         "wrapped in a JSON list [ ... ], or convert it to the alphafold3 format.")
    elif dialect != R.AF3_DIALECT:
        rep.error(join(base, "dialect"), f'The dialect is {show(dialect)}; it must be "alphafold3".')
    if "version" not in doc:
        rep.error(join(base, "version"), 'The "version" field is missing; write "version": 1 (or 2, 3, 4 if you '
                                         "use newer fields).")
    elif not is_int(version) or version not in R.AF3_VERSIONS:
        rep.error(join(base, "version"), f"The version is {show(version)}; AlphaFold 3 accepts the whole numbers "
                                         "1, 2, 3 or 4.")


def _check_name(rep: _Report, doc: dict, base: str) -> None:
    """Check that the job name exists and leaves a usable folder name."""
    path = join(base, "name")
    if "name" not in doc:
        rep.error(path, "The job has no name; add a \"name\" (letters, digits, '.', '-', '_').")
    elif not isinstance(doc["name"], str):
        rep.error(path, f"The job name must be text, found {kind_of(doc['name'])}.")
    elif not sanitised_name(doc["name"]):
        rep.error(path, f"The job name {show(doc['name'])} has no usable character; AlphaFold 3 names the output "
                        "folder from its letters, digits, dots, dashes and underscores.")


def _check_seeds(rep: _Report, seeds: Any, present: bool, path: str, server: bool) -> None:
    """Check `modelSeeds`: a non-empty list of whole numbers 0 … 4294967295 (server: may be empty)."""
    if not present:
        if not server:
            rep.error(path, 'No seeds given; add "modelSeeds": [1] (one or more whole numbers).')
        return
    if not isinstance(seeds, list):
        rep.error(path, f"The seeds must be a list of whole numbers, found {kind_of(seeds)}.")
        return
    if not seeds and not server:
        rep.error(path, "The seed list is empty; give at least one seed, e.g. [1].")
    seen: set[int] = set()
    for i, seed in enumerate(seeds):
        value = _seed_value(seed, server)
        if value is None:
            allowed = "whole numbers (or their text, e.g. \"42\")" if server else "whole numbers"
            rep.error(join(path, i), f"Seed {show(seed)} is not a whole number; seeds must be {allowed}.")
        elif not 0 <= value <= R.UINT32_MAX:
            rep.error(join(path, i), f"Seed {value} is out of range; seeds must be between 0 and {R.UINT32_MAX}.")
        elif value in seen:
            rep.warn(join(path, i), f"Seed {value} is listed twice; the same seed gives the same prediction.")
        else:
            seen.add(value)


def _seed_value(seed: Any, server: bool) -> int | None:
    """Return a seed as an int, or None if it is not an acceptable seed value."""
    if is_int(seed):
        return seed
    if server and isinstance(seed, str) and re.fullmatch(r"\s*[0-9]+\s*", seed):
        return int(seed)
    return None


def _check_user_ccd(rep: _Report, doc: dict, base: str) -> bool:
    """Check `userCCD` / `userCCDPath`; return whether user-defined components are available."""
    inline, path_value = doc.get("userCCD"), doc.get("userCCDPath")
    for key, value in (("userCCD", inline), ("userCCDPath", path_value)):
        if key in doc and value is not None and not isinstance(value, str):
            rep.error(join(base, key), f"{key} must be text, found {kind_of(value)}.")
    if inline and path_value:
        rep.error(join(base, "userCCDPath"), "Give the user CCD either inline (userCCD) or as a file (userCCDPath), "
                                             "not both.")
    if isinstance(path_value, str) and path_value:
        rep.need(R.FIELD_VERSION["userCCDPath"], "userCCDPath")
    if isinstance(inline, str) and inline:
        _check_user_ccd_text(rep, inline, join(base, "userCCD"))
    return bool(inline or path_value)


def _check_user_ccd_text(rep: _Report, text: str, path: str) -> None:
    """Check that every `data_` block of a user CCD carries the keys AF3 requires."""
    blocks = re.split(r"(?m)^data_", text)[1:]
    if not blocks:
        rep.error(path, "The user CCD text has no 'data_<ID>' block; paste CCD mmCIF components.")
    for block in blocks:
        name = block.split(None, 1)[0] if block.strip() else "?"
        missing = [k for k in R.USER_CCD_REQUIRED if k not in block]
        if missing:
            rep.error(path, f"Component {name} in the user CCD lacks {len(missing)} required field(s), e.g. "
                            f"{', '.join(missing[:3])}.")


def _check_version_covers(rep: _Report, doc: dict, base: str) -> None:
    """Warn when the declared version is lower than the features used (older AF3 installs refuse it)."""
    version = doc.get("version")
    if is_int(version) and version in R.AF3_VERSIONS and version < rep.needed_version:
        rep.warn(join(base, "version"), f"Version {version} is declared but {rep.needed_by} needs version "
                                        f"{rep.needed_version}; AlphaFold 3 releases older than that field refuse "
                                        f"the file. Set \"version\": {rep.needed_version}.")


# -- entities ------------------------------------------------------------------------------


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


def _check_modifications(rep: _Report, kind: str, body: dict, path: str, length: int | None,
                         has_user_ccd: bool) -> None:
    """Check PTMs / base modifications: code form, no CCD_ prefix, 1-based position within the sequence."""
    mods = body.get("modifications")
    mods_path = join(path, "modifications")
    if mods is None:
        return
    if not isinstance(mods, list):
        rep.error(mods_path, f"Modifications must be a list, found {kind_of(mods)}.")
        return
    code_key, pos_key = R.MOD_KEYS[kind]
    seen: dict[int, int] = {}
    for j, mod in enumerate(mods):
        mpath = join(mods_path, j)
        if not isinstance(mod, dict):
            rep.error(mpath, f"Each modification must be an object with {code_key} and {pos_key}, "
                             f"found {kind_of(mod)}.")
            continue
        _unknown_keys(rep, mod, (code_key, pos_key), mpath, "in a modification")
        _check_mod_code(rep, mod.get(code_key), code_key in mod, join(mpath, code_key), has_user_ccd)
        _check_mod_position(rep, mod.get(pos_key), pos_key in mod, join(mpath, pos_key), length, kind, seen, j)


def _check_mod_code(rep: _Report, code: Any, present: bool, path: str, has_user_ccd: bool) -> None:
    """Check a modification's CCD code."""
    if not present:
        rep.error(path, "The modification has no CCD code (e.g. SEP for phosphoserine).")
    elif not isinstance(code, str) or not code:
        rep.error(path, f"The modification code must be a CCD code such as \"SEP\", found {show(code)}.")
    elif code.startswith("CCD_"):
        rep.error(path, f"Write the bare CCD code {show(code[4:])}, not {show(code)}; the CCD_ prefix is only for "
                        "the AlphaFold Server format.")
    elif not (R.CCD_CODE.fullmatch(code) or (has_user_ccd and R.USER_CCD_CODE.fullmatch(code))):
        rep.error(path, f"{show(code)} is not a CCD code; CCD codes are 1 to 5 upper-case letters or digits "
                        "(e.g. SEP, HY3).")


def _check_mod_position(rep: _Report, pos: Any, present: bool, path: str, length: int | None, kind: str,
                        seen: dict[int, int], j: int) -> None:
    """Check a modification's 1-based position and that no position is modified twice."""
    if not present:
        rep.error(path, "The modification has no position (1 = first residue).")
    elif not is_int(pos):
        rep.error(path, f"The position must be a whole number (1 = first residue), found {show(pos)}.")
    elif length is not None and length and not 1 <= pos <= length:
        rep.error(path, f"Position {pos} is outside the sequence; positions count from 1 to {length} "
                        "(the sequence length).")
    elif pos in seen:
        rep.error(path, f"Position {pos} is already modified by modification {seen[pos] + 1}; a residue can carry "
                        "only one modification.")
    else:
        seen[pos] = j


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
    from services.af3.ccd import heavy_atoms_in_smiles

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


# -- bonds --------------------------------------------------------------------------------


def _check_bonds(rep: _Report, bonds: Any, path: str) -> None:
    """Check `bondedAtomPairs`: two valid atoms each, ligand involvement, no duplicates."""
    if bonds is None:
        return
    if not isinstance(bonds, list):
        rep.error(path, f"bondedAtomPairs must be a list of bonds, found {kind_of(bonds)}.")
        return
    seen: dict[frozenset, int] = {}
    for k, bond in enumerate(bonds):
        bpath = join(path, k)
        if not isinstance(bond, list) or len(bond) != 2:
            rep.error(bpath, 'A bond must be a pair of atoms: [["A", 145, "SG"], ["L", 1, "C04"]].')
            continue
        atoms = [_check_atom(rep, atom, join(bpath, j)) for j, atom in enumerate(bond)]
        if None in atoms:
            continue
        _check_bond_partners(rep, atoms, bpath, seen, k)


def _check_atom(rep: _Report, atom: Any, path: str) -> tuple[str, int, str] | None:
    """Check one bond atom [chain id, 1-based residue, atom name]; return it when usable."""
    if not (isinstance(atom, list) and len(atom) == 3 and isinstance(atom[0], str) and is_int(atom[1])
            and isinstance(atom[2], str)):
        rep.error(path, f"An atom must be [chain id, residue number, atom name] like [\"A\", 145, \"SG\"], found "
                        f"{show(atom)}.")
        return None
    chain_id, residue, name = atom
    if chain_id not in rep.chains:
        rep.error(join(path, 0), f"Chain {show(chain_id)} does not exist in this job.")
        return None
    kind, length, _ = rep.chains[chain_id]
    if kind == "ligand" and length == 0:
        rep.error(join(path, 0), f"Chain {chain_id} is a SMILES ligand; SMILES ligands cannot take part in bonds "
                                 "(define the ligand with CCD codes or userCCD instead).")
        return None
    if length and not 1 <= residue <= length:
        what = "CCD codes" if kind == "ligand" else "residues"
        rep.error(join(path, 1), f"Residue {residue} does not exist in chain {chain_id}; it has {length} {what}, "
                                 "numbered from 1.")
    if not name.strip():
        rep.error(join(path, 2), "The atom name is empty; use the CCD atom name such as \"SG\" or \"C1\".")
    return (chain_id, residue, name)


def _check_bond_partners(rep: _Report, atoms: list, path: str, seen: dict, k: int) -> None:
    """Refuse polymer-polymer bonds and duplicate bonds (either direction)."""
    kinds = [rep.chains[a[0]][0] for a in atoms]
    if "ligand" not in kinds:
        rep.error(path, "Bonds between two polymer chains (e.g. disulfides) are not supported by AlphaFold 3; "
                        "bonds must involve a ligand.")
    key = frozenset(map(tuple, atoms))
    if key in seen:
        rep.error(path, f"This bond repeats bond {seen[key] + 1}; list each bond once.")
    else:
        seen[key] = k


# -- AlphaFold Server dialect -------------------------------------------------------------------


def validate_server(doc: Any) -> list[Problem]:
    """Return every problem of an AlphaFold Server file (a list of jobs)."""
    if not isinstance(doc, list):
        return [Problem("", f"An AlphaFold Server file must be a list of jobs, found {kind_of(doc)}.")]
    problems: list[Problem] = []
    if not doc:
        problems.append(Problem("", "The file is an empty list; it holds no jobs."))
    if len(doc) > R.SERVER_MAX_JOBS:
        problems.append(Problem("", f"The file holds {len(doc)} jobs; AlphaFold Server accepts at most "
                                    f"{R.SERVER_MAX_JOBS} per file (a local AlphaFold 3 runs them all).", "warning"))
    for i, job in enumerate(doc):
        problems.extend(validate_server_job(job, f"[{i}]"))
    return problems


def validate_server_job(job: Any, base: str) -> list[Problem]:
    """Return every problem of one AlphaFold Server job as AF3's converter would see it."""
    rep = _Report()
    if not isinstance(job, dict):
        rep.error(base, f"Each job must be a JSON object, found {kind_of(job)}.")
        return rep.problems
    if job.get("dialect") == R.AF3_DIALECT:
        rep.error(join(base, "dialect"), "This is an alphafold3-format job inside a list; an alphafold3 file holds "
                                         "one job object without the surrounding [ ].")
        return rep.problems
    _unknown_keys(rep, job, R.SERVER_TOP_KEYS, base, "in an AlphaFold Server job")
    _check_server_dialect(rep, job, base)
    _check_name(rep, job, base)
    _check_seeds(rep, job.get("modelSeeds"), "modelSeeds" in job, join(base, "modelSeeds"), server=True)
    seqs = job.get("sequences")
    spath = join(base, "sequences")
    if not isinstance(seqs, list) or not seqs:
        found = "nothing" if "sequences" not in job else kind_of(seqs)
        rep.error(spath, f"The job needs a non-empty \"sequences\" list, found {found}.")
        return rep.problems
    for i, entity in enumerate(seqs):
        _check_server_entity(rep, entity, join(spath, i))
    return rep.problems


def _check_server_dialect(rep: _Report, job: dict, base: str) -> None:
    """Check the optional dialect/version pair of a server job."""
    has_d, has_v = "dialect" in job, "version" in job
    if has_d != has_v:
        missing = "version" if has_d else "dialect"
        rep.error(join(base, missing), 'Give both "dialect": "alphafoldserver" and "version": 1, or neither.')
        return
    if has_d and job["dialect"] != R.SERVER_DIALECT:
        rep.error(join(base, "dialect"), f'The dialect is {show(job["dialect"])}; a job in a list must be '
                                         '"alphafoldserver".')
    if has_v and not (is_int(job["version"]) and job["version"] == 1):
        rep.error(join(base, "version"), f"The version is {show(job['version'])}; AlphaFold Server jobs are version 1.")


def _check_server_entity(rep: _Report, entity: Any, path: str) -> None:
    """Check one server-dialect entity (proteinChain, dnaSequence, rnaSequence, ligand, ion)."""
    if not isinstance(entity, dict) or len(entity) != 1:
        rep.error(path, "Each entity must be an object with exactly one of proteinChain, dnaSequence, rnaSequence, "
                        "ligand or ion.")
        return
    (kind, body), = entity.items()
    epath = join(path, str(kind))
    if kind not in R.SERVER_ENTITY_KEYS:
        af3 = {"protein": "proteinChain", "rna": "rnaSequence", "dna": "dnaSequence"}.get(kind)
        hint = f" In the AlphaFold Server format write {show(af3)}." if af3 else ""
        rep.error(epath, f"Unknown entity type {show(kind)}; use proteinChain, dnaSequence, rnaSequence, ligand or "
                         f"ion.{hint}")
        return
    if not isinstance(body, dict):
        rep.error(epath, f"The {kind} entry must be an object, found {kind_of(body)}.")
        return
    _unknown_keys(rep, body, R.SERVER_ENTITY_KEYS[kind], epath, f"in a {kind} entry")
    _check_count(rep, body, epath)
    if kind in R.SERVER_TO_AF3_TYPE:
        _check_server_polymer(rep, R.SERVER_TO_AF3_TYPE[kind], body, epath)
    else:
        _check_server_ligand(rep, kind, body.get(kind), kind in body, join(epath, kind))


def _check_count(rep: _Report, body: dict, path: str) -> None:
    """Check the number of copies."""
    count = body.get("count", 1)
    if not is_int(count) or count < 1:
        rep.error(join(path, "count"), f"count is the number of copies and must be a whole number of at least 1, "
                                       f"found {show(count)}.")


def _check_server_polymer(rep: _Report, kind: str, body: dict, path: str) -> None:
    """Check a server protein/DNA/RNA chain, including what run_alphafold.py cannot convert."""
    seq = body.get("sequence")
    length = None
    if not isinstance(seq, str) or not seq:
        rep.error(join(path, "sequence"), f"The {R.POLYMER_NOUN[kind]} needs a non-empty sequence (text).")
    else:
        length = len(seq)
        _check_alphabet(rep, kind, seq, join(path, "sequence"))
    for key in ("glycans", "maxTemplateDate", "unpairedMsa", "templates"):
        if key in body:
            rep.error(join(path, key), f"{key} is accepted by the AlphaFold Server website, but a local AlphaFold 3 "
                                       "cannot convert it from this format; remove it or write the job in the "
                                       "alphafold3 format.")
    if "useStructureTemplate" in body and not isinstance(body["useStructureTemplate"], bool):
        rep.error(join(path, "useStructureTemplate"), "useStructureTemplate must be true or false.")
    _check_server_mods(rep, kind, body, path, length)


def _check_server_mods(rep: _Report, kind: str, body: dict, path: str, length: int | None) -> None:
    """Check server-dialect modifications (CCD_-prefixed codes, 1-based positions)."""
    mods = body.get("modifications")
    if mods is None:
        return
    mpath = join(path, "modifications")
    if not isinstance(mods, list):
        rep.error(mpath, f"Modifications must be a list, found {kind_of(mods)}.")
        return
    code_key, pos_key = R.MOD_KEYS[kind]
    seen: dict[int, int] = {}
    for j, mod in enumerate(mods):
        p = join(mpath, j)
        if not isinstance(mod, dict):
            rep.error(p, f"Each modification must be an object with {code_key} and {pos_key}.")
            continue
        if "position" in mod and pos_key not in mod:
            rep.error(join(p, "position"), f"Write {show(pos_key)} instead of 'position'; AlphaFold 3's converter "
                                           "only reads that name.")
        else:
            _unknown_keys(rep, mod, (code_key, pos_key), p, "in a modification")
        code = mod.get(code_key)
        bare = code[4:] if isinstance(code, str) and code.startswith("CCD_") else code
        _check_mod_code(rep, bare, code_key in mod, join(p, code_key), False)
        if isinstance(bare, str) and R.CCD_CODE.fullmatch(bare) and bare not in R.SERVER_MODS[kind]:
            rep.warn(join(p, code_key), f"{show(bare)} is not on AlphaFold Server's list of allowed modifications; "
                                        "the website will refuse it (a local AlphaFold 3 accepts it).")
        if pos_key in mod or "position" not in mod:
            _check_mod_position(rep, mod.get(pos_key), pos_key in mod, join(p, pos_key), length, kind, seen, j)


def _check_server_ligand(rep: _Report, kind: str, code: Any, present: bool, path: str) -> None:
    """Check a server ligand ("CCD_ATP") or ion ("MG")."""
    if not present or not isinstance(code, str) or not code:
        example = '"CCD_ATP"' if kind == "ligand" else '"MG"'
        rep.error(path, f"The {kind} needs its code as text, e.g. {example}.")
        return
    if kind == "ion" and code.startswith("CCD_"):
        rep.error(path, f"Ions are written without the CCD_ prefix: {show(code[4:])}, not {show(code)}.")
        return
    bare = code.removeprefix("CCD_")
    if not R.CCD_CODE.fullmatch(bare):
        rep.error(path, f"{show(code)} is not a CCD code; CCD codes are 1 to 5 upper-case letters or digits.")
        return
    allowed = R.SERVER_LIGANDS if kind == "ligand" else R.SERVER_IONS
    if bare not in allowed:
        rep.warn(path, f"{show(bare)} is not on AlphaFold Server's {kind} list; the website will refuse it "
                       "(a local AlphaFold 3 accepts any CCD code).")
