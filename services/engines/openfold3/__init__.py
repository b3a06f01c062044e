"""OpenFold3 (Apache-2.0): query JSON, `run_openfold predict`, per-seed model CIF and confidence JSONs."""
