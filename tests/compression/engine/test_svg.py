import time

import defusedxml.ElementTree as SafeET
import pytest
import pyvips

from compression.engine.errors import CorruptInput, InputTooLarge, UnsupportedFormat
from compression.engine.formats import Format
from compression.engine.options import (
    CompressionType,
    CompressOptions,
    EngineLimits,
    ResizeSpec,
    ResizeStrategy,
)
from compression.engine.svg import compress_svg, renders_alike

LIMITS = EngineLimits()
SVG_NS = "{http://www.w3.org/2000/svg}"

# An editor-style drawing: comments, metadata, editor namespaces, styles, long numbers.
DRAWING = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     width="200" height="100" viewBox="0 0 200 100" version="1.1" inkscape:version="1.3">
  <title>Two shapes</title>
  <metadata><rdf:RDF><rdf:Description about="x"/></rdf:RDF></metadata>
  <sodipodi:namedview id="base" pagecolor="#ffffff" inkscape:zoom="1.0"/>
  <defs>
    <linearGradient id="gradient1">
      <stop style="stop-color:#ff0000;stop-opacity:1" offset="0"/>
      <stop style="stop-color:#0000ff;stop-opacity:1" offset="1"/>
    </linearGradient>
  </defs>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1">
    <rect style="fill:url(#gradient1);fill-opacity:1;stroke:none;stroke-width:1.00000000"
          x="10.000000" y="10.000000" width="80.123456789" height="80.987654321"/>
    <path style="fill:#ffffff;stroke:#000000;stroke-width:2.000000;stroke-opacity:1"
          d="M 110.12345678,10.98765432 L 190.55555555,10.44444444 L 150.33333333,90.77777777 Z"/>
    <circle cx="150.000000" cy="50.000000" r="10.00000000" fill="#ff00ff" opacity="1"/>
  </g>
</svg>
"""


def render(data: bytes) -> pyvips.Image:
    return pyvips.Image.svgload_buffer(data)


def elements(data: bytes) -> list[str]:
    return [element.tag for element in SafeET.fromstring(data).iter()]


def attributes(data: bytes) -> list[str]:
    return [key for element in SafeET.fromstring(data).iter() for key in element.attrib]


@pytest.mark.parametrize("kind", list(CompressionType))
def test_compress_svg_minifies_and_renders_alike(kind: CompressionType) -> None:
    options = CompressOptions(kind)

    result = compress_svg(DRAWING, options=options, resize=None, limits=LIMITS, deadline=None)

    assert result.format is Format.SVG
    assert not result.unchanged
    assert len(result.data) < len(DRAWING) * 0.7
    assert (result.width, result.height) == (200, 100)
    assert renders_alike(render(DRAWING), render(result.data))
    tags = elements(result.data)
    assert SVG_NS + "title" in tags
    assert SVG_NS + "metadata" not in tags
    assert b"inkscape" not in result.data and b"sodipodi" not in result.data
    assert b"<!--" not in result.data


def test_compress_svg_lossless_keeps_every_number() -> None:
    options = CompressOptions(CompressionType.LOSSLESS)

    result = compress_svg(DRAWING, options=options, resize=None, limits=LIMITS, deadline=None)

    assert b"80.123456789" in result.data
    assert b"10.98765432" in result.data
    before, after = render(DRAWING), render(result.data)
    assert (before.cast("int") - after.cast("int")).abs().max() <= 1


def test_compress_svg_lossy_rounds_numbers() -> None:
    options = CompressOptions(CompressionType.LOSSY)

    result = compress_svg(DRAWING, options=options, resize=None, limits=LIMITS, deadline=None)

    assert b"80.123456789" not in result.data
    assert renders_alike(render(DRAWING), render(result.data))


def test_compress_svg_removes_active_content_and_external_references() -> None:
    hostile = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
        xmlns:s="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">
      <script>alert(1)</script>
      <s:script>alert(2)</s:script>
      <foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>
      <a href="javascript:alert(3)"><rect width="5" height="5" onclick="alert(4)"/></a>
      <a xlink:href=" java&#9;script:alert(5)"><rect x="5" width="5" height="5"/></a>
      <image href="https://evil.example/track.png" width="1" height="1"/>
      <use xlink:href="other.svg#shape"/>
      <set attributeName="href" to="javascript:alert(6)"/>
      <rect y="5" width="5" height="5" fill="url(https://evil.example/p.svg#g)"/>
      <style>@import url(https://evil.example/a.css); rect { fill: url(http://evil.example/#x) }</style>
      <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
    </svg>"""
    options = CompressOptions(CompressionType.LOSSLESS)

    result = compress_svg(hostile, options=options, resize=None, limits=LIMITS, deadline=None)

    text = result.data.lower()
    for needle in (b"script", b"alert", b"onload", b"onclick", b"foreignobject", b"evil", b"other.svg"):
        assert needle not in text
    assert b"data:image/png" in text


def test_compress_svg_refuses_external_entity() -> None:
    xxe = b"""<?xml version="1.0"?>
    <!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>"""

    with pytest.raises(UnsupportedFormat):
        compress_svg(
            xxe, options=CompressOptions(CompressionType.LOSSY), resize=None, limits=LIMITS, deadline=None
        )


def test_compress_svg_refuses_billion_laughs_quickly() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f"""<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY l0 "lol">{entities}]>
    <svg xmlns="http://www.w3.org/2000/svg"><text>&l9;</text></svg>""".encode()
    started = time.monotonic()

    with pytest.raises(UnsupportedFormat):
        compress_svg(
            bomb, options=CompressOptions(CompressionType.LOSSY), resize=None, limits=LIMITS, deadline=None
        )

    assert time.monotonic() - started < 1


def test_compress_svg_accepts_plain_doctype() -> None:
    svg = b"""<?xml version="1.0"?>
    <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
    <svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"""

    result = compress_svg(
        svg, options=CompressOptions(CompressionType.LOSSY), resize=None, limits=LIMITS, deadline=None
    )

    assert b"DOCTYPE" not in result.data
    assert renders_alike(render(svg), render(result.data))


@pytest.mark.parametrize(
    ("data", "limits", "error"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><rect", LIMITS, CorruptInput),
        (b"<html><body/></html>", LIMITS, UnsupportedFormat),
        (DRAWING, EngineLimits(max_svg_bytes=100), InputTooLarge),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'>" + b"<g>" * 500 + b"</g>" * 500 + b"</svg>",
            LIMITS,
            InputTooLarge,
        ),
    ],
    ids=["truncated", "not-svg", "too-many-bytes", "too-deep"],
)
def test_compress_svg_rejects_bad_input(data: bytes, limits: EngineLimits, error: type[Exception]) -> None:
    options = CompressOptions(CompressionType.LOSSY)

    with pytest.raises(error):
        compress_svg(data, options=options, resize=None, limits=limits, deadline=None)


def test_compress_svg_returns_input_when_not_smaller() -> None:
    tiny = b'<svg xmlns="http://www.w3.org/2000/svg"/>'

    result = compress_svg(
        tiny, options=CompressOptions(CompressionType.LOSSY), resize=None, limits=LIMITS, deadline=None
    )

    assert result.unchanged
    assert result.data == tiny


def test_compress_svg_resize_sets_size_and_keeps_drawing() -> None:
    spec = ResizeSpec(strategy=ResizeStrategy.FIT, width=50, height=50)

    result = compress_svg(
        DRAWING, options=CompressOptions(CompressionType.LOSSY), resize=spec, limits=LIMITS, deadline=None
    )

    assert (result.width, result.height) == (50, 25)
    image = render(result.data)
    assert (image.width, image.height) == (50, 25)
    expected = render(DRAWING).resize(0.25)
    assert (image.cast("int") - expected.cast("int")).abs().avg() < 8


def test_compress_svg_resize_without_viewbox_derives_one() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle r="40"/></svg>'
    spec = ResizeSpec(strategy=ResizeStrategy.LANDSCAPE, width=20)

    result = compress_svg(
        svg, options=CompressOptions(CompressionType.LOSSLESS), resize=spec, limits=LIMITS, deadline=None
    )

    root = SafeET.fromstring(result.data)
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("20", "20", "0 0 100 100")


def test_compress_svg_past_its_deadline_still_answers_sanitised() -> None:
    deadline = time.monotonic() - 1
    hostile = DRAWING.replace(b"</svg>", b"<script>alert(1)</script></svg>")

    result = compress_svg(
        hostile,
        options=CompressOptions(CompressionType.BALANCED),
        resize=None,
        limits=LIMITS,
        deadline=deadline,
    )

    assert b"<script" not in result.data
    assert not result.unchanged
