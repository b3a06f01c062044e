"""`python -m services.af3sim --json_path=... --output_dir=...`: FoldDeck's AlphaFold 3 SIMULATOR."""
from __future__ import annotations

import os
import sys

# One thread for numpy's BLAS, set before numpy loads: the simulator shares a small box with the
# web app, and its matrices are small enough that extra threads would only take cores from it.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from services.af3sim.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
