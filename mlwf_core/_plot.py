"""Small inline-SVG charts for the HTML reports.

Why hand-written SVG rather than a plotting library: the reports must be one
self-contained file that opens offline, prints cleanly and stays small. Plotly
and Bokeh embed megabytes of JavaScript per file; Matplotlib would add a heavy
runtime dependency and render raster images or verbose SVG. The charts a
profile and a model report need (histogram, bars, lines, scatter, heatmap) are
a few hundred lines of SVG text, scale with the page (``viewBox``), print as
vectors, need no script, and carry hover labels through ``<title>`` elements.

Every function returns an ``<svg>`` string whose root has ``class="plot"`` and
``data-plot="<kind>"`` so tests and stylesheets can find it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = [
    "bar_chart",
    "fmt",
    "heatmap",
    "histogram",
    "line_chart",
    "nice_ticks",
    "scatter",
    "strip_chart",
]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_MARGIN = {"left": 48, "right": 12, "top": 22, "bottom": 34}


def fmt(value: float | int | None, digits: int = 3) -> str:
    """Format a number compactly with ``digits`` significant digits."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1e6 or mag < 1e-3:
        return f"{v:.{digits - 1}e}"
    text = f"{v:.{digits}g}"
    if "e" in text:
        text = f"{v:,.0f}"
    return text


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Return about ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), default=10 * power)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


class _Frame:
    """Maps data coordinates to pixels inside the plotting area."""

    def __init__(
        self,
        width: int,
        height: int,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        left: int = _MARGIN["left"],
    ) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = left, width - _MARGIN["right"]
        self.y0, self.y1 = height - _MARGIN["bottom"], _MARGIN["top"]
        lo, hi = xlim
        self.xlim = (lo, hi if hi > lo else lo + 1.0)
        lo, hi = ylim
        self.ylim = (lo, hi if hi > lo else lo + 1.0)

    def x(self, v: float) -> float:
        lo, hi = self.xlim
        return self.x0 + (v - lo) / (hi - lo) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        lo, hi = self.ylim
        return self.y0 - (v - lo) / (hi - lo) * (self.y0 - self.y1)


def _open(kind: str, width: int, height: int, title: str | None) -> list[str]:
    label = escape(title or kind)
    parts = [
        f'<svg class="plot" data-plot="{kind}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}">',
        f"<title>{label}</title>",
    ]
    if title:
        parts.append(
            f'<text class="ptitle" x="{width / 2:.1f}" y="14" text-anchor="middle">{label}</text>'
        )
    return parts


def _axes(
    f: _Frame,
    *,
    x_ticks: Sequence[float] | None = None,
    y_ticks: Sequence[float] | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    grid: bool = True,
) -> list[str]:
    out = [
        f'<line class="axis" x1="{f.x0}" y1="{f.y0}" x2="{f.x1}" y2="{f.y0}"/>',
        f'<line class="axis" x1="{f.x0}" y1="{f.y0}" x2="{f.x0}" y2="{f.y1}"/>',
    ]
    for t in x_ticks or ():
        px = f.x(t)
        out.append(
            f'<text class="tick" x="{px:.1f}" y="{f.y0 + 12}" text-anchor="middle">{fmt(t)}</text>'
        )
        out.append(f'<line class="axis" x1="{px:.1f}" y1="{f.y0}" x2="{px:.1f}" y2="{f.y0 + 3}"/>')
    for t in y_ticks or ():
        py = f.y(t)
        if grid:
            out.append(f'<line class="grid" x1="{f.x0}" y1="{py:.1f}" x2="{f.x1}" y2="{py:.1f}"/>')
        out.append(
            f'<text class="tick" x="{f.x0 - 4}" y="{py + 3:.1f}" text-anchor="end">{fmt(t)}</text>'
        )
    if x_label:
        out.append(
            f'<text class="alabel" x="{(f.x0 + f.x1) / 2:.1f}" y="{f.height - 4}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
    if y_label:
        cy = (f.y0 + f.y1) / 2
        out.append(
            f'<text class="alabel" x="10" y="{cy:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 10 {cy:.1f})">{escape(y_label)}</text>'
        )
    return out


def histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str | None = None,
    x_label: str | None = None,
    width: int = 320,
    height: int = 150,
    labels: Sequence[str] | None = None,
    log_x: bool = False,
) -> str:
    """Histogram from bin ``edges`` (length ``len(counts) + 1``) and ``counts``.

    ``labels`` optionally replaces the numeric edge labels in the hover text
    (used for dates); ``log_x`` draws positive, log-spaced bins on a log axis.
    """
    counts = [int(c) for c in counts]
    values = [float(e) for e in edges]
    edges = [math.log10(e) for e in values] if log_x else values
    top = max(counts, default=0) or 1
    f = _Frame(width, height, (edges[0], edges[-1]) if edges else (0, 1), (0, top))
    parts = _open("histogram", width, height, title)
    parts += _axes(f, y_ticks=nice_ticks(0, top, 3), x_label=x_label)
    if labels is None:
        parts += [
            f'<text class="tick" x="{f.x0}" y="{f.y0 + 12}" text-anchor="start">{fmt(values[0])}</text>',
            f'<text class="tick" x="{f.x1}" y="{f.y0 + 12}" text-anchor="end">{fmt(values[-1])}</text>',
        ]
    for i, c in enumerate(counts):
        x0, x1 = f.x(edges[i]), f.x(edges[i + 1])
        y = f.y(c)
        name = labels[i] if labels is not None else f"[{fmt(values[i])}, {fmt(values[i + 1])})"
        parts.append(
            f'<rect class="bar" x="{x0:.2f}" y="{y:.2f}" width="{max(x1 - x0 - 0.5, 0.5):.2f}" '
            f'height="{f.y0 - y:.2f}"><title>{escape(name)}: {c:,}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str | None = None,
    x_label: str | None = None,
    width: int = 480,
    bar_height: int = 16,
    value_format: str = "{:.3g}",
) -> str:
    """Horizontal bar chart, one bar per label, in the given order."""
    vals = [float(v) for v in values]
    n = len(vals)
    label_width = min(260, 14 + 7 * max((len(str(lab)) for lab in labels), default=4))
    height = _MARGIN["top"] + _MARGIN["bottom"] + max(n, 1) * (bar_height + 4)
    lo = min(0.0, min(vals, default=0.0))
    hi = max(0.0, max(vals, default=1.0))
    f = _Frame(width, height, (lo, hi if hi > lo else lo + 1), (0, 1), left=label_width)
    parts = _open("bar", width, height, title)
    parts += _axes(f, x_ticks=nice_ticks(lo, hi, 4), x_label=x_label, grid=False)
    zero = f.x(0.0)
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        y = _MARGIN["top"] + 2 + i * (bar_height + 4)
        x0, x1 = sorted((zero, f.x(v)))
        text = escape(str(lab))
        short = text if len(text) <= 36 else text[:34] + "…"
        parts.append(
            f'<text class="tick" x="{label_width - 4}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{short}</text>'
        )
        colour = PALETTE[0] if v >= 0 else PALETTE[3]
        parts.append(
            f'<rect class="bar" x="{x0:.2f}" y="{y}" width="{max(x1 - x0, 0.5):.2f}" '
            f'height="{bar_height}" fill="{colour}"><title>{text}: '
            f"{escape(value_format.format(v))}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    diagonal: bool = False,
    markers: bool = False,
    legend: str = "upper right",
    width: int = 360,
    height: int = 260,
) -> str:
    """Lines (or polylines with markers), one per ``(name, xs, ys)`` series.

    ``legend`` places the legend: ``"upper right"``, ``"lower right"``,
    ``"upper left"`` or ``"lower left"``.
    """
    xs_all = (
        np.concatenate([np.asarray(s[1], dtype=float) for s in series]) if series else np.zeros(1)
    )
    ys_all = (
        np.concatenate([np.asarray(s[2], dtype=float) for s in series]) if series else np.zeros(1)
    )
    xs_all = xs_all[np.isfinite(xs_all)]
    ys_all = ys_all[np.isfinite(ys_all)]
    if xlim is None:
        xlim = (float(xs_all.min()), float(xs_all.max())) if xs_all.size else (0.0, 1.0)
    if ylim is None:
        ylim = (float(ys_all.min()), float(ys_all.max())) if ys_all.size else (0.0, 1.0)
        pad = (ylim[1] - ylim[0]) * 0.05 or 0.5
        ylim = (ylim[0] - pad, ylim[1] + pad)
    f = _Frame(width, height, xlim, ylim)
    parts = _open("line", width, height, title)
    parts += _axes(
        f,
        x_ticks=nice_ticks(*f.xlim, 4),
        y_ticks=nice_ticks(*f.ylim, 4),
        x_label=x_label,
        y_label=y_label,
    )
    if diagonal:
        lo, hi = max(f.xlim[0], f.ylim[0]), min(f.xlim[1], f.ylim[1])
        parts.append(
            f'<line class="ref" x1="{f.x(lo):.1f}" y1="{f.y(lo):.1f}" x2="{f.x(hi):.1f}" y2="{f.y(hi):.1f}"/>'
        )
    for k, (name, xs, ys) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        pts = [
            (f.x(float(a)), f.y(float(b)))
            for a, b in zip(xs, ys, strict=True)
            if math.isfinite(float(a)) and math.isfinite(float(b))
        ]
        if len(pts) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            parts.append(
                f'<polyline class="series" points="{path}" stroke="{colour}">'
                f"<title>{escape(name)}</title></polyline>"
            )
        if markers or len(pts) == 1:
            parts += [
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"/>' for a, b in pts
            ]
    parts += _legend([s[0] for s in series], f, legend)
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str], f: _Frame, where: str = "upper right") -> list[str]:
    if len(names) < 2 and not (names and names[0]):
        return []
    shown = list(names[:10])
    x = f.x0 + 8 if "left" in where else f.x1 - 150
    y_top = f.y1 + 4 if "upper" in where else f.y0 - 6 - 12 * len(shown)
    out = []
    for k, name in enumerate(shown):
        y = y_top + 12 * k
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y}" width="8" height="8" fill="{colour}"/>')
        label = escape(name if len(name) <= 26 else name[:24] + "…")
        out.append(f'<text class="tick" x="{x + 12}" y="{y + 7}">{label}</text>')
    return out


def scatter(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    title: str | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    diagonal: bool = False,
    hline: float | None = None,
    colours: Sequence[float] | None = None,
    max_points: int = 1500,
    seed: int = 0,
    width: int = 360,
    height: int = 260,
) -> str:
    """Scatter plot; above ``max_points`` a seeded random subset is drawn.

    ``colours`` optionally gives each point a value in ``[0, 1]`` mapped from
    blue (low) to red (high).
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    c = None if colours is None else np.asarray(colours, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    idx = np.flatnonzero(keep)
    if idx.size > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_points, replace=False))
    x, y = x[idx], y[idx]
    c = None if c is None else c[idx]
    lo_x, hi_x = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
    lo_y, hi_y = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
    if diagonal:
        lo_x = lo_y = min(lo_x, lo_y)
        hi_x = hi_y = max(hi_x, hi_y)
    f = _Frame(width, height, (lo_x, hi_x), (lo_y, hi_y))
    parts = _open("scatter", width, height, title)
    parts += _axes(
        f,
        x_ticks=nice_ticks(*f.xlim, 4),
        y_ticks=nice_ticks(*f.ylim, 4),
        x_label=x_label,
        y_label=y_label,
    )
    if diagonal:
        parts.append(
            f'<line class="ref" x1="{f.x(lo_x):.1f}" y1="{f.y(lo_y):.1f}" '
            f'x2="{f.x(hi_x):.1f}" y2="{f.y(hi_y):.1f}"/>'
        )
    if hline is not None and f.ylim[0] <= hline <= f.ylim[1]:
        parts.append(
            f'<line class="ref" x1="{f.x0}" y1="{f.y(hline):.1f}" x2="{f.x1}" y2="{f.y(hline):.1f}"/>'
        )
    for i in range(x.size):
        fill = PALETTE[0] if c is None or not np.isfinite(c[i]) else _ramp(float(c[i]))
        parts.append(
            f'<circle class="pt" cx="{f.x(x[i]):.1f}" cy="{f.y(y[i]):.1f}" r="2" fill="{fill}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ramp(t: float) -> str:
    """Blue (0) to grey (0.5) to red (1)."""
    t = min(max(t, 0.0), 1.0)
    lo, mid, hi = (0x21, 0x66, 0xAC), (0xDD, 0xDD, 0xDD), (0xB2, 0x18, 0x2B)
    a, b, u = (lo, mid, t * 2) if t < 0.5 else (mid, hi, t * 2 - 1)
    rgb = (round(a[j] + (b[j] - a[j]) * u) for j in range(3))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    title: str | None = None,
    vmin: float = -1.0,
    vmax: float = 1.0,
    annotate: bool | None = None,
    cell: int | None = None,
) -> str:
    """Heatmap of ``matrix`` (rows x columns); ``None`` / NaN cells are left blank.

    With ``vmin < 0`` the colour scale diverges around zero, otherwise it runs
    from white to red.
    """
    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    n_rows, n_cols = m.shape if m.ndim == 2 else (0, 0)
    if cell is None:
        cell = max(10, min(36, 560 // max(n_cols, 1)))
    if annotate is None:
        annotate = cell >= 26
    label_w = min(180, 10 + 6 * max((len(str(r)) for r in row_labels), default=4))
    label_h = min(140, 10 + 5 * max((len(str(c)) for c in col_labels), default=4))
    top = label_h + (18 if title else 4)
    width = label_w + n_cols * cell + 8
    height = top + n_rows * cell + 8
    parts = _open("heatmap", width, height, title)
    for j, lab in enumerate(col_labels):
        x = label_w + j * cell + cell / 2
        text = escape(str(lab)[:24])
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{top - 4}" transform="rotate(-60 {x:.1f} {top - 4})">'
            f"{text}</text>"
        )
    for i, lab in enumerate(row_labels):
        y = top + i * cell + cell / 2 + 3
        parts.append(
            f'<text class="tick" x="{label_w - 4}" y="{y:.1f}" text-anchor="end">{escape(str(lab)[:28])}</text>'
        )
        for j in range(n_cols):
            v = m[i, j]
            if not np.isfinite(v):
                continue
            t = (v - vmin) / (vmax - vmin) if vmax > vmin else 0.5
            fill = _ramp(t) if vmin < 0 else _ramp(0.5 + 0.5 * min(max(t, 0.0), 1.0))
            x0, y0 = label_w + j * cell, top + i * cell
            parts.append(
                f'<rect class="cell" x="{x0}" y="{y0}" width="{cell}" height="{cell}" fill="{fill}">'
                f"<title>{escape(str(row_labels[i]))} × {escape(str(col_labels[j]))}: {fmt(v)}</title></rect>"
            )
            if annotate:
                dark = abs(t - 0.5) > 0.35 if vmin < 0 else t > 0.7
                parts.append(
                    f'<text class="cellv{" inv" if dark else ""}" x="{x0 + cell / 2:.1f}" '
                    f'y="{y0 + cell / 2 + 3:.1f}" text-anchor="middle">{v:.2f}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def strip_chart(
    rows: Sequence[tuple[str, Sequence[float], Sequence[float] | None]],
    *,
    title: str | None = None,
    x_label: str | None = None,
    width: int = 560,
    row_height: int = 18,
    max_points: int = 400,
    seed: int = 0,
) -> str:
    """One jittered row of dots per ``(label, values, colours)``: a SHAP summary plot.

    ``colours`` (values in ``[0, 1]``, e.g. the feature value's rank) colour the
    dots from blue (low) to red (high); a dashed line marks zero.
    """
    rng = np.random.default_rng(seed)
    all_vals = (
        np.concatenate([np.asarray(r[1], dtype=float) for r in rows]) if rows else np.zeros(1)
    )
    all_vals = all_vals[np.isfinite(all_vals)]
    lo = min(0.0, float(all_vals.min())) if all_vals.size else -1.0
    hi = max(0.0, float(all_vals.max())) if all_vals.size else 1.0
    label_width = min(200, 14 + 7 * max((len(str(r[0])) for r in rows), default=4))
    height = _MARGIN["top"] + _MARGIN["bottom"] + max(len(rows), 1) * row_height
    f = _Frame(width, height, (lo, hi), (0, 1), left=label_width)
    parts = _open("strip", width, height, title)
    parts += _axes(f, x_ticks=nice_ticks(lo, hi, 4), x_label=x_label, grid=False)
    parts.append(f'<line class="ref" x1="{f.x(0):.1f}" y1="{f.y1}" x2="{f.x(0):.1f}" y2="{f.y0}"/>')
    for k, (label, values, colours) in enumerate(rows):
        v = np.asarray(values, dtype=float)
        c = None if colours is None else np.asarray(colours, dtype=float)
        idx = np.flatnonzero(np.isfinite(v))
        if idx.size > max_points:
            idx = np.sort(rng.choice(idx, max_points, replace=False))
        cy = _MARGIN["top"] + k * row_height + row_height / 2
        parts.append(
            f'<text class="tick" x="{label_width - 4}" y="{cy + 3:.1f}" text-anchor="end">'
            f"{escape(str(label)[:32])}</text>"
        )
        jitter = rng.uniform(-0.35, 0.35, idx.size) * row_height
        for i, dy in zip(idx, jitter, strict=True):
            fill = PALETTE[0] if c is None or not np.isfinite(c[i]) else _ramp(float(c[i]))
            parts.append(
                f'<circle class="pt" cx="{f.x(v[i]):.1f}" cy="{cy + dy:.1f}" r="1.8" '
                f'fill="{fill}" fill-opacity="0.75"/>'
            )
    parts.append("</svg>")
    return "".join(parts)
