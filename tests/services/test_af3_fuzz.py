"""Any JSON value, and any mutation of a valid document, yields problems and never an exception."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from services.af3 import Problem, estimate_size, load_jobs, validate

SAMPLES = [json.loads(p.read_text()) for p in sorted((Path(__file__).resolve().parents[2] / "data" /
                                                      "samples").glob("*.json"))]
KEYS = ["id", "sequence", "protein", "ligand", "ccdCodes", "smiles", "modelSeeds", "name", "version", "dialect",
        "sequences", "modifications", "ptmType", "ptmPosition", "templates", "unpairedMsa", "pairedMsa",
        "bondedAtomPairs", "count", "proteinChain", "ion", "queryIndices", "templateIndices", "mmcif"]
scalars = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=6)
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=4), kids, max_size=4), max_leaves=25)


def _check(doc):
    problems = validate(doc)
    assert all(isinstance(p, Problem) and isinstance(p.path, str) and p.message for p in problems)
    for job in load_jobs(doc):
        if job.valid:
            assert job.af3 is not None and not [p for p in validate(job.af3) if p.is_error]
            estimate_size(job.af3)
        else:
            assert job.af3 is None


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(doc):
    _check(doc)


def _paths(node, prefix=()):
    """Yield the path of every node in a JSON tree."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_samples(draw):
    """Take a valid sample and replace, delete or duplicate one node somewhere in it."""
    doc = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    path = draw(st.sampled_from(list(_paths(doc))))
    if not path:
        return draw(json_values)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
    if action == "replace":
        parent[path[-1]] = draw(json_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[path[-1]]))
    else:
        parent[draw(st.sampled_from(KEYS))] = copy.deepcopy(parent[path[-1]])
    return doc


@settings(max_examples=400, deadline=None)
@given(mutated_samples())
def test_mutated_valid_documents_never_raise(doc):
    _check(doc)
