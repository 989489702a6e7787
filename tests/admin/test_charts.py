import re
from xml.etree import ElementTree

from crush.lib.charts import stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_stacked_bar_chart_draws_one_segment_per_non_empty_cell() -> None:
    svg = stacked_bar_chart(
        columns=["2026-01", "2026-02", "2026-03"],
        series={"api": [0, 400, 50], "file": [10, 0, 1200]},
        title="Consumption",
    )

    segments = [rect for rect in parse(svg).iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert [rect.findtext(f"{SVG}title") for rect in segments] == [
        "2026-01 · file: 10\xa0bytes",
        "2026-02 · api: 400\xa0bytes",
        "2026-03 · api: 50\xa0bytes",
        "2026-03 · file: 1.2\xa0KB",
    ]


def test_stacked_bar_chart_stacks_segments_and_the_tallest_bar_fills_the_plot() -> None:
    svg = stacked_bar_chart(columns=["a", "b"], series={"x": [100, 50], "y": [100, 0]}, title="t")

    segments = [rect for rect in parse(svg).iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    heights = [float(rect.attrib["height"]) for rect in segments]
    assert heights[0] == heights[1]  # 100 and 100 stacked in bar a
    assert heights[2] == heights[0] / 2  # 50 in bar b
    assert float(segments[1].attrib["y"]) + heights[1] == float(segments[0].attrib["y"])  # y sits on x


def test_stacked_bar_chart_escapes_origin_names() -> None:
    svg = stacked_bar_chart(columns=["a"], series={'<script>alert("x")</script>': [5]}, title="<b>")

    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;" in svg
    parse(svg)  # still well-formed


def test_stacked_bar_chart_without_series_says_so() -> None:
    svg = stacked_bar_chart(columns=["2026-01", "2026-02"], series={}, title="t")

    assert "No consumption" in svg
    assert len(re.findall("<rect", svg)) == 0
