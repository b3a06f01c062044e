"""The screen pages (issue 26): paste SMILES next to a protein, submit once, read the screen's table."""
from __future__ import annotations

from services import screens
from tests.conftest import dash_post
from tests.dash_app.test_second_user import callback_body

NEW, ONE = "screens", "screen"  # page_id prefixes of dash_app/pages/screens.py and screen.py
PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVV"
TWENTY = "\n".join(f"{'C' * (k + 1)}O alcohol{k + 1}" for k in range(20))  # methanol ... a C20 alcohol


def _submit(app, client, smiles: str):
    values = {f"{NEW}-name.value": "alcohols", f"{NEW}-proteins.value": PROTEIN, f"{NEW}-cofactors.value": "MG",
              f"{NEW}-seeds.value": 1, f"{NEW}-smiles.value": smiles, f"{NEW}-terms.value": True,
              f"{NEW}-submit.n_clicks": 1, f"{NEW}-mutate-chain.value": "A"}
    return dash_post(client, callback_body(app, f"{NEW}-result.children", values, trigger=f"{NEW}-submit.n_clicks"))


def test_twenty_pasted_smiles_become_one_screen_and_its_page_lists_them(app, user_client, conn, alice):
    r = _submit(app, user_client, TWENTY)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = str(r.json["response"][f"{NEW}-result"])
    assert "20 jobs queued as screen" in body and "/screens/" in body
    (sid, name, kind, _created, counts), = screens.list_screens(conn, alice)
    assert (name, kind, counts) == ("alcohols", "ligands", {"queued": 20})
    screen = screens.get_screen(conn, alice, sid)
    assert screen.members[0].value == "CO" and screen.members[0].chain_id == "C"  # after protein A and MG on B
    values = {f"{ONE}-tick.n_intervals": 1, f"{ONE}-id.data": sid, f"{ONE}-mark.data": ""}
    rows = dash_post(user_client, callback_body(app, f"{ONE}-grid.rowData", values, trigger=f"{ONE}-tick.n_intervals"))
    data = rows.json["response"][f"{ONE}-grid"]["rowData"]
    assert len(data) == 20 and data[0]["label"] == f"[alcohol1](/jobs/{screen.members[0].job.id})"
    values[f"{ONE}-cancel.n_clicks"] = 1
    cancel = dash_post(user_client, callback_body(app, f"{ONE}-grid.rowData", values, trigger=f"{ONE}-cancel.n_clicks"))
    assert "Unfinished members cancelled." in cancel.get_data(as_text=True)
    assert screens.get_screen(conn, alice, sid).counts == {"cancelled": 20}


def test_a_bad_smiles_is_named_and_nothing_is_queued(app, user_client, conn, alice):
    r = _submit(app, user_client, "CCO ethanol\nC1CC broken")
    assert "Unable to make RDKit Mol from SMILES: C1CC" in r.get_data(as_text=True)
    assert screens.list_screens(conn, alice) == []
