"""The SVG's safety: parsing with defusedxml (entity declarations and external entities refused, a
plain ``<!DOCTYPE svg PUBLIC ...>`` accepted, nesting bounded) and the sanitiser, which removes
scripts, event handlers, ``foreignObject``, XHTML content, ``javascript:`` URLs and every external
reference before anything else reads the document."""

import io
import re
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from .errors import CorruptInput, InputTooLarge, UnsupportedFormat
from .options import EngineLimits

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_EVENTS_NS = "http://www.w3.org/2001/xml-events"

# Deeper documents are refused: the optimiser recurses per level (Python's limit is 1000 frames).
MAX_DEPTH = 128
# Elements that run code or embed other documents, in any namespace (compared lower-case).
_DANGEROUS_ELEMENTS = frozenset(
    {"script", "foreignobject", "handler", "listener", "iframe", "embed", "object"}
)
_ANIMATIONS = frozenset({"set", "animate", "animatecolor", "animatemotion", "animatetransform"})
# Embedded rasters are fine: browsers never run code from an <image>. SVG data URIs are refused
# because they would need the same sanitising, recursively.
_SAFE_DATA_URI = re.compile(r"data:image/(?:png|jpeg|jpg|gif|webp|avif)[;,]", re.I)
_URL_FUNCTION = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.I)
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20]+")


def local_name(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def namespace_of(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def parse_svg(data: bytes, limits: EngineLimits) -> tuple[Element, list[tuple[str, str]]]:
    """The root element (namespaces resolved) and the document's prefix declarations."""
    if len(data) > limits.max_svg_bytes:
        raise InputTooLarge(f"The SVG is larger than {limits.max_svg_bytes} bytes.")
    if not data.strip():
        raise CorruptInput("The file is empty.")
    namespaces: list[tuple[str, str]] = []
    depth = 0
    root: Element | None = None
    try:
        events = SafeET.iterparse(
            io.BytesIO(data), events=("start", "end", "start-ns"), forbid_entities=True, forbid_external=True
        )
        for event, item in events:
            if event == "start-ns":
                namespaces.append(item)
            elif event == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputTooLarge(f"The SVG nests elements more than {MAX_DEPTH} levels deep.")
                if root is None:
                    root = item
            else:
                depth -= 1
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden):
        raise UnsupportedFormat("SVG files declaring entities are not supported.") from None
    except ParseError:
        raise CorruptInput("The SVG is not well-formed XML.") from None
    if root is None or local_name(root.tag) != "svg" or namespace_of(root.tag) not in (SVG_NS, ""):
        raise UnsupportedFormat("The file is not an SVG document.")
    return root, namespaces


def _safe_reference(value: str) -> bool:
    target = _CONTROL_OR_SPACE.sub("", value)
    return target.startswith("#") or bool(_SAFE_DATA_URI.match(target))


def _clean_css(text: str) -> str:
    """CSS without @import and with external url() references replaced by ``none``."""
    text = _CSS_IMPORT.sub("", text)
    return _URL_FUNCTION.sub(lambda m: m.group(0) if _safe_reference(m.group(2)) else "none", text)


def _executable(value: str) -> bool:
    squeezed = _CONTROL_OR_SPACE.sub("", value).lower()
    return "javascript:" in squeezed or "vbscript:" in squeezed or "expression(" in squeezed


def _dangerous_element(element: Element) -> bool:
    local = local_name(element.tag).lower()
    if local in _DANGEROUS_ELEMENTS or namespace_of(element.tag) in (XHTML_NS, XML_EVENTS_NS):
        return True
    if local in _ANIMATIONS:
        target = local_name(element.get("attributeName", "")).split(":")[-1].strip().lower()
        return target == "href" or target.startswith("on")
    return False


def _sanitise_attributes(element: Element) -> bool:
    changed = False
    for key, value in list(element.attrib.items()):
        local = local_name(key).lower()
        drop = (
            local.startswith("on")
            or _executable(value)
            or (local == "href" and not _safe_reference(value))
            or (local == "base" and namespace_of(key) == XML_NS)
        )
        if drop:
            del element.attrib[key]
            changed = True
        elif "url(" in value.lower():
            cleaned = _clean_css(value)
            if cleaned != value:
                element.set(key, cleaned)
                changed = True
    return changed


def _remove_child(parent: Element, child: Element) -> None:
    """Remove ``child`` but keep the text that followed it (it matters inside <text>)."""
    if child.tail:
        index = list(parent).index(child)
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def sanitise(root: Element) -> bool:
    """Strip active content and external references in place; True when anything was removed."""
    changed = _sanitise_attributes(root)
    stack = [root]
    while stack:
        parent = stack.pop()
        for child in list(parent):
            if not isinstance(child.tag, str) or _dangerous_element(child):
                _remove_child(parent, child)
                changed = True
                continue
            changed |= _sanitise_attributes(child)
            if local_name(child.tag) == "style" and child.text:
                cleaned = _clean_css(child.text)
                if _executable(cleaned):
                    cleaned = ""
                if cleaned != child.text:
                    child.text = cleaned
                    changed = True
            stack.append(child)
    return changed
