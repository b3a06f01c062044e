"""Stand-ins for engines that cannot run here (no GPU, no weights), as `services.af3sim` is for AF3.

Each reads the engine's own input file (the one FoldDeck's writer made), prints the engine's
stage lines and writes the engine's own output layout and file formats, so the worker, the real
readers and the comparison are exercised end to end:
    python -m services.engines.sims boltz predict <input.yaml> --out_dir <output>
    python -m services.engines.sims chai fold <input.fasta> <output>
    python -m services.engines.sims protenix predict --input <input.json> --out_dir <output>
    python -m services.engines.sims openfold3 predict --query_json <query.json> --output_dir <output>
"""
