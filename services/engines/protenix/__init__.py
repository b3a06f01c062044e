"""Protenix (Apache-2.0): AlphaFold-Server-like JSON, `protenix predict`, per-seed CIF and summary JSON."""
