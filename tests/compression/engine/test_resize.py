import pytest
import pyvips

from compression.engine import CompressionType, CompressOptions, ResizeSpec, ResizeStrategy, compress
from compression.engine.resize import Geometry, target_geometry

LOSSLESS = CompressOptions(compression_type=CompressionType.LOSSLESS)


@pytest.mark.parametrize(
    ("source", "spec", "expected"),
    [
        # exact: both sides, aspect ignored, never larger than the source
        ((400, 300), ResizeSpec(ResizeStrategy.EXACT, 100, 100), Geometry(100, 100, 100, 100)),
        ((400, 300), ResizeSpec(ResizeStrategy.EXACT, 800, 100), Geometry(400, 100, 400, 100)),
        # portrait / landscape: one side, the other follows
        ((400, 300), ResizeSpec(ResizeStrategy.PORTRAIT, height=150), Geometry(200, 150, 200, 150)),
        ((400, 300), ResizeSpec(ResizeStrategy.LANDSCAPE, width=100), Geometry(100, 75, 100, 75)),
        ((400, 300), ResizeSpec(ResizeStrategy.LANDSCAPE, width=1000), Geometry(400, 300, 400, 300)),
        # auto: landscape for wide sources, portrait for tall ones
        ((400, 300), ResizeSpec(ResizeStrategy.AUTO, 200, 50), Geometry(200, 150, 200, 150)),
        ((300, 400), ResizeSpec(ResizeStrategy.AUTO, 50, 200), Geometry(150, 200, 150, 200)),
        # fit: inside the box
        ((400, 300), ResizeSpec(ResizeStrategy.FIT, 100, 100), Geometry(100, 75, 100, 75)),
        ((300, 400), ResizeSpec(ResizeStrategy.FIT, 100, 100), Geometry(75, 100, 75, 100)),
        ((40, 30), ResizeSpec(ResizeStrategy.FIT, 100, 100), Geometry(40, 30, 40, 30)),
        # crop: cover the box, then centre crop
        ((400, 300), ResizeSpec(ResizeStrategy.CROP, 100, 100), Geometry(133, 100, 100, 100)),
        ((400, 300), ResizeSpec(ResizeStrategy.CROP, 200, 50), Geometry(200, 150, 200, 50)),
        ((40, 30), ResizeSpec(ResizeStrategy.CROP, 100, 100), Geometry(40, 30, 40, 30)),
        # square: width x width
        ((400, 300), ResizeSpec(ResizeStrategy.SQUARE, width=60), Geometry(80, 60, 60, 60)),
        ((400, 300), ResizeSpec(ResizeStrategy.SQUARE, width=1000), Geometry(400, 300, 300, 300)),
        # fill: fit, then pad to exactly the box
        ((400, 300), ResizeSpec(ResizeStrategy.FILL, 100, 100), Geometry(100, 75, 100, 100)),
        ((40, 30), ResizeSpec(ResizeStrategy.FILL, 100, 100), Geometry(40, 30, 100, 100)),
    ],
)
def test_target_geometry_table(source: tuple[int, int], spec: ResizeSpec, expected: Geometry) -> None:
    assert target_geometry(*source, spec) == expected


def test_geometry_changes_only_when_something_moves() -> None:
    assert not Geometry(400, 300, 400, 300).changes(400, 300)
    assert Geometry(400, 300, 300, 300).changes(400, 300)


def quadrants(width: int = 200, height: int = 100) -> pyvips.Image:
    """Red left half, blue right half: where the pixels went is visible after resizing."""
    left = pyvips.Image.black(width // 2, height, bands=3).new_from_image([220, 20, 20])
    right = pyvips.Image.black(width - width // 2, height, bands=3).new_from_image([20, 20, 220])
    return left.join(right, "horizontal").copy(interpretation="srgb").cast("uchar")


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        (ResizeSpec(ResizeStrategy.EXACT, 50, 50), (50, 50)),
        (ResizeSpec(ResizeStrategy.PORTRAIT, height=20), (40, 20)),
        (ResizeSpec(ResizeStrategy.LANDSCAPE, width=100), (100, 50)),
        (ResizeSpec(ResizeStrategy.AUTO, 100, 10), (100, 50)),
        (ResizeSpec(ResizeStrategy.FIT, 50, 50), (50, 25)),
        (ResizeSpec(ResizeStrategy.CROP, 50, 50), (50, 50)),
        (ResizeSpec(ResizeStrategy.SQUARE, width=30), (30, 30)),
        (ResizeSpec(ResizeStrategy.FILL, 60, 60), (60, 60)),
    ],
)
@pytest.mark.parametrize("suffix", [".png", ".webp", ".jpg"])
def test_every_strategy_produces_its_size(spec: ResizeSpec, size: tuple[int, int], suffix: str) -> None:
    source = quadrants().write_to_buffer(suffix)

    result = compress(source, options=LOSSLESS, resize=spec)

    decoded = decode(result.data)
    assert (decoded.width, decoded.height) == size == (result.width, result.height)


def test_crop_keeps_the_centre_and_fill_pads_with_the_background() -> None:
    source = quadrants().write_to_buffer(".png")

    crop = decode(compress(source, options=LOSSLESS, resize=ResizeSpec(ResizeStrategy.CROP, 20, 20)).data)
    fill = decode(
        compress(source, options=LOSSLESS, resize=ResizeSpec(ResizeStrategy.FILL, 60, 60, "#00ff00")).data
    )

    assert crop.getpoint(2, 10)[0] > 150 and crop.getpoint(17, 10)[2] > 150  # red | blue seam in the middle
    assert fill.getpoint(30, 2)[:3] == [0, 255, 0]
    assert fill.getpoint(5, 30)[0] > 150
