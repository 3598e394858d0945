"""The patient's course as an inline SVG figure, with a text alternative.

Diagnosis, end of frontline therapy, relapses and HSCT on a time axis; MRD results below on a log
axis with the 1e-3 and 1e-4 thresholds the schemes use. Shapes and letters, not colour alone,
tell the events apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from service.domain.inputs import Comparator, Mrd, RelapseInputs

WIDTH = 460
HEIGHT = 256
_LEFT, _RIGHT = 62, 14
_EVENT_Y = 64
_MRD_TOP, _MRD_BOTTOM = 122, 222
_LOG_MIN, _LOG_MAX = -6, 0  # 1e-6 .. 1 (100 %)
THRESHOLDS: tuple[tuple[float, str], ...] = ((1e-3, "1e-3 (0.1 %)"), (1e-4, "1e-4 (0.01 %)"))


@dataclass(frozen=True)
class Event:
    when: date
    kind: str  # diagnosis / end_of_therapy / relapse / hsct
    label: str
    short: str  # in the figure, where space is tight


@dataclass(frozen=True)
class Timeline:
    svg: Markup  # empty when nothing is dated
    text: tuple[str, ...]  # one line per event, the figure's text alternative


def format_mrd(m: Mrd) -> str:
    """An MRD value as a clinician reads it: percent with its comparator."""
    pct = f"{m.value * 100:.4g} %"
    return pct if m.comparator is Comparator.EQ else f"{m.comparator.value} {pct}"


def events(inputs: RelapseInputs) -> list[Event]:
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
    return sorted(found, key=lambda e: e.when)


def build_timeline(inputs: RelapseInputs) -> Timeline:
    evs = events(inputs)
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


def _svg(evs: list[Event], mrds: list[tuple[date, Mrd]], first: date, last: date) -> Markup:
    span = max((last - first).days, 30)
    pad = timedelta(days=max(span // 20, 10))
    start, end = first - pad, last + pad
    total = (end - start).days

    def x(d: date) -> float:
        return _LEFT + (WIDTH - _LEFT - _RIGHT) * (d - start).days / total

    def y(v: float) -> float:
        lv = min(max(math.log10(max(v, 10.0**_LOG_MIN)), _LOG_MIN), _LOG_MAX)
        return _MRD_TOP + (_MRD_BOTTOM - _MRD_TOP) * (_LOG_MAX - lv) / (_LOG_MAX - _LOG_MIN)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'class="timeline" role="img" aria-labelledby="tl-title tl-desc" '
        'font-family="system-ui, sans-serif" font-size="14">',
        '<title id="tl-title">Course of the disease</title>',
        '<desc id="tl-desc">Events on a time axis, and MRD results on a logarithmic axis; '
        "the same facts are listed as text below the figure.</desc>",
    ]
    # Year grid shared by both panels.
    for year in range(start.year + 1, end.year + 1):
        gx = x(date(year, 1, 1))
        out.append(
            f'<line x1="{gx:.1f}" y1="30" x2="{gx:.1f}" y2="{_MRD_BOTTOM}" class="grid"/>'
            f'<text x="{gx:.1f}" y="{HEIGHT - 12}" text-anchor="middle">{year}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_EVENT_Y}" x2="{WIDTH - _RIGHT}" y2="{_EVENT_Y}" class="axis"/>'
        f'<text x="4" y="{_EVENT_Y + 4}">Events</text>'
    )
    for n, e in enumerate(evs):
        ex = x(e.when)
        # Alternate label rows so close events stay readable.
        ly = _EVENT_Y - 14 - 16 * (n % 2)
        anchor = "start" if ex < WIDTH / 2 else "end"
        out.append(_marker(e.kind, ex, _EVENT_Y))
        out.append(
            f'<text x="{ex:.1f}" y="{ly}" text-anchor="{anchor}">'
            f"{escape(e.short)} {e.when:%Y-%m}</text>"
        )
    # MRD panel.
    out.append(
        f'<line x1="{_LEFT}" y1="{_MRD_TOP}" x2="{_LEFT}" y2="{_MRD_BOTTOM}" class="axis"/>'
        f'<text x="4" y="{_MRD_TOP - 14}">MRD (log scale)</text>'
    )
    for exp in range(_LOG_MIN, _LOG_MAX + 1, 2):
        ty = y(10.0**exp)
        label = "100 %" if exp == 0 else f"1e{exp}"
        out.append(
            f'<text x="{_LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{label}</text>'
            f'<line x1="{_LEFT - 3}" y1="{ty:.1f}" x2="{_LEFT}" y2="{ty:.1f}" class="axis"/>'
        )
    for value, label in THRESHOLDS:
        ty = y(value)
        out.append(
            f'<line x1="{_LEFT}" y1="{ty:.1f}" x2="{WIDTH - _RIGHT}" y2="{ty:.1f}" '
            'class="threshold"/>'
            f'<text x="{_LEFT + 4}" y="{ty - 3:.1f}" class="muted">{label}</text>'
        )
    for when, m in mrds:
        mx, my = x(when), y(m.value)
        out.append(f"<g><title>MRD {escape(format_mrd(m))} on {when.isoformat()}</title>")
        if m.comparator in (Comparator.LT, Comparator.LE):
            # Below the detection limit: open circle with an arrow pointing down.
            out.append(
                f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="4" class="mrd-open"/>'
                f'<path d="M{mx:.1f} {my + 5:.1f} v9 m-3 -4 l3 4 l3 -4" class="mrd-arrow"/>'
            )
        else:
            out.append(f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="4" class="mrd"/>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (every interpolated text is escaped above)


def _marker(kind: str, cx: float, cy: float) -> str:
    if kind == "diagnosis":
        return f'<circle cx="{cx:.1f}" cy="{cy}" r="6" class="ev-dx"/>'
    if kind == "end_of_therapy":
        return f'<rect x="{cx - 5:.1f}" y="{cy - 5}" width="10" height="10" class="ev-eot"/>'
    if kind == "relapse":
        return (
            f'<path d="M{cx:.1f} {cy - 7} l7 12 h-14 z" class="ev-relapse"/>'
            f'<text x="{cx:.1f}" y="{cy + 20}" text-anchor="middle" font-weight="bold">R</text>'
        )
    return f'<path d="M{cx:.1f} {cy - 7} l7 7 l-7 7 l-7 -7 z" class="ev-hsct"/>'
