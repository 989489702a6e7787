"""Engine benchmark: the engine's lossy / balanced / lossless against the CLI tools a careful engineer
would use, on the same files in the same run, scored with the reference `ssimulacra2` package at full
resolution. Prints markdown tables (per format, targets, 100 MP memory).

    .venv/bin/python bench/engine.py [--corpus DIR] [--formats jpeg,png,...] [--skip-memory] [--skip-styles]

For JPEG, PNG, GIF and WebP it also times a job's original with two resize styles, the styles searched
from scratch and from what the original's search learnt (``CompressOptions.hint``).

Setup (done here, never runtime deps): Debian `ghostscript` and `pngquant` via apt-get, `svgo` via npm
into /tmp/crush-bench/node; the corpus from bench/corpus/build-dev.sh.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import oxipng  # noqa: E402
import pyvips  # noqa: E402

from compression import engine  # noqa: E402
from compression.engine import CompressionType, CompressOptions, ResizeSpec  # noqa: E402
from compression.engine.jpeg import MOZJPEG  # noqa: E402
from compression.engine.quality import Reference  # noqa: E402
from compression.engine.search import Candidate, search_setting  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "crush-bench"
NODE_DIR = WORK / "node"
BUILD_CORPUS = ROOT / "bench" / "corpus" / "build-dev.sh"
DEFAULT_CORPUS = Path(tempfile.gettempdir()) / "crush-dev-corpus"
TARGET = 80.0
LOSSY_LEVEL = 80
MODES = ("lossy", "balanced", "lossless")
BIG_PIXELS = 98_000_000


# ---------------------------------------------------------------- setup


def setup() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    missing = [p for p, exe in (("ghostscript", "gs"), ("pngquant", "pngquant")) if not shutil.which(exe)]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    if not (NODE_DIR / "node_modules" / ".bin" / "svgo").exists():
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(NODE_DIR), "svgo"], check=True, capture_output=True
        )


def ensure_corpus(corpus: Path) -> Path:
    if not (corpus / ".done").exists() and not (corpus / "jpeg").is_dir():
        subprocess.run(["bash", str(BUILD_CORPUS), str(corpus)], check=True)
    return corpus


# ---------------------------------------------------------------- scoring


_SCORE_CACHE: dict[tuple[str, str], float] = {}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _as_scoring_file(data: bytes, suffix: str, background: float | None = None) -> Path:
    """A file PIL reads the way libvips shows it (EXIF orientation applied, CMYK/16-bit to 8-bit sRGB;
    with a `background` (0..1), alpha blended over it)."""
    path = WORK / f"score-{_digest(data)[:16]}-{background}{suffix}"
    if path.exists():
        return path
    image = pyvips.Image.new_from_buffer(data, "")
    needs_png = (
        image.get_typeof("orientation") and int(image.get("orientation")) != 1
    ) or image.interpretation not in ("srgb", "b-w")
    if needs_png or background is not None or suffix not in (".jpg", ".png"):
        image = image.autorot()
        if image.interpretation == "cmyk":
            image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
        if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
            image = image.colourspace("srgb").cast("uchar")
        if background is not None and image.hasalpha():
            image = image.flatten(background=[background * 255] * (image.bands - 1)).cast("uchar")
        path = path.with_suffix(".png")
        image.pngsave(str(path), compression=1)
    else:
        path.write_bytes(data)
    return path


def reference_score(original: bytes, output: bytes, suffix: str) -> float:
    """Full-resolution SSIMULACRA2 by the reference package. With alpha, the worse of the image blended
    over a dark (0.1) and a light (0.9) background, as libjxl's tool does: the package's own alpha path
    drops alpha when it loads (PIL ``convert("RGB")``) and so scores the colour of invisible pixels."""
    from ssimulacra2 import compute_ssimulacra2

    key = (_digest(original), _digest(output))
    if key not in _SCORE_CACHE:
        if key[0] == key[1]:
            _SCORE_CACHE[key] = 100.0
        else:
            alpha = pyvips.Image.new_from_buffer(original, "").hasalpha()
            scores = [
                compute_ssimulacra2(
                    str(_as_scoring_file(original, suffix, bg)), str(_as_scoring_file(output, suffix, bg))
                )
                for bg in ((0.1, 0.9) if alpha else (None,))
            ]
            _SCORE_CACHE[key] = float(min(scores))
    return _SCORE_CACHE[key]


def fast_score(reference: Reference, data: bytes) -> float:
    return reference.score(pyvips.Image.new_from_buffer(data, "").autorot())


def _all_frames(data: bytes) -> pyvips.Image:
    animated = data[:4] == b"GIF8" or data[8:12] == b"WEBP"  # the loaders that take n (frames)
    return pyvips.Image.new_from_buffer(data, "", **({"n": -1} if animated else {})).autorot()


def _rgba(image: pyvips.Image) -> pyvips.Image:
    """16-bit-scaled RGBA of any layout, so lossless reductions (RGB to grey or palette, dropping an
    all-opaque alpha, 16 to 8 bits when exact) compare equal."""
    peak = 65535 if image.format == "ushort" else 255
    colour = image.extract_band(0, n=image.bands - 1) if image.hasalpha() else image
    alpha = image.extract_band(image.bands - 1) if image.hasalpha() else (colour.extract_band(0) * 0 + peak)
    if colour.bands == 1:
        colour = colour.bandjoin([colour, colour])
    scale = 257 if peak == 255 else 1
    return colour.bandjoin(alpha).cast("int") * scale


def pixels_identical(a: bytes, b: bytes) -> bool:
    x, y = _all_frames(a), _all_frames(b)
    if (x.width, x.height) != (y.width, y.height):
        return False
    return (_rgba(x) - _rgba(y)).abs().max() == 0


# ---------------------------------------------------------------- runs


@dataclass
class Run:
    name: str
    data: bytes | None
    seconds: float
    score: float | None = None
    note: str = ""


@dataclass
class FileRow:
    path: Path
    original: bytes
    runs: dict[str, Run] = field(default_factory=dict)


def timed(fn: Callable[[], bytes]) -> tuple[bytes | None, float, str]:
    start = time.perf_counter()
    try:
        out = fn()
    except Exception as exc:
        return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"[:80]
    return out, time.perf_counter() - start, ""


def engine_run(data: bytes, mode: str) -> Callable[[], bytes]:
    def run() -> bytes:
        options = CompressOptions(compression_type=CompressionType(mode), level=LOSSY_LEVEL)
        return engine.compress(data, options=options).data

    return run


def tool(args: list[str], data: bytes, suffix: str, ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """Run a CLI tool on a temporary input file; it writes the output file ({in} and {out} in args)."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        src, dst = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{suffix}"
        src.write_bytes(data)
        argv = [a.replace("{in}", str(src)).replace("{out}", str(dst)) for a in args]
        proc = subprocess.run(argv, capture_output=True)
        if proc.returncode not in ok_codes or not dst.exists():
            raise RuntimeError(f"{args[0]} exit {proc.returncode}")
        return dst.read_bytes()


def mozjpeg_q(data: bytes, quality: int) -> bytes:
    image = pyvips.Image.new_from_buffer(data, "", access="sequential")
    return image.jpegsave_buffer(Q=quality, interlace=True, keep="icc", **MOZJPEG)


def mozjpeg_oracle(data: bytes, suffix: str) -> bytes:
    """Smallest mozjpeg output (same settings as Q80) scoring >= 80 by the reference package: Q found with
    the fast metric (interpolating bisection), then confirmed Q by Q with the reference metric."""
    image = pyvips.Image.new_from_buffer(data, "").autorot().copy_memory()
    ref = Reference(image)
    encoded: dict[int, bytes] = {}

    def enc(q: int) -> bytes:
        if q not in encoded:
            encoded[q] = image.jpegsave_buffer(Q=q, interlace=True, keep="icc", **MOZJPEG)
        return encoded[q]

    best, _ = search_setting(
        lambda q: Candidate(q, enc(q), fast_score(ref, enc(q))),
        first=80,
        low=30,
        high=100,
        slope=0.8,
        max_evals=5,
        tolerance=1,
        deadline=None,
    )
    # The fast metric agrees with the reference to ~0.01, so q is usually exact: confirm it and q - 1,
    # walking on in steps of one only while the reference disagrees.
    q = best.setting if best else 100
    if reference_score(data, enc(q), suffix) >= TARGET:
        while q > 30 and reference_score(data, enc(q - 1), suffix) >= TARGET:
            q -= 1
    else:
        while q < 100 and reference_score(data, enc(q + 1), suffix) < TARGET:
            q += 1
        q = min(q + 1, 100)
    return enc(q)


def oxipng_at(data: bytes, level: int) -> bytes:
    return oxipng.optimize_from_memory(data, level=level, strip=oxipng.StripChunks.safe())


def oxipng4(data: bytes) -> bytes:
    return oxipng_at(data, 4)


def pngquant_oxipng(data: bytes) -> bytes:
    quantised = tool(["pngquant", "--quality", "80-100", "--output", "{out}", "--", "{in}"], data, ".png")
    return oxipng4(quantised)


def ghostscript_ebook(data: bytes) -> bytes:
    return tool(
        [
            "gs",
            "-q",
            "-dBATCH",
            "-dNOPAUSE",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            "-dPDFSETTINGS=/ebook",
            "-sOutputFile={out}",
            "{in}",
        ],
        data,
        ".pdf",
    )


def svgo(data: bytes) -> bytes:
    return tool([str(NODE_DIR / "node_modules" / ".bin" / "svgo"), "-i", "{in}", "-o", "{out}"], data, ".svg")


def gifsicle_o3(data: bytes) -> bytes:
    gifsicle = str(Path(sys.executable).parent / "gifsicle")
    return tool([gifsicle, "-O3", "-o", "{out}", "{in}"], data, ".gif")


def webp_q80(data: bytes) -> bytes:
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    return image.webpsave_buffer(Q=80, keep="icc")


PEERS: dict[str, dict[str, Callable[..., bytes]]] = {
    "jpeg": {"mozjpeg Q80": lambda d, s: mozjpeg_q(d, 80), "mozjpeg oracle": mozjpeg_oracle},
    "png": {"pngquant+oxipng": lambda d, s: pngquant_oxipng(d), "oxipng -o2": lambda d, s: oxipng_at(d, 2)},
    "gif": {"gifsicle -O3": lambda d, s: gifsicle_o3(d)},
    "svg": {"svgo": lambda d, s: svgo(d)},
    "pdf": {"gs /ebook": lambda d, s: ghostscript_ebook(d)},
    "webp": {"libwebp Q80": lambda d, s: webp_q80(d)},
}
# Which runs get a reference score (vector formats and PDFs are checked by rendering instead).
SCORED = {"jpeg", "png", "webp", "gif"}


# ---------------------------------------------------------------- checks for non-raster formats


SVG_RENDER_PX = 1024


def render_svg(data: bytes) -> pyvips.Image:
    """A render at most SVG_RENDER_PX on its longer side, flattened on white."""
    natural = pyvips.Image.svgload_buffer(data)
    scale = min(1.0, SVG_RENDER_PX / max(natural.width, natural.height))
    image = pyvips.Image.svgload_buffer(data, scale=scale)
    return image.flatten(background=[255, 255, 255]).colourspace("srgb").cast("uchar")


def svg_render_score(original: bytes, output: bytes) -> float:
    a, b = render_svg(original), render_svg(output)
    if (a.width, a.height) != (b.width, b.height):
        return 0.0
    return Reference(a).score(b)


def pdf_pages_and_text(data: bytes) -> tuple[int, int]:
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
    text = tool(
        ["gs", "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=txtwrite", "-sOutputFile={out}", "{in}"],
        data,
        ".pdf",
    )
    return pages, len(b"".join(text.split()))


def pdf_render_score(original: bytes, output: bytes) -> float:
    """Worst page score of 40 dpi renders (the fast metric; a render check, not the promise)."""
    renders = []
    for data in (original, output):
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            src = Path(tmp) / "in.pdf"
            src.write_bytes(data)
            subprocess.run(
                [
                    "gs",
                    "-q",
                    "-dBATCH",
                    "-dNOPAUSE",
                    "-dSAFER",
                    "-sDEVICE=png16m",
                    "-r40",
                    f"-sOutputFile={tmp}/p%04d.png",
                    str(src),
                ],
                check=True,
            )
            renders.append(
                [pyvips.Image.new_from_file(str(p)).copy_memory() for p in sorted(Path(tmp).glob("p*.png"))]
            )
    if len(renders[0]) != len(renders[1]):
        return 0.0
    scores = [Reference(a).score(b) for a, b in zip(renders[0], renders[1], strict=True) if a.width >= 8]
    return min(scores) if scores else 100.0


def gif_timing(data: bytes) -> tuple[int, list[int] | None, int | None]:
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    delays = list(image.get("delay")) if image.get_typeof("delay") else None
    loop = int(image.get("loop")) if image.get_typeof("loop") else None
    return (
        image.height // (int(image.get("page-height")) if image.get_typeof("page-height") else image.height),
        delays,
        loop,
    )


# ---------------------------------------------------------------- benchmark


def warm_up() -> None:
    """Imports and the compiled metric kernels (loaded from their cache) once, as a worker does at its
    first job, so the first file's timings do not carry them."""
    photo = pyvips.Image.gaussnoise(400, 300, sigma=40).cast("uchar").bandjoin([128, 128])
    photo = photo.copy(interpretation="srgb")
    for encoded in (photo.jpegsave_buffer(Q=95), photo.pngsave_buffer()):
        engine.compress(encoded, options=CompressOptions(compression_type=CompressionType.BALANCED))


def bench_format(fmt: str, files: list[Path]) -> list[FileRow]:
    rows = []
    for path in files:
        data = path.read_bytes()
        suffix = path.suffix.lower() if path.suffix.lower() in (".jpg", ".png") else ".png"
        row = FileRow(path, data)
        for mode in MODES:
            out, secs, note = timed(engine_run(data, mode))
            row.runs[mode] = Run(mode, out, secs, note=note)
        for name, peer in PEERS[fmt].items():
            out, secs, note = timed(lambda peer=peer, data=data, suffix=suffix: peer(data, suffix))
            row.runs[name] = Run(name, out, secs, note=note)
        for run in row.runs.values():
            if run.data is None:
                continue
            try:
                check(fmt, row, run, suffix)
            except Exception as exc:
                run.note = (run.note + f" check failed: {type(exc).__name__}: {exc}")[:100]
        rows.append(row)
        print(
            f"  {fmt}/{path.name}: "
            + ", ".join(f"{r.name}={len(r.data) if r.data else '-'}" for r in row.runs.values()),
            file=sys.stderr,
            flush=True,
        )
    return rows


def check(fmt: str, row: FileRow, run: Run, suffix: str) -> None:
    assert run.data is not None
    if fmt in SCORED:
        if run.name == "lossless" or (fmt == "png" and run.name == "oxipng -o2") or fmt == "gif":
            run.note += "pixels identical" if pixels_identical(row.original, run.data) else "PIXELS DIFFER"
            if fmt == "gif":
                same = gif_timing(row.original) == gif_timing(run.data)
                run.note += ", frames+timing kept" if same else ", FRAMES/TIMING CHANGED"
        if fmt != "gif":
            run.score = reference_score(row.original, run.data, suffix)
    elif fmt == "svg":
        run.score = svg_render_score(row.original, run.data)
        run.note += "render score (fast metric)"
    elif fmt == "pdf":
        pages0, text0 = pdf_pages_and_text(row.original)
        pages1, text1 = pdf_pages_and_text(run.data)
        run.score = pdf_render_score(row.original, run.data)
        run.note += f"pages {pages1}/{pages0}, text chars {text1}/{text0}"


def pct(saved: int, total: int) -> str:
    return f"{100.0 * saved / total:.1f}%" if total else "-"


def format_table(fmt: str, rows: list[FileRow]) -> str:
    names = list(rows[0].runs) if rows else []
    lines = [
        f"### {fmt.upper()}",
        "",
        "| file | original | " + " | ".join(names) + " |",
        "|---|---:|" + "---|" * len(names),
    ]
    totals = {n: [0, 0.0, True] for n in names}
    total_original = 0
    for row in rows:
        total_original += len(row.original)
        cells = []
        for n in names:
            run = row.runs[n]
            if run.data is None:
                cells.append(f"missing ({run.note})")
                totals[n][2] = False
                continue
            totals[n][0] += len(run.data)
            totals[n][1] += run.seconds
            score = "" if run.score is None else f" · {run.score:.1f}"
            note = f" · {run.note}" if run.note else ""
            cells.append(
                f"{len(run.data):,} ({pct(len(row.original) - len(run.data), len(row.original))})"
                f"{score} · {run.seconds:.2f}s{note}"
            )
        lines.append(f"| {row.path.name} | {len(row.original):,} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        size, secs, complete = totals[n]
        cells.append(
            f"**{size:,}** ({pct(total_original - size, total_original)}) · {secs:.1f}s"
            + ("" if complete else " (incomplete)")
        )
    lines.append(f"| **total** | **{total_original:,}** | " + " | ".join(cells) + " |")
    lines += ["", "Cells: bytes (savings) · full-res SSIMULACRA2 (reference package) · seconds · checks."]
    return "\n".join(lines)


# ---------------------------------------------------------------- resize styles


STYLES = (ResizeSpec("fit", 1200, 1200), ResizeSpec("crop", 400, 400))
STYLE_FORMATS = ("jpeg", "png", "gif", "webp")


@dataclass
class StyleRow:
    path: Path
    original_seconds: float
    seconds: dict[str, float]  # "scratch" / "hint": both styles
    evaluations: dict[str, int]
    bytes: dict[str, int]
    worst: dict[str, float]


def bench_styles(files: list[Path]) -> list[StyleRow]:
    """A job's work: the balanced original, then its two STYLES searched from scratch and from the
    original's hint (``Result.search``), as the worker passes it."""
    rows = []
    options = CompressOptions(compression_type=CompressionType.BALANCED)
    for path in files:
        data = path.read_bytes()
        start = time.perf_counter()
        original = engine.compress(data, options=options)
        row = StyleRow(path, time.perf_counter() - start, {}, {}, {}, {})
        for way, opts in (("scratch", options), ("hint", replace(options, hint=original.search))):
            start = time.perf_counter()
            results = [engine.compress(data, options=opts, resize=spec) for spec in STYLES]
            row.seconds[way] = time.perf_counter() - start
            row.evaluations[way] = sum(r.search.evaluations if r.search else 0 for r in results)
            row.bytes[way] = sum(len(r.data) for r in results)
            row.worst[way] = min(r.ssimulacra2 if r.ssimulacra2 is not None else 100.0 for r in results)
        rows.append(row)
        print(f"  styles/{path.name}: {row.evaluations}", file=sys.stderr, flush=True)
    return rows


def styles_table(fmt: str, rows: list[StyleRow]) -> str:
    names = ", ".join(f"{s.strategy} {s.width}×{s.height}" for s in STYLES)
    lines = [
        f"### {fmt.upper()} balanced with 2 styles ({names})",
        "",
        "| file | original s | styles from scratch: s · evaluations · bytes · worst | "
        "styles from the original's hint: s · evaluations · bytes · worst |",
        "|---|---:|---|---|",
    ]
    for row in rows:
        cells = [
            f"{row.seconds[w]:.2f} · {row.evaluations[w]} · {row.bytes[w]:,} · {row.worst[w]:.1f}"
            for w in ("scratch", "hint")
        ]
        lines.append(f"| {row.path.name} | {row.original_seconds:.2f} | " + " | ".join(cells) + " |")
    orig = sum(r.original_seconds for r in rows)
    cells = [
        f"**{sum(r.seconds[w] for r in rows):.1f}** · {sum(r.evaluations[w] for r in rows)} · "
        f"{sum(r.bytes[w] for r in rows):,} · {min(r.worst[w] for r in rows):.1f}"
        for w in ("scratch", "hint")
    ]
    lines.append(f"| **total** | **{orig:.1f}** | " + " | ".join(cells) + " |")
    scratch, hint = (orig + sum(r.seconds[w] for r in rows) for w in ("scratch", "hint"))
    lines += [
        "",
        f"Original + 2 styles: {scratch:.1f} s from scratch, {hint:.1f} s with the hint "
        f"({hint / scratch:.2f}×). "
        "Evaluations: full-resolution encode+score steps of the styles' searches (`Result.search`); "
        "worst: the engine's score of a style against its resized pixels.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- memory (subprocesses)


def make_big_jpeg() -> Path:
    path = WORK / "100mp.jpg"
    if not path.exists():
        photo = pyvips.Image.new_from_file(str(DEFAULT_CORPUS / "jpeg" / "Kite.jpg"))
        scale = (BIG_PIXELS / (photo.width * photo.height)) ** 0.5
        photo.resize(scale).jpegsave(str(path), Q=90)
    return path


def child(mode: str, path: str) -> None:
    """Run in a subprocess: one operation on `path`, then print peak RSS (MiB) and seconds as JSON."""
    data = Path(path).read_bytes()
    start = time.perf_counter()
    if mode == "bare":
        out = mozjpeg_q(data, LOSSY_LEVEL)
    else:
        out = engine_run(data, mode)()
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss over fork and exec into the child.
    status = Path("/proc/self/status").read_text()
    rss = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    print(json.dumps({"rss_mib": rss, "seconds": seconds, "bytes": len(out)}))


def measure(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- targets


def total(rows: list[FileRow], name: str) -> int | None:
    if any(row.runs[name].data is None for row in rows):
        return None
    return sum(len(row.runs[name].data) for row in rows)  # type: ignore[arg-type]


def ratio_cell(value: float | None, limit: float) -> tuple[str, str]:
    if value is None:
        return "missing", "✗"
    return f"{value:.3f}×", "✓" if value <= limit else "✗"


def targets(results: dict[str, list[FileRow]], memory: dict[str, dict[str, float]]) -> str:
    lines = ["| what | measured | target | met |", "|---|---|---|---|"]

    def add(what: str, measured: str, target: str, ok: str) -> None:
        lines.append(f"| {what} | {measured} | {target} | {ok} |")

    def time_row(fmt: str, rows: list[FileRow], peer: str, limit: float) -> None:
        """Issue 14's speed targets: balanced's time over the peer's on the same files, this run."""
        mine = sum(row.runs["balanced"].seconds for row in rows)
        theirs = sum(row.runs[peer].seconds for row in rows)
        add(
            f"{fmt} balanced time vs {peer}",
            f"{mine / theirs:.2f}× ({mine:.2f}s / {theirs:.2f}s)" if theirs else "n/a",
            f"≤ {limit:g}×",
            "✓" if theirs and mine <= limit * theirs else "✗",
        )

    jpeg = results.get("jpeg", [])
    if jpeg:
        bal, oracle, q80 = total(jpeg, "balanced"), total(jpeg, "mozjpeg oracle"), total(jpeg, "mozjpeg Q80")
        scores = [row.runs["balanced"].score for row in jpeg if row.runs["balanced"].score is not None]
        worst = min(scores) if scores else None
        r = bal / oracle if bal and oracle else None
        m, ok = ratio_cell(r, 1.0)
        ok = ok if worst is not None and worst >= TARGET else "✗"
        add(
            "JPEG balanced bytes vs mozjpeg oracle; worst score",
            f"{m}; worst {worst:.1f}" if worst else m,
            "≤ 1.0× (goal ≤ 0.90×), all ≥ 80",
            ok + (" (goal ✓)" if r and r <= 0.9 else " (goal ✗)"),
        )
        orig = sum(len(row.original) for row in jpeg)
        if bal and q80:
            add(
                "JPEG balanced vs mozjpeg Q80 / vs originals",
                f"{bal / q80:.3f}× / {bal / orig:.3f}×",
                "reported",
                "—",
            )
        lossy_t = sum(row.runs["lossy"].seconds for row in jpeg)
        bare_t = sum(row.runs["mozjpeg Q80"].seconds for row in jpeg)
        add(
            "JPEG lossy time vs bare pyvips encode (same settings)",
            f"{lossy_t / bare_t:.2f}× ({lossy_t:.1f}s / {bare_t:.1f}s)",
            "≤ 1.1×",
            "✓" if lossy_t <= 1.1 * bare_t else "✗",
        )
        time_row("JPEG", jpeg, "mozjpeg Q80", 3.0)
    png = results.get("png", [])
    if png:
        best = 0
        complete = True
        for row in png:
            o = row.runs["oxipng -o2"]
            q = row.runs["pngquant+oxipng"]
            if o.data is None:
                complete = False
                continue
            cands = [len(o.data)]
            if q.data is not None and q.score is not None and q.score >= TARGET:
                cands.append(len(q.data))
            best += min(cands)
        bal = total(png, "balanced")
        scores = [row.runs["balanced"].score for row in png if row.runs["balanced"].score is not None]
        worst = min(scores) if scores else None
        m, ok = ratio_cell(bal / best if bal and complete else None, 1.0)
        ok = ok if worst is not None and worst >= TARGET else "✗"
        add(
            "PNG balanced vs best of oxipng / pngquant+oxipng (≥ 80)",
            f"{m}; worst {worst:.1f}" if worst else m,
            "≤ 1.0×, all ≥ 80",
            ok,
        )
        time_row("PNG", png, "oxipng -o2", 1.0)
        ll, ox = total(png, "lossless"), total(png, "oxipng -o2")
        ident = all(
            "pixels identical" in row.runs["lossless"].note for row in png if row.runs["lossless"].data
        )
        m, ok = ratio_cell(ll / ox if ll and ox else None, 1.0)
        add(
            "PNG lossless vs oxipng -o2",
            m + ("; pixels identical" if ident else "; PIXELS DIFFER"),
            "≤ 1.0×, identical",
            ok if ident else "✗",
        )
    gif_all = results.get("gif", [])
    if gif_all:
        time_row("GIF", gif_all, "gifsicle -O3", 2.0)
        bal, peer = total(gif_all, "balanced"), total(gif_all, "gifsicle -O3")
        m, ok = ratio_cell(bal / peer if bal and peer else None, 1.0)
        add("GIF balanced bytes vs gifsicle -O3", m, "≤ 1.0×", ok)
    gif = [row for row in gif_all if row.original[:3] == b"GIF" and gif_timing(row.original)[0] > 1]
    if gif:
        eng, peer = total(gif, "lossy"), total(gif, "gifsicle -O3")
        kept = all("frames+timing kept" in row.runs["lossy"].note for row in gif if row.runs["lossy"].data)
        m, ok = ratio_cell(eng / peer if eng and peer else None, 1.0)
        add(
            f"animated GIF lossy vs gifsicle -O3 ({len(gif)} files)",
            m + ("; frames+timing kept" if kept else "; FRAMES/TIMING CHANGED"),
            "≤ 1.0×, kept",
            ok if kept else "✗",
        )
    svg = results.get("svg", [])
    if svg:
        eng, peer = total(svg, "balanced"), total(svg, "svgo")
        scores = [row.runs["balanced"].score for row in svg if row.runs["balanced"].score is not None]
        m, ok = ratio_cell(eng / peer if eng and peer else None, 1.05)
        add(
            "SVG vs svgo",
            m + (f"; worst render score {min(scores):.1f}" if scores else ""),
            "≤ 1.05×, renders the same",
            ok,
        )
        time_row("SVG", svg, "svgo", 2.0)
    webp = results.get("webp", [])
    if webp:
        time_row("WebP", webp, "libwebp Q80", 3.0)
    pdf = results.get("pdf", [])
    heavy = [row for row in pdf if row.path.name in ("photo-album.pdf", "graphics-brochure.pdf")]
    manuals = [row for row in pdf if row not in heavy]
    if heavy:
        for mode in ("balanced", "lossy"):
            eng, peer = total(heavy, mode), total(heavy, "gs /ebook")
            m, ok = ratio_cell(eng / peer if eng and peer else None, 1.0)
            add(f"image-heavy PDFs, engine {mode} vs gs /ebook", m, "≤ 1.0×, pages alike", ok)
    if pdf:
        time_row("PDF", pdf, "gs /ebook", 2.0)
    if manuals:
        larger = [
            row.path.name
            for row in manuals
            if any(row.runs[m].data is None or len(row.runs[m].data) > len(row.original) for m in MODES)
        ]
        text_ok = all(_text_kept(row.runs[m].note) for row in manuals for m in MODES if row.runs[m].data)
        add(
            "text/vector PDFs: never larger, text kept",
            f"larger: {larger or 'none'}; text {'kept' if text_ok else 'CHANGED'}",
            "never larger, text extractable",
            "✓" if not larger and text_ok else "✗",
        )
    if memory:
        bare = memory.get("bare", {}).get("rss_mib")
        for mode, limit in (("lossy", 1.2), ("balanced", 1.5)):
            rss = memory.get(mode, {}).get("rss_mib")
            m, ok = ratio_cell(rss / bare if rss and bare else None, limit)
            add(
                f"100 MP JPEG peak RSS, {mode} vs bare pyvips",
                m + (f" ({rss:.0f} / {bare:.0f} MiB)" if rss and bare else ""),
                f"≤ {limit}×",
                ok,
            )
    return "\n".join(lines)


def _text_kept(note: str) -> bool:
    if "text chars" not in note:
        return False
    part = note.split("text chars ")[1].split()[0]
    after, before = part.split("/")
    return int(after) >= int(before)


def memory_table(memory: dict[str, dict[str, float]], path: Path) -> str:
    image = pyvips.Image.new_from_file(str(path))
    lines = [
        f"100 MP JPEG: {image.width}×{image.height} ({image.width * image.height / 1e6:.1f} MP), "
        f"{path.stat().st_size:,} bytes; one subprocess per row, peak RSS = VmHWM.",
        "",
        "| run | peak RSS MiB | seconds | bytes |",
        "|---|---:|---:|---:|",
    ]
    for mode, m in memory.items():
        if "error" in m:
            lines.append(f"| {mode} | failed: {m['error']} | | |")
        else:
            lines.append(f"| {mode} | {m['rss_mib']:.0f} | {m['seconds']:.1f} | {int(m['bytes']):,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--formats", default="jpeg,png,gif,webp,svg,pdf")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-styles", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    started = time.perf_counter()
    setup()
    corpus = ensure_corpus(args.corpus)
    warm_up()
    results: dict[str, list[FileRow]] = {}
    out = []
    for fmt in filter(None, args.formats.split(",")):
        files = sorted(p for p in (corpus / fmt).iterdir() if p.is_file())
        print(f"{fmt}: {len(files)} files", file=sys.stderr, flush=True)
        results[fmt] = bench_format(fmt, files)
        out.append(format_table(fmt, results[fmt]))
        print(out[-1] + "\n", flush=True)  # each table as soon as it is ready; the summary follows
        if fmt in STYLE_FORMATS and not args.skip_styles:
            print(styles_table(fmt, bench_styles(files)) + "\n", flush=True)
    memory: dict[str, dict[str, float]] = {}
    if not args.skip_memory:
        big = make_big_jpeg()
        for mode in ("bare", "lossy", "balanced"):
            print(f"memory: {mode}", file=sys.stderr, flush=True)
            memory[mode] = measure(mode, big)
        out.append("### 100 MP memory\n\n" + memory_table(memory, big))
    out.append("### Targets\n\n" + targets(results, memory))
    out.append(f"Wall time of this run: {time.perf_counter() - started:.0f} s.")
    print("\n\n".join(out[len(results) :]))


if __name__ == "__main__":
    main()
