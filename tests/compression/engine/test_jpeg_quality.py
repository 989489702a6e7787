import pytest
import pyvips

from compression.engine.jpeg_quality import estimate_quality, quantisation_tables


def grey_square() -> pyvips.Image:
    return (pyvips.Image.black(64, 64, bands=3) + 128).cast("uchar")


@pytest.mark.parametrize("quality", [1, 5, 10, 30, 50, 75, 90, 95, 100])
def test_the_quality_of_a_libjpeg_encode_is_read_back(quality: int) -> None:
    data = grey_square().jpegsave_buffer(Q=quality)

    assert estimate_quality(data) == quality


def test_coarser_tables_estimate_lower() -> None:
    estimates = [
        estimate_quality(grey_square().jpegsave_buffer(Q=q, quant_table=3)) or 0 for q in (20, 50, 80)
    ]

    assert estimates == sorted(estimates) and len(set(estimates)) == 3 and estimates[0] > 0


def test_tables_are_read_in_natural_order() -> None:
    tables = quantisation_tables(grey_square().jpegsave_buffer(Q=50))

    assert tables[0][:8] == [16, 11, 10, 16, 24, 40, 51, 61]  # the standard table's first row


def test_no_tables_no_estimate() -> None:
    assert estimate_quality(b"\xff\xd8\xff\xd9") is None
    assert estimate_quality(b"not a jpeg") is None
