"""JPEG balanced: bytes, full-resolution score and seconds per corpus photo, vs one plain encode
(mozjpeg Q80, progressive: the "mozjpeg Q80" run of bench/engine.py).

Usage: .venv/bin/python bench/engine_balanced.py [ROOT]  (ROOT holds the compression/ package to measure,
e.g. an older commit unpacked with `git archive <rev> compression | tar -x -C ROOT`; default: this checkout).
"""

import glob
import sys
import time

root = sys.argv[1] if len(sys.argv) > 1 else str(__import__("pathlib").Path(__file__).resolve().parents[1])
sys.path.insert(0, root)
import pyvips  # noqa: E402

from compression.engine import CompressionType, CompressOptions, compress  # noqa: E402
from compression.engine.jpeg import MOZJPEG  # noqa: E402

assert str(__import__("compression").__file__).startswith(root), __import__("compression").__file__
# Warm-up (imports, compiled metric kernels loaded from their cache): a worker does this once.
compress(
    pyvips.Image.black(64, 64, bands=3).jpegsave_buffer(),
    options=CompressOptions(compression_type=CompressionType.BALANCED),
)
tb = tp = 0.0
tbytes = 0
mins = 100.0
for f in sorted(glob.glob("/tmp/crush-dev-corpus/jpeg/*.jpg")):
    data = open(f, "rb").read()
    t = time.time()
    pyvips.Image.new_from_buffer(data, "", access="sequential").jpegsave_buffer(
        Q=80, interlace=True, keep="icc", **MOZJPEG
    )
    p = time.time() - t
    t = time.time()
    r = compress(data, options=CompressOptions(compression_type=CompressionType.BALANCED))
    b = time.time() - t
    tb += b
    tp += p
    tbytes += len(r.data)
    assert r.ssimulacra2 is not None
    mins = min(mins, r.ssimulacra2)
    print(
        f"{f.split('/')[-1]}\t{len(r.data)}\t{r.ssimulacra2:.2f}\t{b:.1f}\t{p:.2f}\t{b / p:.0f}x", flush=True
    )
print(f"TOTAL\t{tbytes}\t{mins:.2f}\t{tb:.1f}\t{tp:.2f}\t{tb / tp:.0f}x")
