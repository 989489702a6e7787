"""The compress endpoints' body, whatever its encoding, as one plain dict for the InputSerializer.

JSON, multipart and x-www-form-urlencoded bodies carry the same fields (API.md §1 "Requests"). `resize`
arrives as a JSON array, as one form field holding that array as a string, or Rails/PHP style:
`resize[][style]=thumb&resize[][width]=320&resize[][style]=pico&…`, where a repeated key starts the next
object (`resize[0][style]=…` with explicit indexes works too). The Rails rule needs the order of the form's
pairs, which Django's QueryDict loses across keys, hence the parsers below that keep it.

Two habits of existing clients are tolerated: curl's `-H 'Content-Type: application/json' -F …` (the
Crush.pics documentation's own example) sends a multipart body labelled `application/json; boundary=…`,
parsed here as the multipart it is; and a JSON object with (repeated) `resize[][…]` keys is read like the form
it imitates.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

from django.http import QueryDict
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers as drf_parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request

from crush.api import jsonbody
from crush.api.multipart import PartHeadersUtf8Stream, multipart_boundary
from crush.lib.errors import FileTooLarge, ValidationFailed

_RESIZE_KEY = re.compile(r"resize\[(?P<index>[0-9]*)\]\[(?P<name>[^\[\]]+)\]")
# An explicit index longer than this is refused (int() of thousands of digits is slow, then refused).
_RESIZE_INDEX_MAX_DIGITS = 6
# Fields that take a list: a form may repeat them (`preserve=copyright&preserve=creation`, or `preserve[]=…`).
_LIST_FIELDS = ("convert", "preserve")
# Form values that mean "not given" for an optional field (API.md: a dimension may be omitted, null or 0).
_EMPTY_FORM_VALUES = ("", "null")


def _encoding(parser_context: Any) -> str:
    """The request body's charset, checked by DRF (refuses bytes-to-bytes codecs such as bz2_codec)."""
    return str(drf_parsers.get_encoding(parser_context))  # type: ignore[attr-defined]


class OrderedQueryDict(QueryDict):
    """A QueryDict that also keeps every (key, value) pair in arrival order, in `pairs`."""

    def __init__(self, query_string: str | bytes | None = None, mutable: bool = False, encoding: Any = None):
        self.pairs: list[tuple[str, Any]] = []
        super().__init__(query_string, mutable=mutable, encoding=encoding)

    def appendlist(self, key: str | bytes, value: Any) -> None:
        super().appendlist(key, value)
        self.pairs.append((key if isinstance(key, str) else key.decode(), value))

    def __deepcopy__(self, memo: MutableMapping[int, Any]) -> OrderedQueryDict:
        result = super().__deepcopy__(memo)
        result.pairs = list(self.pairs)
        return result


class _OrderedDjangoMultiPartParser(DjangoMultiPartParser):
    """Django's multipart parser collecting its fields into an OrderedQueryDict.

    Django assigns `self._post = QueryDict(mutable=True)` before reading the parts; the setter swaps in the
    ordered kind so each `appendlist` is recorded.
    """

    @property
    def _post(self) -> QueryDict:
        return self._ordered_post

    @_post.setter
    def _post(self, value: QueryDict) -> None:
        self._ordered_post = value if isinstance(value, OrderedQueryDict) else OrderedQueryDict(mutable=True)


class OrderedFormParser(FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return OrderedQueryDict(stream.read(), encoding=_encoding(parser_context or {}))


class OrderedMultiPartParser(MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = _encoding(parser_context)
        boundary = multipart_boundary(media_type or "")
        if stream is not None and boundary:
            stream = PartHeadersUtf8Stream(stream, boundary)
        try:
            parser = _OrderedDjangoMultiPartParser(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)


class CompressJSONParser(JSONParser):
    """JSON, or the multipart body curl sends under `-H 'Content-Type: application/json' -F …`."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        boundary = multipart_boundary(media_type or "")
        if boundary:
            multipart_type = f"multipart/form-data; boundary={boundary}"
            return OrderedMultiPartParser().parse(stream, multipart_type, parser_context)
        try:
            reader = codecs.getreader(_encoding(parser_context or {}))(stream)
            return jsonbody.loads(reader.read(), object_pairs_hook=_json_object)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if any(_RESIZE_KEY.fullmatch(key) for key, _ in pairs):
        return form_fields(pairs)
    return dict(pairs)


COMPRESS_PARSERS = [CompressJSONParser, OrderedMultiPartParser, OrderedFormParser]


def compress_input(request: Request) -> Any:
    """The request's compress fields: `file` is the upload (or whatever the client sent under that name)."""
    data = request.data
    if isinstance(data, QueryDict):
        pairs = data.pairs if isinstance(data, OrderedQueryDict) else list(data.lists())
        fields = form_fields(_flat(pairs))
        upload = request.FILES.get("file")
        if upload is not None:
            fields["file"] = upload
        return fields
    if isinstance(data, dict):
        data = dict(data)
        if isinstance(data.get("resize"), str):
            data["resize"] = _resize_json(data["resize"])
        elif isinstance(data.get("resize"), dict):
            data["resize"] = [data["resize"]]
    return data


def _flat(pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in pairs:
        if isinstance(value, list):
            flat.extend((key, item) for item in value)
        else:
            flat.append((key, value))
    return flat


def form_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form pairs in arrival order → the dict a JSON body would carry (of a repeated key, the last wins,
    except for the list fields, which collect every `name=` or `name[]=` value)."""
    fields: dict[str, Any] = {}
    resize_pairs: list[tuple[str, str, Any]] = []
    for key, value in pairs:
        match = _RESIZE_KEY.fullmatch(key)
        listed = key.removesuffix("[]")
        if match:
            resize_pairs.append((match["index"], match["name"], value))
        elif listed in _LIST_FIELDS:
            if value not in _EMPTY_FORM_VALUES:
                fields.setdefault(listed, []).append(value)
        elif value not in _EMPTY_FORM_VALUES:
            fields[key] = value
        else:
            fields.pop(key, None)
    if resize_pairs:
        if "resize" in fields:
            raise ValidationFailed(
                {"resize": ["Send resize either as resize[][…] fields or as one JSON field."]}
            )
        fields["resize"] = resize_from_pairs(resize_pairs)
    elif isinstance(fields.get("resize"), str):
        fields["resize"] = _resize_json(fields["resize"])
    return fields


def resize_from_pairs(pairs: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """`(index, name, value)` triples of `resize[index][name]=value` → style objects.

    Without an index (`resize[][name]`) a name the current object already has starts the next object (Rails);
    explicit indexes group by index, in numeric order, after the index-less objects.
    """
    sequential: list[dict[str, Any]] = []
    indexed: dict[int, dict[str, Any]] = {}
    for index, name, raw in pairs:
        value = None if raw in _EMPTY_FORM_VALUES else raw
        if len(index) > _RESIZE_INDEX_MAX_DIGITS:
            raise ValidationFailed(
                {"resize": [f"An index in resize[…] has at most {_RESIZE_INDEX_MAX_DIGITS} digits."]}
            )
        if index:
            indexed.setdefault(int(index), {})[name] = value
            continue
        if not sequential or name in sequential[-1]:
            sequential.append({})
        sequential[-1][name] = value
    return sequential + [indexed[index] for index in sorted(indexed)]


def _resize_json(text: str) -> Any:
    """A JSON array of styles held in one string field; a single object counts as a list of one."""
    try:
        value = jsonbody.loads(text)
    except ValueError:
        raise ValidationFailed({"resize": ["Must be a JSON array of styles."]}) from None
    return [value] if isinstance(value, dict) else value


# Room for the other fields and the multipart framing around the file itself.
FORM_OVERHEAD_BYTES = 2**20


def body_size_check(request: Request, *, max_file_bytes: int) -> None:
    """413 from the declared Content-Length, before a body that cannot be accepted is read and spooled."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length > max_file_bytes + FORM_OVERHEAD_BYTES:
        raise FileTooLarge()
