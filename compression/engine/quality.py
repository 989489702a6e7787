"""SSIMULACRA2 on libvips operations, faithful to the `ssimulacra2` PyPI package.

The reference (``ssimulacra2.compute_ssimulacra2``, numpy float64, ~1.2 s/MP) is the metric the
benchmark and the API promise are stated in; this module computes the same 108 features with
streaming, multi-threaded libvips pipelines in float32.

Details copied from the reference on purpose, including its quirks:

- its XYB planes are the transpose of the image, so the sigma 1.5 blur (an 11-tap kernel,
  ``truncate=3.33``) pads the *left and right* edges with zeros and mirrors the top and bottom;
- each of the 6 scales halves the linear-RGB image with a 2x2 box (a lone last row/column is kept);
- the loop stops at a scale narrower than 8 px, and the weights are then indexed as if the
  missing scales did not exist.

Alpha: the reference package drops alpha when it loads an image (``convert("RGB")``), although
it means to do what libjxl's tool does: blend over a dark (0.1) and a light (0.9) background in
sRGB and keep the lower score. We do the latter, so quantised alpha is penalised and the colour
of fully transparent pixels is not.
"""

import math

import numpy as np
import pyvips

NUM_SCALES = 6
MIN_SCALE_PX = 8
C2 = 0.0009
BLUR_SIGMA = 1.5
BLUR_RADIUS = 5  # scipy: int(truncate * sigma + 0.5) with truncate = 3.33
ALPHA_BACKGROUNDS = (0.1, 0.9)
# Reference-side blurred terms (XYB, mu, sigma², float32: 36 bytes/px) are kept in memory per
# scale only while that scale fits this budget; above it they are recomputed for each score.
CACHE_BUDGET_BYTES = 192 * 1024 * 1024
# Above this size the score is computed in strips of STRIP_ROWS rows, so memory stays bounded
# (a 100 MP image would need ~1.2 GB per float copy). Each strip reads STRIP_MARGIN more rows on
# both sides: the blur radius (5 px) at the last fine scale (x4), rounded up to that scale's grid.
TILE_MIN_PIXELS = 16_000_000
STRIP_ROWS = 256
FINE_SCALES = 3
STRIP_MARGIN = 24

_OPSIN = np.array(
    [
        [0.30, 1.0 - 0.078 - 0.30, 0.078],
        [0.23, 1.0 - 0.078 - 0.23, 0.078],
        [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821],
    ]
)
_OPSIN_BIAS = 0.0037930732552754493
# XYB after the reference's MakePositiveXYB, as a linear function of the three cube roots
# c_i = cbrt(opsin_i): X = 14 * 0.5 * (c0 - c1) + 0.42, Y = 0.5 * (c0 + c1) - cbrt(bias) + 0.01,
# B = c2 - cbrt(bias) - Y_unshifted + 0.55 (the cube-root bias cancels in X and B).
_XYB_MATRIX = [[7.0, -7.0, 0.0], [0.5, 0.5, 0.0], [-0.5, -0.5, 1.0]]
_XYB_OFFSET = [0.42, 0.01 - math.cbrt(_OPSIN_BIAS), 0.55]

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


def _gauss_kernel() -> pyvips.Image:
    x = np.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / BLUR_SIGMA) ** 2)
    k /= k.sum()
    return pyvips.Image.new_from_list([k.tolist()], scale=1.0, offset=0.0)


_KERNEL = _gauss_kernel()


def _srgb_to_linear_lut(levels: int) -> pyvips.Image:
    v = np.arange(levels, dtype=np.float64) / (levels - 1)
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return pyvips.Image.new_from_array(lin.astype(np.float32).reshape(1, levels))


_LUT8 = _srgb_to_linear_lut(256)
_LUT16 = _srgb_to_linear_lut(65536)


def _srgb_to_linear(encoded: pyvips.Image) -> pyvips.Image:
    """Float sRGB in 0..1 to linear light, the reference's two-part curve."""
    curve = ((encoded + 0.055) / 1.055) ** 2.4
    return (encoded <= 0.04045).ifthenelse(encoded / 12.92, curve)


def _prepare(image: pyvips.Image, background: float | None) -> pyvips.Image:
    """Any pyvips image to 3-band linear RGB float, alpha blended over `background` (0..1 sRGB)."""
    if image.interpretation not in ("srgb", "rgb16", "b-w", "grey16"):
        image = image.colourspace("srgb")
    sixteen = image.interpretation in ("rgb16", "grey16") or image.format == "ushort"
    colour_bands = 1 if image.bands < 3 else 3
    has_alpha = image.bands in (2, 4)
    if image.format not in ("uchar", "ushort"):
        image = image.cast("ushort" if sixteen else "uchar")
    colour = image.extract_band(0, n=colour_bands) if has_alpha else image
    if has_alpha and background is not None:
        peak = 65535.0 if sixteen else 255.0
        alpha = image.extract_band(colour_bands) / peak
        encoded = colour / peak * alpha + (1.0 - alpha) * background
        linear = _srgb_to_linear(encoded.cast("float"))
    else:
        linear = colour.maplut(_LUT16 if sixteen else _LUT8)
    if colour_bands == 1:
        linear = linear.bandjoin([linear, linear])
    return linear.copy(interpretation="scrgb")


def _xyb(linear: pyvips.Image) -> pyvips.Image:
    opsin = linear.recomb(_OPSIN.tolist()) + _OPSIN_BIAS
    # max(opsin, 0) is a no-op: linear RGB >= 0 and the bias is positive. exp(log(x) / 3) is
    # three times faster than pow() in libvips.
    return (opsin.log() * (1.0 / 3.0)).exp().recomb(_XYB_MATRIX) + _XYB_OFFSET


def _blur(image: pyvips.Image) -> pyvips.Image:
    w, h, r = image.width, image.height, BLUR_RADIUS
    padded = image.embed(r, 0, w + 2 * r, h, extend="black")
    padded = padded.embed(0, r, w + 2 * r, h + 2 * r, extend="mirror")
    return padded.convsep(_KERNEL, precision="float").crop(r, r, w, h)


def _downsample(linear: pyvips.Image) -> pyvips.Image:
    w, h = linear.width, linear.height
    if w % 2 or h % 2:
        linear = linear.embed(0, 0, w + w % 2, h + h % 2, extend="copy")
    return linear.shrink(2, 2)


def _pool(ssim: pyvips.Image, artifact: pyvips.Image, detail: pyvips.Image) -> np.ndarray:
    """Per-band sums and sums of 4th powers of the three 3-band maps, in one pass: shape (2, 9)."""
    maps = ssim.bandjoin([artifact, detail])
    row = maps.bandjoin(maps * maps).stats().numpy()[1:, :]  # per band: min, max, sum, sum², ...
    return np.stack([row[:9, 2], row[9:, 3]])


def _features(sums: np.ndarray, pixels: int) -> list[float]:
    """Means and 4-norms from `_pool` sums over `pixels`: [ssim(6), edge(12)] per channel."""
    means = sums[0] / pixels
    norm4 = (sums[1] / pixels) ** 0.25
    features = []
    for c in range(3):
        features += [means[c], norm4[c]]
    for c in range(3):
        features += [means[3 + c], norm4[3 + c], means[6 + c], norm4[6 + c]]
    return [float(f) for f in features]


class _RefScale:
    """Reference side of one scale: XYB, blurred XYB and blurred XYB² (9 float bands)."""

    def __init__(self, linear: pyvips.Image, cache: bool) -> None:
        xyb = _xyb(linear).copy_memory()
        terms = xyb.bandjoin([_blur(xyb), _blur(xyb * xyb)])
        self.terms = terms.copy_memory() if cache else terms


def _scaled_rows(rows: int, scale: int) -> int:
    """Rows at `scale` of `rows` full-resolution rows (each halving keeps a lone last row)."""
    for _ in range(scale):
        rows = (rows + 1) // 2
    return rows


def _pyramid(linear: pyvips.Image, first_scale: int) -> list[_RefScale]:
    scales = []
    for k in range(first_scale, NUM_SCALES):
        if linear.width < MIN_SCALE_PX or linear.height < MIN_SCALE_PX:
            break
        cache = linear.width * linear.height * 36 <= CACHE_BUDGET_BYTES
        scales.append(_RefScale(linear, cache))
        if k < NUM_SCALES - 1:
            linear = _downsample(linear).copy_memory()
    return scales


class Reference:
    """The reference image, precomputed once for many `score` calls.

    Images above TILE_MIN_PIXELS are scored in horizontal strips (the same numbers, bounded memory):
    the fine scales strip by strip, with enough margin rows for their blurs, summing the pooled
    maps; the coarse scales on the whole image, assembled from the strips' downsampled rows. Such
    an image and its candidates must allow random access (they are cropped many times); they are
    not copied (a JPEG loaded with random access is decoded once, to disk when it is large).
    """

    def __init__(self, image: pyvips.Image) -> None:
        self.width = image.width
        self.height = image.height
        self._has_alpha = image.bands in (2, 4)
        self._tiled = (
            image.width * image.height > TILE_MIN_PIXELS
            and min(image.width, image.height) >= MIN_SCALE_PX << FINE_SCALES
        )
        self._image = image if self._tiled else None
        backgrounds = ALPHA_BACKGROUNDS if self._has_alpha else (None,)
        if self._tiled:
            self._scales = [_pyramid(self._coarse(image, bg), FINE_SCALES) for bg in backgrounds]
        else:
            self._scales = [_pyramid(_prepare(image, bg).copy_memory(), 0) for bg in backgrounds]

    def score(self, candidate: pyvips.Image) -> float:
        if (candidate.width, candidate.height) != (self.width, self.height):
            raise ValueError("candidate and reference differ in size")
        backgrounds = ALPHA_BACKGROUNDS if self._has_alpha else (None,)
        return min(
            self._score(candidate, bg, scales) for bg, scales in zip(backgrounds, self._scales, strict=True)
        )

    def _score(self, candidate: pyvips.Image, background: float | None, scales: list[_RefScale]) -> float:
        features = []
        if self._tiled:
            fine, linear = self._fine(candidate, background)
            features += fine
        else:
            linear = _prepare(candidate, background).copy_memory()
        for k, ref in enumerate(scales):
            # Materialised: the blur and the edge map would each recompute it (4 times per pixel).
            sums = _scale_sums(ref.terms, _xyb(linear).copy_memory())
            features.append(_features(sums, linear.width * linear.height))
            if k < len(scales) - 1:
                linear = _downsample(linear).copy_memory()
        return _final_score(features)

    def _strips(self) -> list[tuple[int, int, int, int]]:
        """(top, bottom) of each strip's own rows and of the rows it reads (with margins)."""
        strips = []
        for top in range(0, self.height, STRIP_ROWS):
            bottom = min(top + STRIP_ROWS, self.height)
            strips.append((top, bottom, max(top - STRIP_MARGIN, 0), min(bottom + STRIP_MARGIN, self.height)))
        return strips

    @staticmethod
    def _strip_linear(image: pyvips.Image, background: float | None, start: int, end: int) -> pyvips.Image:
        return _prepare(image.crop(0, start, image.width, end - start), background).copy_memory()

    def _coarse(self, image: pyvips.Image, background: float | None) -> pyvips.Image:
        """Linear RGB of the whole image at scale FINE_SCALES, built strip by strip."""
        parts = []
        for top, bottom, start, end in self._strips():
            linear = self._strip_linear(image, background, start, end)
            for _ in range(FINE_SCALES):
                linear = _downsample(linear).copy_memory()
            first = (top - start) >> FINE_SCALES
            rows = _scaled_rows(bottom, FINE_SCALES) - (top >> FINE_SCALES)
            parts.append(linear.crop(0, first, linear.width, rows))
        return _stack(parts)

    def _fine(
        self, candidate: pyvips.Image, background: float | None
    ) -> tuple[list[list[float]], pyvips.Image]:
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
                terms = _RefScale(ref, cache=True).terms
                sums[k] += _scale_sums(terms, _xyb(linear).copy_memory(), first, rows)
                ref = _downsample(ref).copy_memory()
                linear = _downsample(linear).copy_memory()
            first = (top - start) >> FINE_SCALES
            rows = _scaled_rows(bottom, FINE_SCALES) - (top >> FINE_SCALES)
            parts.append(linear.crop(0, first, linear.width, rows))
        features = [
            _features(sums[k], _scaled_rows(self.width, k) * _scaled_rows(self.height, k))
            for k in range(FINE_SCALES)
        ]
        return features, _stack(parts)


def _stack(parts: list[pyvips.Image]) -> pyvips.Image:
    """Strips of equal width joined top to bottom (``arrayjoin`` would pad them to one height)."""
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.join(part, "vertical")
    return stacked.copy_memory()


def _scale_sums(
    ref_terms: pyvips.Image, img2: pyvips.Image, first_row: int = 0, rows: int | None = None
) -> np.ndarray:
    """`_pool` sums of one scale's maps, over rows [first_row, first_row + rows) only."""
    img1 = ref_terms.extract_band(0, n=3)
    mu1 = ref_terms.extract_band(3, n=3)
    s11 = ref_terms.extract_band(6, n=3)
    blurred = _blur(img2.bandjoin([img2 * img2, img1 * img2]))
    mu2 = blurred.extract_band(0, n=3)
    s22 = blurred.extract_band(3, n=3)
    s12 = blurred.extract_band(6, n=3)

    diff = mu1 - mu2
    num_m = 1.0 - diff * diff
    m12 = mu1 * mu2
    num_s = (s12 - m12) * 2.0 + C2
    denom_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + C2
    d = 1.0 - num_m * num_s / denom_s
    ssim = (d + d.abs()) * 0.5

    edge = (1.0 + (img2 - mu2).abs()) / (1.0 + (img1 - mu1).abs()) - 1.0
    edge_abs = edge.abs()
    artifact = (edge + edge_abs) * 0.5
    detail = (edge_abs - edge) * 0.5
    maps = [ssim, artifact, detail]
    if rows is not None:
        maps = [m.crop(0, first_row, m.width, rows) for m in maps]
    return _pool(*maps)


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
