"""The builder's ligand and ion pickers: whole-CCD search, option wording, shortcuts, ion wording."""
from dash_app.builder import entity_card as EC


def _page():
    from dash_app.pages import builder as page  # importable once an app has registered its pages

    return page


def test_search_lists_the_whole_ccd_with_formula_and_heavy_atoms(app):
    page = _page()
    options = page.search_ccd("heme", "ligand", None)
    assert options[0]["value"] == "HEM"
    assert options[0]["label"] == "HEM — PROTOPORPHYRIN IX CONTAINING FE · C34 H32 Fe N4 O4 · 43 heavy atoms"
    assert {o["search"] for o in options} == {"heme"}  # the browser's own filter keeps every server hit
    assert page.search_ccd("adenosine triphosphate", "ligand", None)[0]["value"] == "ATP"
    ions = page.search_ccd("zinc", "ion", None)
    assert ions[0]["value"] == "ZN" and all("· 1 heavy atoms" in o["label"] for o in ions)
    assert page.search_ccd("", "ligand", None) == []


def test_cards_offer_server_shortcuts_and_ion_wording():
    ligand = str(EC.entity_card({"uid": 3, "kind": "ligand", "ccd": "", "smiles": "", "copies": 1}, 1))
    ion = str(EC.entity_card({"uid": 4, "kind": "ion", "ccd": "", "smiles": "", "copies": 1}, 2))
    assert len(EC.SHORTCUTS["ligand"]) == 19 and len(EC.SHORTCUTS["ion"]) == 10
    assert "'code': 'HEM'" in ligand and "Search the CCD by name or code" in ligand and "CCD: " in ligand
    assert "Search ions" in ion and "Ion CCD code" in ion and "e.g. MG" in ion and "'code': 'ZN'" in ion
    assert "e.g. MG" not in ligand and "glycans" not in ion
