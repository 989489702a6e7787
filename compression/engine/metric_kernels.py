"""Compiled (numba) kernels of SSIMULACRA2: XYB, the sigma 1.5 blur, the 2x2 downsample and the
pooled error maps of one scale. Planes are float32 arrays shaped (bands, height, width).

Each kernel fuses what would otherwise be a dozen full-image passes, and runs its rows on all
cores. `quality.py` holds the metric itself; these only do arithmetic on arrays.
"""

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

RADIUS = 5  # scipy: int(truncate * sigma + 0.5) with sigma 1.5, truncate 3.33
C2 = 0.0009
# Opsin absorbance (libjxl) and the XYB the reference builds from its three cube roots c0..c2:
# X = 7 (c0 - c1) + 0.42, Y = (c0 + c1) / 2 - cbrt(bias) + 0.01, B = c2 - (c0 + c1) / 2 + 0.55.
M00, M01, M02 = 0.30, 1.0 - 0.078 - 0.30, 0.078
M10, M11, M12 = 0.23, 1.0 - 0.078 - 0.23, 0.078
M20, M21 = 0.24342268924547819, 0.20476744424496821
M22 = 1.0 - M20 - M21
BIAS = 0.0037930732552754493
Y_OFFSET = 0.01 - math.cbrt(BIAS)
Y_OFFSET_F32 = np.float32(Y_OFFSET)

# Cube roots of the opsin values (all in [BIAS, 1 + BIAS]: linear RGB is in 0..1) in float32, a row
# at a time so that every step runs in SIMD lanes: a first guess from the float's bits (exponent / 3),
# then two Halley steps (cubic convergence: 3 % -> 1e-5 -> rounding). Worst error 8e-8 (libm's cbrt
# is the slowest step otherwise, and a table lookup does not vectorise).
CBRT_MAGIC = np.int32(709921077)
F32 = np.float32
THIRD_F32 = F32(1.0 / 3.0)
BIAS_F32 = F32(BIAS)
MATRIX_F32 = tuple(F32(m) for m in (M00, M01, M02, M10, M11, M12, M20, M21, M22))

# numba's default thread pool ("workqueue") must not be entered by two threads at once; a
# threaded web server may score in several threads.
LOCK = threading.Lock()
# Below this many pixels a parallel launch costs more than it saves: such images run on one thread.
PARALLEL_MIN_PIXELS = 1_000_000


def threads_for(pixels: int) -> int:
    """Threads for the kernels on an image of ``pixels``: one for a small image; else this one plus
    every core that no other task is running on right now. On busy cores more threads only cost: with
    the load at 14 on 2 cores, two threads took 1.7-2.3x the CPU time of one for the same balanced JPEG,
    and longer. The count is the kernel's instantaneous one (``/proc/loadavg``'s runnable tasks), not
    the load average: that one counts this process's own threads of the last minute, and so kept a
    search on one thread on an idle machine."""
    if pixels < PARALLEL_MIN_PIXELS:
        return 1
    cores: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    others = runnable_tasks() - 1  # this thread is one of them
    return max(1, min(cores, cores - others))


def runnable_tasks() -> int:
    """Tasks running or ready to run on the machine now (this one included); where the kernel does not
    say (not Linux), the one-minute load average stands in."""
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return int(loadavg.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return 1 + int(os.getloadavg()[0])


@contextmanager
def running(pixels: int) -> Iterator[None]:
    """Holds the kernels (LOCK) with the thread count ``threads_for(pixels)``."""
    with LOCK:
        numba.set_num_threads(threads_for(pixels))
        yield


def gauss_kernel(sigma: float = 1.5) -> np.ndarray:
    x = np.arange(-RADIUS, RADIUS + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


@njit(cache=True, error_model="numpy")
def _cbrt_row(values: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out`` = cube roots of ``values`` (positive, contiguous float32)."""
    bits = values.view(np.int32)
    guess = out.view(np.int32)
    for i in range(values.shape[0]):
        guess[i] = np.int32(F32(bits[i]) * THIRD_F32) + CBRT_MAGIC
    two = F32(2.0)
    for i in range(values.shape[0]):
        v = values[i]
        c = out[i]
        c3 = c * c * c
        c = c * (c3 + two * v) / (two * c3 + v)
        c3 = c * c * c
        out[i] = c - c * (c3 - v) / (two * c3 + v)


@njit(cache=True, parallel=True, error_model="numpy")
def xyb(linear: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Linear RGB planes to the reference's positive XYB planes."""
    _, h, w = linear.shape
    out = np.empty_like(linear)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = MATRIX_F32
    zero, one, half = F32(0.0), F32(1.0), F32(0.5)
    for y in prange(h):
        opsin = np.empty(3 * w, np.float32)
        roots = np.empty(3 * w, np.float32)
        r = linear[0, y]
        g = linear[1, y]
        b = linear[2, y]
        for x in range(w):
            opsin[x] = min(max(m00 * r[x] + m01 * g[x] + m02 * b[x], zero), one) + BIAS_F32
            opsin[w + x] = min(max(m10 * r[x] + m11 * g[x] + m12 * b[x], zero), one) + BIAS_F32
            opsin[2 * w + x] = min(max(m20 * r[x] + m21 * g[x] + m22 * b[x], zero), one) + BIAS_F32
        _cbrt_row(opsin, roots)
        for x in range(w):
            c0 = roots[x]
            c1 = roots[w + x]
            c2 = roots[2 * w + x]
            out[0, y, x] = F32(7.0) * (c0 - c1) + F32(0.42)
            out[1, y, x] = half * (c0 + c1) + Y_OFFSET_F32
            out[2, y, x] = c2 - half * (c0 + c1) + F32(0.55)
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def downsample(linear: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """2x2 box average; a lone last row or column is averaged on its own."""
    bands, h, w = linear.shape
    oh, ow = (h + 1) // 2, (w + 1) // 2
    out = np.empty((bands, oh, ow), np.float32)
    for i in prange(bands * oh):
        c, oy = i // oh, i % oh
        y0 = 2 * oy
        y1 = min(y0 + 1, h - 1)
        for ox in range(ow):
            x0 = 2 * ox
            x1 = min(x0 + 1, w - 1)
            out[c, oy, ox] = 0.25 * (
                linear[c, y0, x0] + linear[c, y0, x1] + linear[c, y1, x0] + linear[c, y1, x1]
            )
    return out


@njit(cache=True, error_model="numpy")
def _mirror(i: int, n: int) -> int:  # pragma: no cover - compiled
    """scipy's "reflect" edge: ... c b a | a b c ... (applied again for tiny n)."""
    while i < 0 or i >= n:
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _hblur(padded: np.ndarray, kernel: np.ndarray, dst: np.ndarray) -> None:  # pragma: no cover - compiled
    """One row blurred horizontally: ``padded`` holds it between RADIUS zeros on each side. The 11
    taps are written out so that each output is summed in a register, x in SIMD lanes, in one pass."""
    k0, k1, k2, k3, k4, k5 = kernel[0], kernel[1], kernel[2], kernel[3], kernel[4], kernel[5]
    k6, k7, k8, k9, k10 = kernel[6], kernel[7], kernel[8], kernel[9], kernel[10]
    p = padded
    for x in range(dst.shape[0]):
        dst[x] = (
            k0 * p[x] + k1 * p[x + 1] + k2 * p[x + 2] + k3 * p[x + 3] + k4 * p[x + 4] + k5 * p[x + 5]
            + k6 * p[x + 6] + k7 * p[x + 7] + k8 * p[x + 8] + k9 * p[x + 9] + k10 * p[x + 10]
        )  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _vblur(
    plane: np.ndarray, y: int, kernel: np.ndarray, dst: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Row ``y`` of ``plane`` blurred vertically, mirrored at the top and bottom (one pass, as
    ``_hblur``)."""
    h = plane.shape[0]
    row: int = np.int64(y)  # type: ignore[assignment]  # y may be unsigned (a prange index): y - 5 a float
    r0, r1, r2 = plane[_mirror(row - 5, h)], plane[_mirror(row - 4, h)], plane[_mirror(row - 3, h)]
    r3, r4, r5 = plane[_mirror(row - 2, h)], plane[_mirror(row - 1, h)], plane[_mirror(row, h)]
    r6, r7, r8 = plane[_mirror(row + 1, h)], plane[_mirror(row + 2, h)], plane[_mirror(row + 3, h)]
    r9, r10 = plane[_mirror(row + 4, h)], plane[_mirror(row + 5, h)]
    k0, k1, k2, k3, k4, k5 = kernel[0], kernel[1], kernel[2], kernel[3], kernel[4], kernel[5]
    k6, k7, k8, k9, k10 = kernel[6], kernel[7], kernel[8], kernel[9], kernel[10]
    for x in range(dst.shape[0]):
        dst[x] = (
            k0 * r0[x] + k1 * r1[x] + k2 * r2[x] + k3 * r3[x] + k4 * r4[x] + k5 * r5[x]
            + k6 * r6[x] + k7 * r7[x] + k8 * r8[x] + k9 * r9[x] + k10 * r10[x]
        )  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def linear_from_srgb8(pixels: np.ndarray, lut: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """8-bit sRGB or grey pixels (height, width, bands) to linear RGB planes through ``lut``."""
    h, w, bands = pixels.shape
    out = np.empty((3, h, w), np.float32)
    for y in prange(h):
        for c in range(3):
            band = c if bands >= 3 else 0
            for x in range(w):
                out[c, y, x] = lut[pixels[y, x, band]]
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def blurred_terms(xyb: np.ndarray, kernel: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The reference's blurred XYB (planes 0-2) and blurred XYB² (planes 3-5): a separable
    Gaussian with zeros beyond the left and right edges, mirrored at the top and bottom (the
    reference blurs its transposed planes with those edges)."""
    _, h, w = xyb.shape
    out = np.empty((6, h, w), np.float32)
    across = np.empty((2, h, w), np.float32)
    for c in range(3):
        for y in prange(h):
            padded = np.zeros((2, w + 2 * RADIUS), np.float32)
            a = xyb[c, y]
            for x in range(w):
                padded[0, RADIUS + x] = a[x]
                padded[1, RADIUS + x] = a[x] * a[x]
            for p in range(2):
                _hblur(padded[p], kernel, across[p, y])
        for y in prange(h):
            _vblur(across[0], y, kernel, out[c, y])
            _vblur(across[1], y, kernel, out[3 + c, y])
    return out


ONE = np.float32(1.0)
ZERO = np.float32(0.0)
C2_F32 = np.float32(C2)


@njit(cache=True, error_model="numpy")
def _row_maps(
    img1: np.ndarray,
    mu1: np.ndarray,
    sigma11: np.ndarray,
    img2: np.ndarray,
    mu2: np.ndarray,
    sigma22: np.ndarray,
    sigma12: np.ndarray,
    maps: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """One row of the SSIM, artifact and detail-lost maps, into ``maps`` (3, width). Strict float
    order (no fastmath): identical inputs give exactly zero."""
    for x in range(img2.shape[0]):
        m1 = mu1[x]
        m2 = mu2[x]
        diff = m1 - m2
        num_m = ONE - diff * diff
        num_s = (sigma12[x] - m1 * m2) * np.float32(2.0) + C2_F32
        denom_s = (sigma11[x] - m1 * m1) + (sigma22[x] - m2 * m2) + C2_F32
        maps[0, x] = max(ONE - num_m * num_s / denom_s, ZERO)
        edge = (ONE + abs(img2[x] - m2)) / (ONE + abs(img1[x] - m1)) - ONE
        maps[1, x] = max(edge, ZERO)
        maps[2, x] = max(-edge, ZERO)


@njit(cache=True, fastmath=True, error_model="numpy")
def _sum_and_sum4(values: np.ndarray) -> tuple[np.float32, np.float32]:  # pragma: no cover - compiled
    """Sum and sum of 4th powers (fastmath: the sums may be reordered into SIMD lanes)."""
    total = total4 = ZERO
    for v in values:
        total += v
        total4 += (v * v) * (v * v)
    return total, total4


@njit(cache=True, parallel=True, error_model="numpy")
def scale_sums(
    img1: np.ndarray,
    mu1: np.ndarray,
    sigma11: np.ndarray,
    img2: np.ndarray,
    first_row: int,
    rows: int,
    kernel: np.ndarray,
    across: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Sums (row 0) and sums of 4th powers (row 1) of the SSIM, artifact and detail-lost maps
    (3 bands each) over rows [first_row, first_row + rows): shape (2, 9), float64.

    ``img1``/``mu1``/``sigma11`` are the reference's XYB, blurred XYB and blurred XYB²; the
    candidate's blurred XYB, XYB² and XYB·reference are computed here, one channel at a time,
    with ``across`` (3, height, width) as scratch.
    """
    _, h, w = img2.shape
    partial = np.zeros((rows, 18))
    for c in range(3):
        for y in prange(h):
            padded = np.zeros((3, w + 2 * RADIUS), np.float32)
            a = img2[c, y]
            r = img1[c, y]
            for x in range(w):
                padded[0, RADIUS + x] = a[x]
                padded[1, RADIUS + x] = a[x] * a[x]
                padded[2, RADIUS + x] = a[x] * r[x]
            for p in range(3):
                _hblur(padded[p], kernel, across[p, y])
        for j in prange(rows):
            y = first_row + j
            blurred = np.empty((3, w), np.float32)
            for p in range(3):
                _vblur(across[p], y, kernel, blurred[p])
            maps = np.empty((3, w), np.float32)
            _row_maps(
                img1[c, y], mu1[c, y], sigma11[c, y], img2[c, y], blurred[0], blurred[1], blurred[2], maps
            )
            for k in range(3):
                partial[j, 3 * k + c], partial[j, 9 + 3 * k + c] = _sum_and_sum4(maps[k])
    return partial.sum(axis=0).reshape(2, 9)
