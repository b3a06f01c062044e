"""The icon font and CSS the pages load hold every icon the app names, and only those (dash_app/icon_subset.py)."""
from __future__ import annotations

import hashlib
import re

import pytest

from dash_app import icon_subset

fontTools = pytest.importorskip("fontTools", reason="fontTools is in requirements-test.txt")
from fontTools.ttLib import TTFont  # noqa: E402


def _served_css() -> str:
    return icon_subset.CSS_OUT.read_text()


def test_every_icon_the_app_names_is_in_the_css_and_the_font():
    used = icon_subset.used_icons()
    assert "bi-speedometer2" in used and "bi-trash" in used  # the scan finds the pages' icons
    full = icon_subset.full_set((icon_subset.SOURCE / "bootstrap-icons.min.css").read_text())
    assert used <= set(full), sorted(used - set(full))
    served = icon_subset.full_set(_served_css())
    missing = sorted(used - set(served))
    assert not missing, f"run: python -m dash_app.icon_subset (missing {missing})"
    assert len(served) == len(used)  # nothing else: the point of the subset
    for flavor in ("woff2", "woff"):
        cmap = TTFont(icon_subset.FONTS_OUT / f"bootstrap-icons.{flavor}").getBestCmap()
        assert {full[n] for n in used} <= set(cmap), flavor


def test_fonts_are_named_by_their_content_hash():
    """The CSS asks for the fonts by content hash, so year-long immutable caching cannot serve a stale font."""
    digest = hashlib.md5((icon_subset.FONTS_OUT / "bootstrap-icons.woff2").read_bytes(),
                         usedforsecurity=False).hexdigest()
    assert re.findall(r"bootstrap-icons\.woff2?\?([0-9a-f]+)", _served_css()) == [digest, digest]


def test_a_name_that_is_no_icon_is_refused():
    with pytest.raises(ValueError, match="bi-no-such-icon"):
        icon_subset.build({"bi-trash", "bi-no-such-icon"})
