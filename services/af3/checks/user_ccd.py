"""User CCD rules: `userCCD` / `userCCDPath` as AlphaFold 3 reads them at load and at featurisation.

AF3 (`folding_input.Input.from_json`, `Input.__post_init__`, `chemical_components.Ccd`): only one of
userCCD / userCCDPath; a short userCCD naming an existing file must be given as userCCDPath; every
`data_` block needs the 18 mandatory `_chem_comp*` keys; an empty userCCD string fails when the CCD is
built for featurisation; user components are keyed by their block name and override CCD entries.
"""
from __future__ import annotations

import gzip
import lzma
import re
from pathlib import Path

from services.af3 import rules as R
from services.af3.checks.report import _Report
from services.af3.chem.ccd import user_components
from services.af3.chem.cif import CifError, parse_text
from services.af3.problems import join, kind_of, show

_LOOKS_LIKE_PATH = re.compile(r"[^\s]*(?:/|\.cif|\.gz|\.xz|\.zst)[^\s]*")


def _check_user_ccd(rep: _Report, doc: dict, base: str, json_path: Path | None = None) -> bool:
    """Check `userCCD` / `userCCDPath`; return whether user-defined components are available.

    With `json_path` (the JSON file's own path) a `userCCDPath` is read as AF3 reads it (relative to that
    file, gzip / xz allowed) and checked like inline text; without it the file cannot be seen from here.
    """
    inline, path_value = doc.get("userCCD"), doc.get("userCCDPath")
    for key, value in (("userCCD", inline), ("userCCDPath", path_value)):
        if key in doc and value is not None and not isinstance(value, str):
            rep.error(join(base, key), f"{key} must be text, found {kind_of(value)}.")
    if inline and path_value:
        rep.error(join(base, "userCCDPath"), "Give the user CCD either inline (userCCD) or as a file (userCCDPath), "
                                             "not both.")
    if isinstance(path_value, str) and path_value:
        rep.need(R.FIELD_VERSION["userCCDPath"], "userCCDPath")
        rep.user_path = True
        if json_path is not None and not inline:
            _check_user_ccd_file(rep, path_value, json_path, join(base, "userCCDPath"))
    if inline == "" and not path_value:
        rep.error(join(base, "userCCD"), "userCCD is an empty string; AlphaFold 3 stops on it when it builds the CCD "
                                         "(\"User CCD cannot be an empty string\"). Remove the field or write null.")
    if isinstance(inline, str) and inline:
        _check_user_ccd_text(rep, inline, join(base, "userCCD"))
    return bool(inline or path_value)


def read_user_ccd_file(value: str, json_path: Path) -> str | None:
    """Return the text of a userCCDPath file read as AF3 reads it (relative to the JSON file; gzip, xz), or
    None for zstd, which AF3 reads but the standard library cannot.

    Raises:
        OSError, UnicodeDecodeError, EOFError, lzma.LZMAError: the file is missing or unreadable.
    """
    file = Path(value).expanduser()
    if not file.is_absolute():
        file = (json_path.parent / file).resolve()
    raw = file.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    elif raw[:4] == b"\x28\xb5\x2f\xfd":
        return None
    return raw.decode("utf-8")


def _check_user_ccd_file(rep: _Report, value: str, json_path: Path, path: str) -> None:
    """Read the userCCDPath file as AF3 does and check its text like inline userCCD."""
    file = Path(value).expanduser()
    file = file if file.is_absolute() else (json_path.parent / file).resolve()
    try:
        text = read_user_ccd_file(value, json_path)
        if text is None:
            return  # zstd: leave the components unjudged
    except FileNotFoundError:
        rep.error(path, f"userCCDPath {show(value)} does not exist (looked for {file}); AlphaFold 3 reads a relative "
                        "path next to the JSON file and stops when the file is missing.")
        return
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError, gzip.BadGzipFile) as exc:
        rep.error(path, f"userCCDPath {show(value)} cannot be read as text: {exc}.")
        return
    rep.user_path = False  # every component the job may use is now known
    _check_user_ccd_text(rep, text, path)


def _check_user_ccd_text(rep: _Report, text: str, path: str) -> None:
    """Check the inline user CCD: a path given inline, parseable blocks, AF3's mandatory keys, atoms."""
    if len(text) < 256 and "data_" not in text and _LOOKS_LIKE_PATH.fullmatch(text.strip()):
        rep.error(path, f"userCCD holds {show(text)}, which looks like a file path; AlphaFold 3 wants a path in "
                        "\"userCCDPath\" (version 3 or later) and the mmCIF text itself in \"userCCD\".")
        return
    rep.user_ids = set(re.findall(r"(?m)^data_(\S+)", text))
    try:
        blocks = parse_text(text)
    except CifError as exc:
        rep.error(path, f"The user CCD cannot be read as mmCIF: {exc}.")
        return
    if not blocks:
        rep.error(path, "The user CCD text has no 'data_<ID>' block; paste CCD mmCIF components.")
        return
    for name, data in blocks.items():
        _check_block(rep, name, data, path)
    rep.user = user_components(text)


def _check_block(rep: _Report, name: str, data: dict[str, list[str]], path: str) -> None:
    """Check one user component the way AF3 does at load (keys) and at featurisation (atoms, id)."""
    missing = [k for k in R.USER_CCD_REQUIRED if k not in data]
    if missing:
        rep.error(path, f"Component {name} in the user CCD lacks {len(missing)} required field(s) AlphaFold 3 "
                        f"checks for, e.g. {', '.join(missing[:3])}.")
        return
    atoms = data["_chem_comp_atom.atom_id"]
    if not atoms or atoms == ["?"]:
        rep.error(path, f"Component {name} in the user CCD defines no atoms; AlphaFold 3 cannot build it.")
    elif len(set(atoms)) != len(atoms):
        dup = next(a for a in atoms if atoms.count(a) > 1)
        rep.warn(path, f"Component {name} in the user CCD names two atoms {show(dup)}; bonds and the predicted "
                       "structure refer to atoms by name, so make them unique.")
    for axis in "xyz":
        values = data[f"_chem_comp_atom.pdbx_model_Cartn_{axis}_ideal"]
        if any(not _is_number(v) for v in values):
            rep.warn(path, f"Component {name} in the user CCD has a non-numeric pdbx_model_Cartn_{axis}_ideal; "
                           "AlphaFold 3 builds the ligand's reference conformer from these ideal coordinates.")
            break
    _check_chemistry(rep, name, data, path)
    comp_id = (data.get("_chem_comp.id") or [name])[0]
    if comp_id != name:
        rep.warn(path, f"Component data_{name} says _chem_comp.id {show(comp_id)}; AlphaFold 3 names it after the "
                       f"data_ block, so refer to it as {show(name)}.")


def _check_chemistry(rep: _Report, name: str, data: dict[str, list[str]], path: str) -> None:
    """Warn about what AF3's RDKit conversion of a component (`rdkit_utils.mol_from_ccd_cif`) cannot read:
    bonds naming atoms the component lacks, unknown bond orders or aromatic flags, non-integer charges."""
    atoms = set(data["_chem_comp_atom.atom_id"])
    ends = data["_chem_comp_bond.atom_id_1"] + data["_chem_comp_bond.atom_id_2"]
    stray = next((a for a in ends if a not in atoms and a not in ("?", ".")), None)
    problems = []
    if stray is not None:
        problems.append(f"its bond table names atom {show(stray)}, which it does not define")
    orders = {o.upper() for o in data["_chem_comp_bond.value_order"]} - {"SING", "DOUB", "TRIP", "QUAD", "AROM",
                                                                         "?", "."}
    if orders:
        problems.append(f"bond order {show(sorted(orders)[0])} is not SING, DOUB, TRIP or AROM")
    if {f.upper() for f in data["_chem_comp_bond.pdbx_aromatic_flag"]} - {"Y", "N", "?", "."}:
        problems.append("pdbx_aromatic_flag must be Y or N")
    if any(not re.fullmatch(r"[+-]?\d+", c) for c in data["_chem_comp_atom.charge"]):
        problems.append("an atom charge is not a whole number")
    if problems:
        rep.warn(path, f"Component {name} in the user CCD: {'; '.join(problems)}. AlphaFold 3 builds the ligand's "
                       "chemistry from these tables with RDKit and may fail or fall back to a poorer reference.")


def _is_number(value: str) -> bool:
    """Tell whether a CIF value is a number."""
    try:
        float(value)
    except ValueError:
        return False
    return True
