"""SVG: parse with defusedxml, sanitise, minify with svgo-py (a port of SVGO), output stays SVG.

Security first (``svg_sanitise``): the document is parsed namespace-aware with defusedxml, then
scripts, event handlers, ``foreignObject``, XHTML content, ``javascript:`` URLs and every external
reference are removed *before* the optimiser sees the text. The optimiser works on
qualified names, so it gets our own serialisation in which SVG is always the default namespace.

Precision: ``lossless`` keeps every number as written (only structural minification); ``lossy``
and ``balanced`` round coordinates to the decimals that keep the worst-case error at 1x well
below a pixel (see ``_decimals``). ``<title>`` is kept (accessibility); ``<desc>`` only when it is
an editor's "Created with ..." stamp is dropped (SVGO's rule); ``<metadata>`` and editor
namespaces are dropped.
"""

import math
import re
import time
from typing import Any
from xml.etree.ElementTree import Element

import pyvips
import svgo

from .errors import UnsupportedFormat
from .formats import Format
from .options import CompressionType, CompressOptions, EngineLimits, ResizeSpec, ResizeStrategy
from .resize import target_geometry
from .result import Result
from .search import search_deadline
from .svg_sanitise import SVG_NS, XLINK_NS, XML_NS, local_name, namespace_of, parse_svg, sanitise

_LENGTH = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(px|pt|pc|mm|cm|in)?\s*", re.I)
_PX_PER_UNIT = {"px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
_VIEWBOX_SPLIT = re.compile(r"[\s,]+")

# Worst-case coordinate error we allow at 1x for lossy/balanced, in device pixels: invisible once
# antialiased. Transforms can scale coordinates up, hence the extra decimal below.
_TOLERANCE_PX = 0.02
# lossy: extra decimals by level (monotonic: a higher level never keeps fewer decimals).
_LOSSY_EXTRA_DECIMALS = ((90, 1), (50, 0), (1, -1))
# balanced: tried coarsest first, each checked by rendering against the sanitised input.
_BALANCED_EXTRA_DECIMALS = (0, 1)
# "Renders the same": at most this share of pixels may differ by more than _PIXEL_TOLERANCE
# levels (antialiasing of an edge moved by a fraction of a pixel).
_PIXEL_TOLERANCE = 16
_MAX_DIFFERING_SHARE = 1e-4
# Renders for that check are scaled down to at most this many pixels.
_MAX_RENDER_PIXELS = 16_000_000
_MIN_DECIMALS = 1
_MAX_DECIMALS = 5
# SVGO's default: used when the document has no usable size.
_DEFAULT_DECIMALS = 3
# lossless rounds to the most decimals written anywhere in the document, which keeps every
# number (sums and differences of such numbers have no more decimals); transforms are left alone
# because merging them multiplies numbers.
_WRITTEN_DECIMALS = re.compile(r"\d\.(\d+)")
_MAX_LOSSLESS_DECIMALS = 12


def _escape(text: str, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;").replace("\r", "&#13;")
    return text


class _Writer:
    """XML text with SVG as the default namespace and the document's own prefixes elsewhere."""

    def __init__(self, declared: list[tuple[str, str]]) -> None:
        self.prefixes: dict[str, str] = {SVG_NS: "", "": "", XLINK_NS: "xlink", XML_NS: "xml"}
        taken = set(self.prefixes.values())
        for prefix, uri in declared:
            if uri not in self.prefixes and prefix and prefix not in taken:
                self.prefixes[uri] = prefix
                taken.add(prefix)
        self.used: dict[str, str] = {}

    def _qname(self, name: str, attribute: bool) -> str:
        uri = namespace_of(name)
        if not uri or (uri == SVG_NS and not attribute):
            return local_name(name)
        if uri == SVG_NS:  # a prefixed attribute in the SVG namespace means the plain attribute
            return local_name(name)
        prefix = self.prefixes.get(uri)
        if prefix is None:
            prefix = f"ns{len(self.prefixes)}"
            self.prefixes[uri] = prefix
        if uri != XML_NS:
            self.used[uri] = prefix
        return f"{prefix}:{local_name(name)}"

    def write(self, root: Element) -> str:
        body: list[str] = []
        self._element(root, body)
        declarations = "".join(f' xmlns:{prefix}="{_escape(uri, True)}"' for uri, prefix in self.used.items())
        first = body[0]  # "<svg" + attributes
        body[0] = first[:4] + f' xmlns="{SVG_NS}"' + declarations + first[4:]
        return "".join(body)

    def _element(self, root: Element, out: list[str]) -> None:
        # Iterative so the depth of the document cannot exhaust the Python stack.
        work: list[tuple[Element, bool]] = [(root, False)]
        while work:
            element, closing = work.pop()
            tag = self._qname(element.tag, attribute=False)
            if closing:
                out.append(f"</{tag}>")
                if element.tail and element is not root:
                    out.append(_escape(element.tail))
                continue
            attributes = "".join(
                f' {self._qname(k, attribute=True)}="{_escape(v, True)}"' for k, v in element.attrib.items()
            )
            children = list(element)
            if not children and not element.text:
                out.append(f"<{tag}{attributes}/>")
                if element.tail and element is not root:
                    out.append(_escape(element.tail))
                continue
            out.append(f"<{tag}{attributes}>")
            if element.text:
                out.append(_escape(element.text))
            work.append((element, True))
            work.extend((child, False) for child in reversed(children))


def _length_px(value: str | None) -> float | None:
    if value is None:
        return None
    match = _LENGTH.fullmatch(value)
    if match is None:
        return None
    number = float(match.group(1)) * _PX_PER_UNIT[(match.group(2) or "px").lower()]
    return number if number > 0 and math.isfinite(number) else None


def _viewbox(root: Element) -> tuple[float, float, float, float] | None:
    value = root.get("viewBox")
    if value is None:
        return None
    try:
        x, y, w, h = (float(part) for part in _VIEWBOX_SPLIT.split(value.strip()))
    except ValueError:
        return None
    if w <= 0 or h <= 0 or not all(map(math.isfinite, (x, y, w, h))):
        return None
    return x, y, w, h


def _size(root: Element) -> tuple[float | None, float | None]:
    """The intrinsic size in CSS px: width/height attributes, else the viewBox's, else unknown."""
    width, height = _length_px(root.get("width")), _length_px(root.get("height"))
    box = _viewbox(root)
    if box is not None:
        if width is None and height is None and root.get("width") is None and root.get("height") is None:
            width, height = box[2], box[3]
        elif width is None and height is not None and root.get("width") is None:
            width = height * box[2] / box[3]
        elif height is None and width is not None and root.get("height") is None:
            height = width * box[3] / box[2]
    return width, height


def _decimals(root: Element, extra: int) -> int:
    """Decimals of user units that keep the rounding error under _TOLERANCE_PX at 1x."""
    width, height = _size(root)
    box = _viewbox(root)
    if width is None or height is None:
        return _DEFAULT_DECIMALS
    units_per_px = min(box[2] / width, box[3] / height) if box else 1.0
    # round() halves the step: error <= 0.5 * 10**-d units = 0.5 * 10**-d / units_per_px pixels.
    decimals = math.ceil(math.log10(0.5 / (_TOLERANCE_PX * units_per_px))) + extra
    return max(_MIN_DECIMALS, min(_MAX_DECIMALS, decimals))


def _apply_resize(root: Element, resize: ResizeSpec) -> None:
    """Set the root's size to the style's geometry; the drawing scales through the viewBox."""
    width, height = _size(root)
    if width is None or height is None:
        raise UnsupportedFormat("The SVG has no intrinsic size to resize from.")
    if _viewbox(root) is None:
        root.set("viewBox", f"0 0 {_number(width)} {_number(height)}")
    geometry = target_geometry(max(1, round(width)), max(1, round(height)), resize)
    root.set("width", str(geometry.width))
    root.set("height", str(geometry.height))
    if resize.strategy is ResizeStrategy.EXACT:
        root.set("preserveAspectRatio", "none")
    elif (geometry.resize_width, geometry.resize_height) != (geometry.width, geometry.height):
        larger = geometry.resize_width > geometry.width or geometry.resize_height > geometry.height
        root.set("preserveAspectRatio", "xMidYMid slice" if larger else "xMidYMid meet")


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _config(root: Element, decimals: int, lossless: bool) -> dict[str, Any]:
    """SVGO's preset-default rounding to ``decimals``."""
    overrides: dict[str, Any] = {}
    plugins: list[Any] = []
    if not any(local_name(element.tag) == "style" for element in root.iter()):
        # With no <style> sheet, presentation attributes cannot lose a cascade fight, so style=""
        # declarations can become (shorter, default-removable) attributes.
        plugins.append("convertStyleToAttrs")
    if lossless:
        overrides["convertTransform"] = False
    plugins.append({"name": "preset-default", "params": {"overrides": overrides}})
    return {"multipass": True, "plugins": plugins, "floatPrecision": decimals}


def _minify(text: str, root: Element, decimals: int, lossless: bool = False) -> str:
    return str(svgo.optimize(text, _config(root, decimals, lossless))["data"])


def _written_decimals(text: str) -> int:
    written = max((len(match) for match in _WRITTEN_DECIMALS.findall(text)), default=0)
    return min(written, _MAX_LOSSLESS_DECIMALS)


def _render(text: str, root: Element) -> pyvips.Image:
    width, height = _size(root)
    scale = 1.0
    if width and height and width * height > _MAX_RENDER_PIXELS:
        scale = math.sqrt(_MAX_RENDER_PIXELS / (width * height))
    return pyvips.Image.svgload_buffer(text.encode(), scale=scale)


def renders_alike(reference: pyvips.Image, candidate: pyvips.Image) -> bool:
    if (reference.width, reference.height, reference.bands) != (
        candidate.width,
        candidate.height,
        candidate.bands,
    ):
        return False
    differing = (reference.cast("int") - candidate.cast("int")).abs() > _PIXEL_TOLERANCE
    return bool(differing.avg() / 255 <= _MAX_DIFFERING_SHARE)


def _lossy_extra(level: int) -> int:
    return next(extra for floor, extra in _LOSSY_EXTRA_DECIMALS if level >= floor)


def _optimise(clean: str, root: Element, options: CompressOptions, deadline: float | None) -> str:
    kind = options.compression_type
    if kind is CompressionType.LOSSLESS:
        return _minify(clean, root, _written_decimals(clean), lossless=True)
    if kind is CompressionType.LOSSY:
        return _minify(clean, root, _decimals(root, _lossy_extra(options.level)))
    reference = None
    output = clean
    stop_at = search_deadline(deadline)
    for extra in _BALANCED_EXTRA_DECIMALS:
        if stop_at is not None and time.monotonic() > stop_at:
            # Out of time: the candidate checked last did not render alike; the sanitised
            # document as written is the lossless answer.
            return clean
        output = _minify(clean, root, _decimals(root, extra))
        try:
            if reference is None:
                reference = _render(clean, root)
            if renders_alike(reference, _render(output, root)):
                return output
        except pyvips.Error:
            # librsvg could not draw it: keep the most precise candidate, which the loop ends on.
            continue
    return output


def compress_svg(
    data: bytes,
    *,
    options: CompressOptions,
    resize: ResizeSpec | None,
    limits: EngineLimits,
    deadline: float | None,
) -> Result:
    root, namespaces = parse_svg(data, limits)
    in_width, in_height = _size(root)
    sanitised = sanitise(root)
    if resize is not None:
        _apply_resize(root, resize)
    # No deadline check from here on but the balanced search's own: parsing, sanitising and writing
    # are linear in the (bounded) input, and the sanitised document is the least a client gets.
    clean = _Writer(namespaces).write(root)
    output = _optimise(clean, root, options, deadline)
    # The optimiser must not reintroduce anything: re-check its output the same way.
    out_root, out_namespaces = parse_svg(output.encode(), limits)
    if sanitise(out_root):
        output = _Writer(out_namespaces).write(out_root)
    encoded = output.encode()
    # Never larger, except that active content is never handed back: a document we had to
    # sanitise is returned sanitised even in the (theoretical) case it did not shrink.
    if len(encoded) >= len(data) and not sanitised and resize is None:
        return Result(data, Format.SVG, _round(in_width), _round(in_height), None, unchanged=True)
    width, height = _size(out_root)
    return Result(encoded, Format.SVG, _round(width), _round(height), None, unchanged=False)


def _round(value: float | None) -> int | None:
    return None if value is None else round(value)
