"""Benchmark the CCD index: build time and size, load, lookup, search p95, memory per worker, validation."""
from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.af3 import validate  # noqa: E402
from services.af3.chem import ccd  # noqa: E402
from services.af3.chem.ccd_index import CcdIndex  # noqa: E402

# What people type into the picker: names, name fragments, codes, code prefixes, common chemistry words.
QUERIES = ["heme", "HEM", "adenosine triphosphate", "ATP", "nad", "NADPH", "flavin", "fad", "glucose",
           "mannose", "n-acetylglucosamine", "NAG", "zinc", "magnesium", "chloride", "MG", "ZN", "sulfate",
           "phosphate", "glycerol", "ethanol", "acetate", "citrate", "imatinib", "STI", "biotin", "retinal",
           "chlorophyll", "coenzyme a", "acetyl coa", "s-adenosylmethionine", "SAM", "palmitic", "oleic acid",
           "cholesterol", "adenosine", "guanosine diphosphate", "GDP", "ubiquinone", "pyridoxal phosphate",
           "tetrahydrofolate", "acid", "amino", "methyl", "benzene", "PE", "A1", "7MG", "pseudouridine",
           "phosphoserine"]
AA = "ACDEFGHIKLMNPQRSTVWY"


def rss_mb() -> float:
    """Return this process's resident memory in MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def big_job(rng: random.Random) -> dict:
    """Return a 5,000-residue job: 10 proteins with PTMs, CCD ligands and ions, a userCCD-free bond."""
    seqs = [{"protein": {"id": chr(65 + i), "sequence": "C" + "".join(rng.choices(AA, k=499)),
                         "modifications": [{"ptmType": "SEP", "ptmPosition": 10}, {"ptmType": "MSE",
                                                                                     "ptmPosition": 20}]}}
            for i in range(10)]
    seqs += [{"ligand": {"id": "X", "ccdCodes": ["HEM"]}}, {"ligand": {"id": "Y", "ccdCodes": ["NAG", "NAG"]}},
             {"ligand": {"id": ["Z", "ZA"], "ccdCodes": ["MG"]}}]
    return {"dialect": "alphafold3", "version": 1, "name": "bench", "modelSeeds": [1], "sequences": seqs,
            "bondedAtomPairs": [[["A", 1, "SG"], ["X", 1, "FE"]]]}


def measure_worker_memory(index_file: Path) -> float:
    """Return the MB a fresh Python process grows by loading the index (what each web worker pays)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from pathlib import Path\n"
            "from services.af3.chem.ccd_index import CcdIndex\n"
            "rss = lambda: int(Path('/proc/self/statm').read_text().split()[1]) * 4096 / 1e6\n"
            f"before = rss(); index = CcdIndex.from_bytes(Path({str(index_file)!r}).read_bytes())\n"
            "index.search('heme')\n"
            "print(rss() - before)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        packed = ccd.build_index(ccd._source())
        build_s = time.perf_counter() - t
        index_file = Path(tmp) / "ccd.idx"
        index_file.write_bytes(packed)
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            index = CcdIndex.from_bytes(index_file.read_bytes())
            loads.append((time.perf_counter() - t) * 1000)
        worker_mb = measure_worker_memory(index_file)
    print(f"CCD: {index.source}, dated {index.date}, {len(index):,} components")
    print(f"index build (once per CCD version):   {build_s:7.1f} s")
    print(f"index size on disk:                   {len(packed) / 1e6:7.1f} MB")
    print(f"index load (median of 5):             {statistics.median(loads):7.1f} ms (< ~100)")
    codes = random.Random(0).choices(index._codes, k=20_000)
    for code in codes[:1000]:
        index.get(code)
    times = []
    for code in codes:
        t = time.perf_counter()
        index.get(code)
        times.append((time.perf_counter() - t) * 1e3)
    print(f"lookup after warm-up p50 / p95:       {statistics.median(times):7.4f} / {percentile(times, 0.95):.4f} ms"
          " (< 1)")
    searches = []
    for _ in range(3):
        for q in QUERIES:
            t = time.perf_counter()
            index.search(q, limit=30)
            searches.append((time.perf_counter() - t) * 1000)
    slowest = max(QUERIES, key=lambda q: _time(index, q))
    print(f"search p50 / p95 / max ({len(QUERIES)} queries): {statistics.median(searches):5.1f} / "
          f"{percentile(searches, 0.95):.1f} / {max(searches):.1f} ms (p95 < 30; slowest: {slowest!r})")
    print(f"resident memory the index adds to a worker: {worker_mb:5.1f} MB (< 40)")
    ccd._loaded[ccd.index_file_key(ccd._source() or ccd._biotite_file())] = index
    doc = big_job(random.Random(0))
    assert validate(doc) == [], validate(doc)[:3]
    runs = []
    for _ in range(50):
        t = time.perf_counter()
        validate(doc)
        runs.append((time.perf_counter() - t) * 1000)
    print(f"validate 5,000-residue job (PTMs, ligands, bond) p50: {statistics.median(runs):6.2f} ms (< 20)")


def _time(index: CcdIndex, query: str) -> float:
    """Return one search's time in ms."""
    t = time.perf_counter()
    index.search(query, limit=30)
    return (time.perf_counter() - t) * 1000


if __name__ == "__main__":
    main()
