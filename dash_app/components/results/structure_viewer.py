"""The 3D model through Mol* (dash-molstar, served from the package): what to load, select and focus.

The model file is loaded by URL from the job's owner-checked file route once the sample is
chosen, so it never rides in the page itself. Colouring is done with one component per pLDDT
band (AF3's four bands, from the B-factors) or per chain, cartoon for polymers and
ball-and-stick for ligands and ions. Polymer or not is the entity's word (mmcif_atoms): a
modified residue AF3 wrote as HETATM stays in its chain's cartoon, and is drawn as sticks on it too.
"""
from __future__ import annotations

import math

from dash_molstar import MolstarViewer

from dash_app.components.results.results_plots import PLDDT_BANDS
from services.results import Token
from services.results import pae_image as pim
from services.results.mmcif_atoms import Residue

MOLSTAR_BUNDLE = "rcsb-molstar.js"  # Mol* itself: 6.5 MB, needed only where a model is shown


def defer_molstar_bundle() -> None:
    """Keep Mol*'s bundle out of every page's script tags; `LOAD_MOLSTAR_JS` fetches it on demand.

    Dash lists every registered component library in each page's index; marking the bundle
    dynamic still serves it from the package (no CDN) but only when the job page asks for it.
    """
    for entry in MolstarViewer._js_dist:
        if entry.get("relative_package_path") == MOLSTAR_BUNDLE:
            entry["dynamic"] = True


defer_molstar_bundle()

# Resolves once window.rcsbMolstar exists: the viewer may only mount after that.
LOAD_MOLSTAR_JS = """async (url) => {
    if (!url) { return window.dash_clientside.no_update; }
    if (!window.rcsbMolstar) {
        await new Promise((resolve, reject) => {
            const tag = document.createElement('script');
            tag.src = url; tag.onload = resolve; tag.onerror = () => reject(new Error('Mol* did not load'));
            document.head.appendChild(tag);
        });
    }
    return true;
}"""


VIEWER_LAYOUT = {"layoutShowControls": False, "layoutIsExpanded": False, "showSessionControls": False,
                 "showStructureSourceControls": False, "showMeasurementsControls": False,
                 "showStrucmotifSubmitControls": False, "showSuperpositionControls": False,
                 "showQuickStylesControls": False, "showTrajectoryControls": False, "showImportControls": False,
                 "showExportControls": False}


def viewer(id_: str) -> MolstarViewer:
    """Return an empty viewer; `structure_data` fills it when the sample is chosen."""
    return MolstarViewer(id=id_, layout=VIEWER_LAYOUT, style={"width": "100%", "height": "460px"},
                         className="fd-molstar")


# The dicts below are what dash_molstar.utils.molstar_helper builds (get_targets, create_component,
# get_selection, get_focus, parse_url); written out because importing that module reads its
# parameter file through a deprecated importlib call at import time.


def _targets(residues: list[tuple[str, int]]) -> list[dict]:
    """Return Mol* targets (auth chain + residue numbers) for (chain, number) pairs, chains in order."""
    by_chain: dict[str, list[int]] = {}
    for chain, number in residues:
        numbers = by_chain.setdefault(chain, [])
        if not numbers or numbers[-1] != number:
            numbers.append(number)
    return [{"chains": [{"name": chain, "auth_name": chain,
                         "residues": [{"name": "", "index": n, "number": n, "ins_code": "", "atoms": []}
                                      for n in sorted(set(numbers))]}], "auth": True}
            for chain, numbers in by_chain.items()]


def _rep(kind: str, colour: str | None = None, theme: str = "uniform") -> dict:
    rep = {"type": kind, "color": theme}
    if colour:
        rep["colorParams"] = {"value": int(colour.lstrip("#"), 16)}
    return rep


def _component(label: str, targets: list[dict], rep: dict) -> dict:
    return {"label": label, "targets": targets, "representation": [rep]}


def components(residues: list[Residue], colour_by: str = "plddt") -> list[dict]:
    """Return the Mol* components: per pLDDT band (or per chain), polymers as cartoon, ligands as sticks.

    Modified residues are in the cartoon (their chain stays whole) and get sticks as well.
    """
    out = []
    polymer = [r for r in residues if r.polymer]
    ligand = [r for r in residues if not r.polymer or r.modified]
    if colour_by == "chain":
        for group, kind, label in ((polymer, "cartoon", "polymers"), (ligand, "ball-and-stick", "ligands and ions")):
            if group:
                theme = "chain-id" if kind == "cartoon" else "element-symbol"
                out.append(_component(label, _targets([(r.chain, r.number) for r in group]),
                                               _rep(kind, None, theme)))
        return out
    for low, high, colour, label in PLDDT_BANDS:
        for group, kind in ((polymer, "cartoon"), (ligand, "ball-and-stick")):
            picked = [(r.chain, r.number) for r in group
                      if low <= sum(r.plddts) / len(r.plddts) < (high if high < 100 else 101)]
            if picked:
                out.append(_component(f"pLDDT {label} ({kind})", _targets(picked), _rep(kind, colour)))
    return out


def structure_data(url: str, residues: list[Residue], colour_by: str = "plddt") -> dict:
    """Return the viewer's `data`: the model by URL (mmCIF), drawn only through our components."""
    return {"type": "url", "urlfor": "mol", "data": url, "format": "mmcif", "preset": {"kind": "empty"},
            "component": components(residues, colour_by)}


def token_map(tokens: list[Token], pae_block: int = 1) -> dict:
    """Return the compact token map the linked views and the PAE hover need in the browser.

    chains: [chain, first token]; numbers: residue number per token; labels: "A LYS 94" per
    token; palette/step/block: how to read a PAE pixel's colour back as Å.
    """
    chains, numbers = [], []
    for i, t in enumerate(tokens):
        if not chains or chains[-1][0] != t.chain:
            chains.append([t.chain, i])
        numbers.append(t.number)
    return {"chains": chains, "numbers": numbers, "n": len(tokens), "labels": [t.label for t in tokens],
            "palette": pim.PALETTE.ravel().tolist(), "step": pim.STEP, "block": pae_block}


def _chain_of(tmap: dict, index: int) -> str:
    chain = tmap["chains"][0][0]
    for c, start in tmap["chains"]:
        if start > index:
            break
        chain = c
    return chain


def residues_in(tmap: dict, ranges: list[tuple[float, float]]) -> list[tuple[str, int]]:
    """Return the (chain, residue number) pairs of the tokens inside the given index ranges."""
    n = tmap.get("n", 0)
    picked = []
    for lo, hi in ranges:
        lo, hi = min(lo, hi), max(lo, hi)
        start, stop = math.ceil(lo), math.floor(hi)  # tokens whose centre lies in the box
        if start > stop:
            start = stop = round((lo + hi) / 2)
        start, stop = max(0, start), min(n - 1, stop)
        picked += [(_chain_of(tmap, i), tmap["numbers"][i]) for i in range(start, stop + 1)]
    return picked


def token_of(tmap: dict, reported: dict | None) -> int | None:
    """Return the first token of the residue Mol* reports (its `focus`/`selection` prop), or None."""
    chains = (reported or {}).get("chains") or [c for t in (reported or {}).get("targets") or [] for c in t["chains"]]
    for chain in chains:
        for residue in chain.get("residues") or []:
            starts = [start for name, start in tmap.get("chains", []) if name in (chain.get("auth_name"),
                                                                                  chain.get("name"))]
            for start in starts:
                end = next((s for _, s in tmap["chains"] if s > start), tmap["n"])
                numbers = tmap["numbers"][start:end]
                if residue.get("number") in numbers:
                    return start + numbers.index(residue["number"])
    return None


def selection(tmap: dict, ranges: list[tuple[float, float]]) -> dict:
    """Return the viewer `selection` for tokens in `ranges` (empty ranges clear it)."""
    return {"targets": _targets(residues_in(tmap, ranges)), "modifier": "set"}


def focus(tmap: dict, index: int) -> dict:
    """Return the viewer `focus` on the residue of token `index`."""
    return {"targets": _targets(residues_in(tmap, [(index, index)])), "analyse": False}


def describe(residues: list[tuple[str, int]]) -> str:
    """Return 'A 10–40, B 5–20' for a set of residues (contiguous runs per chain)."""
    by_chain: dict[str, list[int]] = {}
    for chain, number in residues:
        by_chain.setdefault(chain, []).append(number)
    parts = []
    for chain, numbers in by_chain.items():
        nums = sorted(set(numbers))
        parts.append(f"{chain} {nums[0]}" if nums[0] == nums[-1] else f"{chain} {nums[0]}–{nums[-1]}")
    return ", ".join(parts)
