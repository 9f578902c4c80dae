import pytest

from verification.idcard import idcard_check_char, idcard_error, mask_idcard, mask_name


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "110101199003071794"])
def test_valid_numbers_pass_the_gb11643_checksum(number):
    assert idcard_error(number) is None


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
