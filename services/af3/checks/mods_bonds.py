"""Modification and bond rules: PTM / base-modification codes and positions, bondedAtomPairs."""
from __future__ import annotations

from typing import Any

from services.af3 import rules as R
from services.af3.checks.report import _Report, _unknown_keys, unknown_code_message
from services.af3.problems import is_int, join, kind_of, show


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
        _check_mod_code(rep, mod.get(code_key), code_key in mod, join(mpath, code_key), has_user_ccd, kind)
        _check_mod_position(rep, mod.get(pos_key), pos_key in mod, join(mpath, pos_key), length, kind, seen, j)


def _check_mod_code(rep: _Report, code: Any, present: bool, path: str, has_user_ccd: bool, kind: str = "") -> None:
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
    elif kind and rep.unknown_code(code):
        rep.error(path, unknown_code_message(rep, code, "modification"))
    elif kind:
        _check_mod_polymer_type(rep, code, kind, path)


def _check_mod_polymer_type(rep: _Report, code: str, kind: str, path: str) -> None:
    """Require a modification to be a residue of the chain's polymer type (SEP in a protein, PSU in RNA)."""
    comp = rep.component(code)
    if comp is None or comp.polymer_type == kind:
        return
    what = f"a {comp.type} component" if comp.type else "not a polymer residue"
    noun = _RESIDUE_NOUN[kind]
    rep.error(path, f"{show(code)} ({comp.name or 'no name'}) is {what}, not {noun}; a {R.POLYMER_NOUN[kind]} "
                    f"modification must be {noun} from the CCD (e.g. {_EXAMPLE_MODS[kind]}). Put a ligand in its own "
                    "ligand entity instead.")


_RESIDUE_NOUN = {"protein": "an amino-acid residue", "rna": "an RNA nucleotide", "dna": "a DNA nucleotide"}
_EXAMPLE_MODS = {"protein": "SEP, HYP, MLY", "rna": "PSU, 5MC, A2M", "dna": "5CM, 6MA, 8OG"}


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
    elif not length or 1 <= residue <= length:
        _check_atom_name(rep, chain_id, residue, name, join(path, 2))
    return (chain_id, residue, name)


def _check_atom_name(rep: _Report, chain_id: str, residue: int, name: str, path: str) -> None:
    """Require the atom name to exist (as a heavy atom) in the component at that residue (CCD or userCCD)."""
    code = _residue_code(rep, chain_id, residue)
    comp = rep.component(code) if code else None
    if comp is None or name in comp.atoms:
        return
    shown = ", ".join(comp.atoms[:12]) + (", …" if len(comp.atoms) > 12 else "")
    rep.error(path, f"{code} (chain {chain_id}, residue {residue}) has no heavy atom named {show(name)}; its atoms "
                    f"are {shown}. AlphaFold 3 stops on a bond to an atom the component lacks.")


def _residue_code(rep: _Report, chain_id: str, residue: int) -> str | None:
    """Return the component code at a 1-based residue of a chain (modifications applied, last one wins)."""
    from services.af3.chem.ccd import PROTEIN_ONE_TO_THREE

    kind, body = rep.bodies.get(chain_id, ("", {}))
    if kind == "ligand":
        codes = body.get("ccdCodes")
        ok = isinstance(codes, list) and len(codes) >= residue and isinstance(codes[residue - 1], str)
        return codes[residue - 1] if ok else None
    if kind not in R.MOD_KEYS:
        return None
    code_key, pos_key = R.MOD_KEYS[kind]
    mods = body.get("modifications")
    found = [m.get(code_key) for m in mods if isinstance(m, dict) and m.get(pos_key) == residue] \
        if isinstance(mods, list) else []
    if found and isinstance(found[-1], str):
        return found[-1]
    seq = body.get("sequence")
    letter = seq[residue - 1] if isinstance(seq, str) and len(seq) >= residue else ""
    if kind == "protein":
        return PROTEIN_ONE_TO_THREE.get(letter)
    if letter and letter in R.ALPHABETS[kind]:
        return letter if kind == "rna" else "D" + letter
    return None


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
