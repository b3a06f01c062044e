"""The builder (`/builder`): the form's state and rules (pure Python), and the pieces its page renders.

Modules, each one noun:
    state       the form state dict and the pure edits made to it (cards, seeds, bonds, touched fields)
    af3_json    form state <-> AlphaFold 3 JSON, FASTA records -> cards
    problems    evaluate a form: validation, size, where each problem shows
    ids         the page's component ids, written once
    entity_card one card per entity (protein, RNA, DNA, ligand, ion)
    cards       the page's other cards: job and seeds, start from, bonds, the live panel
    feedback    problems and size rendered for the live panel and under each field
    prefill     structural edits and pre-filling from FASTA, a JSON file or one of the user's jobs
    submit      queue the form's job

`dash_app.pages.builder` registers the page and holds its callbacks. This package re-exports the
pure model (state, af3_json, problems) so `from dash_app import builder as B; B.evaluate(...)` reads as
one API; the web pieces are imported from their modules.
"""
from __future__ import annotations

from dash_app.builder.af3_json import entities_from_fasta, from_af3, from_af3_as_written, to_af3
from dash_app.builder.problems import (
    Evaluation,
    Location,
    evaluate,
    form_problems,
    locate,
    problem_key,
    shown_problems,
)
from dash_app.builder.state import (
    BOND_FIELDS,
    DIALECTS,
    ENTITY_FIELDS,
    ION_CHOICES,
    KIND_LABEL,
    KINDS,
    LIGAND_CHOICES,
    MAX_COPIES,
    MAX_SEED,
    MSA_MODES,
    POLYMERS,
    TEMPLATE_MODES,
    add_entity,
    add_seed,
    apply_form,
    as_int,
    chain_ids,
    chain_lengths,
    chain_options,
    clean_sequence,
    copies_of,
    describe_issues,
    duplicate_entity,
    empty_state,
    is_blank,
    new_entity,
    remove_entity,
    residue_options,
    sequence_issues,
    split_codes,
    touch,
    touch_changes,
    update_entity,
)

__all__ = [
    "BOND_FIELDS", "DIALECTS", "ENTITY_FIELDS", "ION_CHOICES", "KINDS", "KIND_LABEL", "LIGAND_CHOICES",
    "MAX_COPIES", "MAX_SEED", "MSA_MODES", "POLYMERS", "TEMPLATE_MODES", "Evaluation", "Location", "add_entity",
    "add_seed", "apply_form", "as_int", "chain_ids", "chain_lengths", "chain_options", "clean_sequence",
    "copies_of", "describe_issues", "duplicate_entity", "empty_state", "entities_from_fasta", "evaluate",
    "form_problems", "from_af3", "from_af3_as_written", "is_blank", "locate", "new_entity", "problem_key",
    "remove_entity", "residue_options", "sequence_issues", "shown_problems", "split_codes", "to_af3", "touch",
    "touch_changes", "update_entity",
]
