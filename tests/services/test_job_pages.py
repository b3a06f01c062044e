"""A page of jobs read as a few columns (list_job_columns) and jobs read by id (jobs_by_id): the same page,
the same scope as list_jobs."""
from __future__ import annotations

import pytest

from services import jobs
from services.people import users
from services.platform.errors import InvalidInput

AF3 = {"name": "x", "modelSeeds": [1], "dialect": "alphafold3", "version": 1,
       "sequences": [{"protein": {"id": "A", "sequence": "MKV"}}]}


@pytest.fixture
def two(conn, settings):
    alice = users.get_by_name(conn, "alice")
    bob = users.create_user(conn, "bob", "bob-password-1")
    users.accept_terms(conn, bob.id)
    for i in range(7):
        jobs.submit(conn, settings, alice, AF3, name=f"alice-{i}")
        jobs.submit(conn, settings, bob, AF3, name=f"bob-{i}")
    jobs.cancel_job(conn, alice, 1)
    return alice, bob


@pytest.mark.parametrize("kw", [{}, {"sort": "name_desc"}, {"state": "queued"}, {"search": "alice-3"},
                                {"offset": 2, "limit": 3}])
def test_columns_page_is_the_list_jobs_page(conn, two, kw):
    alice, _ = two
    full, total = jobs.list_jobs(conn, alice, **kw)
    rows, n = jobs.list_job_columns(conn, alice, ("j.id", "u.username", "j.state"), **kw)
    assert n == total and rows == [(j.id, j.owner, j.state.value) for j in full]


def test_jobs_by_id_keeps_to_the_callers_scope(conn, two):
    alice, bob = two
    admin = users.get_by_name(conn, "admin")
    bobs = [j.id for j in jobs.list_jobs(conn, bob)[0]]
    assert jobs.jobs_by_id(conn, alice, bobs) == []
    assert jobs.jobs_by_id(conn, admin, bobs) == []  # an admin sees them only with all_users, as on the page
    assert sorted(j.id for j in jobs.jobs_by_id(conn, admin, bobs, all_users=True)) == sorted(bobs)
    assert jobs.jobs_by_id(conn, bob, []) == []


def test_unknown_sort_is_refused(conn, two):
    with pytest.raises(InvalidInput, match="Unknown sort"):
        jobs.list_job_columns(conn, two[0], ("j.id",), sort="nope")
