"""Boltz-2 (MIT): YAML input, `boltz predict`, predictions/<name>/ with npz arrays and affinity_<name>.json."""
