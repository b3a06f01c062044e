"""User CCD rules: `userCCD` / `userCCDPath` as AlphaFold 3 reads them."""
from __future__ import annotations

import re

from services.af3 import rules as R
from services.af3.checks.report import _Report
from services.af3.problems import join, kind_of


def _check_user_ccd(rep: _Report, doc: dict, base: str) -> bool:
    """Check `userCCD` / `userCCDPath`; return whether user-defined components are available."""
    inline, path_value = doc.get("userCCD"), doc.get("userCCDPath")
    for key, value in (("userCCD", inline), ("userCCDPath", path_value)):
        if key in doc and value is not None and not isinstance(value, str):
            rep.error(join(base, key), f"{key} must be text, found {kind_of(value)}.")
    if inline and path_value:
        rep.error(join(base, "userCCDPath"), "Give the user CCD either inline (userCCD) or as a file (userCCDPath), "
                                             "not both.")
    if isinstance(path_value, str) and path_value:
        rep.need(R.FIELD_VERSION["userCCDPath"], "userCCDPath")
    if isinstance(inline, str) and inline:
        _check_user_ccd_text(rep, inline, join(base, "userCCD"))
    return bool(inline or path_value)


def _check_user_ccd_text(rep: _Report, text: str, path: str) -> None:
    """Check that every `data_` block of a user CCD carries the keys AF3 requires."""
    blocks = re.split(r"(?m)^data_", text)[1:]
    if not blocks:
        rep.error(path, "The user CCD text has no 'data_<ID>' block; paste CCD mmCIF components.")
    for block in blocks:
        name = block.split(None, 1)[0] if block.strip() else "?"
        missing = [k for k in R.USER_CCD_REQUIRED if k not in block]
        if missing:
            rep.error(path, f"Component {name} in the user CCD lacks {len(missing)} required field(s), e.g. "
                            f"{', '.join(missing[:3])}.")
