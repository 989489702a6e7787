"""CPU cost of one SSIMULACRA2 score (compression.engine.quality), per megapixel.

    .venv/bin/python bench/metric_cost.py [--corpus /tmp/crush-dev-corpus] [--sizes 2,9,17]

A dev-corpus photo is resized to each size (megapixels); the candidate is its JPEG at Q75
(with alpha: a gradient alpha band, the candidate a 16-colour palette PNG). CPU time is
getrusage self + children (the machine may be loaded: wall time would measure the others).
The agreement rows compare with the reference `ssimulacra2` package on the corpus JPEGs.
"""

import argparse
import io
import resource
import sys
from pathlib import Path

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compression.engine import quality


def cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def source(corpus: Path, megapixels: float, alpha: bool) -> tuple[pyvips.Image, pyvips.Image]:
    photo = pyvips.Image.new_from_file(str(corpus / "jpeg" / "Blinds.jpg"))
    scale = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    image = pyvips.Image.new_from_memory(
        photo.resize(scale).write_to_memory(), *_size(photo, scale), 3, "uchar"
    )
    image = image.copy(interpretation="srgb")
    if alpha:
        ramp = (pyvips.Image.xyz(image.width, image.height)[0] * 255 / image.width).cast("uchar")
        image = image.bandjoin(ramp)
        data = image.write_to_buffer(".png", palette=True, bitdepth=4, compression=1)
    else:
        data = image.write_to_buffer(".jpg", Q=75)
    candidate = pyvips.Image.new_from_buffer(data, "")
    candidate = pyvips.Image.new_from_memory(
        candidate.write_to_memory(), candidate.width, candidate.height, candidate.bands, "uchar"
    ).copy(interpretation="srgb")
    return image, candidate


def _size(photo: pyvips.Image, scale: float) -> tuple[int, int]:
    resized = photo.resize(scale)
    return resized.width, resized.height


def cost_rows(corpus: Path, sizes: list[float], repeats: int) -> None:
    print("| size | alpha | MP | reference CPU s/MP | one score CPU s/MP |")
    print("| --- | --- | --- | --- | --- |")
    for megapixels in sizes:
        for alpha in (False, True):
            image, candidate = source(corpus, megapixels, alpha)
            mp = image.width * image.height / 1e6
            before = cpu_seconds()
            reference = quality.Reference(image)
            built = cpu_seconds()
            for _ in range(repeats):
                reference.score(candidate)
            done = cpu_seconds()
            print(
                f"| {image.width}x{image.height} | {'yes' if alpha else 'no'} | {mp:.1f} "
                f"| {(built - before) / mp:.3f} | {(done - built) / repeats / mp:.3f} |",
                flush=True,
            )


def agreement(corpus: Path, qualities: list[int]) -> None:
    from ssimulacra2 import compute_ssimulacra2

    worst = 0.0
    for path in sorted((corpus / "jpeg").glob("*.jpg"))[:6]:
        image = pyvips.Image.new_from_file(str(path))
        image = image.resize(min(1.0, (1e6 / (image.width * image.height)) ** 0.5))  # the reference is slow
        png = image.write_to_buffer(".png")
        for q in qualities:
            data = image.write_to_buffer(".jpg", Q=q)
            ours = quality.ssimulacra2(image, pyvips.Image.new_from_buffer(data, ""))
            theirs = compute_ssimulacra2(
                io.BytesIO(png), io.BytesIO(pyvips.Image.new_from_buffer(data, "").write_to_buffer(".png"))
            )
            worst = max(worst, abs(ours - theirs))
            print(f"{path.name} Q{q}: ours {ours:.4f} reference {theirs:.4f} |d| {abs(ours - theirs):.4f}")
    print(f"max |d score| {worst:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/crush-dev-corpus"))
    parser.add_argument("--sizes", default="2,9,17")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--agreement", default="30,60,90", help="JPEG qualities ('' to skip)")
    args = parser.parse_args()
    quality.warm_up()
    with open("/proc/loadavg") as f:
        print("load average:", f.read().split()[:3])
    cost_rows(args.corpus, [float(s) for s in args.sizes.split(",") if s], args.repeats)
    if args.agreement:
        agreement(args.corpus, [int(q) for q in args.agreement.split(",")])


if __name__ == "__main__":
    main()
