"""A zip written while it is sent: `zipfile` on a write-only sink (it then uses data descriptors instead of
seeking back), drained after every chunk. Memory stays at one chunk, whatever the number of files."""

from __future__ import annotations

import logging
import posixpath
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from crush.lib.errors import NotFound

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
COMPRESS_LEVEL = 1


class _Sink:
    """Write-only: no tell/seek, so zipfile streams (flag bit 3, sizes after each file's data)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def drain(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name-2.ext`, `name-3.ext`… when an entry of that name is already in the zip."""
    candidate, stem, extension, counter = name, *posixpath.splitext(name), 1
    while candidate in taken:
        counter += 1
        candidate = f"{stem}-{counter}{extension}"
    taken.add(candidate)
    return candidate


def zip_stream(entries: Iterable[tuple[str, Callable[[], IO[bytes]]]]) -> Iterator[bytes]:
    """Yields the zip of `(name, open)` entries; `open` is called only when that entry is written, and an
    entry whose file has gone meanwhile (NotFound) is left out. Deflate at its fastest level: images are
    compressed already, and streamed deflate entries are what every unzipper reads (stored ones with data
    descriptors are not)."""
    sink = _Sink()
    taken: set[str] = set()
    with zipfile.ZipFile(  # type: ignore[call-overload]
        sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        for name, opener in entries:
            try:
                source = opener()
            except NotFound:
                logger.warning("zip entry %s left out: its file is gone", name)
                continue
            with source, archive.open(unique_name(name, taken), mode="w") as target:
                while chunk := source.read(CHUNK_BYTES):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():
        yield data
