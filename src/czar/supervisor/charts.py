"""Horizontal bar charts as inline SVG, for the run's report and the web page's timeline: one row
per worker or task, each a line of coloured pieces on a shared scale (a timeline, time stacked by
state, costs).

Pure: data in, one ``<svg>`` element out, well-formed XML with no script, style sheet or file
of its own, so that a report stays one file that opens anywhere. Every text is escaped here:
labels and hover texts come from plans and agents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from czar.core.review import ReviewState
from czar.core.states import AttemptOutcome

if TYPE_CHECKING:  # its type only: a chart is drawn from records, never reads the store
    from czar.supervisor.history import History

WIDTH = 720
ROW = 18  # px per row
BAR = 12  # px: a bar's height in its row
LABEL = 120  # px left of the bars for each row's label
NOTE = 80  # px right of the bars for each row's note
TOP = 6
AXIS = 24  # px under the rows: the ticks and their labels
KEY = 20  # px per line of the legend
LABEL_CHARS = 18
EMPTY = "nothing yet"
# Colours for keys a chart is not given one for, in turn.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")

# Characters XML 1.0 does not allow at all: a title holding one would make the page unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Piece:
    """A coloured stretch of a row, from ``start`` to ``end`` on the chart's scale."""

    start: float
    end: float
    key: str  # what it is: its colour, and its name in the legend
    title: str  # the hover text


@dataclass(frozen=True)
class Row:
    label: str
    pieces: tuple[Piece, ...]
    note: str = ""  # written after the row's last piece (a total, a cost)
    hover: str = ""  # the label's hover text (the label in full, if not given)


SPAN_COLOURS = {
    f"work {AttemptOutcome.OPEN}": "#4e79a7",
    f"work {AttemptOutcome.MERGED}": "#59a14f",
    f"work {AttemptOutcome.FAILED}": "#e15759",
    f"work {AttemptOutcome.ABANDONED}": "#bab0ac",
    f"work {AttemptOutcome.CANCELLED}": "#9c755f",
    f"review {ReviewState.OPEN}": "#b07aa1",
    f"review {ReviewState.APPROVED}": "#8cd17d",
    f"review {ReviewState.CHANGES_REQUESTED}": "#f28e2b",
    f"review {ReviewState.LOST}": "#d7b5a6",
}
TIMELINE = "timeline: workers' attempts and reviews"


def timeline_svg(history: History) -> str:
    """One row per worker, a bar per attempt or review, in seconds from the run's start."""
    rows = []
    for worker in sorted({s.worker for s in history.spans}, key=natural):
        pieces = tuple(
            Piece(
                s.start - history.start,
                s.end - history.start,
                f"{s.what} {s.outcome}",
                f"{worker}: task {s.task}, {s.what} ({s.outcome}), "
                f"{seconds(s.start - history.start)} to {seconds(s.end - history.start)}",
            )
            for s in history.spans
            if s.worker == worker
        )
        rows.append(Row(worker, pieces))
    return chart(TIMELINE, rows, colours=SPAN_COLOURS, tick=tick_seconds, length=history.end - history.start)


def seconds(value: float) -> str:
    """A duration as a person reads it: ``12.3 s``, ``4 min 05 s``, ``1 h 02 min``."""
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def tick_seconds(value: float) -> str:
    return f"{value:g} s"


def natural(name: str) -> list[int | str]:
    """Sorts ``w2`` before ``w10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def text(value: str) -> str:
    """``value`` as XML character data."""
    return escape(_NOT_XML.sub("", value))


def attribute(value: str) -> str:
    """``value`` as a quoted XML attribute."""
    return quoteattr(_NOT_XML.sub("", value))


def chart(
    title: str,
    rows: Sequence[Row],
    *,
    colours: Mapping[str, str] | None = None,
    tick: Callable[[float], str] = lambda v: f"{v:g}",
    length: float = 0.0,
) -> str:
    """The rows as one SVG: bars scaled so that ``length``, or the longest row if longer, fills
    the width; an axis whose labels ``tick`` writes; a legend of the keys shown, in the order of
    ``colours``. With nothing to draw: a chart that says so."""
    longest = max((p.end for r in rows for p in r.pieces), default=0.0)
    if not rows or longest <= 0:
        return _empty(title)
    length = max(length, longest)
    given = colours or {}
    order = list(given)
    shown = dict.fromkeys(p.key for r in rows for p in r.pieces)
    keys = sorted(shown, key=lambda k: order.index(k) if k in given else len(order))
    colour = _colours(keys, given)
    plot = WIDTH - LABEL - NOTE
    legend = _legend(keys, colour, TOP + len(rows) * ROW + AXIS)
    height = TOP + len(rows) * ROW + AXIS + _legend_height(keys) + 4
    parts = [_open(title, height)]
    for i, row in enumerate(rows):
        parts.append(_row(row, TOP + i * ROW, plot / length, colour))
    parts.append(_axis(TOP + len(rows) * ROW, length, plot, tick))
    parts.append(legend)
    parts.append("</svg>")
    return "\n".join(parts)


def nice_ticks(length: float, most: int = 6) -> list[float]:
    """Round values from 0 to ``length`` (1, 2 or 5 times a power of ten apart), at most ``most``
    and at least two for any positive length."""
    if length <= 0:
        return [0.0]
    raw = length / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.floor(length / step + 1e-9)  # 0.3 / 0.05 is 5.999...: the last tick is still 0.3
    return [round(i * step, 10) for i in range(count + 1)]


def _open(title: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label={attribute(title)} '
        f'font-family="sans-serif" font-size="11" fill="#222">\n<title>{text(title)}</title>'
    )


def _empty(title: str) -> str:
    return f'{_open(title, 28)}\n<text x="0" y="18" font-size="13" fill="#666">{EMPTY}</text>\n</svg>'


def _colours(keys: Sequence[str], given: Mapping[str, str]) -> dict[str, str]:
    spare = iter(PALETTE * (len(keys) // len(PALETTE) + 1))
    return {k: given[k] if k in given else next(spare) for k in keys}


def _row(row: Row, y: int, scale: float, colour: Mapping[str, str]) -> str:
    middle = y + ROW / 2 + 4
    label = row.label if len(row.label) <= LABEL_CHARS else row.label[: LABEL_CHARS - 1] + "…"
    hover = f"<title>{text(row.hover or row.label)}</title>"
    lines = [f'<text x="{LABEL - 6}" y="{middle:g}" text-anchor="end">{text(label)}{hover}</text>']
    for p in row.pieces:
        x = LABEL + p.start * scale
        width = max(1.0, (p.end - p.start) * scale)  # a moment still shows
        lines.append(
            f'<rect class="bar" x="{x:.1f}" y="{y + (ROW - BAR) / 2:g}" width="{width:.1f}" height="{BAR}" '
            f"fill={attribute(colour[p.key])}><title>{text(p.title)}</title></rect>"
        )
    if row.note:
        end = LABEL + max((p.end for p in row.pieces), default=0.0) * scale
        lines.append(f'<text x="{end + 4:.1f}" y="{middle:g}" fill="#555">{text(row.note)}</text>')
    return "\n".join(lines)


def _axis(y: int, length: float, plot: float, tick: Callable[[float], str]) -> str:
    lines = [f'<line x1="{LABEL}" y1="{y + 2}" x2="{LABEL + plot:g}" y2="{y + 2}" stroke="#999"/>']
    for value in nice_ticks(length):
        x = LABEL + value / length * plot
        lines.append(f'<line x1="{x:.1f}" y1="{y + 2}" x2="{x:.1f}" y2="{y + 6}" stroke="#999"/>')
        lines.append(f'<text x="{x:.1f}" y="{y + 18}" text-anchor="middle" fill="#555">{text(tick(value))}</text>')
    return "\n".join(lines)


def _legend_height(keys: Sequence[str]) -> int:
    return KEY * len(_legend_lines(keys)) if len(keys) > 1 else 0


def _legend_lines(keys: Sequence[str]) -> list[list[tuple[str, float]]]:
    """The legend's keys, placed on lines as wide as the chart: (key, x) each."""
    lines: list[list[tuple[str, float]]] = [[]]
    x = float(LABEL)
    for key in keys:
        width = 18 + 6.5 * len(key) + 14  # the swatch, the text at about 6.5 px a character, a gap
        if lines[-1] and x + width > WIDTH:
            lines.append([])
            x = float(LABEL)
        lines[-1].append((key, x))
        x += width
    return lines


def _legend(keys: Sequence[str], colour: Mapping[str, str], y: int) -> str:
    if len(keys) < 2:
        return ""  # one colour needs no key: the chart's title says what it is
    out = []
    for i, line in enumerate(_legend_lines(keys)):
        top = y + i * KEY + 4
        for key, x in line:
            out.append(
                f'<rect class="key" x="{x:.1f}" y="{top}" width="12" height="12" fill={attribute(colour[key])}/>'
                f'<text x="{x + 16:.1f}" y="{top + 10}">{text(key)}</text>'
            )
    return "\n".join(out)
