"""Tinify surface benchmark (issue 18): what `POST /tinify/shrink` makes of the dev corpus's JPEG and PNG
files by default, against the tools a TinyPNG user could run instead — pngquant (its defaults) then
`oxipng -o2` for PNG, mozjpeg at quality 80 for JPEG — bytes and full-resolution SSIMULACRA2 (the reference
`ssimulacra2` package, bench/engine.py's `reference_score`) side by side.

    .venv/bin/python bench/tinify.py [--corpus DIR] [--out FILE]

The surface's default is the engine's `balanced` at the account's quality target (80;
`compression/api/tinify/serializers.py`, COMPRESSION_TYPE): made here by `engine.compress` with the same
options, so no server is needed. Setup: Debian `pngquant` (installed by bench/engine.py's setup).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # bench/engine.py, compression/

import convert as convert_bench  # noqa: E402  (run_info, uptime)
import engine as bench  # noqa: E402  (scoring, corpus, tools)

from compression import engine  # noqa: E402
from compression.engine import CompressionType, CompressOptions  # noqa: E402

OUT = Path(tempfile.gettempdir()) / "tinify-bench.md"
SUFFIXES = {"jpeg": ".jpg", "png": ".png"}
COMPRESSION_TYPE = CompressionType.BALANCED  # the surface's (see the docstring)


def crush(data: bytes) -> bytes:
    options = CompressOptions(compression_type=COMPRESSION_TYPE)
    return engine.compress(data, options=options).data


def peer(fmt: str, data: bytes) -> bytes:
    if fmt == "jpeg":
        return bench.mozjpeg_q(data, 80)
    quantised = bench.tool(["pngquant", "--output", "{out}", "--", "{in}"], data, ".png", ok_codes=(0, 99))
    return bench.oxipng_at(quantised, 2)


def cell(original: bytes, output: bytes, suffix: str, seconds: float) -> tuple[str, int]:
    score = bench.reference_score(original, output, suffix)
    saved = 100 * (1 - len(output) / len(original))
    return f"{len(output):,} ({saved:.1f}%) · {score:.1f} · {seconds:.2f}s", len(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=bench.DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    bench.setup()
    corpus = bench.ensure_corpus(args.corpus)
    bench.WORK.mkdir(parents=True, exist_ok=True)
    bench.warm_up()
    peers = {"jpeg": "mozjpeg Q80", "png": "pngquant + oxipng -o2"}
    lines = [f"Start: {convert_bench.run_info()}", ""]
    for fmt, suffix in SUFFIXES.items():
        lines += [
            f"#### {fmt.upper()}",
            "",
            f"| file | original | Crush Tinify default ({COMPRESSION_TYPE.value}) | {peers[fmt]} |",
            "|---|---:|---|---|",
        ]
        totals = [0, 0, 0]
        for path in sorted((corpus / fmt).iterdir()):
            data = path.read_bytes()
            started = time.perf_counter()
            ours = crush(data)
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            theirs = peer(fmt, data)
            theirs_s = time.perf_counter() - started
            ours_cell, ours_n = cell(data, ours, suffix, ours_s)
            theirs_cell, theirs_n = cell(data, theirs, suffix, theirs_s)
            totals = [totals[0] + len(data), totals[1] + ours_n, totals[2] + theirs_n]
            lines.append(f"| {path.name} | {len(data):,} | {ours_cell} | {theirs_cell} |")
            print(lines[-1], file=sys.stderr, flush=True)
        lines += [
            f"| **total** | **{totals[0]:,}** | **{totals[1]:,}** ({totals[1] / totals[2]:.3f}× the peer) "
            f"| **{totals[2]:,}** |",
            "",
        ]
    lines.append("Cells: bytes (savings) · full-resolution SSIMULACRA2 (reference package) · seconds.")
    lines.append(f"End: {convert_bench.uptime()}")
    text = "\n".join(lines)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
