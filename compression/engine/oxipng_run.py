"""oxipng, the lossless PNG recompression, under a deadline: in this process without one, else in a
child process that runs alongside the caller and is killed when its share of the time is up."""

import logging
import os
import subprocess
import sys
import tempfile
import time
from typing import IO

import oxipng

from .errors import CorruptInput

logger = logging.getLogger(__name__)

# lossless: oxipng -o4 (what the benchmark's lossless peer used to be).
OXIPNG_LEVEL = 4
# Under a deadline (see oxipng_optimize): the share of the time left oxipng may take, and the least
# time worth starting it with.
OXIPNG_SHARE = 0.6
OXIPNG_MIN_SECONDS = 2.0


def oxipng_optimize(
    data: bytes, strip_metadata: bool, deadline: float | None, *, level: int = OXIPNG_LEVEL
) -> bytes:
    """oxipng at ``level`` (4 by default, what the benchmark's lossless peer uses); ``safe`` stripping
    keeps the chunks that affect rendering (iCCP, sRGB, gAMA, cHRM, ...).

    Anytime: oxipng's own timeout only stops it from starting new trials, and a trial on a large
    image can take a minute while holding the GIL; under a deadline it runs in a child process (see
    OxipngRun) and without one in this process."""
    if deadline is None:
        return _oxipng(data, "safe" if strip_metadata else "none", level, None)
    return OxipngRun(data, strip_metadata, deadline, level=level).result()


class OxipngRun:
    """oxipng on ``data`` in a child process that starts at once and runs alongside the caller (on
    the other core) until ``result`` collects it or ``cancel`` kills it.

    Under a deadline the child is killed after OXIPNG_SHARE of the time left, ``data`` (a valid PNG
    already) being the answer then; with less than OXIPNG_MIN_SECONDS left it does not start.
    ``threads`` caps oxipng's worker threads (its filter trials run in parallel)."""

    def __init__(
        self,
        data: bytes,
        strip_metadata: bool,
        deadline: float | None,
        *,
        level: int = OXIPNG_LEVEL,
        threads: int | None = None,
    ) -> None:
        self.data = data
        self._process: subprocess.Popen[bytes] | None = None
        self._stop_at: float | None = None
        self._files: list[IO[bytes]] = []
        timeout_seconds = 0  # none
        if deadline is not None:
            left = deadline - time.monotonic()
            if left < OXIPNG_MIN_SECONDS:
                logger.info("png: %.1f s left, %d bytes left without oxipng", left, len(data))
                return
            budget = left * OXIPNG_SHARE
            self._stop_at = time.monotonic() + budget
            timeout_seconds = max(1, int(budget * 0.8))
        self._files = [tempfile.TemporaryFile() for _ in range(3)]
        stdin, stdout, stderr = self._files
        stdin.write(data)
        stdin.seek(0)
        env = None if threads is None else {**os.environ, "RAYON_NUM_THREADS": str(threads)}
        strip = "safe" if strip_metadata else "none"
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", _OXIPNG_CHILD, strip, str(level), str(timeout_seconds)],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=env,
        )

    def finished(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def result(self) -> bytes:
        """oxipng's output (waiting for it), or ``data`` when it was not started, was stopped or
        failed; CorruptInput when oxipng refuses the PNG."""
        if self._process is None:
            return self.data
        wait = None if self._stop_at is None else max(0.0, self._stop_at - time.monotonic())
        try:
            returncode = self._process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.cancel()
            logger.info("png: oxipng stopped at its share of the time; %d bytes kept", len(self.data))
            return self.data
        _, stdout, stderr = self._files
        try:
            if returncode == _OXIPNG_REFUSED:
                raise CorruptInput()
            stdout.seek(0)
            out = stdout.read()
            if returncode != 0 or not out:
                stderr.seek(0)
                logger.warning("png: oxipng child failed (%d): %s", returncode, stderr.read()[-300:])
                return self.data
            return out
        finally:
            self._close()

    def cancel(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close()

    def _close(self) -> None:
        self._process = None
        for file in self._files:
            file.close()
        self._files = []


def _oxipng(data: bytes, strip: str, level: int, timeout: int | None) -> bytes:
    chunks = oxipng.StripChunks.safe() if strip == "safe" else oxipng.StripChunks.none()
    try:
        return oxipng.optimize_from_memory(data, level=level, strip=chunks, timeout=timeout)
    except oxipng.PngError:
        raise CorruptInput() from None


_OXIPNG_REFUSED = 3
# The child: the same library call as ``_oxipng`` (same bytes), on stdin, to stdout.
_OXIPNG_CHILD = f"""
import sys
import oxipng
strip, level, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) or None
chunks = oxipng.StripChunks.safe() if strip == "safe" else oxipng.StripChunks.none()
try:
    out = oxipng.optimize_from_memory(sys.stdin.buffer.read(), level=level, strip=chunks, timeout=timeout)
except oxipng.PngError:
    sys.exit({_OXIPNG_REFUSED})
sys.stdout.buffer.write(out)
"""
