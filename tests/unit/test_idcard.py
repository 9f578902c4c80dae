from datetime import date

import pytest

from verification.platform.idcard import idcard_check_char, idcard_error, mask_idcard, mask_name


def with_check_char(first17):
    return first17 + idcard_check_char(first17)


@pytest.mark.parametrize("number", ["11010519491231002X", "440524190001010017", "110101199003071794", "11010120000229123X"])
def test_valid_numbers_pass_the_gb11643_checksum(number):
    assert idcard_error(number) is None


@pytest.mark.parametrize(
    "number, problem",
    [
        # Well-formed, checksummed numbers a guesser makes up: born before 1900…
        (with_check_char("44052418800101001"), "before 1900"),
        (with_check_char("11010118991231001"), "before 1900"),
        # …or not yet born (China's date decides, whatever the server's zone).
        (with_check_char("11010120260102001"), "in the future"),
        (with_check_char("11010199990101001"), "in the future"),
        # no 29 February in 2001
        (with_check_char("11010120010229001"), "no valid date of birth"),
    ],
)
def test_a_birth_date_must_be_real_and_past(number, problem):
    assert problem in idcard_error(number, today=date(2026, 1, 1))


def test_someone_born_today_has_a_valid_number():
    assert idcard_error(with_check_char("11010120260101001"), today=date(2026, 1, 1)) is None


def test_without_a_date_given_the_current_one_bounds_births():
    assert "in the future" in idcard_error(with_check_char("11010121000101001"))
    assert idcard_error(with_check_char("11010120000101001")) is None


@pytest.mark.parametrize(
    "number, problem",
    [
        ("110105194912310021", "checksum"),
        ("11010519491231002", "18 characters"),
        ("11010519491331002X", "date of birth"),
        ("01010519491231002X", "18 characters"),
        ("11010519491231002x", "18 characters"),
    ],
)
def test_invalid_numbers_say_why(number, problem):
    assert problem in idcard_error(number)


def test_the_check_character_can_be_x():
    assert idcard_check_char("11010519491231002") == "X"


@pytest.mark.parametrize("number, masked", [
    ("11010519491231002X", "**************002X"),  # neither the region nor the birth date
    ("110105491231002", "***********1002"),  # an old 15-digit number: the last four too
    ("12345678", "********"),  # too short to show any of it
    ("", ""),
])
def test_an_id_number_shows_its_last_four_characters_at_most(number, masked):
    assert mask_idcard(number) == masked


@pytest.mark.parametrize("name, masked", [
    ("张三", "张**"),  # the given name and the length stay hidden
    ("张三丰", "张**"),
    ("欧阳娜娜", "欧**"),
    ("John Smith", "J**"),
    ("Li", "L**"),
    ("张", "*"),
    ("", ""),
])
def test_a_name_shows_its_first_character_and_never_its_length(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("value", ["11010519491231002X", "张三", "John Smith"])
def test_masking_a_masked_value_changes_nothing(value):
    """Stored vendor-call summaries are masked again by a migration."""
    for mask in (mask_idcard, mask_name):
        assert mask(mask(value)) == mask(value)
