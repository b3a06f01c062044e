"""AlphaFold 3 input: parse, validate, convert, build, name and size fold jobs (no web imports)."""
from __future__ import annotations

from services.af3.chem.ccd import COMMON_LIGANDS, get_ccd, heavy_atoms_in_smiles
from services.af3.convert import af3_to_server, server_to_af3
from services.af3.fasta import detect_type, parse_fasta
from services.af3.jobs import JobDoc, load_jobs
from services.af3.loading import load_json_text
from services.af3.model import Bond, Dna, FoldJob, Ligand, Modification, Protein, Rna, Template
from services.af3.names import int_id_to_str_id, safe_filename, sanitised_name
from services.af3.problems import Problem, Severity, has_errors
from services.af3.size import BUCKETS, SizeEstimate, bucket_for, count_tokens, estimate_size
from services.af3.validate import validate

__all__ = [
    "BUCKETS", "COMMON_LIGANDS", "Bond", "Dna", "FoldJob", "JobDoc", "Ligand", "Modification",
    "Problem", "Protein", "Rna", "Severity", "SizeEstimate", "Template", "af3_to_server", "bucket_for",
    "count_tokens", "detect_type", "estimate_size", "get_ccd", "has_errors", "heavy_atoms_in_smiles",
    "int_id_to_str_id",
    "load_jobs", "load_json_text", "parse_fasta", "safe_filename", "sanitised_name", "server_to_af3", "validate",
]
