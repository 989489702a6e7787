"""Lossy calibration (issue 16 item 1): for each ``lossy`` level L, the WebP and AVIF quality whose
full-resolution SSIMULACRA2 matches what Crush's lossy JPEG scores at L, so that a level could mean about
the same visual quality in each format. Writes /tmp/convert-bench/calibration.md.

    .venv/bin/python bench/convert_calibration.py [--max-mp 2] [--sweep 10] [--levels 30,40,...]

Images: the dev corpus JPEG photos plus ``--sweep`` photos of the sweep corpus (/tmp/crush-sweep-dev/jpeg:
>= 1 MP, 3-band sRGB, not the ``derived--`` variants, taken in name order one source package at a time so
no package dominates). Each is decoded, oriented, downscaled to at most ``--max-mp`` megapixels (to keep
the run near 20 minutes on 2 cores) and stored as a 4:4:4 Q100 JPEG: the input, so Crush's lossy JPEG
is not capped by the source's own quality (``jpeg.estimate_quality``) nor handed back unchanged.

Per image and level L:

- S(L): the reference ``ssimulacra2`` package's full-resolution score of
  ``engine.compress(input, CompressOptions(compression_type=LOSSY, level=L))`` (a JPEG);
- for WebP and AVIF (``convert=("webp",)`` / ``("avif",)``, the level passed to the encoder unchanged),
  the level whose score is closest to that image's S(L): a bracketing search (interpolation, then the
  neighbour across the target) over the integer levels 1..100, every output scored by the engine's metric
  (``compression.engine.quality.Reference``, the same SSIMULACRA2 in float32); its agreement with the
  reference package is measured on every JPEG and on one matched WebP and AVIF output per image.

Reported per L: the mean of S(L), the median (and interquartile range) over images of the matched WebP and
AVIF levels, and of their bytes relative to the JPEG; then a monotonic piecewise-linear mapping (the
medians, made non-decreasing) as a dict literal.
"""

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # bench/engine.py and bench/convert.py, compression/

import convert as convert_bench  # noqa: E402  (bench/convert.py: scoring any output format)
import engine as bench  # noqa: E402  (bench/engine.py: reference_score, warm_up)
import pyvips  # noqa: E402

from compression import engine  # noqa: E402
from compression.engine import CompressionType, CompressOptions  # noqa: E402
from compression.engine.quality import Reference  # noqa: E402

OUT_DIR = Path(tempfile.gettempdir()) / "convert-bench"
DEV_JPEGS = bench.DEFAULT_CORPUS / "jpeg"
SWEEP_JPEGS = Path(tempfile.gettempdir()) / "crush-sweep-dev" / "jpeg"
LEVELS = (30, 40, 50, 60, 70, 80, 90, 95)
FORMATS = ["webp", "avif"]  # --formats; jxl too
NAMES = {"webp": "WebP", "avif": "AVIF", "jxl": "JPEG XL"}
MIN_SWEEP_PIXELS = 1_000_000
SOURCE_QUALITY = 100
LOWEST, HIGHEST = 1, 100
BRACKET_STEP = 10


# ---------------------------------------------------------------- images


def sweep_photos(count: int) -> list[Path]:
    """``count`` sweep JPEGs >= 1 MP, 3-band sRGB, no ``derived--`` variant, one package at a time."""
    by_package: dict[str, list[Path]] = {}
    for path in sorted(SWEEP_JPEGS.iterdir()):
        package = path.name.split("--")[0]
        if package == "derived":
            continue
        try:
            image = pyvips.Image.new_from_file(str(path))
        except pyvips.Error:
            continue
        if (
            image.width * image.height >= MIN_SWEEP_PIXELS
            and image.bands == 3
            and image.interpretation == "srgb"
        ):
            by_package.setdefault(package, []).append(path)
    picked: list[Path] = []
    queues = [list(paths) for _, paths in sorted(by_package.items())]
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def calibration_source(path: Path, max_pixels: int) -> tuple[bytes, str]:
    """The image oriented, downscaled to ``max_pixels`` at most, as a 4:4:4 Q100 JPEG; its size."""
    image = pyvips.Image.new_from_file(str(path)).autorot()
    note = f"{image.width}×{image.height}"
    if image.width * image.height > max_pixels:
        image = image.resize((max_pixels / (image.width * image.height)) ** 0.5)
        note += f" → {image.width}×{image.height}"
    data = image.jpegsave_buffer(Q=SOURCE_QUALITY, subsample_mode="off", keep="none")
    return data, note


# ---------------------------------------------------------------- measuring


@dataclass
class Match:
    level: int
    score: float
    size: int
    saturated: bool  # the target is out of the 1..100 range's scores


@dataclass
class ImageResult:
    name: str
    size_note: str
    jpeg_scores: dict[int, float] = field(default_factory=dict)  # reference package
    jpeg_sizes: dict[int, int] = field(default_factory=dict)
    matches: dict[str, dict[int, Match]] = field(default_factory=dict)
    agreement: list[tuple[str, float]] = field(default_factory=list)  # (what, engine - reference)
    evaluations: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def lossy(data: bytes, level: int, convert: tuple[str, ...] = ()) -> bytes:
    options = CompressOptions(compression_type=CompressionType.LOSSY, level=level, convert=convert)
    result = engine.compress(data, options=options)
    if result.unchanged:
        raise RuntimeError(f"lossy level {level} handed the input back")
    return result.data


def closest_level(
    score: Callable[[int], float], known: dict[int, float], target: float, start: int
) -> tuple[int, bool]:
    """The level in LOWEST..HIGHEST whose score is closest to ``target`` (scores rising with the level),
    and whether the target lies outside the range's scores. ``score(level)`` evaluates a level into
    ``known`` (the levels scored so far, reused across targets). Brackets the target (from ``start`` in
    steps of BRACKET_STEP), then narrows the bracket by interpolation, each time also trying the
    neighbour across the target."""
    if not known:
        score(min(max(start, LOWEST), HIGHEST))
    while True:
        passing = [level for level, value in known.items() if value >= target]
        hi = min(passing) if passing else None
        failing = [level for level, value in known.items() if value < target and (hi is None or level < hi)]
        lo = max(failing) if failing else None
        if hi is None:
            assert lo is not None
            if lo == HIGHEST:
                return HIGHEST, True
            score(min(HIGHEST, lo + BRACKET_STEP))
            continue
        if lo is None:
            if hi == LOWEST:
                return LOWEST, True
            score(max(LOWEST, hi - BRACKET_STEP))
            continue
        if hi - lo <= 1:
            break
        guess = lo + (target - known[lo]) * (hi - lo) / max(known[hi] - known[lo], 1e-9)
        probe = min(max(round(guess), lo + 1), hi - 1)
        if score(probe) >= target and probe - 1 > lo:
            score(probe - 1)
        elif known[probe] < target and probe + 1 < hi:
            score(probe + 1)
    return (lo if abs(known[lo] - target) < abs(known[hi] - target) else hi), False


def measure_image(
    name: str, source: bytes, size_note: str, levels: tuple[int, ...], check_level: int
) -> ImageResult:
    started = time.perf_counter()
    result = ImageResult(name, size_note)
    fast = Reference(pyvips.Image.new_from_buffer(source, "").copy_memory())

    def fast_score(data: bytes) -> float:
        return fast.score(pyvips.Image.new_from_buffer(convert_bench.decode_to_png(data), ""))

    for level in levels:
        out = lossy(source, level)
        result.jpeg_sizes[level] = len(out)
        result.jpeg_scores[level] = bench.reference_score(source, out, ".jpg")
        result.agreement.append((f"jpeg {level}", fast_score(out) - result.jpeg_scores[level]))
    for fmt in FORMATS:
        outputs: dict[int, bytes] = {}
        scores: dict[int, float] = {}

        def score_at(level: int, fmt: str = fmt, outputs: dict = outputs, scores: dict = scores) -> float:
            if level not in scores:
                outputs[level] = lossy(source, level, (fmt,))
                scores[level] = fast_score(outputs[level])
            return scores[level]

        result.matches[fmt] = {}
        start = levels[0]
        for level in levels:
            match, saturated = closest_level(score_at, scores, result.jpeg_scores[level], start)
            result.matches[fmt][level] = Match(match, scores[match], len(outputs[match]), saturated)
            start = match
        result.evaluations[fmt] = len(scores)
        matched = result.matches[fmt][check_level]
        checked = convert_bench.reference(source, outputs[matched.level], ".jpg")
        result.agreement.append((f"{fmt} {matched.level}", matched.score - checked))
    convert_bench.clear_work_files()
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------- report


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def proposed_mapping(results: list[ImageResult], levels: tuple[int, ...]) -> dict[str, dict[int, int]]:
    """Per format, L -> the median matched level (rounded half up), made non-decreasing (running
    maximum)."""
    mapping: dict[str, dict[int, int]] = {}
    for fmt in FORMATS:
        running = LOWEST
        mapping[fmt] = {}
        for level in levels:
            median = statistics.median(r.matches[fmt][level].level for r in results)
            running = max(running, math.floor(median + 0.5))
            mapping[fmt][level] = running
    return mapping


def report(results: list[ImageResult], levels: tuple[int, ...], args: argparse.Namespace, info: str) -> str:
    names = " / ".join(NAMES[fmt] for fmt in FORMATS)
    lines = [
        f"## Lossy calibration: the {names} level matching Crush's lossy JPEG at each level",
        "",
        f"{info}. {len(results)} images ({args.sweep} of them from the sweep corpus), each oriented, "
        f"downscaled to ≤ {args.max_mp:g} MP and stored as a 4:4:4 Q{SOURCE_QUALITY} JPEG (the input). "
        f"S(L): full-res SSIMULACRA2 (reference package) of `lossy` level L as JPEG; {names}: per image "
        "the `lossy` level (`convert`, passed to the encoder unchanged) whose score is closest to that "
        "image's S(L) (search scored by the engine's metric), median [interquartile range] over images; "
        "bytes: the matched output's size over the JPEG's at L, median [IQR].",
        "",
        "| L (JPEG) | JPEG mean score S(L) | JPEG score range | "
        + "".join(f"{NAMES[fmt]} level | {NAMES[fmt]} bytes / JPEG | " for fmt in FORMATS)
        + f"out of range ({names}) |",
        "|---:|---:|---:|" + "---:|---:|" * len(FORMATS) + "---:|",
    ]
    for level in levels:
        scores = [r.jpeg_scores[level] for r in results]
        cells = []
        for fmt in FORMATS:
            q1, median, q3 = quartiles([float(r.matches[fmt][level].level) for r in results])
            cells.append(f"{median:g} [{q1:g}–{q3:g}]")
            ratios = [r.matches[fmt][level].size / r.jpeg_sizes[level] for r in results]
            b1, bm, b3 = quartiles(ratios)
            cells.append(f"{bm:.2f} [{b1:.2f}–{b3:.2f}]")
        saturated = [sum(r.matches[fmt][level].saturated for r in results) for fmt in FORMATS]
        lines.append(
            f"| {level} | {statistics.mean(scores):.2f} | {min(scores):.1f}–{max(scores):.1f} | "
            + " | ".join(cells)
            + f" | {' / '.join(map(str, saturated))} |"
        )
    mapping = proposed_mapping(results, levels)
    lines += [
        "",
        "Proposed `lossy` mapping (level → encoder quality; the medians above, rounded and made "
        "non-decreasing; linear between the points; below 30 and above 95 the measurements say nothing):",
        "",
        "```python",
        "LOSSY_LEVEL_TO_QUALITY = {",
    ]
    for fmt in FORMATS:
        pairs = ", ".join(f"{level}: {quality}" for level, quality in mapping[fmt].items())
        lines.append(f'    "{fmt}": {{{pairs}}},')
    lines += ["}", "```", ""]
    differences = [abs(d) for r in results for _, d in r.agreement]
    jpeg_diffs = [abs(d) for r in results for what, d in r.agreement if what.startswith("jpeg")]
    other = [abs(d) for r in results for what, d in r.agreement if not what.startswith("jpeg")]
    lines.append(
        f"Engine metric vs reference package: max |difference| {max(differences):.4f} over "
        f"{len(differences)} outputs ({max(jpeg_diffs):.4f} on the {len(jpeg_diffs)} JPEGs, "
        f"{max(other):.4f} on {len(other)} matched {names} outputs, one level per image)."
    )
    lines += [
        "",
        f"| image | size | seconds | evaluations ({names}) | S(L) for L = "
        + ", ".join(map(str, levels))
        + " |",
        "|---|---|---:|---:|---|",
    ]
    for r in results:
        scores = ", ".join(f"{r.jpeg_scores[level]:.1f}" for level in levels)
        evaluations = " / ".join(str(r.evaluations[fmt]) for fmt in FORMATS)
        lines.append(f"| {r.name} | {r.size_note} | {r.seconds:.0f} | {evaluations} | {scores} |")
    lines += [
        "",
        "| image | " + " | ".join(f"{' / '.join(FORMATS)} at L={level}" for level in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for r in results:
        cells = [" / ".join(str(r.matches[fmt][level].level) for fmt in FORMATS) for level in levels]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mp", type=float, default=2.0, help="downscale each image to this many MP")
    parser.add_argument("--sweep", type=int, default=10, help="photos taken from the sweep corpus")
    parser.add_argument("--dev", type=int, default=None, help="at most N dev corpus photos")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument("--formats", default=",".join(FORMATS), help="of webp, avif, jxl")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "calibration.md")
    args = parser.parse_args()
    levels = tuple(sorted(int(x) for x in args.levels.split(",") if x))
    FORMATS[:] = [fmt for fmt in args.formats.split(",") if fmt]
    started = time.perf_counter()
    bench.WORK = OUT_DIR / "calibration-work"
    bench.WORK.mkdir(parents=True, exist_ok=True)
    info = f"Start: {convert_bench.run_info()}"
    print(info, file=sys.stderr, flush=True)
    bench.warm_up()
    dev = sorted(DEV_JPEGS.glob("*.jpg"))[: args.dev]
    paths = dev + sweep_photos(args.sweep)
    results = []
    for index, path in enumerate(paths):
        source, size_note = calibration_source(path, int(args.max_mp * 1_000_000))
        check_level = levels[index % len(levels)]
        results.append(measure_image(path.name, source, size_note, levels, check_level))
        r = results[-1]
        print(
            f"  {path.name} ({size_note}): {r.seconds:.0f}s, "
            + ", ".join(
                f"L{level} {r.jpeg_scores[level]:.1f} → "
                + " ".join(f"{fmt} {r.matches[fmt][level].level}" for fmt in FORMATS)
                for level in levels
            )
            + f" ({convert_bench.uptime()})",
            file=sys.stderr,
            flush=True,
        )
    info += f"; end: {convert_bench.uptime()}; wall time {time.perf_counter() - started:.0f} s"
    text = report(results, levels, args, info)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
