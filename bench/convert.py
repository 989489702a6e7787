"""Convert benchmark (issue 16 item 7): Crush ``balanced`` with ``convert`` = webp / avif / auto against
the reference encoders cwebp and avifenc at the same full-resolution SSIMULACRA2 (>= 80, bisected per
image), on the JPEG and PNG inputs of the dev corpus, in one run. Prints markdown tables (per input format,
then the targets) and writes them to /tmp/convert-bench/convert.md.

    .venv/bin/python bench/convert.py [--corpus DIR] [--formats jpeg,png] [--limit N] [--out FILE]

Per image:

- Crush ``balanced`` with the input's format (no ``convert``), ``convert=("webp",)``, ``("avif",)`` and
  ``("auto",)``: bytes, seconds of the ``engine.compress`` call, and the output's full-resolution score
  by the reference ``ssimulacra2`` package (bench/engine.py's ``reference_score``: alpha flattened over
  dark and light backgrounds), never the engine's own number;
- cwebp (``-q`` 0..100) and avifenc (quantizer 0..63, colour and alpha alike, ``--min Q --max Q``: the
  Debian avifenc 0.11 has no ``-q``) on a PNG of the decoded, oriented 8-bit sRGB pixels (alpha kept),
  each at the smallest setting whose output scores >= 80 by the reference package: an integer
  bisection scored by the engine's metric (``compression.engine.quality.Reference``, the same
  SSIMULACRA2), then confirmed with the reference package step by step, as bench/engine.py's mozjpeg
  oracle does. Seconds: one encode at the setting found. A PNG whose lossy cwebp misses 80 even at
  ``-q 100`` takes ``cwebp -lossless``; PNGs also get a ``cwebp -lossless`` column (reported only).

Targets: ``convert=webp`` total bytes <= 1.0x cwebp's, ``convert=avif`` <= 1.0x avifenc's, ``auto``
<= 0.9x the best of Crush's own webp / avif / input-format totals; encode times are reported.

Setup (done here, never runtime deps): Debian ``webp`` (cwebp, dwebp) and ``libavif-bin`` (avifenc,
avifdec) via apt-get; the corpus from bench/corpus/build-dev.sh.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # bench/engine.py, compression/

import engine as bench  # noqa: E402  (bench/engine.py: scoring, corpus, table helpers)
import imagecodecs  # noqa: E402
import pyvips  # noqa: E402

from compression import engine  # noqa: E402
from compression.engine import CompressionType, CompressOptions  # noqa: E402
from compression.engine.quality import Reference  # noqa: E402

OUT_DIR = Path(tempfile.gettempdir()) / "convert-bench"
TARGET = bench.TARGET
FORMATS = ("jpeg", "png")
SUFFIXES = {"jpeg": ".jpg", "png": ".png"}
INPUT_RUN = "crush input format"
CRUSH_RUNS = {INPUT_RUN: (), "crush webp": ("webp",), "crush avif": ("avif",), "crush auto": ("auto",)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CWEBP = "cwebp"
AVIFENC = "avifenc"
CWEBP_LOSSLESS = "cwebp -lossless"
# avifenc: libaom speed 6 is what Crush's libvips effort 3 asks of libheif (speed = 9 - effort); two
# worker threads, as libheif's libaom used here (about 2 CPU-seconds per wall second); 4:2:0, what
# libvips' heifsave picks below Q 90 (avifenc's "auto" keeps 4:4:4 for PNG input).
AVIFENC_SPEED = "6"
AVIFENC_JOBS = "2"
AVIFENC_YUV = "420"
MAX_QUANTIZER = 63
ENCODER_TOOLS = (("webp", "cwebp"), ("webp", "dwebp"), ("libavif-bin", "avifenc"), ("libavif-bin", "avifdec"))


# ---------------------------------------------------------------- setup


def setup() -> None:
    """The reference encoders (apt-get when missing) and a private work directory for bench/engine.py's
    scoring files and tool runs (removed image by image: full-resolution PNGs add up)."""
    missing = sorted({package for package, exe in ENCODER_TOOLS if not shutil.which(exe)})
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    bench.WORK = OUT_DIR / "work"
    bench.WORK.mkdir(parents=True, exist_ok=True)


def clear_work_files() -> None:
    for path in bench.WORK.glob("score-*"):
        path.unlink()


def run_info() -> str:
    """Commit, whether compression/ differs from it (another engineer may be editing it), load."""
    root = bench.ROOT

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), *args], capture_output=True, text=True
        )
        return proc.stdout.strip()

    dirty = git("status", "--porcelain", "--", "compression")
    state = f"uncommitted changes in compression/: {len(dirty.splitlines())} files" if dirty else "clean"
    return f"commit {git('rev-parse', '--short', 'HEAD')} ({state}); {uptime()}"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def tool_versions() -> str:
    cwebp = subprocess.run([CWEBP, "-version"], capture_output=True, text=True).stdout.strip()
    avif = subprocess.run([AVIFENC, "--version"], capture_output=True, text=True).stdout
    return f"cwebp {cwebp}; avifenc {avif.strip().splitlines()[0].removeprefix('Version: ')}"


# ---------------------------------------------------------------- decoding and scoring


def run_tool(args: list[str], data: bytes, in_suffix: str, out_suffix: str) -> bytes:
    """bench/engine.py's ``tool`` with distinct input and output suffixes ({in} and {out} in args)."""
    with tempfile.TemporaryDirectory(dir=bench.WORK) as tmp:
        src, dst = Path(tmp) / f"in{in_suffix}", Path(tmp) / f"out{out_suffix}"
        src.write_bytes(data)
        argv = [a.replace("{in}", str(src)).replace("{out}", str(dst)) for a in args]
        proc = subprocess.run(argv, capture_output=True)
        if proc.returncode != 0 or not dst.exists():
            raise RuntimeError(f"{args[0]} exit {proc.returncode}: {proc.stderr.decode()[-200:]}")
        return dst.read_bytes()


def decode_to_png(data: bytes) -> bytes:
    """An output's pixels as a PNG for the reference package (which loads through PIL): pyvips, else
    dwebp / avifdec when pyvips cannot load it (the engine blocks most libvips loaders); JPEG XL through
    imagecodecs."""
    if data[:2] == b"\xff\x0a" or data[4:8] == b"JXL ":  # libvips here has no JPEG XL loader
        return pyvips.Image.new_from_array(imagecodecs.jpegxl_decode(data)).pngsave_buffer(compression=1)
    try:
        image = pyvips.Image.new_from_buffer(data, "")
        return image.pngsave_buffer(compression=1)
    except pyvips.Error:
        if data[8:12] == b"WEBP":
            return run_tool(["dwebp", "-quiet", "{in}", "-o", "{out}"], data, ".webp", ".png")
        return run_tool(["avifdec", "{in}", "{out}"], data, ".avif", ".png")


def reference(original: bytes, output: bytes, suffix: str) -> float:
    """Full-resolution SSIMULACRA2 of ``output`` against ``original`` by the reference package."""
    if output[:3] != b"\xff\xd8\xff" and output[:8] != PNG_SIGNATURE:
        output = decode_to_png(output)
    return bench.reference_score(original, output, suffix)


def source_pixels(data: bytes) -> pyvips.Image:
    """The decoded input as the engine and the scoring see it: oriented, 8-bit sRGB, alpha kept."""
    image = pyvips.Image.new_from_buffer(data, "").autorot()
    if image.interpretation == "cmyk":
        image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb").cast("uchar")
    return image.copy_memory()


# ---------------------------------------------------------------- runs


@dataclass
class Run:
    name: str
    data: bytes | None
    seconds: float
    score: float | None = None
    setting: str = ""
    note: str = ""


@dataclass
class Row:
    path: Path
    original: bytes
    runs: dict[str, Run] = field(default_factory=dict)


def crush(data: bytes, convert: tuple[str, ...]) -> Run:
    options = CompressOptions(compression_type=CompressionType.BALANCED, convert=convert)
    name = f"crush {convert[0]}" if convert else INPUT_RUN
    start = time.perf_counter()
    try:
        result = engine.compress(data, options=options)
    except Exception as exc:
        return Run(name, None, time.perf_counter() - start, note=f"{type(exc).__name__}: {exc}"[:80])
    seconds = time.perf_counter() - start
    setting = result.format.value
    if convert == ("auto",):
        setting += " of " + ", ".join(
            f"{t.format} {t.size:,}" if t.size else t.format for t in result.candidates
        )
    return Run(name, result.data, seconds, setting=setting, note="unchanged" if result.unchanged else "")


def smallest_passing(
    encode: Callable[[int], bytes],
    low: int,
    high: int,
    fast: Callable[[bytes], float],
    confirm: Callable[[bytes], float],
) -> int | None:
    """The lowest setting in [low, high] (higher = better quality) whose output scores >= TARGET by
    ``confirm`` (the reference package): bisection with ``fast``, then ``confirm`` one step at a time
    from there. None when even ``high`` misses."""
    lo, hi = low, high + 1  # hi: a virtual pass above the range
    while lo < hi:
        mid = (lo + hi) // 2
        if fast(encode(mid)) >= TARGET:
            hi = mid
        else:
            lo = mid + 1
    setting = min(lo, high)
    if confirm(encode(setting)) >= TARGET:
        while setting > low and confirm(encode(setting - 1)) >= TARGET:
            setting -= 1
        return setting
    while setting < high:
        setting += 1
        if confirm(encode(setting)) >= TARGET:
            return setting
    return None


class ReferenceEncoder:
    """A CLI encoder on the image's PNG, its outputs cached per setting, bisected to the target."""

    def __init__(self, row: Row, suffix: str, source_png: bytes, fast: Reference) -> None:
        self.row, self.suffix, self.source_png, self.fast = row, suffix, source_png, fast

    def fast_score(self, data: bytes) -> float:
        return self.fast.score(pyvips.Image.new_from_buffer(data, ""))

    def ref_score(self, data: bytes) -> float:
        return reference(self.row.original, data, self.suffix)

    def search(
        self, name: str, argv: Callable[[int], list[str]], low: int, high: int
    ) -> tuple[int | None, str]:
        """(setting, note): the smallest passing setting of ``argv`` (None: none passes)."""
        encoded: dict[int, bytes] = {}
        out_suffix = ".webp" if name.startswith("cwebp") else ".avif"

        def encode(setting: int) -> bytes:
            if setting not in encoded:
                encoded[setting] = run_tool(argv(setting), self.source_png, ".png", out_suffix)
            return encoded[setting]

        found = smallest_passing(encode, low, high, self.fast_score, self.ref_score)
        return found, f"{len(encoded)} encodes"

    def timed_run(self, name: str, args: list[str], setting: str, note: str = "") -> Run:
        """One encode (the timed one) with ``args``, scored by the reference package."""
        out_suffix = ".webp" if name.startswith("cwebp") else ".avif"
        start = time.perf_counter()
        data = run_tool(args, self.source_png, ".png", out_suffix)
        seconds = time.perf_counter() - start
        return Run(name, data, seconds, self.ref_score(data), setting, note)


def cwebp_args(quality: int) -> list[str]:
    return [CWEBP, "-quiet", "-q", str(quality), "-metadata", "icc", "{in}", "-o", "{out}"]


def cwebp_lossless_args() -> list[str]:
    return [CWEBP, "-quiet", "-lossless", "-metadata", "icc", "{in}", "-o", "{out}"]


def avifenc_args(level: int) -> list[str]:
    """``level`` 0..63 on a higher-is-better scale: quantizer 63 - level for colour and alpha."""
    q = str(MAX_QUANTIZER - level)
    return [
        AVIFENC,
        "-s",
        AVIFENC_SPEED,
        "-j",
        AVIFENC_JOBS,
        "-y",
        AVIFENC_YUV,
        "--min",
        q,
        "--max",
        q,
        "--minalpha",
        q,
        "--maxalpha",
        q,
        "{in}",
        "{out}",
    ]


def reference_runs(row: Row, fmt: str) -> None:
    suffix = SUFFIXES[fmt]
    pixels = source_pixels(row.original)
    source_png = pixels.pngsave_buffer(compression=1, keep="icc")
    encoder = ReferenceEncoder(row, suffix, source_png, Reference(pixels))

    start = time.perf_counter()
    quality, note = encoder.search(CWEBP, cwebp_args, 0, 100)
    search_note = f"search {time.perf_counter() - start:.0f}s, {note}"
    lossless = None
    if fmt == "png":
        lossless = encoder.timed_run(CWEBP_LOSSLESS, cwebp_lossless_args(), "lossless")
        row.runs[CWEBP_LOSSLESS] = lossless
    if quality is not None:
        row.runs[CWEBP] = encoder.timed_run(CWEBP, cwebp_args(quality), f"-q {quality}", search_note)
    elif lossless is not None:
        row.runs[CWEBP] = Run(
            CWEBP, lossless.data, lossless.seconds, lossless.score, "lossless", "-q 100 < 80"
        )
    else:
        row.runs[CWEBP] = Run(CWEBP, None, 0.0, note="no -q reaches 80")

    start = time.perf_counter()
    level, note = encoder.search(AVIFENC, avifenc_args, 0, MAX_QUANTIZER)
    search_note = f"search {time.perf_counter() - start:.0f}s, {note}"
    if level is None:
        row.runs[AVIFENC] = Run(AVIFENC, None, 0.0, note="quantizer 0 < 80")
    else:
        row.runs[AVIFENC] = encoder.timed_run(
            AVIFENC, avifenc_args(level), f"quantizer {MAX_QUANTIZER - level}", search_note
        )


def bench_image(path: Path, fmt: str) -> Row:
    row = Row(path, path.read_bytes())
    suffix = SUFFIXES[fmt]
    for name, convert in CRUSH_RUNS.items():
        row.runs[name] = crush(row.original, convert)
    for run in row.runs.values():
        if run.data is not None:
            run.score = reference(row.original, run.data, suffix)
    reference_runs(row, fmt)
    clear_work_files()
    return row


# ---------------------------------------------------------------- tables


def cell(run: Run, original: int) -> str:
    if run.data is None:
        return f"missing ({run.note})"
    score = "" if run.score is None else f" · {run.score:.1f}"
    extra = " · ".join(x for x in (run.setting, run.note) if x)
    return (
        f"{len(run.data):,} ({bench.pct(original - len(run.data), original)}){score} · {run.seconds:.2f}s"
        + (f" · {extra}" if extra else "")
    )


def format_table(fmt: str, rows: list[Row]) -> str:
    names = list(rows[0].runs)
    lines = [
        f"### {fmt.upper()} inputs",
        "",
        "| file | original | " + " | ".join(names) + " |",
        "|---|---:|" + "---|" * len(names),
    ]
    for row in rows:
        cells = [cell(row.runs[n], len(row.original)) for n in names]
        lines.append(f"| {row.path.name} | {len(row.original):,} | " + " | ".join(cells) + " |")
    total_original = sum(len(row.original) for row in rows)
    cells = []
    for n in names:
        size = total(rows, n)
        seconds = sum(row.runs[n].seconds for row in rows)
        worst = worst_score(rows, n)
        cells.append(
            (
                "missing"
                if size is None
                else f"**{size:,}** ({bench.pct(total_original - size, total_original)})"
            )
            + (f" · worst {worst:.2f}" if worst is not None else "")
            + f" · {seconds:.1f}s"
        )
    lines.append(f"| **total** | **{total_original:,}** | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: bytes (savings) · full-res SSIMULACRA2 (reference package) · seconds · setting · notes. "
        "Crush seconds: the whole `engine.compress` call (its search included); cwebp / avifenc seconds: "
        "one encode at the setting found (the search time is in the note).",
    ]
    return "\n".join(lines)


def total(rows: list[Row], name: str) -> int | None:
    if any(name not in row.runs or row.runs[name].data is None for row in rows):
        return None
    return sum(len(row.runs[name].data) for row in rows)  # type: ignore[arg-type]


def worst_score(rows: list[Row], name: str) -> float | None:
    scores = [row.runs[name].score for row in rows if name in row.runs and row.runs[name].score is not None]
    return min(scores) if scores else None  # type: ignore[type-var]


def seconds(rows: list[Row], name: str) -> float:
    return sum(row.runs[name].seconds for row in rows if name in row.runs)


def best_cwebp_total(rows: list[Row]) -> int | None:
    """Per image the smaller of cwebp (bisected, >= 80) and cwebp -lossless, summed."""
    sizes = []
    for row in rows:
        made = [len(row.runs[n].data) for n in (CWEBP, CWEBP_LOSSLESS) if n in row.runs and row.runs[n].data]
        if not made:
            return None
        sizes.append(min(made))
    return sum(sizes)


def targets(results: dict[str, list[Row]]) -> str:
    lines = ["| what | measured | target | met |", "|---|---|---|---|"]
    groups = dict(results)
    if len(results) > 1:
        groups["all"] = [row for rows in results.values() for row in rows]

    def ratio_row(what: str, rows: list[Row], mine: str, theirs: int | None, limit: float) -> None:
        size, worst = total(rows, mine), worst_score(rows, mine)
        if size is None or not theirs:
            lines.append(f"| {what} | missing | ≤ {limit:.1f}×, all ≥ 80 | ✗ |")
            return
        ratio = size / theirs
        ok = ratio <= limit and worst is not None and worst >= TARGET
        lines.append(
            f"| {what} | {ratio:.3f}× ({size:,} / {theirs:,}); worst {worst:.2f} | "
            f"≤ {limit:.1f}×, all ≥ 80 | {'✓' if ok else '✗'} |"
        )

    for group, rows in groups.items():
        label = "all inputs" if group == "all" else f"{group.upper()} inputs"
        ratio_row(f"{label}: convert=webp vs cwebp (≥ 80)", rows, "crush webp", total(rows, CWEBP), 1.0)
        ratio_row(f"{label}: convert=avif vs avifenc (≥ 80)", rows, "crush avif", total(rows, AVIFENC), 1.0)
        singles = {name: total(rows, name) for name in (INPUT_RUN, "crush webp", "crush avif")}
        known = {name: size for name, size in singles.items() if size}
        best = min(known, key=lambda name: known[name]) if known else "none"
        ratio_row(f"{label}: auto vs best single format ({best})", rows, "crush auto", known.get(best), 0.9)
        size, best_cwebp = total(rows, "crush webp"), best_cwebp_total(rows)
        if any(CWEBP_LOSSLESS in row.runs for row in rows) and size and best_cwebp:
            lines.append(
                f"| {label}: convert=webp vs per image best of cwebp (≥ 80) / cwebp -lossless | "
                f"{size / best_cwebp:.3f}× ({size:,} / {best_cwebp:,}) | reported | — |"
            )
        for fmt, mine, theirs in (("WebP", "crush webp", CWEBP), ("AVIF", "crush avif", AVIFENC)):
            a, b = seconds(rows, mine), seconds(rows, theirs)
            ratio = f" = {a / b:.1f}×" if b else ""
            lines.append(
                f"| {label}: {fmt} seconds, Crush balanced / one {theirs} encode at the setting found | "
                f"{a:.1f}s / {b:.1f}s{ratio} | reported | — |"
            )
        lines.append(
            f"| {label}: seconds, Crush input format / auto | "
            f"{seconds(rows, INPUT_RUN):.1f}s / {seconds(rows, 'crush auto'):.1f}s | reported | — |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def corpus_files(corpus: Path, fmt: str, limit: int | None) -> list[Path]:
    files = sorted(p for p in (corpus / fmt).iterdir() if p.is_file())
    return files[:limit] if limit else files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=bench.DEFAULT_CORPUS)
    parser.add_argument("--formats", default=",".join(FORMATS), help="input formats: jpeg,png")
    parser.add_argument("--limit", type=int, default=None, help="at most N files per input format")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "convert.md")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    setup()
    corpus = bench.ensure_corpus(args.corpus)
    head = [
        "## Convert: Crush balanced vs cwebp / avifenc at the same full-resolution SSIMULACRA2",
        "",
        f"Start: {run_info()}. Tools: {tool_versions()}; avifenc -s {AVIFENC_SPEED} -j {AVIFENC_JOBS} "
        f"-y {AVIFENC_YUV}, quantizer bisected (colour = alpha); cwebp defaults (-m 4) + -metadata icc, "
        "-q bisected. Reference encoders read a PNG of the decoded, oriented 8-bit sRGB pixels.",
    ]
    print("\n".join(head) + "\n", flush=True)
    bench.warm_up()
    results: dict[str, list[Row]] = {}
    sections = []
    for fmt in formats:
        files = corpus_files(corpus, fmt, args.limit)
        print(f"{fmt}: {len(files)} files", file=sys.stderr, flush=True)
        rows = []
        for path in files:
            rows.append(bench_image(path, fmt))
            print(
                f"  {fmt}/{path.name}: "
                + ", ".join(f"{r.name}={len(r.data) if r.data else '-'}" for r in rows[-1].runs.values())
                + f" ({uptime()})",
                file=sys.stderr,
                flush=True,
            )
        results[fmt] = rows
        sections.append(format_table(fmt, rows))
        print(sections[-1] + "\n", flush=True)
    sections.append("### Targets\n\n" + targets(results))
    sections.append(f"End: {uptime()}. Wall time of this run: {time.perf_counter() - started:.0f} s.")
    print("\n\n".join(sections[len(results) :]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n")
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
