"""Server-side SVG charts for the admin: no script, no CDN, nothing to serve but the page itself.

Every text reaching the SVG (origin names come from API clients) goes through format_html: it is escaped.
"""

from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-friendly palette (Okabe–Ito); origins beyond it reuse colours in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
TICKS = 4


@dataclass(frozen=True, slots=True)
class ChartBox:
    width_px: int = 640
    height_px: int = 260
    left_px: int = 70  # room for the y-axis labels
    bottom_px: int = 24  # room for the column labels
    top_px: int = 10
    legend_px: int = 130  # room on the right for the legend

    @property
    def plot_width_px(self) -> int:
        return self.width_px - self.left_px - self.legend_px

    @property
    def plot_height_px(self) -> int:
        return self.height_px - self.top_px - self.bottom_px


def stacked_bar_chart(
    *, columns: list[str], series: dict[str, list[int]], title: str, box: ChartBox | None = None
) -> SafeString:
    """One bar per column, one stacked segment per series (bytes); each segment has a hover title."""
    box = box or ChartBox()
    totals = [sum(values[index] for values in series.values()) for index in range(len(columns))]
    highest = max(totals, default=0)
    top = highest or 1
    slot = box.plot_width_px / max(len(columns), 1)
    bar = round(slot * 0.6, 1)
    baseline = box.top_px + box.plot_height_px

    def y_of(value: int) -> float:
        return round(baseline - value / top * box.plot_height_px, 1)

    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="crush-chart" role="img" width="{}" height="{}" '
            'viewBox="0 0 {} {}" font-family="sans-serif" font-size="11"><title>{}</title>',
            box.width_px,
            box.height_px,
            box.width_px,
            box.height_px,
            title,
        )
    ]
    for tick in range(TICKS + 1 if highest else 1):
        value = round(top * tick / TICKS)
        y = y_of(value)
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
                '<text x="{}" y="{}" text-anchor="end" fill="#555">{}</text>',
                box.left_px,
                y,
                box.left_px + box.plot_width_px,
                y,
                box.left_px - 6,
                round(y + 4, 1),
                filesizeformat(value),
            )
        )
    for index, label in enumerate(columns):
        x = round(box.left_px + slot * index + (slot - bar) / 2, 1)
        stacked = 0
        for colour, (origin, values) in zip(_colours(len(series)), series.items(), strict=True):
            value = values[index]
            if not value:
                continue
            y_top, y_bottom = y_of(stacked + value), y_of(stacked)
            stacked += value
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} · {}: {}</title></rect>',
                    x,
                    y_top,
                    bar,
                    round(y_bottom - y_top, 1),
                    colour,
                    label,
                    origin,
                    filesizeformat(value),
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>',
                round(x + bar / 2, 1),
                box.height_px - 6,
                label,
            )
        )
    legend_x = box.left_px + box.plot_width_px + 12
    parts.append(
        format_html_join(
            "",
            '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>',
            (
                (legend_x, box.top_px + 16 * row, colour, legend_x + 14, box.top_px + 16 * row + 9, origin)
                for row, (colour, origin) in enumerate(zip(_colours(len(series)), series, strict=True))
            ),
        )
    )
    if not series:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="#888">No consumption</text>',
                box.left_px + box.plot_width_px // 2,
                box.top_px + box.plot_height_px // 2,
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part above is format_html output


def _colours(count: int) -> list[str]:
    return [PALETTE[index % len(PALETTE)] for index in range(count)]
