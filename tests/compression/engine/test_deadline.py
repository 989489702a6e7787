"""A deadline in the future never disturbs an encode: every type runs to the end in a clean process."""

import subprocess
import sys

SCRIPT = """
import time
import pyvips
from compression.engine import CompressOptions, CompressionType, compress

image = pyvips.Image.xyz(320, 240).extract_band(0).cast("uchar")
photo = image.bandjoin([image.rot180(), (image * 0.5).cast("uchar")]).copy(interpretation="srgb")
data = photo.jpegsave_buffer(Q=95)
for kind in ("balanced", "lossy", "lossless", "balanced"):
    result = compress(data, options=CompressOptions(CompressionType(kind)), deadline=time.monotonic() + 300)
    assert result.format.value == "jpeg" and len(result.data) <= len(data), kind
print("ok")
"""


def test_a_future_deadline_lets_every_compression_type_finish() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
