"""The builder page's component ids, written once (a typo is an ImportError, not a dead callback).

The ids keep the page's prefix ("builder-..."), as `page_id(__name__, ...)` gave them when they lived
in the page module. Entity-card ids are in `dash_app.builder.entity_card`.
"""
from __future__ import annotations

from dash_app.builder.state import KINDS
from dash_app.ids import page_id as P

PAGE = "dash_app.pages.builder"
STATE = P(PAGE, "state")
NAME = P(PAGE, "name")
FOLDER = P(PAGE, "folder")
SEEDS = P(PAGE, "seeds")
SEED_INPUT = P(PAGE, "seed-input")
SEED_ADD = P(PAGE, "seed-add")
SEED_RANDOM = P(PAGE, "seed-random")
SEED_DEL = "builder-seed-del"
CARDS = P(PAGE, "cards")
ADD = {kind: P(PAGE, f"add-{kind}") for kind in KINDS}
BONDS = P(PAGE, "bonds")
BOND_ADD = P(PAGE, "bond-add")
BOND_DEL = "builder-bond-del"
BOND_CHAIN = "builder-bond-chain"
BOND_RES = "builder-bond-res"
BOND_ATOM = "builder-bond-atom"
BOND_PART = {"chain": BOND_CHAIN, "res": BOND_RES, "atom": BOND_ATOM}
FASTA_TEXT = P(PAGE, "fasta-text")
FASTA_UPLOAD = P(PAGE, "fasta-upload")
FASTA_APPLY = P(PAGE, "fasta-apply")
JSON_UPLOAD = P(PAGE, "json-upload")
FILES_UPLOAD = P(PAGE, "files-upload")  # the MSA / template / CCD files a loaded JSON names (issue 22)
CLONE_PICK = P(PAGE, "clone-pick")
CLONE_LOAD = P(PAGE, "clone-load")
MESSAGE = P(PAGE, "message")
DIALECT = P(PAGE, "dialect")
PREVIEW = P(PAGE, "preview")
PROBLEMS = P(PAGE, "problems")
PROBLEM = "builder-problem"
TARGETS = P(PAGE, "targets")
FOCUS_SINK = P(PAGE, "focus-sink")
SIZE = P(PAGE, "size")
SUBMIT = P(PAGE, "submit")
NOT_BEFORE = P(PAGE, "not-before")  # issue 18: optional earliest start
SEARCH_AGAIN = P(PAGE, "search-again")  # issue 16: ticked, no MSA is taken from the cache
ENGINES = P(PAGE, "engines")  # issue 29: the engines the job runs on
SUBMIT_HINT = P(PAGE, "submit-hint")
DOWNLOAD = P(PAGE, "download")
DOWNLOAD_BTN = P(PAGE, "download-btn")
TERMS_ACCEPT = P(PAGE, "terms-accept")  # the terms checkbox, as on the upload page
SUBMIT_KEY = P(PAGE, "submit-key")
SUBMIT_ERROR = P(PAGE, "submit-error")
START = P(PAGE, "start")
ERROR = P(PAGE, "error")
LOADED = P(PAGE, "loaded")
VALID = P(PAGE, "valid")
NO_PROBLEMS_YET = P(PAGE, "no-problems-yet")
