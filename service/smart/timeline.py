"""The patient's course as an inline SVG figure, with a text alternative.

Diagnosis, end of frontline therapy, relapses and HSCT on a time axis; MRD results below on a log
axis with the 1e-3 and 1e-4 thresholds the schemes use. Shapes, not colour alone, tell the events
apart.

The figure takes the full width of the page: the time axis is laid out in percentages of the plot,
beside a fixed column for the axis labels, so text keeps its size at any width. Labels are placed
at the narrowest plot the page allows (PLOT_MIN px, a 400 px side panel): gaps between labels only
grow as the plot widens, so labels that do not touch there never touch at all. Close events stack
their labels in more rows, each tied to its marker by a leader line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from service.domain.inputs import Mrd, RelapseInputs
from service.domain.response import Response
from service.domain.thresholds import Comparator
from service.domain.words import format_mrd

PLOT_MIN = 280  # px: narrowest plot (CSS min-width of svg.timeline)
AXIS_WIDTH = 64  # px: the column of axis labels left of the plot
FONT = 13  # px, event labels
# Wider than any system sans serif's average glyph at FONT px (DejaVu digits are 0.64 em), so the
# width estimated here is never short of the drawn one.
_CHAR = 0.7 * FONT
_LINE = 15  # px between the two lines of an event label
_LANE = 2 * _LINE + 4
_GAP = 6  # px kept free between labels in one row
_MRD_HEIGHT = 100
_LOG_MIN, _LOG_MAX = -6, 0  # 1e-6 .. 1 (100 %)
THRESHOLDS: tuple[tuple[float, str], ...] = ((1e-3, "1e-3 (0.1 %)"), (1e-4, "1e-4 (0.01 %)"))
_YEAR_STEPS = (1, 2, 5, 10, 25, 50)
_YEAR_SPACE = 44  # px between year labels at PLOT_MIN ("2026" and a gap)


@dataclass(frozen=True)
class Event:
    when: date
    kind: str  # diagnosis / end_of_therapy / relapse / hsct / day0 / marrow
    label: str
    short: str  # in the figure, where space is tight


@dataclass(frozen=True)
class Timeline:
    svg: Markup  # empty when nothing is dated
    text: tuple[str, ...]  # one line per event, the figure's text alternative


def events(inputs: RelapseInputs, response: Response | None = None) -> list[Event]:
    found: list[Event] = []
    if inputs.diagnosis_date:
        found.append(Event(inputs.diagnosis_date, "diagnosis", "Diagnosis", "Diagnosis"))
    if inputs.end_of_therapy:
        found.append(
            Event(
                inputs.end_of_therapy,
                "end_of_therapy",
                "End of frontline therapy",
                "End of therapy",
            )
        )
    relapses = inputs.relapse_dates or ((inputs.relapse_date,) if inputs.relapse_date else ())
    for n, when in enumerate(relapses, start=1):
        label = f"Relapse {n}" if len(relapses) > 1 else "Relapse"
        found.append(Event(when, "relapse", label, label))
    found.extend(Event(when, "hsct", "HSCT", "HSCT") for when in inputs.hsct_dates)
    if response is not None:
        # Reinduction (risk-schemes §7): day 0 and the marrows read for days 7, 14 and 28.
        found.append(Event(response.day0.date, "day0", "Reinduction day 0", "Day 0"))
        found.extend(
            Event(m.value.date, "marrow", f"Day-{day} marrow {m.grade}", f"D{day} {m.grade}")
            for day, m in sorted(response.marrows.items())
        )
    return sorted(found, key=lambda e: e.when)


def build_timeline(inputs: RelapseInputs, response: Response | None = None) -> Timeline:
    evs = events(inputs, response)
    mrds = [(m.date, m) for m in inputs.mrd_series if m.date is not None]
    text = [f"{e.when.isoformat()}: {e.label}" for e in evs]
    text += [
        f"{m.date.isoformat() if m.date else 'undated'}: MRD {format_mrd(m)}"
        for m in inputs.mrd_series
    ]
    text.sort()
    dates = [e.when for e in evs] + [when for when, _ in mrds]
    if not dates:
        return Timeline(Markup(""), tuple(text))
    return Timeline(_svg(evs, mrds, min(dates), max(dates)), tuple(text))


@dataclass(frozen=True)
class Placed:
    """An event label as laid out: the row above the axis (0 nearest) and the text anchor."""

    event: Event
    fraction: float  # position on the time axis, 0..1 of the plot's width
    lane: int
    anchor: str  # "start" (text right of the marker) or "end"


def label_width(e: Event) -> float:
    """Estimated width in px of an event's two-line label (name, then year-month)."""
    return max(len(e.short), 7) * _CHAR


def place_labels(evs: list[Event], fractions: list[float]) -> list[Placed]:
    """Rows and anchors so that no label touches another, each in the lowest row with room.

    Checked at PLOT_MIN px: every gap is (fraction difference × width) + a constant, so it only
    grows on a wider plot. A leader line from a higher row may pass behind a lower label: labels
    are drawn over the lines with a halo, so the text stays whole.
    """
    lanes: list[list[tuple[float, float]]] = []  # occupied [left, right] px per row
    placed: list[Placed] = []
    for e, f in sorted(zip(evs, fractions, strict=True), key=lambda p: p[1]):
        x, w = f * PLOT_MIN, label_width(e)
        anchor = "start" if x + w <= PLOT_MIN else "end"
        left, right = (x, x + w) if anchor == "start" else (x - w, x)
        lane = next(
            (
                n
                for n, row in enumerate(lanes)
                if all(right + _GAP <= a or b + _GAP <= left for a, b in row)
            ),
            len(lanes),
        )
        if lane == len(lanes):
            lanes.append([])
        lanes[lane].append((left, right))
        placed.append(Placed(e, f, lane, anchor))
    return placed


def _year_step(days: int) -> int:
    per_year = PLOT_MIN * 365.25 / days
    return next((s for s in _YEAR_STEPS if s * per_year >= _YEAR_SPACE), _YEAR_STEPS[-1])


def _svg(evs: list[Event], mrds: list[tuple[date, Mrd]], first: date, last: date) -> Markup:
    span = max((last - first).days, 30)
    pad = timedelta(days=max(span // 20, 10))
    start, end = first - pad, last + pad
    total = (end - start).days

    def frac(d: date) -> float:
        return (d - start).days / total

    def pct(f: float) -> str:
        return f"{100 * f:.3f}%"

    placed = place_labels(evs, [frac(e.when) for e in evs])
    lanes = max((p.lane for p in placed), default=0) + 1
    axis_y = 4 + lanes * _LANE + 10
    mrd_top = axis_y + 62
    mrd_bottom = mrd_top + _MRD_HEIGHT
    height = mrd_bottom + 28

    def y(v: float) -> float:
        lv = min(max(math.log10(max(v, 10.0**_LOG_MIN)), _LOG_MIN), _LOG_MAX)
        return mrd_top + (mrd_bottom - mrd_top) * (_LOG_MAX - lv) / (_LOG_MAX - _LOG_MIN)

    # The axis column: row titles and the MRD scale (decorative: the plot carries the name).
    axis: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tl-axis" width="{AXIS_WIDTH}" '
        f'height="{height}" aria-hidden="true" font-family="system-ui, sans-serif" '
        'font-size="13">',
        f'<text x="2" y="{axis_y + 4}">Events</text>',
        f'<text x="2" y="{mrd_top - 32}">MRD</text>',
        f'<text x="2" y="{mrd_top - 16}" class="muted">log scale</text>',
    ]
    for exp in range(_LOG_MIN, _LOG_MAX + 1, 2):
        ty = y(10.0**exp)
        label = "100 %" if exp == 0 else f"1e{exp}"
        axis.append(
            f'<text x="{AXIS_WIDTH - 6}" y="{ty + 4:.1f}" text-anchor="end">{label}</text>'
            f'<line x1="{AXIS_WIDTH - 4}" y1="{ty:.1f}" x2="{AXIS_WIDTH}" y2="{ty:.1f}" '
            'class="axis"/>'
        )
    axis.append("</svg>")

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" height="{height}" '
        'role="img" aria-labelledby="tl-title tl-desc" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">',
        '<title id="tl-title">Course of the disease</title>',
        '<desc id="tl-desc">Events on a time axis, and MRD results on a logarithmic axis; '
        "the same facts are listed as text below the figure.</desc>",
        # Markers drawn around (0, 0), placed with percentages by <use>.
        "<defs>"
        '<path id="tl-eot" d="M-5 -5 h10 v10 h-10 z"/>'
        '<path id="tl-relapse" d="M0 -7 l7 12 h-14 z"/>'
        '<path id="tl-hsct" d="M0 -7 l7 7 l-7 7 l-7 -7 z"/>'
        '<path id="tl-day0" d="M0 7 l7 -12 h-14 z"/>'
        '<path id="tl-marrow" d="M-2 -6 h4 v4 h4 v4 h-4 v4 h-4 v-4 h-4 v-4 h4 z"/>'
        '<path id="tl-below" d="M0 5 v9 m-3 -4 l3 4 l3 -4"/>'
        "</defs>",
    ]
    # Year grid shared by both panels; labels thinned so they never meet on the narrowest plot.
    step = _year_step(total)
    for year in range(start.year + 1, end.year + 1):
        gx = frac(date(year, 1, 1))
        out.append(f'<line x1="{pct(gx)}" y1="4" x2="{pct(gx)}" y2="{mrd_bottom}" class="grid"/>')
        if year % step == 0 and 18 <= gx * PLOT_MIN <= PLOT_MIN - 18:
            out.append(f'<text x="{pct(gx)}" y="{height - 8}" text-anchor="middle">{year}</text>')
    out.append(
        f'<line x1="0" y1="{axis_y}" x2="100%" y2="{axis_y}" class="axis"/>'
        f'<line x1="0.5" y1="{mrd_top}" x2="0.5" y2="{mrd_bottom}" class="axis"/>'
    )
    for p in placed:
        if p.lane:
            ex, base = pct(p.fraction), axis_y - 12 - p.lane * _LANE
            out.append(
                f'<line x1="{ex}" y1="{base + 4}" x2="{ex}" y2="{axis_y - 8}" class="leader"/>'
            )
    out.extend(_marker(p.event.kind, pct(p.fraction), axis_y) for p in placed)
    for p in placed:
        ex, base = pct(p.fraction), axis_y - 12 - p.lane * _LANE
        out.append(
            f'<text x="{ex}" y="{base - _LINE}" text-anchor="{p.anchor}" class="label">'
            f'{escape(p.event.short)}<tspan x="{ex}" dy="{_LINE}">{p.event.when:%Y-%m}</tspan>'
            "</text>"
        )
    for value, label in THRESHOLDS:
        ty = y(value)
        out.append(
            f'<line x1="0" y1="{ty:.1f}" x2="100%" y2="{ty:.1f}" class="threshold"/>'
            f'<text x="4" y="{ty - 3:.1f}" class="muted">{label}</text>'
        )
    for when, m in mrds:
        mx, my = pct(frac(when)), y(m.value)
        out.append(f"<g><title>MRD {escape(format_mrd(m))} on {when.isoformat()}</title>")
        if m.comparator in (Comparator.LT, Comparator.LE):
            # Below the detection limit: open circle with an arrow pointing down.
            out.append(
                f'<circle cx="{mx}" cy="{my:.1f}" r="4" class="mrd-open"/>'
                f'<use href="#tl-below" x="{mx}" y="{my:.1f}" class="mrd-arrow"/>'
            )
        else:
            out.append(f'<circle cx="{mx}" cy="{my:.1f}" r="4" class="mrd"/>')
        out.append("</g>")
    out.append("</svg>")
    # Every interpolated text is escaped above.
    return Markup('<div class="tl">' + "".join(axis) + "".join(out) + "</div>")  # noqa: S704


_SHAPES = {"end_of_therapy": "eot", "relapse": "relapse", "day0": "day0", "marrow": "marrow"}


def _marker(kind: str, x: str, y: int) -> str:
    if kind == "diagnosis":
        return f'<circle cx="{x}" cy="{y}" r="6" class="ev-dx"/>'
    shape = _SHAPES.get(kind, "hsct")
    return f'<use href="#tl-{shape}" x="{x}" y="{y}" class="ev-{shape}"/>'
