"""What people do next with a result: open it in PyMOL or ChimeraX, coloured as AF3 colours it.

Each script loads the sample's model (saved next to the script), colours it by AF3's four pLDDT
bands (the B-factor column holds pLDDT) and names one selection per interface found in
`contact_probs` (services.results.interfaces), so the contacts are one click away.
"""
from __future__ import annotations

from services.results.interfaces import Interface

# AF3's pLDDT bands: (lowest pLDDT, colour), highest first
BANDS = ((90.0, "0053d6"), (70.0, "65cbf3"), (50.0, "ffdb13"), (0.0, "ff7d45"))


def _runs(numbers: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return [(a, b) for a, b in runs]


def pymol_script(model_name: str, interfaces: list[Interface] | tuple[Interface, ...]) -> str:
    """Return a PyMOL .pml: load the model, colour by pLDDT band, one selection per interface."""
    obj = "model"
    out = [f"load {model_name}, {obj}", "hide everything", "show cartoon", "show sticks, hetatm and not solvent",
           f"color 0x{BANDS[-1][1]}, {obj}"]
    out += [f"color 0x{colour}, {obj} and b > {low:g}" for low, colour in reversed(BANDS[:-1])]
    for face in interfaces:
        parts = [f"(chain {chain} and resi {'+'.join(f'{a}-{b}' if a != b else str(a) for a, b in _runs(nums))})"
                 for chain, nums in ((face.chain_a, face.residues_a), (face.chain_b, face.residues_b))]
        out.append(f"select iface_{face.chain_a}_{face.chain_b}, {' or '.join(parts)}")
    return "\n".join(out + ["deselect", "orient", ""])


def chimerax_script(model_name: str, interfaces: list[Interface] | tuple[Interface, ...]) -> str:
    """Return a ChimeraX .cxc: open the model, colour by pLDDT band, one named selection per interface."""
    out = [f"open {model_name}", "cartoon", f"color #1 #{BANDS[-1][1]}"]
    out += [f"color #1 & @@bfactor>{low:g} #{colour}" for low, colour in reversed(BANDS[:-1])]
    for face in interfaces:
        spec = " ".join(f"/{chain}:{','.join(f'{a}-{b}' if a != b else str(a) for a, b in _runs(nums))}"
                        for chain, nums in ((face.chain_a, face.residues_a), (face.chain_b, face.residues_b)))
        out.append(f"name frozen iface_{face.chain_a}_{face.chain_b} {spec}")
    return "\n".join(out + ["view", ""])
