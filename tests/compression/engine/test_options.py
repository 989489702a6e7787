import pytest

from compression.engine import CompressionType, CompressOptions, InvalidSpec, ResizeSpec, ResizeStrategy
from compression.engine.options import parse_colour


@pytest.mark.parametrize("kind", ["lossy", "lossless", "balanced"])
def test_options_accept_each_compression_type(kind: str) -> None:
    options = CompressOptions(compression_type=kind)  # type: ignore[arg-type]

    assert options.compression_type is CompressionType(kind)
    assert options.level == 80
    assert options.strip_metadata is True


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"compression_type": "ultra"}, "type"),
        ({"compression_type": "lossy", "level": 0}, "between"),
        ({"compression_type": "lossy", "level": 101}, "between"),
        ({"compression_type": "lossy", "level": True}, "integer"),
        ({"compression_type": "lossy", "level": "80"}, "integer"),
        ({"compression_type": "lossy", "level": 80.0}, "integer"),
    ],
)
def test_options_reject_invalid_values(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidSpec) as error:
        CompressOptions(**kwargs)  # type: ignore[arg-type]

    assert reason in error.value.message
    assert error.value.code == "invalid_spec"


@pytest.mark.parametrize(
    ("kwargs", "width", "height"),
    [
        ({"strategy": "exact", "width": 100, "height": 50}, 100, 50),
        ({"strategy": "portrait", "height": 50}, None, 50),
        ({"strategy": "portrait", "width": 0, "height": 50}, None, 50),
        ({"strategy": "landscape", "width": 100, "height": None}, 100, None),
        ({"strategy": "square", "width": 64}, 64, None),
        ({"width": 10, "height": 20}, 10, 20),
    ],
)
def test_resize_spec_accepts_what_each_strategy_needs(kwargs: dict[str, object], width, height) -> None:  # type: ignore[no-untyped-def]
    spec = ResizeSpec(**kwargs)  # type: ignore[arg-type]

    assert (spec.width, spec.height) == (width, height)
    assert isinstance(spec.strategy, ResizeStrategy)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "stretch", "width": 10, "height": 10},
        {"strategy": "exact", "width": 10},
        {"strategy": "portrait", "width": 10},
        {"strategy": "fit", "width": -1, "height": 10},
        {"strategy": "fit", "width": 10_001, "height": 10},
        {"strategy": "fit", "width": "10", "height": 10},
        {"strategy": "fill", "width": 10, "height": 10, "background": "#12"},
        {"strategy": "fill", "width": 10, "height": 10, "background": 255},
    ],
)
def test_resize_spec_rejects_invalid_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidSpec):
        ResizeSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "rgba"),
    [
        ("#fff", (255, 255, 255, 255)),
        ("#0008", (0, 0, 0, 136)),
        ("#102030", (16, 32, 48, 255)),
        ("#10203040", (16, 32, 48, 64)),
        (" White ", (255, 255, 255, 255)),
        ("transparent", (0, 0, 0, 0)),
    ],
)
def test_parse_colour_table(text: str, rgba: tuple[int, int, int, int]) -> None:
    assert parse_colour(text) == rgba
