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


def test_masks_keep_only_what_staff_need_to_tell_people_apart():
    assert mask_idcard("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_idcard("") == mask_name("") == ""
