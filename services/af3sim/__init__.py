"""FoldDeck's AlphaFold 3 SIMULATOR: behaves like `run_alphafold.py` without a GPU or model weights.

Run as `python -m services.af3sim --json_path=IN.json --output_dir=OUT [--speed=F] [--fail-at=STAGE]`.
It loads inputs with AF3's own checks (`loader`), runs AF3's stages in order (`run`, one `context`
per run: flags, `console`, pacer) through the data pipeline (`pipeline`), featurisation and inference
(`inference`) and the output folder (`outputs`), at a pace from `timing`, with synthetic,
self-consistent numbers (`structure`, `confidences`, `writer`). Standard library plus numpy (vectorised confidences).
"""
from __future__ import annotations
