"""A compact, read-only index of the whole Chemical Component Dictionary: build once, load fast, look up, search.

The index keeps, per component: code, name, type, formula, heavy-atom names and elements (CCD order,
hydrogens left out as AF3 leaves them out), leaving atoms, parent code and one-letter code, synonyms.
Each text column is one string with an offset table, so ~49,000 components cost a few string objects,
not hundreds of thousands: loading is one `marshal.loads` and a web worker stays small. Stdlib only
to load (the simulator may run on a bare Python); building from the bundled CCD needs biotite.
"""
from __future__ import annotations

import bisect
import functools
import gzip
import marshal
import os
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from services.af3.chem.cif import parse_blocks

FORMAT = 3  # bump when the packed layout changes; old cache files are then ignored
_TEXT_COLUMNS = ("code", "name", "type", "formula", "atoms", "elements", "leaving", "parent", "letter",
                 "synonyms", "search")
_FLAG_SINGLE_ATOM, _FLAG_OBSOLETE = 1, 2
_WORD = re.compile(r"[a-z0-9]+")
_HYDROGEN = ("H", "D")


@dataclass(frozen=True)
class Component:
    """One CCD component as FoldDeck needs it."""

    code: str
    name: str
    type: str
    formula: str
    atoms: tuple[str, ...]  # heavy atoms, CCD order
    elements: tuple[str, ...]
    leaving: tuple[str, ...]  # heavy atoms flagged as leaving atoms
    parent: str = ""  # mon_nstd_parent_comp_id ('' for none)
    one_letter: str = ""  # one-letter code of polymer components ('' for none)
    synonyms: str = ""
    single_atom: bool = False  # exactly one atom, hydrogens included: an ion
    obsolete: bool = False

    @property
    def heavy_atoms(self) -> int:
        """Return the number of non-hydrogen atoms of the free component."""
        return len(self.atoms)

    @property
    def polymer_type(self) -> str:
        """Return "protein", "rna", "dna" for a residue that can sit in that polymer, else ""."""
        return polymer_type_of(self.type)


def polymer_type_of(ccd_type: str) -> str:
    """Map a `_chem_comp.type` such as "L-PEPTIDE LINKING" or "RNA linking" to protein / rna / dna / ""."""
    t = ccd_type.lower()
    if "peptide" in t and "like" not in t:
        return "protein"
    if "rna" in t:
        return "rna"
    if "dna" in t:
        return "dna"
    return ""


def _first(values: list[str] | None) -> str:
    """Return a CIF column's first value with CIF's null markers ('?', '.') as ''."""
    v = (values or [""])[0]
    return "" if v in ("?", ".") else v


def component_from_cif(code: str, data: dict[str, list[str]]) -> Component:
    """Build a Component from one parsed CCD block ({`_chem_comp.name`: [...], ...})."""
    names = data.get("_chem_comp_atom.atom_id") or []
    elems = data.get("_chem_comp_atom.type_symbol") or [""] * len(names)
    flags = data.get("_chem_comp_atom.pdbx_leaving_atom_flag") or ["N"] * len(names)
    return _component(code, _first(data.get("_chem_comp.name")), _first(data.get("_chem_comp.type")),
                      _first(data.get("_chem_comp.formula")), names, elems, flags,
                      _first(data.get("_chem_comp.mon_nstd_parent_comp_id")),
                      _first(data.get("_chem_comp.one_letter_code")), _first(data.get("_chem_comp.pdbx_synonyms")),
                      _first(data.get("_chem_comp.pdbx_release_status")) == "OBS")


def _component(code: str, name: str, ctype: str, formula: str, names: list[str], elems: list[str],
               flags: list[str], parent: str, letter: str, synonyms: str, obsolete: bool) -> Component:
    """Assemble a Component from column values, keeping heavy atoms only."""
    heavy = [(n, e.upper()) for n, e in zip(names, elems, strict=False) if e.upper() not in _HYDROGEN]
    leaving = tuple(n for n, e, f in zip(names, elems, flags, strict=False)
                    if f == "Y" and e.upper() not in _HYDROGEN)
    return Component(code, " ".join(name.split()), ctype, formula, tuple(n for n, _ in heavy),
                     tuple(e for _, e in heavy), leaving, parent, letter if len(letter) == 1 else "",
                     " ".join(synonyms.split()), len(names) == 1, obsolete)


# -- building -------------------------------------------------------------------------------


def components_from_cif_file(path: Path, dates: list[str] | None = None) -> Iterator[Component]:
    """Yield every component of a `components.cif` (plain or gzip), streaming; note the latest
    `pdbx_modified_date` (the CCD's date) in `dates`."""
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        latest = ""
        for code, data in parse_blocks(fh):
            latest = max(latest, _first(data.get("_chem_comp.pdbx_modified_date")))
            yield component_from_cif(code, data)
        if dates is not None:
            dates.append(latest)


def biotite_components() -> tuple[list[Component], str]:
    """Return every component of the CCD bundled with biotite (its `components.bcif`) and the CCD's date."""
    from biotite.structure.io.pdbx.bcif import BinaryCIFFile

    block = BinaryCIFFile.read(str(biotite_ccd_file())).block
    date = max(block["chem_comp"]["pdbx_modified_date"].as_array().tolist(), default="")
    return list(_biotite_rows(block)), date


def _biotite_rows(block) -> Iterator[Component]:  # noqa: ANN001 (a biotite BinaryCIFBlock)
    """Yield the components of a biotite CCD block."""
    cc, at = block["chem_comp"], block["chem_comp_atom"]
    col = {k: cc[k].as_array().tolist() for k in ("id", "name", "type", "formula", "mon_nstd_parent_comp_id",
                                                   "one_letter_code", "pdbx_synonyms", "pdbx_release_status")}
    comp_ids = at["comp_id"].as_array().tolist()
    atom_ids = at["atom_id"].as_array().tolist()
    elems = at["type_symbol"].as_array().tolist()
    flags = at["pdbx_leaving_atom_flag"].as_array().tolist()
    starts: dict[str, tuple[int, int]] = {}
    begin = 0
    for i in range(1, len(comp_ids) + 1):
        if i == len(comp_ids) or comp_ids[i] != comp_ids[begin]:
            starts[comp_ids[begin]] = (begin, i)
            begin = i
    clean = {"?": "", ".": ""}
    for r, code in enumerate(col["id"]):
        a, b = starts.get(code, (0, 0))
        yield _component(code, clean.get(col["name"][r], col["name"][r]), clean.get(col["type"][r], col["type"][r]),
                         clean.get(col["formula"][r], col["formula"][r]), atom_ids[a:b], elems[a:b], flags[a:b],
                         clean.get(col["mon_nstd_parent_comp_id"][r], col["mon_nstd_parent_comp_id"][r]),
                         clean.get(col["one_letter_code"][r], col["one_letter_code"][r]),
                         clean.get(col["pdbx_synonyms"][r], col["pdbx_synonyms"][r]),
                         col["pdbx_release_status"][r] == "OBS")


@functools.cache  # validation asks on every call; the installed package does not move while we run
def biotite_ccd_file() -> Path:
    """Return biotite's bundled `components.bcif` without importing biotite (which pulls in numpy)."""
    import importlib.util

    spec = importlib.util.find_spec("biotite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("biotite is not installed, so the bundled CCD is missing "
                                "(pip install -r requirements.txt, or set FOLDDECK_AF3_CCD_PATH)")
    return Path(next(iter(spec.submodule_search_locations))) / "structure" / "info" / "components.bcif"


def biotite_version() -> str:
    """Return the installed biotite version ('' if unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("biotite")
    except PackageNotFoundError:
        return ""


def pack(components: Iterable[Component], source: str, date: str) -> bytes:
    """Return the packed index of `components` (sorted by code) for `CcdIndex.from_bytes`."""
    rows = sorted(components, key=lambda c: c.code)
    columns = {name: [] for name in _TEXT_COLUMNS}
    flags = array("B")
    for c in rows:
        for name, value in (("code", c.code), ("name", c.name), ("type", c.type), ("formula", c.formula),
                            ("atoms", " ".join(c.atoms)), ("elements", " ".join(c.elements)),
                            ("leaving", " ".join(c.leaving)), ("parent", c.parent), ("letter", c.one_letter),
                            ("synonyms", c.synonyms), ("search", _search_text(c))):
            columns[name].append(value)
        flags.append(_FLAG_SINGLE_ATOM * c.single_atom | _FLAG_OBSOLETE * c.obsolete)
    packed: dict[str, object] = {"format": FORMAT, "source": source, "date": date, "flags": flags.tobytes()}
    packed.update(_postings(columns["search"]))
    # Rows in the order search breaks ties by (obsolete, name length, row), so a big hit set is ranked by walking it.
    packed["by_rank"] = array("I", sorted(range(len(rows)), key=lambda r: (rows[r].obsolete, len(columns["name"][r]),
                                                                           r))).tobytes()
    for name, values in columns.items():
        offsets = array("I", [0])
        for v in values:
            offsets.append(offsets[-1] + len(v) + 1)
        packed[name] = "\n".join(values) + "\n"
        packed[f"{name}@"] = offsets.tobytes()
    return marshal.dumps(packed)


def _postings(texts: list[str]) -> dict[str, object]:
    """Return the word index of the search texts: sorted words, and per word the rows holding it anywhere
    ("post") and the rows where it starts a name or synonym ("lead")."""
    anywhere: dict[str, list[int]] = {}
    lead: dict[str, list[int]] = {}
    for row, text in enumerate(texts):
        for word in dict.fromkeys(_WORD.findall(text)):
            anywhere.setdefault(word, []).append(row)
        for name in text.split("\t"):
            first = _WORD.match(name)
            if first and (not lead.get(first.group()) or lead[first.group()][-1] != row):
                lead.setdefault(first.group(), []).append(row)
    vocab = sorted(anywhere)
    out: dict[str, object] = {"vocab": "\n".join(vocab) + "\n"}
    for key, table in (("post", anywhere), ("lead", lead)):
        rows, offsets = array("I"), array("I", [0])
        for word in vocab:
            rows.extend(table.get(word, ()))
            offsets.append(len(rows))
        out[key], out[f"{key}@"] = rows.tobytes(), offsets.tobytes()
    return out


def _search_text(c: Component) -> str:
    """Return the lower-case text a name search looks in: name, then synonyms (';'-separated)."""
    return "\t".join([c.name.lower()] + [s.strip().lower() for s in c.synonyms.split(";") if s.strip()])


# -- the loaded index -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One search result."""

    code: str
    name: str
    formula: str
    heavy_atoms: int
    type: str


class CcdIndex:
    """The loaded index: `get(code)`, `code in index`, `search(text)`; read-only and thread-safe."""

    def __init__(self, packed: dict) -> None:
        if packed.get("format") != FORMAT:
            raise ValueError("CCD index of another format")
        self.source: str = packed["source"]
        self.date: str = packed["date"]
        self._blob = {name: packed[name] for name in _TEXT_COLUMNS}
        self._off = {name: array("I", packed[f"{name}@"]) for name in _TEXT_COLUMNS}
        self._flags = packed["flags"]
        codes = self._blob["code"].split("\n")[:-1]
        self._codes = codes
        self._row = {code: i for i, code in enumerate(codes)}
        self._vocab = packed["vocab"].split("\n")[:-1]  # sorted words of all names and synonyms
        self._post = {key: (array("I", packed[key]), array("I", packed[f"{key}@"])) for key in ("post", "lead")}
        self._by_rank = array("I", packed["by_rank"])

    @classmethod
    def from_bytes(cls, data: bytes) -> CcdIndex:
        """Load an index packed by `pack`."""
        return cls(marshal.loads(data))

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._row

    def _cell(self, name: str, row: int) -> str:
        off = self._off[name]
        return self._blob[name][off[row]:off[row + 1] - 1]

    def get(self, code: str) -> Component | None:
        """Return the component `code`, or None when the CCD has no such code."""
        row = self._row.get(code)
        return None if row is None else self._component(row)

    def _component(self, row: int) -> Component:
        cell = self._cell
        flags = self._flags[row]
        split = lambda s: tuple(s.split())  # noqa: E731
        return Component(self._codes[row], cell("name", row), cell("type", row), cell("formula", row),
                         split(cell("atoms", row)), split(cell("elements", row)), split(cell("leaving", row)),
                         cell("parent", row), cell("letter", row), cell("synonyms", row),
                         bool(flags & _FLAG_SINGLE_ATOM), bool(flags & _FLAG_OBSOLETE))

    def heavy_atoms(self, code: str) -> int | None:
        """Return the heavy-atom count of `code` (None if unknown) without building a Component."""
        row = self._row.get(code)
        if row is None:
            return None
        atoms = self._cell("atoms", row)
        return atoms.count(" ") + 1 if atoms else 0

    def _hit(self, row: int) -> Hit:
        atoms = self._cell("atoms", row)
        return Hit(self._codes[row], self._cell("name", row), self._cell("formula", row),
                   atoms.count(" ") + 1 if atoms else 0, self._cell("type", row))

    def single_atom_codes(self) -> list[str]:
        """Return every single-atom component (ions, noble gases, ...), by code."""
        return [c for i, c in enumerate(self._codes) if self._flags[i] & _FLAG_SINGLE_ATOM]

    def search(self, text: str, limit: int = 20, ions: bool = False) -> list[Hit]:
        """Return components matching `text`, best first: exact code, name (or synonym), name prefix, code
        prefix, all words starting words of the name, all words inside the name.

        Args:
            text: a code ("HEM") or words of the name ("heme", "adenosine triphosphate").
            limit: most hits returned.
            ions: only single-atom components.
        """
        query = " ".join(text.split())
        if not query:
            return []
        ranked: dict[int, tuple] = {}
        self._rank_codes(query.upper(), ranked)
        self._rank_names(query.lower(), ranked, limit + len(ranked), ions)
        rows = [r for r in ranked if not ions or self._flags[r] & _FLAG_SINGLE_ATOM]
        rows.sort(key=lambda r: ranked[r])
        return [self._hit(r) for r in rows[:limit]]

    def _rank_codes(self, code: str, ranked: dict[int, tuple]) -> None:
        """Rank the exact code first and codes starting with the query in tier 3."""
        if code in self._row:
            ranked[self._row[code]] = (0, 0, 0, 0, self._row[code])
        if " " in code:
            return
        lo = bisect.bisect_left(self._codes, code)
        hi = bisect.bisect_left(self._codes, code + "\x7f")
        for row in range(lo, min(hi, lo + 500)):
            ranked.setdefault(row, (3, 0, self._obsolete(row), len(self._codes[row]), row))

    def _obsolete(self, row: int) -> int:
        return 1 if self._flags[row] & _FLAG_OBSOLETE else 0

    def _words_with(self, word: str) -> tuple[range, list[int]]:
        """Return the vocabulary positions of words starting with `word` (a range) and of words that contain
        it elsewhere."""
        vocab = self._vocab
        lo = bisect.bisect_left(vocab, word)
        starting = range(lo, bisect.bisect_left(vocab, word + "\x7f", lo))
        inside = [i for i, v in enumerate(vocab) if word in v and not v.startswith(word)] if len(word) >= 3 else []
        return starting, inside

    def _rows_of(self, key: str, positions) -> set[int]:  # noqa: ANN001 (range or list of vocabulary positions)
        """Return the rows of the postings `key` ("post" or "lead") of the given vocabulary positions."""
        rows, offsets = self._post[key]
        out: set[int] = set()
        for i in positions:
            out.update(rows[offsets[i]:offsets[i + 1]])
        return out

    def _rank_names(self, query: str, ranked: dict[int, tuple], keep: int, ions: bool) -> None:
        """Rank components whose name or synonyms hold every word of the query: 1 a name equals the query,
        2 a name starts with it, 4 every word starts a word of the name, 5 some word only sits inside one."""
        words = _WORD.findall(query)
        if not words or (len(query) < 3 and len(words) == 1 and not ions):
            return  # one or two letters: codes only (ions excepted: few, and "ch" should find chloride)
        every: set[int] | None = None
        at_start: set[int] | None = None
        for word in words:
            starting, inside = self._words_with(word)
            starts = self._rows_of("post", starting)
            rows = starts | self._rows_of("post", inside)
            every = rows if every is None else every & rows
            at_start = starts if at_start is None else at_start & starts
        if ions:
            every = {r for r in every if self._flags[r] & _FLAG_SINGLE_ATOM}
        leading = self._rows_of("lead", self._words_with(words[0])[0]) & every
        blob, off = self._blob["search"], self._off["search"]
        phrase = " ".join(query.split())
        candidates = []
        for row in leading:  # few: rows whose name or a synonym starts with the first word
            tier, in_synonym = self._phrase_tier(blob[off[row]:off[row + 1] - 1], phrase, 4 if row in at_start else 5)
            candidates.append((tier, in_synonym, *self._base_rank(row)))
        # The many others rank by (tier, obsolete, name length, row): only the best `keep` of each tier are needed.
        for tier, rows in ((4, (every & at_start) - leading), (5, every - at_start - leading)):
            candidates += [(tier, 0, *self._base_rank(row)) for row in self._best(rows, keep)]
        for rank in sorted(candidates)[:keep]:
            if ranked.get(rank[-1], (99,)) > rank:
                ranked[rank[-1]] = rank

    def _base_rank(self, row: int) -> tuple[int, int, int]:
        """Return (obsolete, name length, row): the order within a tier."""
        name_off = self._off["name"]
        return self._obsolete(row), name_off[row + 1] - name_off[row], row

    def _best(self, rows: set[int], keep: int) -> list[int]:
        """Return the `keep` best rows of a set by (obsolete, name length, row).

        A large set is walked in the global order until `keep` members turn up (about keep × all / len(rows)
        steps); a small one is sorted.
        """
        if len(rows) * 20 < len(self._codes):
            return sorted(rows, key=self._base_rank)[:keep]
        out = []
        for row in self._by_rank:
            if row in rows:
                out.append(row)
                if len(out) == keep:
                    break
        return out

    @staticmethod
    def _phrase_tier(text: str, phrase: str, tier: int) -> tuple[int, int]:
        """Return (1 or 2, in synonym) when a name or synonym equals or starts with `phrase`, else (tier, 0)."""
        best = (tier, 0)
        for i, name in enumerate(text.split("\t")):
            if name.startswith(phrase):
                best = min(best, (1 if name == phrase else 2, 0 if i == 0 else 1))
        return best


def index_file_key(path: Path) -> str:
    """Return a string that changes whenever the CCD file at `path` changes (for the cache name)."""
    st = path.stat()
    return f"{FORMAT}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
