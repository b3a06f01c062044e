"""Chai-1 (Apache-2.0): FASTA plus a restraints CSV, `chai-lab fold`, pred.model_idx_N.cif and scores npz."""
