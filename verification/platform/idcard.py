"""Chinese resident ID numbers (GB 11643-1999) and how they are shown."""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
# Births are registered on China's calendar, whatever the server's time zone.
CHINA = ZoneInfo("Asia/Shanghai")
_LOOSE_SHAPE = re.compile(r"^\d{17}[\dX]$")


def idcard_check_char(first17: str) -> str:
    """The 18th character: ISO 7064 MOD 11-2 over the first 17 digits."""
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


# No one alive was born earlier; a made-up number often was.
EARLIEST_BIRTH = date(1900, 1, 1)


def idcard_error(number: str, *, today: date | None = None) -> str | None:
    """Why `number` is not a valid 18-digit ID number, or None if it is.
    `today` (China's date by default) bounds the date of birth."""
    if not _SHAPE.match(number):
        return "must be 18 characters: 17 digits then a digit or X"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "holds no valid date of birth"
    if born < EARLIEST_BIRTH:
        return "holds a date of birth before 1900"
    if born > (today or datetime.now(CHINA).date()):
        return "holds a date of birth in the future"
    if idcard_check_char(number[:17]) != number[17]:
        return "fails the GB 11643 checksum"
    return None


def normalise_idcard(number: str) -> str:
    return number.strip().upper()


def looks_like_idcard(text: str) -> bool:
    """Whether `text` has the shape of an ID number (17 digits, then a
    digit or an X of either case), valid or not."""
    return bool(_LOOSE_SHAPE.match(normalise_idcard(text)))


def mask_idcard(number: str) -> str:
    """`**************002X`: only the last four characters stay visible. A
    mask that also shows the region code leaves only the birth date to
    guess, and the check character rules out most dates: a reviewer once
    found a whole number in minutes by searching each remaining one."""
    if len(number) <= 8:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


def mask_name(name: str) -> str:
    """`张**`, `欧**`, `J**`: the first character and always two stars, so the
    mask tells neither the given name nor the name's length (`张*` would
    say the given name is one character, and show half of a two-character
    name). A one-character name is all stars."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "**"
