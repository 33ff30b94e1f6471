"""Small server-side SVG charts for the admin: no JavaScript, no CDN, so the
back-office works offline.

Each function returns inline SVG markup (escaped) with a ``<title>`` and a
``<desc>`` listing every value for screen readers, and every value also written
as text beside its bar. Colours come from CSS classes
(``registrations/dashboard.css``) that read the admin's variables, so dark mode
follows the admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Rough width of one character at the charts' 12 px font: enough to size the
# label column; a label longer than LABEL_MAX_CHARS is cut with an ellipsis
# (the full label stays in the bar's tooltip and in the <desc>).
CHAR_WIDTH = 7
LABEL_MAX_CHARS = 28


@dataclass(frozen=True)
class Bar:
    """One bar: what it counts, how many, and optionally where it leads."""

    label: str
    value: int
    url: str | None = None
    note: str = ""  # written after the value, e.g. "45%"
    short_label: str = ""  # the axis label of a column chart ("07/12")


def _clip(label: str) -> str:
    return label if len(label) <= LABEL_MAX_CHARS else label[: LABEL_MAX_CHARS - 1] + "…"


def _description(bars: Sequence[Bar]) -> str:
    return "; ".join(f"{bar.label}: {bar.value}{f' ({bar.note})' if bar.note else ''}" for bar in bars)


def _svg(*, chart_id: str, title: str, bars: Sequence[Bar], width: int, height: int, body: SafeString) -> SafeString:
    # A chart whose bars are links is a group (each link stays reachable by
    # keyboard and screen readers); a plain chart is one image.
    role = "group" if any(bar.url for bar in bars) else "img"
    return format_html(
        '<svg class="dash-chart" id="{id}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="{role}" '
        'aria-labelledby="{id}-title {id}-desc" data-chart="{id}">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=width,
        h=height,
        role=role,
        title=title,
        desc=_description(bars) or "—",
        body=body,
    )


def _linked(bar: Bar, inner: SafeString) -> SafeString:
    if not bar.url:
        return inner
    return format_html('<a href="{}">{}</a>', bar.url, inner)


def horizontal_bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, width: int = 460) -> SafeString:
    """Ranked horizontal bars: label, bar, then the value (and note) as text."""
    row, bar_height, pad = 22, 14, 6
    label_width = max(max((len(_clip(b.label)) for b in bars), default=0), 3) * CHAR_WIDTH + 10
    value_width = 84  # room for "1234 · 100%"
    plot = max(width - label_width - value_width, 40)
    top = max((b.value for b in bars), default=0) or 1
    rows = []
    for i, bar in enumerate(bars):
        y = pad + i * row
        length = round(plot * bar.value / top) if bar.value else 0
        text = f"{bar.value}" + (f" · {bar.note}" if bar.note else "")
        inner = format_html(
            '<g class="dash-row" data-label="{label}" data-value="{value}"><title>{label}: {value}</title>'
            '<text class="dash-label" x="{lx}" y="{ty}" text-anchor="end">{short}</text>'
            '<rect class="dash-bar" x="{bx}" y="{by}" width="{bw}" height="{bh}" rx="2"></rect>'
            '<text class="dash-value" x="{vx}" y="{ty}">{text}</text></g>',
            label=bar.label,
            value=bar.value,
            short=_clip(bar.label),
            lx=label_width - 6,
            ty=y + bar_height - 3,
            bx=label_width,
            by=y,
            bw=max(length, 1),
            bh=bar_height,
            vx=label_width + length + 4,
            text=text,
        )
        rows.append(_linked(bar, inner))
    height = pad * 2 + max(len(bars), 1) * row
    body = format_html_join("", "{}", ((r,) for r in rows))
    return _svg(chart_id=chart_id, title=title, bars=bars, width=width, height=height, body=body)


def column_chart(bars: Sequence[Bar], *, chart_id: str, title: str, label_every: int = 5) -> SafeString:
    """Vertical columns in order (oldest left), the value above each non-empty
    one, a short label under the last column and every ``label_every``-th
    before it. Empty columns keep their place on the axis (a zero is a fact)."""
    column, gap, plot, top_pad, bottom_pad, side = 20, 4, 120, 16, 22, 6
    width = side * 2 + len(bars) * (column + gap)
    height = top_pad + plot + bottom_pad
    peak = max((b.value for b in bars), default=0) or 1
    base = top_pad + plot
    parts = [format_html('<line class="dash-axis" x1="0" y1="{y}" x2="{w}" y2="{y}"></line>', y=base, w=width)]
    last = len(bars) - 1
    for i, bar in enumerate(bars):
        x = side + i * (column + gap)
        length = round(plot * bar.value / peak)
        value_text = (
            format_html('<text class="dash-value" x="{}" y="{}" text-anchor="middle">{}</text>', x + column / 2, base - length - 3, bar.value)
            if bar.value
            else ""
        )
        axis_text = (
            format_html(
                '<text class="dash-label" x="{}" y="{}" text-anchor="middle">{}</text>',
                x + column / 2,
                base + 15,
                bar.short_label or bar.label,
            )
            if (last - i) % label_every == 0
            else ""
        )
        parts.append(
            _linked(
                bar,
                format_html(
                    '<g class="dash-row" data-label="{label}" data-value="{value}"><title>{label}: {value}</title>'
                    '<rect class="dash-bar" x="{x}" y="{y}" width="{w}" height="{h}"></rect>{vt}{at}</g>',
                    label=bar.label,
                    value=bar.value,
                    x=x,
                    y=base - length,
                    w=column,
                    h=length,
                    vt=value_text,
                    at=axis_text,
                ),
            )
        )
    body = format_html_join("", "{}", ((p,) for p in parts))
    return _svg(chart_id=chart_id, title=title, bars=bars, width=width, height=height, body=body)
