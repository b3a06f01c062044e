"""AlphaFold Server dialect rules: a list of jobs, CCD_-prefixed codes, what a local AF3 cannot convert."""
from __future__ import annotations

from typing import Any

from services.af3 import rules as R
from services.af3.checks.document import _check_name, _check_seeds
from services.af3.checks.entities import _check_alphabet
from services.af3.checks.mods_bonds import _check_mod_code, _check_mod_position
from services.af3.checks.report import _Report, _unknown_keys, unknown_code_message
from services.af3.problems import Problem, is_int, join, kind_of, show

# Copies in one job, all entities together, checked before the job is expanded into one chain id per copy
# (a 107-byte request with count 10,000,000 once held a web worker 11.7 s at 2.1 GB). Every copy is at
# least one token and AlphaFold 3 fits about 5,000 on one 80 GB GPU: twice that runs nowhere.
MAX_COPIES = 10_000


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
    from services.af3.chem.ccd import try_ccd

    rep = _Report(ccd=try_ccd())
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
    copies = 0
    for i, entity in enumerate(seqs):
        copies += _check_server_entity(rep, entity, join(spath, i), copies)
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


def _check_server_entity(rep: _Report, entity: Any, path: str, copies_before: int = 0) -> int:
    """Check one server-dialect entity (proteinChain, dnaSequence, rnaSequence, ligand, ion); return its copies."""
    if not isinstance(entity, dict) or len(entity) != 1:
        rep.error(path, "Each entity must be an object with exactly one of proteinChain, dnaSequence, rnaSequence, "
                        "ligand or ion.")
        return 0
    (kind, body), = entity.items()
    epath = join(path, str(kind))
    if kind not in R.SERVER_ENTITY_KEYS:
        af3 = {"protein": "proteinChain", "rna": "rnaSequence", "dna": "dnaSequence"}.get(kind)
        hint = f" In the AlphaFold Server format write {show(af3)}." if af3 else ""
        rep.error(epath, f"Unknown entity type {show(kind)}; use proteinChain, dnaSequence, rnaSequence, ligand or "
                         f"ion.{hint}")
        return 0
    if not isinstance(body, dict):
        rep.error(epath, f"The {kind} entry must be an object, found {kind_of(body)}.")
        return 0
    _unknown_keys(rep, body, R.SERVER_ENTITY_KEYS[kind], epath, f"in a {kind} entry")
    copies = _check_count(rep, body, epath, copies_before)
    if kind in R.SERVER_TO_AF3_TYPE:
        _check_server_polymer(rep, R.SERVER_TO_AF3_TYPE[kind], body, epath)
    else:
        _check_server_ligand(rep, kind, body.get(kind), kind in body, join(epath, kind))
    return copies


def _check_count(rep: _Report, body: dict, path: str, copies_before: int = 0) -> int:
    """Check the number of copies, and that the job's copies so far stay within MAX_COPIES; return the count."""
    count = body.get("count", 1)
    if not is_int(count) or count < 1:
        rep.error(join(path, "count"), f"count is the number of copies and must be a whole number of at least 1, "
                                       f"found {show(count)}.")
        return 0
    if copies_before + count > MAX_COPIES:
        so_far = f" (with the {copies_before:,} before it)" if copies_before else ""
        rep.error(join(path, "count"), f"count is {count:,} copies{so_far}; one job holds at most {MAX_COPIES:,} "
                                       f"copies in all. Every copy is at least one token, and AlphaFold 3 fits about "
                                       f"5,000 tokens on one 80 GB GPU.")
    return count


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
        _check_mod_code(rep, bare, code_key in mod, join(p, code_key), False, kind)
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
    if rep.unknown_code(bare):
        rep.error(path, unknown_code_message(rep, bare, "ligand"))
    elif bare not in allowed:
        rep.warn(path, f"{show(bare)} is not on AlphaFold Server's {kind} list; the website will refuse it "
                       "(a local AlphaFold 3 accepts any CCD code).")
