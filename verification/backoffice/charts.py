"""Small server-side SVG charts for the oversight dashboard: no JavaScript,
no external resources. Every piece of text is escaped before it goes into
the markup (labels can hold vendor codes, i.e. text a vendor sent us), and
only the finished string is marked safe.

Colours are the Okabe–Ito palette, chosen to stay distinguishable with the
common kinds of colour blindness; text and axes use `currentColor` so the
charts follow the admin's light and dark themes. Each bar also carries a
`<title>` (a tooltip and what screen readers read) with its exact value."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# Okabe & Ito (2008), "Color Universal Design".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str = ""


def text_width(text: str, size: int = 12) -> float:
    """A rough width for layout: CJK characters are about twice as wide."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in str(text))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover  (the loop always returns)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _open(width: float, height: float, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" aria-label="{escape(title)}" {FONT}>',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>" if description else "",
    ]


def _legend(series: Sequence[Series], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Swatches and labels in rows from (x, y); returns the markup and the height used."""
    parts, cx, cy = [], x, y
    for item in series:
        item_width = 18 + text_width(item.label) + 16
        if cx > x and cx + item_width > x + width:
            cx, cy = x, cy + 18
        parts.append(f'<rect x="{cx:.1f}" y="{cy:.1f}" width="12" height="12" fill="{item.colour}"/>')
        parts.append(f'<text x="{cx + 17:.1f}" y="{cy + 10:.1f}" fill="currentColor">'
                     f"{escape(item.label)}</text>")
        cx += item_width
    return parts, cy - y + 18


def _coloured(series: Sequence[Series]) -> list[Series]:
    return [s if s.colour else Series(s.label, s.values, PALETTE[i % len(PALETTE)])
            for i, s in enumerate(series)]


def stacked_bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    description: str = "",
    width: int = 760,
    height: int = 300,
    max_tick_labels: int = 10,
) -> SafeString:
    """One bar per category (a day), each stacked from the series' values."""
    series = _coloured(series)
    legend, legend_height = _legend(series, 56, 8, width - 64)
    top, left, right, bottom = 8 + legend_height + 10, 56, 12, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    ceiling = nice_ceiling(max(totals, default=0))

    parts = _open(width, height, title, description) + legend
    parts += _y_axis(left, top, plot_w, plot_h, ceiling, y_label)
    slot = plot_w / max(len(categories), 1)
    bar_w = max(slot * 0.7, 1)
    label_every = max(math.ceil(len(categories) / max_tick_labels), 1)
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar_w) / 2
        base = top + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = value / ceiling * plot_h
            base -= h
            tip = f"{category} · {s.label}: {_number(value)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{s.colour}" '
                f'stroke="#fff" stroke-width="0.5"><title>{escape(tip)}</title></rect>'
            )
        if (len(categories) - 1 - i) % label_every == 0:  # always label the last (today)
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
                f'fill="currentColor">{escape(category)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'fill="currentColor" font-weight="bold">{escape(x_label)}</text>'
    )
    if not any(totals):
        parts.append(_empty(left + plot_w / 2, top + plot_h / 2))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text above went through escape())


def _y_axis(left, top, plot_w, plot_h, ceiling, label) -> list[str]:
    parts = []
    for k in range(5):
        value = ceiling * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="currentColor" stroke-opacity="{0.5 if k == 0 else 0.15}"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="currentColor">{_number(value)}</text>')
    mid = top + plot_h / 2
    parts.append(f'<text x="14" y="{mid:.1f}" transform="rotate(-90 14 {mid:.1f})" text-anchor="middle" '
                 f'fill="currentColor" font-weight="bold">{escape(label)}</text>')
    return parts


def _empty(x: float, y: float) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="currentColor" '
            f'fill-opacity="0.7">{escape(_("No data in this period."))}</text>')


def horizontal_bar_chart(
    *,
    title: str,
    rows: Sequence[tuple[str, float] | tuple[str, float, float | None]],
    x_label: str,
    series_labels: Sequence[str] = (),
    value_format: Callable[[float], str] = _number,
    max_value: float | None = None,
    description: str = "",
    width: int = 760,
) -> SafeString:
    """One bar per row (label → value); with a third item per row, a second,
    thinner bar under the first (e.g. the 95th percentile under the median).
    `series_labels` names the one or two values in a legend."""
    has_second = any(len(row) > 2 and row[2] is not None for row in rows)
    colours = (PALETTE[0], PALETTE[1])
    legend_series = [Series(label, (), colours[i]) for i, label in enumerate(series_labels[: 1 + has_second])]
    label_w = min(max((text_width(row[0]) for row in rows), default=40) + 12, 260)
    left, right = label_w, 64
    plot_w = width - left - right
    legend, legend_height = _legend(legend_series, left, 8, plot_w) if legend_series else ([], 0)
    top = 8 + legend_height + 6
    row_h = 34 if has_second else 24
    plot_h = max(len(rows), 1) * row_h + 6
    height = top + plot_h + 44
    largest = max((v for row in rows for v in row[1:] if v is not None), default=0)
    ceiling = max_value or nice_ceiling(largest)

    parts = _open(width, height, title, description) + legend
    for k in range(5):
        x = left + plot_w * k / 4
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" '
                     f'stroke="currentColor" stroke-opacity="{0.5 if k == 0 else 0.15}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                     f'fill="currentColor">{escape(value_format(ceiling * k / 4))}</text>')
    for i, row in enumerate(rows):
        label, values = row[0], [v for v in row[1:3]]
        y = top + i * row_h + 4
        parts.append(f'<text x="{left - 8}" y="{y + 12:.1f}" text-anchor="end" '
                     f'fill="currentColor">{escape(label)}</text>')
        for j, value in enumerate(values):
            if value is None:
                continue
            bar_h = 14 if j == 0 else 9
            bar_y = y if j == 0 else y + 16
            bar_w = max(value / ceiling * plot_w, 0)
            name = series_labels[j] if j < len(series_labels) else ""
            tip = f"{label} · {name}: {value_format(value)}" if name else f"{label}: {value_format(value)}"
            parts.append(
                f'<rect x="{left}" y="{bar_y:.1f}" width="{bar_w:.1f}" height="{bar_h}" fill="{colours[j]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            parts.append(f'<text x="{left + bar_w + 4:.1f}" y="{bar_y + bar_h - 2:.1f}" fill="currentColor" '
                         f'font-size="{12 if j == 0 else 10}">{escape(value_format(value))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                 f'fill="currentColor" font-weight="bold">{escape(x_label)}</text>')
    if not rows:
        parts.append(_empty(left + plot_w / 2, top + plot_h / 2 + 4))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text above went through escape())
