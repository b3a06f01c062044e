"""Benchmark the AF3 validator: a 5,000-residue multi-chain document and a 100-job server file."""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.af3 import load_jobs, load_json_text, validate  # noqa: E402

AA = "ACDEFGHIKLMNPQRSTVWY"


def big_af3(rng: random.Random) -> dict:
    """Return a valid AF3 job with 5,000 residues over 10 chains plus ligands and a bond."""
    seqs = [{"protein": {"id": chr(65 + i), "sequence": "".join(rng.choices(AA, k=500)),
                         "modifications": [{"ptmType": "SEP", "ptmPosition": 10}]}} for i in range(10)]
    first = seqs[0]["protein"]
    first["sequence"] = first["sequence"][:4] + "N" + first["sequence"][5:]  # the bond's ND2 needs an Asn there
    seqs.append({"ligand": {"id": "X", "ccdCodes": ["NAG", "NAG"]}})
    return {"dialect": "alphafold3", "version": 1, "name": "bench", "modelSeeds": [1, 2, 3], "sequences": seqs,
            "bondedAtomPairs": [[["A", 5, "ND2"], ["X", 1, "C1"]]]}


def server_file(rng: random.Random) -> list:
    """Return 100 server jobs of ~400 residues each."""
    return [{"name": f"job {i}", "modelSeeds": [], "sequences": [
        {"proteinChain": {"sequence": "".join(rng.choices(AA, k=300)), "count": 2,
                          "modifications": [{"ptmType": "CCD_SEP", "ptmPosition": 3}]}},
        {"dnaSequence": {"sequence": "ACGT" * 25, "count": 1}}, {"ion": {"ion": "MG", "count": 2}}]}
        for i in range(100)]


def timed(fn, repeat: int) -> float:
    """Return the best wall time in ms of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main() -> None:
    """Print the figures."""
    rng = random.Random(0)
    doc, servers = big_af3(rng), server_file(rng)
    assert validate(doc) == [] and validate(servers) == []
    text = json.dumps(servers).encode()
    print(f"validate 5,000-residue AF3 document (10 chains):  {timed(lambda: validate(doc), 50):7.2f} ms (< 20)")
    print(f"load_jobs (validate + canonical model) same doc:  {timed(lambda: load_jobs(doc), 50):7.2f} ms")
    bad = json.loads(json.dumps(doc))
    for item in bad["sequences"][:10]:
        item["protein"]["sequence"] = "B" * 500  # worst case: every residue is wrong
    print(f"worst case, every residue invalid (same size):   {timed(lambda: validate(bad), 20):7.2f} ms")
    print(f"validate 100-job server file:                     {timed(lambda: validate(servers), 10):7.2f} ms")
    print(f"parse bytes + load_jobs (convert) 100-job file:   "
          f"{timed(lambda: load_jobs(load_json_text(text)), 10):7.2f} ms (< 500), {len(text) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
