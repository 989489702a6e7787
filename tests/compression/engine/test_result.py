from compression.engine import Format
from compression.engine.result import finish, largest_within

ORIGINAL = b"o" * 100


def test_an_output_not_smaller_than_the_original_is_the_original() -> None:
    result = finish(ORIGINAL, b"x" * 100, Format.PNG, (1, 1), score=90.0, resized=False)

    assert result.unchanged and result.data == ORIGINAL


def test_a_resized_output_larger_than_the_original_is_made_again_within_it() -> None:
    asked: list[int] = []

    def smaller(limit: int) -> bytes:
        asked.append(limit)
        return b"s" * (limit - 1)

    result = finish(ORIGINAL, b"x" * 300, Format.PNG, (1, 1), score=None, resized=True, smaller=smaller)

    assert asked == [100]
    assert result.data == b"s" * 99 and not result.unchanged


def test_a_resized_output_within_the_original_is_kept() -> None:
    result = finish(ORIGINAL, b"x" * 60, Format.PNG, (1, 1), score=None, resized=True, smaller=None)

    assert result.data == b"x" * 60 and not result.unchanged


def test_largest_within_picks_the_highest_setting_that_fits() -> None:
    tried: list[int] = []

    def encode(setting: int) -> bytes:
        tried.append(setting)
        return b"x" * (setting * 10)

    assert largest_within(455, encode, 1, 100) == b"x" * 450
    assert len(tried) <= 7
    assert largest_within(5, encode, 1, 100) is None
