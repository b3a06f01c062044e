"""The Bootstrap Icons the app uses, cut from the full vendored set in vendor/bootstrap-icons/.

    .venv/bin/python -m dash_app.icon_subset      # after using an icon not used before

The full set is ~2,000 icons: 134 KB of font and 15 KB of CSS on every cold page load, for the ~80
the pages use. This reads every `bi-*` class named in dash_app/ and assets/ (icon names are always
written whole, never built from parts: tests/dash_app/test_icon_subset.py fails on an icon missing
from the subset), and writes assets/vendor/02-bootstrap-icons.min.css with those rules only and
assets/vendor/fonts/ with those glyphs only. The CSS names the fonts with their content hash as
the query, so browsers may cache them for good (dash_app/compression.py).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "vendor" / "bootstrap-icons"
CSS_OUT = ROOT / "assets" / "vendor" / "02-bootstrap-icons.min.css"
FONTS_OUT = ROOT / "assets" / "vendor" / "fonts"
_USED = re.compile(r"(?<![\w-])bi-[a-z0-9]+(?:-[a-z0-9]+)*")
_RULE = re.compile(r'\.(bi-[a-z0-9-]+)::before\{content:"\\([0-9a-f]+)"\}')
_FONT_URL = re.compile(r'url\("fonts/bootstrap-icons\.(woff2?)\?[0-9a-f]+"\)')


def used_icons(roots: tuple[Path, ...] = (ROOT / "dash_app", ROOT / "assets")) -> set[str]:
    """Return every `bi-*` class named in the app's code, scripts and styles (the vendored CSS aside)."""
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix in (".py", ".js", ".css") and "vendor" not in path.parts:
                found |= set(_USED.findall(path.read_text(errors="replace")))
    return found


def full_set(css: str) -> dict[str, int]:
    """Return icon class -> code point of the full Bootstrap Icons CSS."""
    return {name: int(code, 16) for name, code in _RULE.findall(css)}


def build(used: set[str]) -> tuple[str, dict[str, bytes]]:
    """Return the subset CSS and fonts (file name -> bytes) for the icons `used`.

    Raises:
        ValueError: a name that is not a Bootstrap icon.
    """
    from fontTools import subset

    css = (SOURCE / "bootstrap-icons.min.css").read_text()
    icons = full_set(css)
    unknown = sorted(used - set(icons))
    if unknown:
        raise ValueError(f"not Bootstrap icons: {', '.join(unknown)}")
    fonts = {}
    for flavor in ("woff2", "woff"):
        options = subset.Options()
        options.flavor = flavor
        options.notdef_outline = True
        font = subset.load_font(str(SOURCE / f"bootstrap-icons.{flavor}"), options)
        cutter = subset.Subsetter(options)
        cutter.populate(unicodes=sorted({icons[n] for n in used}))
        cutter.subset(font)
        out = FONTS_OUT / f"bootstrap-icons.{flavor}.tmp"
        subset.save_font(font, str(out), options)
        fonts[f"bootstrap-icons.{flavor}"] = out.read_bytes()
        out.unlink()
    digest = hashlib.md5(fonts["bootstrap-icons.woff2"], usedforsecurity=False).hexdigest()
    head = css[:_RULE.search(css).start()]
    head = _FONT_URL.sub(lambda m: f'url("fonts/bootstrap-icons.{m.group(1)}?{digest}")', head)
    rules = "".join(f'.{n}::before{{content:"\\{icons[n]:x}"}}' for n in sorted(used))
    return head + rules + "\n", fonts


def main() -> None:
    used = used_icons()
    FONTS_OUT.mkdir(parents=True, exist_ok=True)
    css, fonts = build(used)
    CSS_OUT.write_text(css)
    for name, data in fonts.items():
        (FONTS_OUT / name).write_bytes(data)
    print(f"{len(used)} icons: {CSS_OUT.stat().st_size:,} B of CSS, "
          + ", ".join(f"{name} {len(data):,} B" for name, data in fonts.items()))


if __name__ == "__main__":
    main()
