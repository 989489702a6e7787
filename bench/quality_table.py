"""The visual table of docs/quality-target.md: one photo compressed in `balanced` at several quality targets.

    .venv/bin/python bench/quality_table.py [--photo /tmp/crush-dev-corpus/jpeg/Kite.jpg]
                                            [--out docs/images/quality-target]

For each target, the whole photo goes through the engine (as a job would); the table row gives its bytes, the
score the engine reports and the time, and a 1:1 crop of the output (the photo's busiest tile: where loss
shows first) is saved as a lossless PNG, with the same crop of the input beside them. Prints the markdown
rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyvips

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = (50, 65, 80, 90, 95)
CROP_W, CROP_H = 256, 192


def busiest_tile(image: pyvips.Image) -> tuple[int, int]:
    """Top-left corner of the CROP_W×CROP_H tile with the largest luma deviation."""
    luma = image.colourspace("b-w")[0].cast("float")
    best, corner = -1.0, (0, 0)
    for top in range(0, image.height - CROP_H + 1, CROP_H):
        for left in range(0, image.width - CROP_W + 1, CROP_W):
            deviation = luma.crop(left, top, CROP_W, CROP_H).deviate()
            if deviation > best:
                best, corner = deviation, (left, top)
    return corner


def main() -> None:
    from compression import engine

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    corpus = Path(tempfile.gettempdir()) / "crush-dev-corpus" / "jpeg" / "Kite.jpg"
    parser.add_argument("--photo", type=Path, default=corpus)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "quality-target")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    source = args.photo.read_bytes()
    image = pyvips.Image.new_from_buffer(source, "")
    left, top = busiest_tile(image)
    image.crop(left, top, CROP_W, CROP_H).pngsave(str(args.out / "input.png"), compression=9)
    print(f"{args.photo.name}: {image.width}×{image.height}, {len(source):,} bytes; crop at ({left}, {top})")
    print("| target | bytes | of the input | score reported | seconds | 1:1 crop |")
    print("|---:|---:|---:|---:|---:|---|")
    for target in TARGETS:
        options = engine.CompressOptions(compression_type=engine.CompressionType.BALANCED, target=target)
        started = time.perf_counter()
        result = engine.compress(source, options=options)
        seconds = time.perf_counter() - started
        name = f"target-{target}.png"
        output = pyvips.Image.new_from_buffer(result.data, "")
        output.crop(left, top, CROP_W, CROP_H).pngsave(str(args.out / name), compression=9)
        score = "—" if result.ssimulacra2 is None else f"{result.ssimulacra2:.1f}"
        share = len(result.data) / len(source)
        print(
            f"| {target} | {len(result.data):,} | {share:.0%} | {score} | {seconds:.2f} | "
            f"![target {target}](images/quality-target/{name}) |"
        )


if __name__ == "__main__":
    main()
