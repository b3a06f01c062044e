"""Job names as AlphaFold 3 turns them into folders, safe storage names, and AF3's chain-id scheme."""
from __future__ import annotations

import re
import unicodedata

# AF3 >= 3.0.2 `Input.sanitised_name()`: spaces become '_', then everything outside this set is dropped.
_AF3_DROP = re.compile(r"[^A-Za-z0-9_.-]")
# Storage names stay well below every filesystem's 255-byte limit, leaving room for suffixes.
_SAFE_MAX_CHARS = 120


def sanitised_name(name: str) -> str:
    """Return the output-directory name AF3 >= 3.0.2 derives from `name` ('' if nothing is left)."""
    return _AF3_DROP.sub("", name.replace(" ", "_"))


def safe_filename(name: str, fallback: str = "job") -> str:
    """Return a file name for storing `name`: no separators, no traversal, no control characters.

    Unicode letters are folded to ASCII where possible ("Protéine" -> "Proteine"), the AF3 rule is
    applied, leading dots/dashes are removed (hidden files, option-like names), and an empty result
    becomes `fallback`.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = sanitised_name(folded).lstrip(".-")[:_SAFE_MAX_CHARS].rstrip(".")
    return cleaned or fallback


def int_id_to_str_id(k: int) -> str:
    """Return AF3's chain id for the k-th chain (1 -> A, 26 -> Z, 27 -> AA, 28 -> BA, 53 -> AB)."""
    if k <= 0:
        raise ValueError(f"chain numbers start at 1, got {k}")
    # "Reverse spreadsheet" order, as alphafold3.structure.mmcif.int_id_to_str_id: least significant first.
    k -= 1
    letters = []
    while k >= 0:
        letters.append(chr(ord("A") + k % 26))
        k = k // 26 - 1
    return "".join(letters)


def str_id_to_int_id(chain_id: str) -> int:
    """Return the chain number for an AF3 chain id (inverse of `int_id_to_str_id`)."""
    k = 0
    for ch in reversed(chain_id):
        k = k * 26 + (ord(ch) - ord("A") + 1)
    return k
