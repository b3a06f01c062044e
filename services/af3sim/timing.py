"""How long each AF3 stage takes on a real lab server, in seconds at --speed=1 (reference §8.2).

Figures follow the user reports cited in the reference: Jackhmmer minutes per protein chain
(466-990 s on full databases), template search ~15 s, featurisation ~8-14 s at ~650 tokens,
inference 1024 tokens ~62 s and 2048 ~275 s, plus JIT compilation on the first seed.
"""
from __future__ import annotations

# Jackhmmer base seconds per database for a ~250-residue query (4 run in parallel; the slowest wins).
JACKHMMER_S = {
    "uniref90_2022_05.fa": 190.0,
    "mgy_clusters_2022_05.fa": 260.0,
    "bfd-first_non_consensus_sequences.fasta": 45.0,
    "uniprot_all_2021_04.fa": 330.0,
}
# Nhmmer base seconds per RNA database (3 in parallel).
NHMMER_S = {
    "nt_rna_2023_02_23_clust_seq_id_90_cov_80_rep_seq.fasta": 240.0,
    "rfam_14_9_clust_seq_id_90_cov_80_rep_seq.fasta": 15.0,
    "rnacentral_active_seq_id_90_cov_80_linclust.fasta": 120.0,
}
TEMPLATE_SEARCH_S = 12.0  # hmmbuild + hmmsearch against pdb_seqres, ~15 s in user logs
DEDUP_S = 0.08  # MSA deduplication is near-instant
STARTUP_S = 3.0  # JAX backend start-up
PARAMS_CHECK_S = 9.0  # reading ~1 GB of weights from disk
JIT_COMPILE_S = 30.0  # first seed of a bucket compiles the model (why the first seed is slower)
# Loading a compiled model from --jax_compilation_cache_dir: deserialising the executable, a few seconds
# (JAX's persistent cache skips XLA's optimisation passes, the bulk of a compile).
JIT_CACHE_LOAD_S = 3.0
INFERENCE_1024_S = 62.0  # one seed, 5 samples, bucket 1024
INFERENCE_EXPONENT = 2.15  # 1024 -> 62 s and 2048 -> 275 s fit a power law with this exponent
EXTRACT_PER_SAMPLE_S = 0.07
WRITE_PER_SAMPLE_S = 0.15


def jackhmmer_seconds(db: str, length: int) -> float:
    """Return one Jackhmmer run's seconds for a query of `length` residues."""
    return JACKHMMER_S[db] * (0.6 + length / 600.0)


def nhmmer_seconds(db: str, length: int) -> float:
    """Return one Nhmmer run's seconds for an RNA query of `length` bases."""
    return NHMMER_S[db] * (0.6 + length / 400.0)


def featurise_seconds(tokens: int) -> float:
    """Return featurisation seconds for one seed (about 8 s at 650 tokens)."""
    return 0.8 + tokens / 90.0


def inference_seconds(bucket: int, samples: int, recycles: int, first: bool) -> float:
    """Return model-inference seconds for one seed at `bucket` tokens (`first`: with a full compile)."""
    base = INFERENCE_1024_S * (bucket / 1024.0) ** INFERENCE_EXPONENT
    scale = (0.7 + 0.3 * samples / 5.0) * (recycles + 1) / 11.0
    return base * scale + (JIT_COMPILE_S if first else 0.0)
