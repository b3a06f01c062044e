"""`python -m services.af3sim --json_path=... --output_dir=...`: FoldDeck's AlphaFold 3 SIMULATOR."""
from __future__ import annotations

import sys

from services.af3sim.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
