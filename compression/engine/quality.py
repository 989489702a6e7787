"""SSIMULACRA2, faithful to the `ssimulacra2` PyPI package.

The reference (``ssimulacra2.compute_ssimulacra2``, numpy float64, ~1.2 s/MP) is the metric the
benchmark and the API promise are stated in; this module computes the same 108 features in
float32: libvips turns any image into linear RGB, and compiled kernels (``metric_kernels``) do the
rest in a few fused, multi-threaded passes per scale.

Details copied from the reference on purpose, including its quirks:

- its XYB planes are the transpose of the image, so the sigma 1.5 blur (an 11-tap kernel,
  ``truncate=3.33``) pads the *left and right* edges with zeros and mirrors the top and bottom;
- each of the 6 scales halves the linear-RGB image with a 2x2 box (a lone last row/column is kept);
- the loop stops at a scale narrower than 8 px, and the weights are then indexed as if the
  missing scales did not exist.

Alpha: the reference package drops alpha when it loads an image (``convert("RGB")``), although
it means to do what libjxl's tool does: blend over a dark (0.1) and a light (0.9) background in
sRGB and keep the lower score. We do the latter (flattening to the image's bit depth, as the
benchmark does before it hands the two images to the reference), so quantised alpha is penalised
and the colour of fully transparent pixels is not.
"""

import ctypes
import ctypes.util

import numpy as np
import pyvips

from . import metric_kernels as kernels
from .decode import check_deadline

NUM_SCALES = 6
MIN_SCALE_PX = 8
ALPHA_BACKGROUNDS = (0.1, 0.9)
# Above this size the score is computed in strips of STRIP_ROWS rows, so memory stays bounded
# (below it the reference's terms, 48 bytes/px over all scales, are kept for every score). Each
# strip reads STRIP_MARGIN more rows on both sides: the blur radius (5 px) at the last fine scale
# (x4), rounded up to that scale's grid.
TILE_MIN_PIXELS = 8_000_000
STRIP_ROWS = 256
FINE_SCALES = 3
STRIP_MARGIN = 24

_WEIGHTS = (
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0,
    0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271, 0.00015231632783718752,
    0.0, 0.0016406437456599754, 0.0, 1.8422455520539298, 11.441172603757666, 0.0,
    0.0007989109436015163, 0.000176816438078653, 0.0, 1.8787594979546387, 10.94906990605142, 0.0,
    0.0007289346991508072, 0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967,
    0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398, 0.0, 0.0,
    0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262, 0.0006235601634041466, 0.0, 0.0,
    6.683678146179332, 0.00037724407979611296, 1.027889937768264, 225.20515300849274, 0.0, 0.0,
    19.213238186143016, 0.0011401524586618361, 0.001237755635509985, 176.39317598450694, 0.0,
    0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
    34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
    0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
    0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
    23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
    0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537,
)  # fmt: skip


_KERNEL = kernels.gauss_kernel()
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_MALLOC_TRIM = getattr(_LIBC, "malloc_trim", None)  # glibc only


def _release_freed_memory() -> None:
    """Hands the memory the strips freed back to the OS. glibc keeps freed strip buffers in its arenas
    (~80 MiB at 100 MP after each score); the encoder that runs between scores would stack on them."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _srgb_to_linear_lut(levels: int) -> np.ndarray:
    """The reference's two-part sRGB curve, for every code value."""
    v = np.arange(levels, dtype=np.float64) / (levels - 1)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LUT8 = _srgb_to_linear_lut(256)
_LUT16 = pyvips.Image.new_from_array(_srgb_to_linear_lut(65536).reshape(1, 65536))


def _prepare(image: pyvips.Image, background: float | None) -> np.ndarray:
    """Any pyvips image to linear RGB float32 planes (3, h, w); with alpha, first flattened over
    `background` (0..1 sRGB) to the image's own bit depth: what a viewer shows on that background."""
    if image.interpretation not in ("srgb", "rgb16", "b-w", "grey16"):
        image = image.colourspace("srgb")
    sixteen = image.interpretation in ("rgb16", "grey16") or image.format == "ushort"
    depth = "ushort" if sixteen else "uchar"
    if image.format != depth:
        image = image.cast(depth)
    if image.hasalpha():
        if background is None:
            image = image.extract_band(0, n=image.bands - 1)
        else:
            peak = 65535.0 if sixteen else 255.0
            image = image.flatten(background=[background * peak] * (image.bands - 1)).cast(depth)
    if not sixteen:
        pixels = np.frombuffer(image.write_to_memory(), np.uint8)
        return kernels.linear_from_srgb8(pixels.reshape(image.height, image.width, image.bands), _LUT8)
    linear = image.maplut(_LUT16)
    if linear.bands == 1:
        linear = linear.bandjoin([linear, linear])
    pixels = np.frombuffer(linear.cast("float").write_to_memory(), np.float32)
    return np.ascontiguousarray(pixels.reshape(image.height, image.width, 3).transpose(2, 0, 1))


def _features(sums: np.ndarray, pixels: int) -> list[float]:
    """Means and 4-norms from `kernels.scale_sums` over `pixels`: [ssim(6), edge(12)] per channel."""
    means = sums[0] / pixels
    norm4 = (sums[1] / pixels) ** 0.25
    features = []
    for c in range(3):
        features += [means[c], norm4[c]]
    for c in range(3):
        features += [means[3 + c], norm4[3 + c], means[6 + c], norm4[6 + c]]
    return [float(f) for f in features]


class _RefScale:
    """Reference side of one scale: XYB, blurred XYB and blurred XYB² (3 planes each)."""

    def __init__(self, linear: np.ndarray) -> None:
        self.xyb = kernels.xyb(linear)
        blurred = kernels.blurred_terms(self.xyb, _KERNEL)
        self.mu = blurred[:3]
        self.sigma = blurred[3:]
        self._scratch = np.empty_like(self.xyb)  # reused by every score

    def sums(self, linear: np.ndarray, first_row: int = 0, rows: int | None = None) -> np.ndarray:
        """Pooled map sums of the candidate's `linear` planes against this scale (see
        ``kernels.scale_sums``), over rows [first_row, first_row + rows) only."""
        rows = linear.shape[1] - first_row if rows is None else rows
        return kernels.scale_sums(
            self.xyb, self.mu, self.sigma, kernels.xyb(linear), first_row, rows, _KERNEL, self._scratch
        )


def _scaled_rows(rows: int, scale: int) -> int:
    """Rows at `scale` of `rows` full-resolution rows (each halving keeps a lone last row)."""
    for _ in range(scale):
        rows = (rows + 1) // 2
    return rows


def _pyramid(linear: np.ndarray, first_scale: int, deadline: float | None = None) -> list[_RefScale]:
    scales = []
    for k in range(first_scale, NUM_SCALES):
        if min(linear.shape[1:]) < MIN_SCALE_PX:
            break
        check_deadline(deadline)
        scales.append(_RefScale(linear))
        if k < NUM_SCALES - 1:
            linear = kernels.downsample(linear)
    return scales


class Reference:
    """The reference image, precomputed once for many `score` calls.

    Images above TILE_MIN_PIXELS are scored in horizontal strips (the same numbers, bounded memory):
    the fine scales strip by strip, with enough margin rows for their blurs, summing the pooled
    maps; the coarse scales on the whole image, assembled from the strips' downsampled rows. Such
    an image and its candidates must allow random access (they are cropped many times); they are
    not copied (a JPEG loaded with random access is decoded once, to disk when it is large).

    Building it checks ``deadline`` between strips and scales (DeadlineExceeded past it).
    """

    def __init__(self, image: pyvips.Image, *, deadline: float | None = None) -> None:
        self.width = image.width
        self.height = image.height
        self._has_alpha = image.hasalpha()
        self._tiled = (
            image.width * image.height > TILE_MIN_PIXELS
            and min(image.width, image.height) >= MIN_SCALE_PX << FINE_SCALES
        )
        self._image = image if self._tiled else None
        backgrounds = ALPHA_BACKGROUNDS if self._has_alpha else (None,)
        with kernels.running(image.width * image.height):
            if self._tiled:
                self._scales = [
                    _pyramid(self._coarse(image, bg, deadline), FINE_SCALES, deadline) for bg in backgrounds
                ]
                _release_freed_memory()
            else:
                self._scales = []
                for bg in backgrounds:
                    check_deadline(deadline)
                    self._scales.append(_pyramid(_prepare(image, bg), 0, deadline))

    def score(self, candidate: pyvips.Image) -> float:
        if (candidate.width, candidate.height) != (self.width, self.height):
            raise ValueError("candidate and reference differ in size")
        backgrounds = ALPHA_BACKGROUNDS if self._has_alpha else (None,)
        with kernels.running(self.width * self.height):
            score = min(
                self._score(candidate, bg, scales)
                for bg, scales in zip(backgrounds, self._scales, strict=True)
            )
            if self._tiled:
                _release_freed_memory()
        return score

    def _score(self, candidate: pyvips.Image, background: float | None, scales: list[_RefScale]) -> float:
        features = []
        if self._tiled:
            fine, linear = self._fine(candidate, background)
            features += fine
        else:
            linear = _prepare(candidate, background)
        for k, ref in enumerate(scales):
            features.append(_features(ref.sums(linear), linear.shape[1] * linear.shape[2]))
            if k < len(scales) - 1:
                linear = kernels.downsample(linear)
        return _final_score(features)

    def _strips(self) -> list[tuple[int, int, int, int]]:
        """(top, bottom) of each strip's own rows and of the rows it reads (with margins)."""
        strips = []
        for top in range(0, self.height, STRIP_ROWS):
            bottom = min(top + STRIP_ROWS, self.height)
            strips.append((top, bottom, max(top - STRIP_MARGIN, 0), min(bottom + STRIP_MARGIN, self.height)))
        return strips

    @staticmethod
    def _strip_linear(image: pyvips.Image, background: float | None, start: int, end: int) -> np.ndarray:
        return _prepare(image.crop(0, start, image.width, end - start), background)

    def _coarse(self, image: pyvips.Image, background: float | None, deadline: float | None) -> np.ndarray:
        """Linear RGB of the whole image at scale FINE_SCALES, built strip by strip."""
        parts = []
        for top, bottom, start, end in self._strips():
            check_deadline(deadline)
            linear = self._strip_linear(image, background, start, end)
            for _ in range(FINE_SCALES):
                linear = kernels.downsample(linear)
            first = (top - start) >> FINE_SCALES
            rows = _scaled_rows(bottom, FINE_SCALES) - (top >> FINE_SCALES)
            parts.append(linear[:, first : first + rows])
        return np.concatenate(parts, axis=1)

    def _fine(
        self, candidate: pyvips.Image, background: float | None
    ) -> tuple[list[list[float]], np.ndarray]:
        """Features of the fine scales, and the candidate's linear RGB at scale FINE_SCALES."""
        assert self._image is not None
        sums = [np.zeros((2, 9)) for _ in range(FINE_SCALES)]
        parts = []
        for top, bottom, start, end in self._strips():
            ref = self._strip_linear(self._image, background, start, end)
            linear = self._strip_linear(candidate, background, start, end)
            for k in range(FINE_SCALES):
                first = (top - start) >> k
                rows = _scaled_rows(bottom, k) - (top >> k)
                sums[k] += _RefScale(ref).sums(linear, first, rows)
                ref = kernels.downsample(ref)
                linear = kernels.downsample(linear)
            first = (top - start) >> FINE_SCALES
            rows = _scaled_rows(bottom, FINE_SCALES) - (top >> FINE_SCALES)
            parts.append(linear[:, first : first + rows])
        features = [
            _features(sums[k], _scaled_rows(self.width, k) * _scaled_rows(self.height, k))
            for k in range(FINE_SCALES)
        ]
        return features, np.concatenate(parts, axis=1)


def _final_score(features: list[list[float]]) -> float:
    total = 0.0
    i = 0
    for c in range(3):
        for scale in features:
            for n in range(2):
                total += _WEIGHTS[i] * abs(scale[c * 2 + n])
                total += _WEIGHTS[i + 1] * abs(scale[6 + c * 4 + n])
                total += _WEIGHTS[i + 2] * abs(scale[6 + c * 4 + n + 2])
                i += 3
    total *= 0.9562382616834844
    total = 2.326765642916932 * total - 0.020884521182843837 * total**2 + 6.248496625763138e-05 * total**3
    if total <= 0:
        return 100.0
    return 100.0 - 10.0 * total**0.6276336467831387


def ssimulacra2(reference: pyvips.Image, candidate: pyvips.Image) -> float:
    """SSIMULACRA2 of `candidate` against `reference` (same size), 100 = identical."""
    return Reference(reference).score(candidate)


def kernels_load() -> None:
    """Loads (the first time on a machine: compiles) every compiled kernel the metric calls, with the
    argument types it calls them with, without libvips: for a process that forks afterwards (a Celery
    worker before it starts its pool), whose children then inherit the kernels ready. libvips must not run
    before such a fork (a child inheriting its started thread pool hangs in its first operation)."""
    side = MIN_SCALE_PX << 2
    pixels = np.frombuffer(bytes(side * side * 3), np.uint8).reshape(side, side, 3)  # as from libvips
    with kernels.LOCK:
        linear = kernels.linear_from_srgb8(pixels, _LUT8)
        scales = _pyramid(linear, 0)
        for k, ref in enumerate(scales):
            ref.sums(linear)
            ref.sums(linear, 1, 1)
            if k < len(scales) - 1:
                linear = kernels.downsample(linear)


def warm_up() -> float:
    """Loads (the first time on a machine: compiles) the metric's kernels; returns a score of 100."""
    image = pyvips.Image.black(16, 16, bands=3).copy(interpretation="srgb")
    return ssimulacra2(image, image)
