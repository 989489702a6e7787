"""Real-file sweep: every file of a corpus through the engine, each outcome classified.

    .venv/bin/python bench/sweep.py [--corpus DIR] [--jobs N] [--only TEXT] [--runs balanced,lossy,...]

Every file goes through ``engine.probe`` then ``engine.compress`` (as the service does, with the service's
default ``EngineLimits`` and deadline) in ``balanced``; a fixed subset (every ``--every``-th file per format
in sorted order) also in ``lossy`` and ``lossless``, and two resize styles on other fixed subsets. Each run
happens in a worker process, so a hang or a crash (segfault) is contained and counted.

Classes:
- ``ok``: the output decodes, is not larger than the input (a resize style: than the original file), has
  the input's format and the right dimensions (EXIF orientation applied), looks like the input (per time
  for animations, exactly for ``lossless``), keeps an animation's timing and a PDF's pages, text and
  permissions, and the result's flags and sizes describe the output;
- ``refusal``: an ``EngineError`` with its message (a refusal of a file the corpus marks as damaged is
  expected; an unexpected one is flagged in the list);
- ``fallback``: a result whose ``warning`` is set (the engine kept the input after an optimizer failed);
- ``internal``: any other exception, or a worker process that died;
- ``wrong``: a check above failed (a damaged input "compressed" into an output counts here too);
- ``timeout``: the engine's deadline (DeadlineExceeded) or the per-run time limit.

Writes var/sweep/sweep-<UTC time>.{json,md} (and prints the markdown); outputs of wrong runs are kept
under --keep (default: the system's temporary folder / crush-sweep-out) to reproduce them.
"""

import argparse
import bisect
import csv
import dataclasses
import datetime
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(tempfile.gettempdir()) / "crush-sweep-dev"
DEFAULT_KEEP = Path(tempfile.gettempdir()) / "crush-sweep-out"
CLASSES = ("ok", "refusal", "fallback", "internal", "wrong", "timeout")
FORMATS = ("jpeg", "png", "gif", "webp", "svg", "pdf", "avif", "heic", "tiff", "bmp")
# Inputs that are no web format: their output is another format (``convert``'s "auto" over these).
CONVERTED_INPUTS = ("heic", "tiff", "bmp")
CONVERTED_OUTPUTS = ("jpeg", "png", "webp", "avif")
# "how made" (MANIFEST.tsv) of inputs that are not a complete image file (an interrupted download, a web
# page under an image name): they must be refused. (Go's "progressive.truncated" JPEG is a complete file
# with fewer scans, and its invalid-*.png may or may not be readable: those are judged like any file.)
DAMAGED_HOW = re.compile(r"\bfirst half\b|saved as \.", re.I)
# Browsers play a frame delay of 0 or 10 ms (and a GIF frame without a delay) as 100 ms: delays are
# compared as played.
FASTEST_DELAY_MS = 10  # and anything shorter
DEFAULT_DELAY_MS = 100
CHECK_SECONDS = 240  # the checks after a run (decode, look, pdftotext) get this long
THUMB_PX = 96  # look comparisons on thumbnails this size (both sides resized to the same size)
LOOK_LIMIT = {"lossy": 14.0, "balanced": 10.0, "resize": 12.0}  # mean absolute difference, 0..255
CONVERTED_LOSSLESS_LIMIT = 1.0  # mean absolute difference, 0..255, of a lossless conversion to sRGB
MAX_TIMES = 48  # animations: frames compared at up to this many instants


# ---------------------------------------------------------------- runs


@dataclasses.dataclass(frozen=True)
class Run:
    """One request: a compression type, a level and an optional resize style (fit width x height)."""

    name: str
    compression_type: str
    level: int = 80
    fit: tuple[int, int] | None = None


RUNS = {
    "balanced": Run("balanced", "balanced"),
    "lossy": Run("lossy", "lossy"),
    "lossless": Run("lossless", "lossless"),
    "fit800": Run("fit800", "balanced", fit=(800, 800)),
    "lossy100-fit1100": Run("lossy100-fit1100", "lossy", level=100, fit=(1100, 1100)),
}
# Which files of a format (index in sorted order, modulo --every) each run takes; None: every file.
RUN_SUBSET: dict[str, int | None] = {
    "balanced": None,
    "lossy": 0,
    "lossless": 0,
    "fit800": 2,
    "lossy100-fit1100": 4,
}
RESIZABLE = ("jpeg", "png", "gif", "webp", "svg", "avif", "heic", "tiff", "bmp")


@dataclasses.dataclass
class Job:
    file: str  # relative to the corpus
    fmt: str  # the corpus folder
    bytes: int
    how: str
    run: str

    @property
    def damaged(self) -> bool:
        return bool(DAMAGED_HOW.search(self.how))


def read_manifest(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def plan(corpus: Path, runs: list[str], every: int, only: str | None, formats: list[str]) -> list[Job]:
    rows = read_manifest(corpus)
    by_fmt: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_fmt[row["file"].split("/", 1)[0]].append(row)
    jobs = []
    for fmt in formats:
        for index, row in enumerate(sorted(by_fmt[fmt], key=lambda r: r["file"])):
            if only and only not in row["file"]:
                continue
            for name in runs:
                subset = RUN_SUBSET[name]
                if subset is not None and (
                    index % every != subset or (RUNS[name].fit and fmt not in RESIZABLE)
                ):
                    continue
                jobs.append(Job(row["file"], fmt, int(row["bytes"]), row["how_made"], name))
    # balanced on every file first (a sweep cut short still covers the whole corpus once), then the
    # subsets; within each, the largest first so the slow ones do not end up alone at the end
    return sorted(jobs, key=lambda j: (j.run != "balanced", -j.bytes, j.file, j.run))


def service_limits() -> dict[str, int]:
    """The service's EngineLimits (compression.services.options.engine_limits) from crush/settings.py, read
    without setting Django up (a throw-away SECRET_KEY lets the module import), and the job time limit."""
    os.environ.setdefault("SECRET_KEY", "sweep-only-not-a-secret")
    sys.path.insert(0, str(ROOT))
    import crush.settings as s

    return {
        "max_input_bytes": s.CRUSH_MAX_INPUT_BYTES,
        "max_pixels": s.CRUSH_MAX_PIXELS,
        "max_frames": s.CRUSH_MAX_FRAMES,
        "max_pdf_pages": s.CRUSH_MAX_PDF_PAGES,
        "max_svg_bytes": s.CRUSH_MAX_SVG_BYTES,
        "time_limit_seconds": s.CRUSH_JOB_TIME_LIMIT_SECONDS,
    }


# ---------------------------------------------------------------- worker side


class WrongOutput(Exception):
    pass


def _log_capture() -> tuple[logging.Handler, list[str]]:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:300])

    logging.captureWarnings(True)  # warnings.warn (pikepdf's PageCopyWarning ...) as log records
    handler = Keep(logging.WARNING)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    return handler, records


def worker_main(
    conn: multiprocessing.connection.Connection, corpus: str, limits: dict[str, int], keep: str
) -> None:
    sys.path.insert(0, str(ROOT))
    from compression import engine
    from compression.engine.quality import warm_up

    warm_up()
    conn.send({"phase": "ready"})
    engine_limits = engine.EngineLimits(**{k: v for k, v in limits.items() if k != "time_limit_seconds"})
    _, records = _log_capture()
    while True:
        try:
            job = Job(**conn.recv())
        except EOFError:
            return
        records.clear()
        conn.send(
            run_job(job, Path(corpus), engine_limits, limits["time_limit_seconds"], conn, Path(keep), records)
        )


def run_job(
    job: Job,
    corpus: Path,
    limits: Any,
    time_limit: int,
    conn: multiprocessing.connection.Connection,
    keep: Path,
    records: list[str],
) -> dict[str, Any]:
    from compression import engine

    run = RUNS[job.run]
    data = (corpus / job.file).read_bytes()
    out: dict[str, Any] = {"file": job.file, "fmt": job.fmt, "run": job.run, "bytes": len(data)}
    start = time.monotonic()
    stage = "probe"
    try:
        probe = engine.probe(data, limits=limits)
        stage = "compress"
        options = engine.CompressOptions(compression_type=run.compression_type, level=run.level)
        resize = engine.ResizeSpec("fit", run.fit[0], run.fit[1]) if run.fit else None
        result = engine.compress(
            data, options=options, resize=resize, limits=limits, deadline=start + time_limit * 0.9
        )
    except engine.DeadlineExceeded as exc:
        return out | {
            "class": "timeout",
            "seconds": time.monotonic() - start,
            "message": f"{stage}: {exc.message}",
        }
    except engine.EngineError as exc:
        out |= {"class": "refusal", "seconds": time.monotonic() - start, "message": f"{stage}: {exc.message}"}
        out["code"] = exc.code
        if not job.damaged:
            out["input_opens"] = input_opens(data, job.fmt)
        return out
    except Exception as exc:
        tb = traceback.format_exc()
        return out | {
            "class": "internal",
            "seconds": time.monotonic() - start,
            "message": f"{stage}: {type(exc).__name__}: {exc}"[:500],
            "traceback": tb[-3000:],
            "log": list(records),
        }
    seconds = time.monotonic() - start
    conn.send({"phase": "checking", "seconds": seconds})
    out |= {"seconds": seconds, "out_bytes": len(result.data), "log": list(records)}
    warning = getattr(result, "warning", None)
    if warning:
        return out | {"class": "fallback", "message": str(warning)}
    try:
        notes = check(job, data, probe, result, run)
    except WrongOutput as exc:
        out |= {"class": "wrong", "message": str(exc)}
        if job.damaged:
            out["message"] = f"a damaged input was not refused ({job.how}); {exc}"
        saved = keep / job.run / job.file
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(result.data)
        out["kept"] = str(saved)
        return out
    except Exception as exc:
        out |= {"class": "wrong", "message": f"check failed: {type(exc).__name__}: {exc}"[:500]}
        out["traceback"] = traceback.format_exc()[-2000:]
        return out
    if job.damaged:
        return out | {"class": "wrong", "message": f"a damaged input was not refused ({job.how})"}
    return out | {"class": "ok", "notes": notes}


def input_opens(data: bytes, fmt: str) -> str:
    """Whether another reader opens a refused input (to tell a bad file from a wrong refusal)."""
    try:
        if fmt == "pdf":
            proc = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, timeout=60)
            return "pdfinfo opens it" if proc.returncode == 0 else "pdfinfo fails too"
        import pyvips

        image = pyvips.Image.new_from_buffer(data, "", fail_on="error", **_frames_option(fmt))
        image.avg()
        return "libvips decodes it (fail_on=error)"
    except Exception as exc:
        return f"libvips/pdfinfo cannot read it either ({type(exc).__name__})"


def _frames_option(fmt: str) -> dict[str, int]:
    return {"n": -1} if fmt in ("gif", "webp") else {}


def check(job: Job, data: bytes, probe: Any, result: Any, run: Run) -> list[str]:
    from compression import engine

    out = result.data
    notes: list[str] = []
    try:
        out_fmt = engine.sniff(out)
    except engine.EngineError as exc:
        raise WrongOutput(f"the output is not a known format ({exc.message})") from None
    converted = job.fmt in CONVERTED_INPUTS
    if converted and out_fmt.value not in CONVERTED_OUTPUTS:
        raise WrongOutput(f"the output is {out_fmt}, not one of {', '.join(CONVERTED_OUTPUTS)}")
    if not converted and out_fmt != probe.format:
        raise WrongOutput(f"the output is {out_fmt}, the input {probe.format}")
    if not converted and len(out) > len(data):
        what = "the original file" if run.fit else "the input"
        raise WrongOutput(f"the output ({len(out)} B) is larger than {what} ({len(data)} B)")
    if not converted and not run.fit and result.unchanged != (out == data):
        raise WrongOutput(
            f"Result.unchanged={result.unchanged} but the bytes are {'not ' * (out != data)}the input's"
        )
    if probe.format is engine.Format.PDF:
        notes += check_pdf(data, out)
    elif probe.format is engine.Format.SVG:
        notes += check_svg(data, out, run)
    else:
        notes += check_raster(job.fmt, data, out, out_fmt.value, probe, result, run)
    return notes


# -- raster


@dataclasses.dataclass
class Decoded:
    image: Any  # every frame stacked, composited, EXIF orientation applied
    width: int
    frame_h: int
    frames: int
    delays: list[int] | None
    loop: int | None
    orientation: int

    def frame(self, index: int) -> Any:
        return self.image.crop(0, index * self.frame_h, self.width, self.frame_h)

    @property
    def starts(self) -> list[int]:
        assert self.delays is not None
        return [sum(self.delays[:i]) for i in range(len(self.delays))]


def decode(data: bytes, fmt: str, fail_on: str) -> Decoded:
    import pyvips

    if fmt in ("heic", "bmp"):  # libvips cannot read them here: the engine's own reader (Pillow)
        from compression.engine import EngineLimits, Format
        from compression.engine.foreign import to_tiff

        data, fmt = to_tiff(data, Format(fmt), EngineLimits(max_pixels=2**40))[0], "tiff"
    image = pyvips.Image.new_from_buffer(data, "", fail_on=fail_on, **_frames_option(fmt))
    orientation = int(image.get("orientation")) if image.get_typeof("orientation") else 1
    frame_h = int(image.get("page-height")) if image.get_typeof("page-height") else image.height
    if frame_h <= 0 or image.height % frame_h:
        frame_h = image.height
    frames = image.height // frame_h
    delays = None
    if image.get_typeof("delay") and frames > 1:
        delays = [int(d) if int(d) > FASTEST_DELAY_MS else DEFAULT_DELAY_MS for d in image.get("delay")]
    loop = int(image.get("loop")) if image.get_typeof("loop") and frames > 1 else None
    image = image.copy_memory()  # decodes every pixel now: a damaged output fails here
    if frames == 1 and orientation != 1:
        image = image.autorot()
        frame_h = image.height
    return Decoded(image, image.width, frame_h, frames, delays, loop, orientation)


def _srgb8(image: Any) -> Any:
    if image.interpretation == "cmyk":
        image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
    if image.bands < 3 or image.format != "uchar" or image.interpretation not in ("srgb",):
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = (image.cast("float") * (255 / 65535 if image.format == "ushort" else 1)).cast("uchar")
    if not image.hasalpha():
        image = image.bandjoin(255)
    return image


def _exact_rgba(image: Any) -> Any:
    """16-bit-scaled RGBA of any layout (lossless reductions: grey, palette, dropped opaque alpha)."""
    peak = 65535 if image.format == "ushort" else 255
    colour = image.extract_band(0, n=image.bands - 1) if image.hasalpha() else image
    alpha = image.extract_band(image.bands - 1) if image.hasalpha() else (colour.extract_band(0) * 0 + peak)
    if colour.bands == 1:
        colour = colour.bandjoin([colour, colour])
    return colour.bandjoin(alpha).cast("int") * (257 if peak == 255 else 1)


def look_difference(a: Any, b: Any) -> float:
    """Mean absolute difference (0..255) of small thumbnails: colour over grey, and alpha."""
    a, b = _srgb8(a), _srgb8(b)
    size = max(1, min(THUMB_PX, a.width, a.height, b.width, b.height))
    a = a.thumbnail_image(size, height=size, size="force")
    b = b.thumbnail_image(size, height=size, size="force")
    colour = (a.flatten(background=[128, 128, 128]) - b.flatten(background=[128, 128, 128])).abs().avg()
    alpha = (a.extract_band(3) - b.extract_band(3)).abs().avg()
    return float(max(colour, alpha))


def exact_difference(a: Any, b: Any) -> float:
    return float((_exact_rgba(a) - _exact_rgba(b)).abs().max())


def check_raster(
    fmt: str, data: bytes, out: bytes, out_fmt: str, probe: Any, result: Any, run: Run
) -> list[str]:
    notes = [] if out_fmt == fmt else [f"{fmt} -> {out_fmt}"]
    src = decode(data, fmt, "none")
    try:
        dst = decode(out, out_fmt, "error")
    except Exception as exc:
        raise WrongOutput(f"the output does not decode: {str(exc).strip()[:200]}") from None
    if dst.orientation != 1:
        # lossless JPEG keeps the tag when the pixels cannot be turned losslessly (jpeg.lossless_transcode);
        # it must then display exactly as the input does, which the pixel comparison below checks
        if run.compression_type != "lossless" or run.fit:
            raise WrongOutput(f"the output still carries EXIF orientation {dst.orientation}")
        notes.append(f"orientation {dst.orientation} kept (lossless)")
    # dimensions
    src_w, src_h = probe.width, probe.height
    if run.fit:
        scale = min(run.fit[0] / src_w, run.fit[1] / src_h, 1.0)
        want = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
        if abs(dst.width - want[0]) > 1 or abs(dst.frame_h - want[1]) > 1:
            raise WrongOutput(f"{dst.width}x{dst.frame_h} for fit {run.fit} of {src_w}x{src_h} (want {want})")
    elif (dst.width, dst.frame_h) != (src_w, src_h):
        raise WrongOutput(f"{dst.width}x{dst.frame_h}, the input is {src_w}x{src_h}")
    if (result.width, result.height) != (dst.width, dst.frame_h):
        raise WrongOutput(
            f"the result says {result.width}x{result.height}, the output is {dst.width}x{dst.frame_h}"
        )
    # frames and timing
    pairs: list[tuple[int, int]]
    if src.frames > 1 or dst.frames > 1:
        if src.delays is None or dst.delays is None:
            raise WrongOutput(f"{src.frames} frames became {dst.frames} (timing missing)")
        total_src, total_dst = sum(src.delays), sum(dst.delays)
        if total_src != total_dst:
            raise WrongOutput(
                f"duration {total_src} ms became {total_dst} ms ({src.frames} frames became {dst.frames})"
            )
        if (src.loop or 0) != (dst.loop or 0):
            raise WrongOutput(f"loop {src.loop} became {dst.loop}")
        if total_src == 0:
            if src.frames != dst.frames:
                raise WrongOutput(f"{src.frames} frames of no delay became {dst.frames}")
            pairs = [(i, i) for i in range(src.frames)]
        else:
            times = sorted(set(src.starts) | set(dst.starts))
            if run.compression_type != "lossless" and len(times) > MAX_TIMES:
                times = [times[round(i * (len(times) - 1) / (MAX_TIMES - 1))] for i in range(MAX_TIMES)]
            pairs = [
                (bisect.bisect_right(src.starts, t) - 1, bisect.bisect_right(dst.starts, t) - 1)
                for t in times
            ]
        notes.append(f"{src.frames}->{dst.frames} frames, {total_src} ms")
    else:
        pairs = [(0, 0)]
    # look
    worst = 0.0
    for i, j in pairs:
        a, b = src.frame(i), dst.frame(j)
        if run.compression_type == "lossless" and not run.fit and fmt in CONVERTED_INPUTS:
            # converted losslessly into sRGB (a CMYK or 16-bit source is rounded once)
            diff = look_difference(a, b)
            if diff > CONVERTED_LOSSLESS_LIMIT:
                raise WrongOutput(f"lossless conversion changed the look (mean difference {diff:.2f})")
        elif run.compression_type == "lossless" and not run.fit:
            diff = exact_difference(a, b)
            if diff:
                raise WrongOutput(
                    f"lossless changed pixels (frame {i}/{j}: max difference {diff:g} of 65535)"
                )
        else:
            diff = look_difference(a, b)
            limit = LOOK_LIMIT["resize" if run.fit else run.compression_type]
            if diff > limit:
                raise WrongOutput(f"looks different (frame {i}/{j}: mean difference {diff:.1f} > {limit})")
        worst = max(worst, diff)
    notes.append(f"look {worst:.2f}")
    return notes


# -- svg


def _svg_render(data: bytes, px: int) -> Any:
    import pyvips

    natural = pyvips.Image.svgload_buffer(data)
    scale = min(1.0, px / max(natural.width, natural.height))
    return natural, pyvips.Image.svgload_buffer(data, scale=scale)


def check_svg(data: bytes, out: bytes, run: Run) -> list[str]:
    try:
        src_natural, src = _svg_render(data, 256)
    except Exception:
        src_natural = src = None
    try:
        dst_natural, dst = _svg_render(out, 256)
        dst.avg()
    except Exception as exc:
        raise WrongOutput(f"the output does not render: {str(exc).strip()[:200]}") from None
    if src is None:
        return ["input does not render with librsvg"]
    if run.fit:
        scale = min(run.fit[0] / src_natural.width, run.fit[1] / src_natural.height, 1.0)
        want = (round(src_natural.width * scale), round(src_natural.height * scale))
        if abs(dst_natural.width - want[0]) > 1 or abs(dst_natural.height - want[1]) > 1:
            raise WrongOutput(f"{dst_natural.width}x{dst_natural.height} for fit {run.fit}, want {want}")
    elif (dst_natural.width, dst_natural.height) != (src_natural.width, src_natural.height):
        raise WrongOutput(
            f"renders {dst_natural.width}x{dst_natural.height}, "
            f"the input {src_natural.width}x{src_natural.height}"
        )
    diff = look_difference(src, dst)
    limit = (
        2.0
        if run.compression_type == "lossless"
        else LOOK_LIMIT["resize" if run.fit else run.compression_type]
    )
    if diff > limit:
        raise WrongOutput(f"renders differently (mean difference {diff:.1f} > {limit})")
    return [f"look {diff:.2f}"]


# -- pdf


def _pdf_facts(data: bytes) -> dict[str, Any]:
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        facts: dict[str, Any] = {"pages": len(pdf.pages), "encrypted": pdf.is_encrypted}
        if pdf.is_encrypted:
            facts["allow"] = dict(pdf.allow._asdict())
        facts["forms"] = _pdf_forms(pdf)
    return facts


def _pdf_forms(pdf: Any) -> dict[str, int]:
    """Form fields, annotations (links, widgets ...) and how many widgets the form reaches."""
    form = pdf.Root.get("/AcroForm")
    fields = list(form.get("/Fields", [])) if form is not None else []
    reached, stack = set(), list(fields)
    while stack:
        field = stack.pop()
        if field.objgen in reached or len(reached) > 100_000:
            continue
        reached.add(field.objgen)
        stack.extend(field.get("/Kids", []))
    annots = [a for page in pdf.pages for a in page.obj.get("/Annots", [])]
    widgets = [a for a in annots if a.get("/Subtype") == "/Widget"]
    return {
        "fields": len(fields),
        "annotations": len(annots),
        "widgets": len(widgets),
        "widgets_in_form": sum(1 for w in widgets if w.objgen in reached),
    }


def _poppler(args: list[str], data: bytes, *, to_stdout: tuple[str, ...] = ()) -> tuple[int, bytes, bytes]:
    """Runs a poppler tool on ``data`` (written to a temporary file) and returns its exit code and output."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        proc = subprocess.run([*args, handle.name, *to_stdout], capture_output=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _pdf_text(data: bytes) -> str | None:
    code, text, _ = _poppler(["pdftotext", "-q", "-enc", "UTF-8"], data, to_stdout=("-",))
    return " ".join(text.decode("utf-8", "replace").split()) if code == 0 else None


def _pdf_page_render(data: bytes, page: int) -> Any:
    import pyvips

    code, png, err = _poppler(
        ["pdftoppm", "-q", "-r", "24", "-f", str(page), "-l", str(page), "-png", "-singlefile"], data
    )
    if code != 0 or not png:
        raise WrongOutput(
            f"pdftoppm cannot render page {page} ({err.decode(errors='replace').strip()[:120]})"
        )
    return pyvips.Image.new_from_buffer(png, "")


def check_pdf(data: bytes, out: bytes) -> list[str]:
    try:
        src = _pdf_facts(data)
    except Exception:
        src = None
    try:
        dst = _pdf_facts(out)
    except Exception as exc:
        raise WrongOutput(f"pikepdf cannot open the output: {exc}"[:300]) from None
    code, info, err = _poppler(["pdfinfo"], out)
    if code != 0:
        raise WrongOutput(f"pdfinfo cannot open the output: {err.decode(errors='replace').strip()[:200]}")
    match = re.search(rb"^Pages:\s+(\d+)", info, re.M)
    poppler_pages = int(match.group(1)) if match else None
    if src is not None:
        if dst["pages"] != src["pages"] or poppler_pages != src["pages"]:
            raise WrongOutput(f"{src['pages']} pages became {dst['pages']} (pdfinfo: {poppler_pages})")
        if src["encrypted"] != dst["encrypted"] or src.get("allow") != dst.get("allow"):
            raise WrongOutput(f"permissions changed: {src.get('allow')} -> {dst.get('allow')}")
        if dst["forms"] != src["forms"]:
            raise WrongOutput(f"forms/annotations changed: {src['forms']} -> {dst['forms']}")
    text_src, text_dst = _pdf_text(data), _pdf_text(out)
    if text_dst is None:
        raise WrongOutput("pdftotext cannot read the output")
    if text_src is not None and text_src != text_dst:
        at = next(
            (i for i, (x, y) in enumerate(zip(text_src, text_dst, strict=False)) if x != y),
            min(len(text_src), len(text_dst)),
        )
        raise WrongOutput(
            f"text changed ({len(text_src)} -> {len(text_dst)} chars; first difference at {at}: "
            f"{text_src[max(0, at - 20) : at + 30]!r} -> {text_dst[max(0, at - 20) : at + 30]!r})"
        )
    pages = poppler_pages or 1
    worst = 0.0
    for page in sorted({1, (pages + 1) // 2, pages}):
        b = _pdf_page_render(out, page)
        try:
            a = _pdf_page_render(data, page)
        except WrongOutput:
            continue
        if (a.width, a.height) != (b.width, b.height):
            raise WrongOutput(f"page {page} renders {b.width}x{b.height}, the input {a.width}x{a.height}")
        diff = look_difference(a, b)
        if diff > LOOK_LIMIT["balanced"]:
            raise WrongOutput(f"page {page} looks different (mean difference {diff:.1f})")
        worst = max(worst, diff)
    return [f"{pages} pages, text {len(text_dst)} chars, look {worst:.2f}"]


# ---------------------------------------------------------------- parent side


STARTUP_SECONDS = 900


class Slot:
    """One worker process; restarted after a time-out or a crash."""

    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        self.ctx, self.args = ctx, args
        self.proc: Any = None
        self.conn: Any = None

    def start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker_main, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        # Jobs are timed from when the worker is ready: in a new checkout (or after a kernel change)
        # the metric's kernels compile first, minutes on a loaded machine.
        if not (parent.poll(STARTUP_SECONDS) and parent.recv().get("phase") == "ready"):
            raise RuntimeError(f"a sweep worker was not ready within {STARTUP_SECONDS} s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(10)
            self.conn.close()
            self.proc = None

    def run(self, job: Job, time_limit: int) -> dict[str, Any]:
        if self.proc is None:
            self.start()
        base = {"file": job.file, "fmt": job.fmt, "run": job.run, "bytes": job.bytes}
        start = time.monotonic()
        self.conn.send(dataclasses.asdict(job))
        limit = time_limit + 60  # the probe, and the run's own start
        while True:
            try:
                ready = self.conn.poll(max(0.0, start + limit - time.monotonic()))
                message = self.conn.recv() if ready else None
            except (EOFError, OSError):
                code = self.proc.exitcode if self.proc else None
                self.stop()
                return base | {
                    "class": "internal",
                    "seconds": time.monotonic() - start,
                    "message": f"the worker process died (exit code {code})",
                }
            if message is None:
                self.stop()
                checking = limit != time_limit + 60
                return base | {
                    "class": "timeout",
                    "seconds": time.monotonic() - start,
                    "message": "the checks did not finish" if checking else f"no result after {limit} s",
                }
            if message.get("phase") == "checking":
                start, limit = time.monotonic(), CHECK_SECONDS
                continue
            if message["class"] not in ("internal", "timeout") and message["seconds"] > time_limit:
                # finished, but later than the service's hard time limit (Celery's time_limit) allows
                message |= {
                    "class": "timeout",
                    "message": f"took {message['seconds']:.0f} s, more than the {time_limit} s "
                    f"job time limit (would have ended as {message['class']})",
                }
            return message


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def render_markdown(report: dict[str, Any]) -> str:
    rows = report["results"]
    lines = [
        f"Sweep of `{report['corpus']}` ({report['files']} files, {len(rows)} runs), "
        f"{report['started']} UTC, commit `{report['commit']}`, {report['jobs']} worker process(es), "
        f"{report['wall_seconds']:.0f} s wall"
        + (
            "."
            if report["finished"]
            else f"; STOPPED EARLY: {len(rows)} of {report['planned_runs']} runs finished."
        ),
        f"Load average (1/5/15 min) at start {report['load_start']}, at end {report['load_end']}.",
        f"Command: `{report['command']}`",
        "",
        "| format | runs | " + " | ".join(CLASSES) + " | s p50 | s p95 | s max |",
        "| --- | ---: | " + " | ".join("---:" for _ in CLASSES) + " | ---: | ---: | ---: |",
    ]
    for fmt in [*FORMATS, "all"]:
        sel = [r for r in rows if fmt in ("all", r["fmt"])]
        if not sel:
            continue
        counts = Counter(r["class"] for r in sel)
        secs = [r["seconds"] for r in sel]
        lines.append(
            f"| {fmt} | {len(sel)} | "
            + " | ".join(str(counts.get(c, 0)) for c in CLASSES)
            + f" | {percentile(secs, 0.5):.1f} | {percentile(secs, 0.95):.1f} | {max(secs):.1f} |"
        )
    lines += [
        "",
        "| run | runs | " + " | ".join(CLASSES) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in CLASSES) + " |",
    ]
    for name in RUNS:
        sel = [r for r in rows if r["run"] == name]
        if sel:
            counts = Counter(r["class"] for r in sel)
            lines.append(
                f"| {name} | {len(sel)} | " + " | ".join(str(counts.get(c, 0)) for c in CLASSES) + " |"
            )
    bad = sorted(
        (r for r in rows if r["class"] != "ok"),
        key=lambda r: (CLASSES.index(r["class"]), r["file"], r["run"]),
    )
    lines += ["", f"Not OK ({len(bad)}):", ""]
    for r in bad:
        extra = f" [{r['input_opens']}]" if r.get("input_opens") else ""
        lines.append(f"- {r['class']}: `{r['file']}` {r['run']}: {r.get('message', '')}{extra}")
    refusals = Counter(r.get("message", "") for r in rows if r["class"] == "refusal")
    if refusals:
        lines += ["", "Refusal messages:", ""]
        lines += [f"- {n} × {m}" for m, n in refusals.most_common()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {', '.join(RUNS)}")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--every", type=int, default=5, help="subset runs take every N-th file per format")
    parser.add_argument("--only", help="only files whose corpus path contains this text")
    parser.add_argument(
        "--time-limit", type=int, help="seconds per run (default CRUSH_JOB_TIME_LIMIT_SECONDS)"
    )
    parser.add_argument("--rerun", type=Path, help="only the runs that were not OK in this JSON report")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "sweep")
    parser.add_argument("--keep", type=Path, default=DEFAULT_KEEP, help="outputs of wrong runs go here")
    args = parser.parse_args()

    limits = service_limits()
    if args.time_limit:
        limits["time_limit_seconds"] = args.time_limit
    if not (args.corpus / "MANIFEST.tsv").exists():
        sys.exit(f"no {args.corpus}/MANIFEST.tsv: build it with bench/corpus/build-sweep-dev.sh")
    runs = [r for r in args.runs.split(",") if r]
    jobs = plan(args.corpus, runs, args.every, args.only, args.formats.split(","))
    if args.rerun:
        again = {
            (r["file"], r["run"]) for r in json.loads(args.rerun.read_text())["results"] if r["class"] != "ok"
        }
        jobs = [j for j in jobs if (j.file, j.run) in again]
    started = datetime.datetime.now(datetime.UTC)
    load_start = [round(x, 2) for x in os.getloadavg()]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"sweep: {len(jobs)} runs, {args.jobs} workers, load {load_start}, limits {limits}", file=sys.stderr
    )

    ctx = multiprocessing.get_context("spawn")
    pending = list(jobs)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    stopping = threading.Event()
    slots: list[Slot] = []

    def slot_loop() -> None:
        slot = Slot(ctx, (str(args.corpus), limits, str(args.keep)))
        with lock:
            slots.append(slot)
        try:
            while True:
                with lock:
                    if not pending or stopping.is_set():
                        return
                    job = pending.pop(0)
                row = slot.run(job, limits["time_limit_seconds"])
                if stopping.is_set():  # the run was cut by the stop, not by the engine
                    return
                with lock:
                    results.append(row)
                    done = len(results)
                msg = row.get("message", "; ".join(row.get("notes", [])))
                print(
                    f"[{done}/{len(jobs)} {time.monotonic() - t0:5.0f}s] {row['class']:8} "
                    f"{row['seconds']:6.1f}s {job.run:16} {job.file}  {msg[:160]}",
                    file=sys.stderr,
                    flush=True,
                )
                write_report(finished=False)
        finally:
            slot.stop()

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"sweep-{started.strftime('%Y%m%dT%H%M%S')}"

    def write_report(finished: bool) -> str:
        """The report of what has finished so far (rewritten after every run, so a sweep that is
        stopped early leaves its partial report)."""
        with lock:
            rows = sorted(results, key=lambda r: (r["file"], r["run"]))
        report = {
            "command": " ".join(["bench/sweep.py", *sys.argv[1:]]),
            "corpus": str(args.corpus),
            "files": len({j.file for j in jobs}),
            "planned_runs": len(jobs),
            "finished": finished,
            "started": started.strftime("%Y-%m-%d %H:%M"),
            "commit": commit,
            "jobs": args.jobs,
            "limits": limits,
            "load_start": load_start,
            "load_end": [round(x, 2) for x in os.getloadavg()],
            "wall_seconds": time.monotonic() - t0,
            "results": rows,
        }
        markdown = render_markdown(report)
        stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
        stem.with_suffix(".md").write_text(markdown)
        return markdown

    def stop(signum: int, _frame: Any) -> None:
        """SIGINT/SIGTERM: end the workers and keep the report of what finished."""
        print(f"sweep: signal {signum}, stopping", file=sys.stderr)
        stopping.set()
        for slot in list(slots):
            if slot.proc is not None:
                slot.proc.kill()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    threads = [threading.Thread(target=slot_loop) for _ in range(max(1, args.jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(1)
    print(write_report(finished=not stopping.is_set()))
    print(f"written {stem}.json and {stem}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
