"""The fonts charts are drawn with, and whether they can draw a text at all.

Matplotlib (3.6 and later) takes each glyph from the first font of the family list that has it.
The list names only installed families (for a missing one matplotlib logs a complaint on every
text and falls back to its default): Noto Sans CJK first for a CJK language, so that its text
gets that language's glyph forms (the same character is drawn differently in Chinese and
Japanese), else DejaVu Sans first, with Noto Sans CJK after it for names written in CJK. A
character that no listed font has is drawn as a box, with a warning: callers ask `can_draw` first
and choose other words.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

LATIN_FAMILY = "DejaVu Sans"  # ships with matplotlib, so it is always there
CJK_FAMILIES: Mapping[str, str] = {  # Discord locale → its Noto Sans CJK (fonts-noto-cjk)
    "zh-CN": "Noto Sans CJK SC",
    "zh-TW": "Noto Sans CJK TC",
    "ja": "Noto Sans CJK JP",
    "ko": "Noto Sans CJK KR",
}
WEIGHTS = ("normal", "bold")  # what the charts use; a character must be in both


@dataclass(frozen=True)
class ChartFonts:
    """The families to draw with, in order, and every character one of them can draw."""

    families: tuple[str, ...]
    covered: frozenset[int]

    def can_draw(self, text: str) -> bool:
        return all(ord(character) in self.covered or character == "\n" for character in text)

    def drawable_part(self, text: str) -> str:
        """`text` without the characters no font has (the emoji in a name, say)."""
        return "".join(character for character in text if ord(character) in self.covered)

    def measure(self, *, size: float, dpi: float) -> Callable[[str], float]:
        """A ruler: how wide a (drawable) text is, in pixels, drawn at `size` points."""
        # Measured as Agg draws it: hinting makes small text a few per cent wider than its outline.
        figure = Figure(dpi=dpi)
        FigureCanvasAgg(figure)
        label = figure.text(0, 0, "", size=size, fontfamily=list(self.families), parse_math=False)

        def width(text: str) -> float:
            label.set_text(text)
            return float(label.get_window_extent().width)

        return width


@functools.cache
def fonts_for(language_code: str) -> ChartFonts:
    """The fonts for text in this language (a Discord locale code), among those installed."""
    installed = set(font_manager.get_font_names())
    preferred = CJK_FAMILIES.get(language_code)
    order = [preferred] if preferred else []
    order += [LATIN_FAMILY, *CJK_FAMILIES.values()]
    families = tuple(family for family in dict.fromkeys(order) if family in installed)
    return ChartFonts(families, frozenset().union(*(_characters(f) for f in families)))


def _characters(family: str) -> frozenset[int]:
    found = [
        font_manager.findfont(
            font_manager.FontProperties(family=family, weight=weight), fallback_to_default=False
        )
        for weight in WEIGHTS
    ]
    charmaps = [frozenset(font_manager.get_font(path).get_charmap()) for path in found]
    return frozenset.intersection(*charmaps)
