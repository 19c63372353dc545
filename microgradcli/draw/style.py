"""The look shared by every renderer: colours, fonts and sizes (in pixels at 1:1)."""

from __future__ import annotations

import unicodedata

FILL = {"leaf": "#e8f1fb", "constant": "#f2f2f2", "value": "#ffffff", "output": "#e3f4e1"}
OP_FILL = "#fff3d6"
STROKE = "#4a4a4a"
EDGE = "#6b6b6b"

FONT_SIZE = 14.0  # px at 1:1: readable in a README column
OP_FONT_SIZE = 14.0
TITLE_SIZE = 14.0
CHAR_W = 0.602  # advance of a monospace glyph, in ems (DejaVu Sans Mono: 1233/2048)
PAD = 6.0  # text padding inside a record field
ROW_H = 19.0  # one row of a record: name, then data, then grad
REC_H = 3 * ROW_H  # a plain record's height
OP_RY = 13.0
OP_GAP = 18.0  # from an op's ellipse to the box it feeds (room for the arrow)
NODE_GAP = 14.0  # vertical space between boxes in a layer
LANE_GAP = 10.0  # vertical space next to a long edge's lane
MARGIN = 16.0
ARROW_LEN = 8.0
ARROW_HALF = 3.5
MONO = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"


def text_width(s: str, size: float = FONT_SIZE) -> float:
    """Width of text in a monospace font (wide East Asian characters count twice)."""
    n = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)  # integer sum
    return n * CHAR_W * size


def title_baseline(i: int) -> float:
    """The baseline of the i-th title line."""
    return MARGIN + TITLE_SIZE + i * TITLE_SIZE * 1.4
