"""Screens (issue 26): one shared part (protein chains, cofactors) against a list of ligands or variants.

Modules, one noun each: `members` (reading SMILES, CCD codes, SDF records, point mutations),
`definition` (a screen's spec and its expansion into member inputs), `store` (submit, read, cancel,
retry a screen; its members are ordinary jobs), `ranking` (the ranked results table and its CSV) and
`archive` (the whole screen as one zip). The layer sits beside operations: it uses the queue and
the results, and nothing below imports it (tests/test_layers.py).
"""
from __future__ import annotations

from services.screens.definition import ScreenSpec, expand  # noqa: F401
from services.screens.store import (  # noqa: F401
    MemberRow,
    Screen,
    ScreenNotFound,
    cancel_screen,
    create_screen,
    get_screen,
    list_screens,
    retry_screen,
)
